-- A project code was unique across all projects, so creating a project answered "this code
-- is already in use" for the code of a project the caller cannot see: a way to probe for
-- hidden projects. Codes are now unique among the projects the creator can see, checked
-- in the writing transaction. SQLite cannot drop a constraint written inside CREATE TABLE
-- without rebuilding the table (whose DROP would cascade to memberships), so the old,
-- unique column is renamed aside and emptied, and a plain `code` column takes its place.
ALTER TABLE project RENAME COLUMN code TO code_retired;
ALTER TABLE project ADD COLUMN code TEXT;
UPDATE project SET code = code_retired, code_retired = NULL;
CREATE INDEX project_code_idx ON project (code);
