-- SQLite's indexes on (parent) already end with the rowid, which is the id: nothing to add.
SELECT 1;
