-- Events: the audit record of every routing change, written in the same transaction as the
-- change. `event_data` is a JSON array of [key, value] pairs (order kept); the filter columns
-- repeat the SIDs `GET /Events` filters on.
CREATE TABLE events (
    seq                      INTEGER PRIMARY KEY AUTOINCREMENT,
    sid                      TEXT NOT NULL UNIQUE,
    workspace_sid            TEXT NOT NULL REFERENCES workspaces(sid) ON DELETE CASCADE,
    event_type               TEXT NOT NULL,
    description              TEXT NOT NULL,
    event_date               INTEGER NOT NULL,
    resource_type            TEXT NOT NULL,
    resource_sid             TEXT NOT NULL,
    actor_type               TEXT NOT NULL,
    actor_sid                TEXT NOT NULL,
    event_data               TEXT NOT NULL,
    task_sid                 TEXT,
    worker_sid               TEXT,
    workflow_sid             TEXT,
    task_queue_sid           TEXT,
    reservation_sid          TEXT,
    task_channel_sid         TEXT,
    task_channel_unique_name TEXT
);
CREATE INDEX events_workspace_date ON events(workspace_sid, event_date);
CREATE INDEX events_task ON events(task_sid);
CREATE INDEX events_worker ON events(worker_sid);
