-- A counter that changes whenever anything the access policy reads changes, so servers can
-- cache each caller's scope and still see a change on the very next request (every
-- process sharing the database reads the same counter).
CREATE TABLE access_version (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    version  BIGINT NOT NULL
);
INSERT INTO access_version (id, version) VALUES (1, 0);

CREATE FUNCTION portico_bump_access_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE access_version SET version = version + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER membership_access AFTER INSERT OR UPDATE OR DELETE ON membership
    FOR EACH STATEMENT EXECUTE FUNCTION portico_bump_access_version();
CREATE TRIGGER profile_right_access AFTER INSERT OR UPDATE OR DELETE ON profile_right
    FOR EACH STATEMENT EXECUTE FUNCTION portico_bump_access_version();
CREATE TRIGGER group_member_access AFTER INSERT OR UPDATE OR DELETE ON group_member
    FOR EACH STATEMENT EXECUTE FUNCTION portico_bump_access_version();
CREATE TRIGGER project_access AFTER INSERT OR DELETE ON project
    FOR EACH STATEMENT EXECUTE FUNCTION portico_bump_access_version();
CREATE TRIGGER project_access_update AFTER UPDATE OF parent_id, inherit_members, status, department_id ON project
    FOR EACH STATEMENT EXECUTE FUNCTION portico_bump_access_version();
CREATE TRIGGER department_access AFTER INSERT OR UPDATE OR DELETE ON department
    FOR EACH STATEMENT EXECUTE FUNCTION portico_bump_access_version();
CREATE TRIGGER app_user_access AFTER UPDATE OF profile_id, department_id, active ON app_user
    FOR EACH STATEMENT EXECUTE FUNCTION portico_bump_access_version();
