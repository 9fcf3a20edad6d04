-- Recording an event should write as few pages as possible: every routing decision and timer
-- firing records some in its own transaction.
--
-- `seq` without AUTOINCREMENT: AUTOINCREMENT rewrites `sqlite_sequence` on every insert. A new
-- event still gets a `seq` above every stored one, so above every workspace's `delivered_seq`
-- (each names one of that workspace's stored events, and events are removed only with their
-- workspace). Whatever prunes old events one day must keep each workspace's newest one.
CREATE TABLE events_new (
    seq                      INTEGER PRIMARY KEY,
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
INSERT INTO events_new SELECT * FROM events;
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
CREATE INDEX events_workspace_date ON events(workspace_sid, event_date);
CREATE INDEX events_task ON events(task_sid);
-- Most events name no worker (timers, queue and workflow moves); `worker_sid = ?` implies
-- `worker_sid IS NOT NULL`, so filters still use this index.
CREATE INDEX events_worker ON events(worker_sid) WHERE worker_sid IS NOT NULL;
