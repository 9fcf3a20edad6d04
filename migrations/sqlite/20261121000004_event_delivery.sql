-- The event-callback outbox: per workspace, the `seq` of the last event handled (POSTed to
-- `EventCallbackUrl`, filtered out, or given up on after the last retry). Events after it are
-- still owed, including those committed before a crash.
CREATE TABLE event_deliveries (
    workspace_sid TEXT PRIMARY KEY REFERENCES workspaces(sid) ON DELETE CASCADE,
    delivered_seq INTEGER NOT NULL
);
-- Workspaces that already have a callback URL start from their newest event, not their first.
INSERT INTO event_deliveries (workspace_sid, delivered_seq)
SELECT w.sid, COALESCE((SELECT MAX(e.seq) FROM events e WHERE e.workspace_sid = w.sid), 0)
FROM workspaces w WHERE w.event_callback_url IS NOT NULL;
