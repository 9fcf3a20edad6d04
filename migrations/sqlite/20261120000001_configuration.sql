-- Configuration resources: accounts, workspaces and what they contain.
-- Every resource table has `seq`, an insertion counter that gives lists a stable order and keyset paging.
-- Times are milliseconds since the Unix epoch (UTC).

CREATE TABLE accounts (
    sid          TEXT PRIMARY KEY NOT NULL,
    auth_token   TEXT NOT NULL,
    date_created INTEGER NOT NULL
);

CREATE TABLE workspaces (
    seq                    INTEGER PRIMARY KEY AUTOINCREMENT,
    sid                    TEXT NOT NULL UNIQUE,
    account_sid            TEXT NOT NULL REFERENCES accounts(sid),
    friendly_name          TEXT NOT NULL,
    -- Not foreign keys: activities reference the workspace, so the engine checks these instead.
    default_activity_sid   TEXT NOT NULL,
    timeout_activity_sid   TEXT NOT NULL,
    event_callback_url     TEXT,
    events_filter          TEXT,
    multi_task_enabled     INTEGER NOT NULL,
    prioritize_queue_order TEXT NOT NULL,
    date_created           INTEGER NOT NULL,
    date_updated           INTEGER NOT NULL
);
CREATE INDEX workspaces_account ON workspaces(account_sid, seq);

CREATE TABLE activities (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    sid           TEXT NOT NULL UNIQUE,
    workspace_sid TEXT NOT NULL REFERENCES workspaces(sid) ON DELETE CASCADE,
    friendly_name TEXT NOT NULL,
    available     INTEGER NOT NULL,
    date_created  INTEGER NOT NULL,
    date_updated  INTEGER NOT NULL,
    UNIQUE (workspace_sid, friendly_name)
);

CREATE TABLE task_channels (
    seq                       INTEGER PRIMARY KEY AUTOINCREMENT,
    sid                       TEXT NOT NULL UNIQUE,
    workspace_sid             TEXT NOT NULL REFERENCES workspaces(sid) ON DELETE CASCADE,
    friendly_name             TEXT NOT NULL,
    unique_name               TEXT NOT NULL,
    channel_optimized_routing INTEGER NOT NULL,
    date_created              INTEGER NOT NULL,
    date_updated              INTEGER NOT NULL,
    UNIQUE (workspace_sid, unique_name)
);

CREATE TABLE workers (
    seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
    sid                 TEXT NOT NULL UNIQUE,
    workspace_sid       TEXT NOT NULL REFERENCES workspaces(sid) ON DELETE CASCADE,
    friendly_name       TEXT NOT NULL COLLATE NOCASE,
    activity_sid        TEXT NOT NULL REFERENCES activities(sid),
    attributes          TEXT NOT NULL,
    date_status_changed INTEGER NOT NULL,
    date_created        INTEGER NOT NULL,
    date_updated        INTEGER NOT NULL,
    version             INTEGER NOT NULL DEFAULT 0,
    UNIQUE (workspace_sid, friendly_name)
);
CREATE INDEX workers_activity ON workers(activity_sid);

CREATE TABLE worker_channels (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    sid              TEXT NOT NULL UNIQUE,
    workspace_sid    TEXT NOT NULL REFERENCES workspaces(sid) ON DELETE CASCADE,
    worker_sid       TEXT NOT NULL REFERENCES workers(sid) ON DELETE CASCADE,
    task_channel_sid TEXT NOT NULL REFERENCES task_channels(sid) ON DELETE CASCADE,
    capacity         INTEGER NOT NULL,
    available        INTEGER NOT NULL,
    date_created     INTEGER NOT NULL,
    date_updated     INTEGER NOT NULL,
    UNIQUE (worker_sid, task_channel_sid)
);
CREATE INDEX worker_channels_channel ON worker_channels(task_channel_sid);

CREATE TABLE task_queues (
    seq                      INTEGER PRIMARY KEY AUTOINCREMENT,
    sid                      TEXT NOT NULL UNIQUE,
    workspace_sid            TEXT NOT NULL REFERENCES workspaces(sid) ON DELETE CASCADE,
    friendly_name            TEXT NOT NULL,
    target_workers           TEXT NOT NULL,
    max_reserved_workers     INTEGER NOT NULL,
    task_order               TEXT NOT NULL,
    reservation_activity_sid TEXT REFERENCES activities(sid),
    assignment_activity_sid  TEXT REFERENCES activities(sid),
    date_created             INTEGER NOT NULL,
    date_updated             INTEGER NOT NULL,
    UNIQUE (workspace_sid, friendly_name)
);

CREATE TABLE workflows (
    seq                              INTEGER PRIMARY KEY AUTOINCREMENT,
    sid                              TEXT NOT NULL UNIQUE,
    workspace_sid                    TEXT NOT NULL REFERENCES workspaces(sid) ON DELETE CASCADE,
    friendly_name                    TEXT NOT NULL,
    configuration                    TEXT NOT NULL,
    assignment_callback_url          TEXT,
    fallback_assignment_callback_url TEXT,
    task_reservation_timeout         INTEGER NOT NULL,
    date_created                     INTEGER NOT NULL,
    date_updated                     INTEGER NOT NULL
);
CREATE INDEX workflows_workspace ON workflows(workspace_sid, seq);
