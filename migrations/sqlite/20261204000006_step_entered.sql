-- When a task entered its workflow step: a task waits in each step for that step's own timeout,
-- so a step's deadline counts from its entry, not from the task's creation. NULL for tasks
-- stored before this column: their deadline is computed as if each earlier step of the filter
-- had timed out in turn (the sum of those timeouts from creation).
ALTER TABLE tasks ADD COLUMN step_entered_date INTEGER;
