-- The ceiling for external users (authorization.md, "Ceiling for external users"): the
-- global set of rights an EXTERNAL user may ever hold, edited by ADMIN, and a per-project
-- narrowing that applies to the project and everything below it.
CREATE TABLE external_ceiling (
    right_name  TEXT NOT NULL,
    CONSTRAINT external_ceiling_pkey PRIMARY KEY (right_name)
);
INSERT INTO external_ceiling (right_name) VALUES
    ('CREATE_PROJECTS'), ('VIEW_PROJECT_HISTORY'), ('EDIT_PROJECT'), ('CREATE_SUBPROJECTS'),
    ('MANAGE_TASKS'), ('LOG_TIME'), ('VIEW_TIMESHEETS'), ('APPROVE_TIMESHEETS'),
    ('SEE_VALIDATED_WORK'), ('SEE_WORK'), ('SEE_VALIDATED_COST'), ('MANAGE_DOCUMENTS'),
    ('VIEW_INVOICES');

-- Comma-separated right names; NULL means no narrowing.
ALTER TABLE project ADD COLUMN external_rights TEXT;

CREATE TRIGGER external_ceiling_access AFTER INSERT OR UPDATE OR DELETE ON external_ceiling
    FOR EACH STATEMENT EXECUTE FUNCTION portico_bump_access_version();
CREATE TRIGGER project_external_rights_access AFTER UPDATE OF external_rights ON project
    FOR EACH STATEMENT EXECUTE FUNCTION portico_bump_access_version();
CREATE TRIGGER app_user_kind_access AFTER UPDATE OF kind ON app_user
    FOR EACH STATEMENT EXECUTE FUNCTION portico_bump_access_version();
