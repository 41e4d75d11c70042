-- A counter that changes whenever anything the access policy reads changes, so servers can
-- cache each caller's scope and still see a change on the very next request (every
-- process sharing the database reads the same counter).
CREATE TABLE access_version (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    version  INTEGER NOT NULL
);
INSERT INTO access_version (id, version) VALUES (1, 0);

CREATE TRIGGER membership_ai AFTER INSERT ON membership BEGIN UPDATE access_version SET version = version + 1; END;
CREATE TRIGGER membership_au AFTER UPDATE ON membership BEGIN UPDATE access_version SET version = version + 1; END;
CREATE TRIGGER membership_ad AFTER DELETE ON membership BEGIN UPDATE access_version SET version = version + 1; END;
CREATE TRIGGER profile_right_ai AFTER INSERT ON profile_right BEGIN UPDATE access_version SET version = version + 1; END;
CREATE TRIGGER profile_right_ad AFTER DELETE ON profile_right BEGIN UPDATE access_version SET version = version + 1; END;
CREATE TRIGGER group_member_ai AFTER INSERT ON group_member BEGIN UPDATE access_version SET version = version + 1; END;
CREATE TRIGGER group_member_ad AFTER DELETE ON group_member BEGIN UPDATE access_version SET version = version + 1; END;
CREATE TRIGGER project_ai AFTER INSERT ON project BEGIN UPDATE access_version SET version = version + 1; END;
CREATE TRIGGER project_au AFTER UPDATE OF parent_id, inherit_members, status, department_id ON project BEGIN UPDATE access_version SET version = version + 1; END;
CREATE TRIGGER project_ad AFTER DELETE ON project BEGIN UPDATE access_version SET version = version + 1; END;
CREATE TRIGGER department_ai AFTER INSERT ON department BEGIN UPDATE access_version SET version = version + 1; END;
CREATE TRIGGER department_au AFTER UPDATE ON department BEGIN UPDATE access_version SET version = version + 1; END;
CREATE TRIGGER app_user_au AFTER UPDATE OF profile_id, department_id, active ON app_user BEGIN UPDATE access_version SET version = version + 1; END;
