-- Events are numbered per workspace in the order they were decided, under the workspace's lock,
-- and event callbacks deliver by that number: a row's `seq` is taken before its transaction
-- commits, so a reader may see a later `seq` before an earlier one (see SQLite's migration of
-- the same name).
ALTER TABLE events ADD COLUMN number BIGINT NOT NULL DEFAULT 0;
UPDATE events SET number = seq;
CREATE UNIQUE INDEX events_number ON events(workspace_sid, number);
-- The task and worker filters of `GET /Events` name the workspace too: with it in their indexes
-- they stay the better match than the index above, which SQLite's planner would otherwise
-- prefer for any `workspace_sid = ?`.
DROP INDEX events_task;
CREATE INDEX events_task ON events(task_sid, workspace_sid);
DROP INDEX events_worker;
CREATE INDEX events_worker ON events(worker_sid, workspace_sid) WHERE worker_sid IS NOT NULL;
