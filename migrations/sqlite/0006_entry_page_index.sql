-- A month of a project's time entries is read in id order, a page at a time: with the
-- author in the index, the rows of the page are chosen from the index alone (whether the
-- caller may see each entry depends on its author), and only the page's rows are read.
DROP INDEX time_entry_project_date_idx;
CREATE INDEX time_entry_project_date_user_idx ON time_entry (project_id, entry_date, user_id);
