-- Portico data model, SQLite flavour. Money is integer minor units (cents); work and hours are
-- integer hundredths of an hour, so sums and the 24-hours-a-day rule are exact.
-- Dates are TEXT 'YYYY-MM-DD', instants TEXT RFC 3339 in UTC, booleans INTEGER 0/1.

CREATE TABLE profile (
    profile_id   INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    CONSTRAINT profile_name_key UNIQUE (name)
);

-- One row per right a profile grants; names are checked by the application (Right enum).
CREATE TABLE profile_right (
    profile_id   INTEGER NOT NULL REFERENCES profile (profile_id) ON DELETE CASCADE,
    right_name   TEXT NOT NULL,
    PRIMARY KEY (profile_id, right_name)
);

CREATE TABLE department (
    department_id INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    parent_id     INTEGER REFERENCES department (department_id),
    created_at    TEXT NOT NULL
);
CREATE INDEX department_parent_idx ON department (parent_id);

CREATE TABLE customer (
    customer_id  INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    CONSTRAINT customer_name_key UNIQUE (name)
);

CREATE TABLE app_user (
    user_id        INTEGER PRIMARY KEY,
    email          TEXT NOT NULL,
    name           TEXT NOT NULL,
    kind           TEXT NOT NULL CONSTRAINT app_user_kind_check CHECK (kind IN ('INTERNAL', 'EXTERNAL')),
    customer_id    INTEGER REFERENCES customer (customer_id),
    department_id  INTEGER REFERENCES department (department_id),
    profile_id     INTEGER NOT NULL REFERENCES profile (profile_id),
    cost_rate      INTEGER NOT NULL DEFAULT 0 CONSTRAINT app_user_cost_rate_check CHECK (cost_rate >= 0),
    billing_rate   INTEGER NOT NULL DEFAULT 0 CONSTRAINT app_user_billing_rate_check CHECK (billing_rate >= 0),
    password_hash  TEXT NOT NULL,
    active         INTEGER NOT NULL DEFAULT 1,
    created_at     TEXT NOT NULL,
    CONSTRAINT app_user_email_key UNIQUE (email)
);
CREATE INDEX app_user_profile_idx ON app_user (profile_id);

CREATE TABLE user_group (
    group_id     INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    CONSTRAINT user_group_name_key UNIQUE (name)
);

CREATE TABLE group_member (
    group_id     INTEGER NOT NULL REFERENCES user_group (group_id) ON DELETE CASCADE,
    user_id      INTEGER NOT NULL REFERENCES app_user (user_id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_member_user_idx ON group_member (user_id);

CREATE TABLE project (
    project_id       INTEGER PRIMARY KEY,
    name             TEXT NOT NULL,
    code             TEXT,
    status           TEXT NOT NULL CONSTRAINT project_status_check CHECK (status IN ('POTENTIAL', 'OPEN', 'ON_HOLD', 'CLOSED')),
    customer_id      INTEGER REFERENCES customer (customer_id),
    department_id    INTEGER REFERENCES department (department_id),
    parent_id        INTEGER REFERENCES project (project_id),
    inherit_members  INTEGER NOT NULL DEFAULT 1,
    budget           INTEGER CONSTRAINT project_budget_check CHECK (budget >= 0),
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    CONSTRAINT project_code_key UNIQUE (code)
);
CREATE INDEX project_parent_idx ON project (parent_id);
CREATE INDEX project_customer_idx ON project (customer_id);

CREATE TABLE membership (
    membership_id  INTEGER PRIMARY KEY,
    project_id     INTEGER NOT NULL REFERENCES project (project_id) ON DELETE CASCADE,
    user_id        INTEGER REFERENCES app_user (user_id) ON DELETE CASCADE,
    group_id       INTEGER REFERENCES user_group (group_id) ON DELETE CASCADE,
    profile_id     INTEGER NOT NULL REFERENCES profile (profile_id),
    valid_from     TEXT,
    valid_until    TEXT,
    created_at     TEXT NOT NULL,
    CONSTRAINT membership_principal_check CHECK ((user_id IS NULL) <> (group_id IS NULL)),
    CONSTRAINT membership_validity_check CHECK (valid_from IS NULL OR valid_until IS NULL OR valid_from <= valid_until)
);
CREATE INDEX membership_project_idx ON membership (project_id);
CREATE INDEX membership_user_idx ON membership (user_id);
CREATE INDEX membership_group_idx ON membership (group_id);

CREATE TABLE task (
    task_id         INTEGER PRIMARY KEY,
    project_id      INTEGER NOT NULL REFERENCES project (project_id),
    name            TEXT NOT NULL,
    assignee_id     INTEGER REFERENCES app_user (user_id),
    status          TEXT NOT NULL CONSTRAINT task_status_check CHECK (status IN ('TODO', 'IN_PROGRESS', 'DONE')),
    validated_work  INTEGER NOT NULL DEFAULT 0 CONSTRAINT task_validated_work_check CHECK (validated_work >= 0),
    planned_work    INTEGER NOT NULL DEFAULT 0 CONSTRAINT task_planned_work_check CHECK (planned_work >= 0),
    left_work       INTEGER NOT NULL DEFAULT 0 CONSTRAINT task_left_work_check CHECK (left_work >= 0),
    validated_cost  INTEGER NOT NULL DEFAULT 0 CONSTRAINT task_validated_cost_check CHECK (validated_cost >= 0),
    planned_cost    INTEGER NOT NULL DEFAULT 0 CONSTRAINT task_planned_cost_check CHECK (planned_cost >= 0),
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX task_project_idx ON task (project_id);

CREATE TABLE invoice (
    invoice_id    INTEGER PRIMARY KEY,
    number        TEXT NOT NULL,
    customer_id   INTEGER REFERENCES customer (customer_id),
    project_id    INTEGER NOT NULL REFERENCES project (project_id),
    period_start  TEXT NOT NULL,
    period_end    TEXT NOT NULL,
    status        TEXT NOT NULL CONSTRAINT invoice_status_check CHECK (status IN ('DRAFT', 'ISSUED')),
    total         INTEGER NOT NULL,
    created_by    INTEGER REFERENCES app_user (user_id),
    created_at    TEXT NOT NULL,
    issued_at     TEXT,
    CONSTRAINT invoice_number_key UNIQUE (number)
);
CREATE INDEX invoice_project_idx ON invoice (project_id);

CREATE TABLE invoice_line (
    invoice_line_id  INTEGER PRIMARY KEY,
    invoice_id       INTEGER NOT NULL REFERENCES invoice (invoice_id) ON DELETE CASCADE,
    user_id          INTEGER REFERENCES app_user (user_id),
    task_id          INTEGER REFERENCES task (task_id),
    description      TEXT NOT NULL,
    hours            INTEGER NOT NULL,
    rate             INTEGER NOT NULL,
    amount           INTEGER NOT NULL
);
CREATE INDEX invoice_line_invoice_idx ON invoice_line (invoice_id);

CREATE TABLE time_entry (
    time_entry_id  INTEGER PRIMARY KEY,
    user_id        INTEGER NOT NULL REFERENCES app_user (user_id),
    task_id        INTEGER NOT NULL REFERENCES task (task_id),
    project_id     INTEGER NOT NULL REFERENCES project (project_id),
    entry_date     TEXT NOT NULL,
    hours          INTEGER NOT NULL CONSTRAINT time_entry_hours_check CHECK (hours > 0 AND hours <= 2400),
    cost           INTEGER NOT NULL CONSTRAINT time_entry_cost_check CHECK (cost >= 0),
    billable       INTEGER NOT NULL DEFAULT 1,
    status         TEXT NOT NULL CONSTRAINT time_entry_status_check CHECK (status IN ('SUBMITTED', 'APPROVED', 'BILLED')),
    invoice_id     INTEGER REFERENCES invoice (invoice_id),
    note           TEXT,
    approved_by    INTEGER REFERENCES app_user (user_id),
    approved_at    TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX time_entry_project_date_idx ON time_entry (project_id, entry_date);
CREATE INDEX time_entry_task_idx ON time_entry (task_id);
CREATE INDEX time_entry_user_date_idx ON time_entry (user_id, entry_date);
CREATE INDEX time_entry_invoice_idx ON time_entry (invoice_id);

CREATE TABLE document (
    document_id  INTEGER PRIMARY KEY,
    project_id   INTEGER NOT NULL REFERENCES project (project_id),
    folder       TEXT NOT NULL DEFAULT '',
    title        TEXT NOT NULL,
    visibility   TEXT NOT NULL CONSTRAINT document_visibility_check CHECK (visibility IN ('INTERNAL', 'SHARED')),
    content      TEXT NOT NULL DEFAULT '',
    created_by   INTEGER REFERENCES app_user (user_id),
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX document_project_folder_idx ON document (project_id, folder);

-- A folder with at least one rule is restricted to the principals its rules name.
CREATE TABLE folder_rule (
    folder_rule_id  INTEGER PRIMARY KEY,
    project_id      INTEGER NOT NULL REFERENCES project (project_id) ON DELETE CASCADE,
    folder          TEXT NOT NULL,
    user_id         INTEGER REFERENCES app_user (user_id) ON DELETE CASCADE,
    group_id        INTEGER REFERENCES user_group (group_id) ON DELETE CASCADE,
    created_at      TEXT NOT NULL,
    CONSTRAINT folder_rule_principal_check CHECK ((user_id IS NULL) <> (group_id IS NULL))
);
CREATE INDEX folder_rule_project_folder_idx ON folder_rule (project_id, folder);

CREATE TABLE session (
    session_id   INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES app_user (user_id) ON DELETE CASCADE,
    token_hash   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    revoked_at   TEXT,
    CONSTRAINT session_token_hash_key UNIQUE (token_hash)
);
CREATE INDEX session_user_idx ON session (user_id);

CREATE TABLE api_key (
    api_key_id    INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES app_user (user_id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    key_hash      TEXT NOT NULL,
    prefix        TEXT NOT NULL,
    read_only     INTEGER NOT NULL DEFAULT 0,
    expires_at    TEXT,
    revoked_at    TEXT,
    last_used_at  TEXT,
    created_at    TEXT NOT NULL,
    CONSTRAINT api_key_key_hash_key UNIQUE (key_hash)
);
CREATE INDEX api_key_user_idx ON api_key (user_id);

-- A key with rows here is narrowed to these projects and their sub-projects.
CREATE TABLE api_key_project (
    api_key_id   INTEGER NOT NULL REFERENCES api_key (api_key_id) ON DELETE CASCADE,
    project_id   INTEGER NOT NULL REFERENCES project (project_id) ON DELETE CASCADE,
    PRIMARY KEY (api_key_id, project_id)
);

CREATE TABLE audit_event (
    audit_event_id   INTEGER PRIMARY KEY,
    at               TEXT NOT NULL,
    actor_id         INTEGER REFERENCES app_user (user_id),
    impersonator_id  INTEGER REFERENCES app_user (user_id),
    action           TEXT NOT NULL,
    target           TEXT,
    details          TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_event_at_idx ON audit_event (at);
CREATE INDEX audit_event_action_target_idx ON audit_event (action, target, at);
