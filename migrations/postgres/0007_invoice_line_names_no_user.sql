-- An invoice line's description was "task - user", which named the user to every reader of
-- the invoice. It is now the task's name alone; who worked is the line's `user`, a reference
-- that follows the reader's right to see that user.
UPDATE invoice_line
SET description = (SELECT t.name FROM task t WHERE t.task_id = invoice_line.task_id)
WHERE task_id IS NOT NULL
  AND EXISTS (SELECT 1 FROM task t WHERE t.task_id = invoice_line.task_id);
