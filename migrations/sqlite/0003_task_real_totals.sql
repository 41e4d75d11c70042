-- A task's real work and cost follow its time entries. Kept on the task by triggers, in the
-- same transaction as every change to an entry, so reading them is a column read instead of
-- a sum over the entries.
ALTER TABLE task ADD COLUMN real_work INTEGER NOT NULL DEFAULT 0;
ALTER TABLE task ADD COLUMN real_cost INTEGER NOT NULL DEFAULT 0;
UPDATE task SET
    real_work = COALESCE((SELECT SUM(e.hours) FROM time_entry e WHERE e.task_id = task.task_id), 0),
    real_cost = COALESCE((SELECT SUM(e.cost) FROM time_entry e WHERE e.task_id = task.task_id), 0);

CREATE TRIGGER time_entry_real_ai AFTER INSERT ON time_entry BEGIN
    UPDATE task SET real_work = real_work + NEW.hours, real_cost = real_cost + NEW.cost WHERE task_id = NEW.task_id;
END;
CREATE TRIGGER time_entry_real_ad AFTER DELETE ON time_entry BEGIN
    UPDATE task SET real_work = real_work - OLD.hours, real_cost = real_cost - OLD.cost WHERE task_id = OLD.task_id;
END;
CREATE TRIGGER time_entry_real_au AFTER UPDATE OF task_id, hours, cost ON time_entry BEGIN
    UPDATE task SET real_work = real_work - OLD.hours, real_cost = real_cost - OLD.cost WHERE task_id = OLD.task_id;
    UPDATE task SET real_work = real_work + NEW.hours, real_cost = real_cost + NEW.cost WHERE task_id = NEW.task_id;
END;
