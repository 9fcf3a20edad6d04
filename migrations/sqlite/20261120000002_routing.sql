-- Routing: tasks and reservations, and when each worker last became idle.

ALTER TABLE workers ADD COLUMN idle_since INTEGER NOT NULL DEFAULT 0;

CREATE TABLE tasks (
    seq                      INTEGER PRIMARY KEY AUTOINCREMENT,
    sid                      TEXT NOT NULL UNIQUE,
    workspace_sid            TEXT NOT NULL REFERENCES workspaces(sid) ON DELETE CASCADE,
    -- Names are kept beside SIDs: a task outlives the workflow or queue it passed through.
    workflow_sid             TEXT,
    workflow_friendly_name   TEXT,
    attributes               TEXT NOT NULL,
    assignment_status        TEXT NOT NULL,
    priority                 INTEGER NOT NULL,
    timeout                  INTEGER NOT NULL,
    task_channel_sid         TEXT NOT NULL,
    task_channel_unique_name TEXT NOT NULL,
    task_queue_sid           TEXT,
    task_queue_friendly_name TEXT,
    task_queue_entered_date  INTEGER,
    virtual_start_time       INTEGER NOT NULL,
    reason                   TEXT,
    routing_target           TEXT,
    ignore_capacity          INTEGER,
    -- Workflow position: filter index (-1 for the default filter) and step index.
    step_filter              INTEGER,
    step_index               INTEGER,
    assignment_count         INTEGER NOT NULL DEFAULT 0,
    addons                   TEXT NOT NULL DEFAULT '{}',
    version                  INTEGER NOT NULL DEFAULT 0,
    date_created             INTEGER NOT NULL,
    date_updated             INTEGER NOT NULL
);
CREATE INDEX tasks_workspace ON tasks(workspace_sid, seq);
CREATE INDEX tasks_status ON tasks(workspace_sid, assignment_status);

CREATE TABLE reservations (
    seq                   INTEGER PRIMARY KEY AUTOINCREMENT,
    sid                   TEXT NOT NULL UNIQUE,
    workspace_sid         TEXT NOT NULL REFERENCES workspaces(sid) ON DELETE CASCADE,
    -- No foreign keys to tasks and workers: a reservation is history that outlives both.
    task_sid              TEXT NOT NULL,
    worker_sid            TEXT NOT NULL,
    worker_name           TEXT NOT NULL,
    task_queue_sid        TEXT,
    task_channel_sid      TEXT NOT NULL,
    reservation_status    TEXT NOT NULL,
    previous_activity_sid TEXT,
    instruction           TEXT,
    version               INTEGER NOT NULL DEFAULT 0,
    date_created          INTEGER NOT NULL,
    date_updated          INTEGER NOT NULL
);
CREATE INDEX reservations_task ON reservations(task_sid, seq);
CREATE INDEX reservations_worker ON reservations(worker_sid, seq);
CREATE INDEX reservations_status ON reservations(workspace_sid, reservation_status);
