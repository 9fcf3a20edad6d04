-- What became of each reservation's assignment callback, so that a restart keeps the same rules:
-- a pending reservation whose callback has no outcome is POSTed again, and a worker whose callback
-- for a task failed is offered that task again only after a backoff counted from the failures.
--   NULL        no outcome recorded (not sent, sent and unanswered, or no callback URL)
--   'answered'  the app answered (2xx), whatever it said
--   'failed'    neither URL answered in time with a 2xx: the reservation was canceled
ALTER TABLE reservations ADD COLUMN callback_outcome TEXT;
ALTER TABLE reservations ADD COLUMN callback_error TEXT;
CREATE INDEX reservations_callback_failed ON reservations(workspace_sid, task_sid)
    WHERE callback_outcome = 'failed';
CREATE INDEX reservations_pending ON reservations(reservation_status)
    WHERE reservation_status = 'pending';
