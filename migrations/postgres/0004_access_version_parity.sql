-- SQLite catches up with the triggers PostgreSQL has had since 0002; nothing to do here.
SELECT 1;
