-- Target tables per year, versioned, in the database (the current table of a year is its highest version).
CREATE TABLE IF NOT EXISTS target_tables (
    id INTEGER PRIMARY KEY,
    year INTEGER NOT NULL,
    version INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    data BLOB NOT NULL,
    stored_at TEXT NOT NULL,
    stored_by TEXT NOT NULL,
    UNIQUE(year, version)
);
CREATE INDEX IF NOT EXISTS target_tables_sha ON target_tables(sha256);
