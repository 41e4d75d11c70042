-- Nested lists number their rows per parent in id order: with (parent, id) indexes that is an
-- index-only scan, presorted.
CREATE INDEX task_project_task_idx ON task (project_id, task_id);
CREATE INDEX time_entry_task_entry_idx ON time_entry (task_id, time_entry_id);
CREATE INDEX project_parent_project_idx ON project (parent_id, project_id);
CREATE INDEX document_project_document_idx ON document (project_id, document_id);
-- Every time entry written updates its task's totals (0003): room on each page keeps those
-- updates in place (HOT) instead of leaving dead row versions across the table.
ALTER TABLE task SET (fillfactor = 80);
