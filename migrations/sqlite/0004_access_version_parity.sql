-- The same triggers as on PostgreSQL: updates of profile rights and group members, and the
-- removal of a department, change access too.
CREATE TRIGGER profile_right_au AFTER UPDATE ON profile_right BEGIN UPDATE access_version SET version = version + 1; END;
CREATE TRIGGER group_member_au AFTER UPDATE ON group_member BEGIN UPDATE access_version SET version = version + 1; END;
CREATE TRIGGER department_ad AFTER DELETE ON department BEGIN UPDATE access_version SET version = version + 1; END;
