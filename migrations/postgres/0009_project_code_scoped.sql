-- A project code was unique across all projects, so creating a project answered "this code
-- is already in use" for the code of a project the caller cannot see: a way to probe for
-- hidden projects. Codes are now unique among the projects the creator can see, checked
-- in the writing transaction.
ALTER TABLE project DROP CONSTRAINT project_code_key;
CREATE INDEX project_code_idx ON project (code);
