-- Failed sign-ins, counted per account, per client address and per pair of them. A login
-- claims its attempt here (one atomic statement) before the password is checked, so
-- concurrent attempts can never pass the limit together; a success gives the claims back.
-- Failures are counted here rather than as one audit row each.
CREATE TABLE login_throttle (
    throttle_key  TEXT NOT NULL,
    failures      BIGINT NOT NULL,
    window_start  TEXT NOT NULL,
    CONSTRAINT login_throttle_pkey PRIMARY KEY (throttle_key)
);
