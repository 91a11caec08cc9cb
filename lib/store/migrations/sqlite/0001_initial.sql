-- The schema as it stood before migrations existed (every statement IF NOT EXISTS: a store of that layout
-- passes through unchanged and is then marked as version 1).
CREATE TABLE IF NOT EXISTS submissions (
    id INTEGER PRIMARY KEY,
    unit TEXT NOT NULL,
    year INTEGER NOT NULL,
    month INTEGER NOT NULL,
    received_at TEXT NOT NULL,
    activated_at TEXT NOT NULL,
    uploader TEXT NOT NULL,
    file_name TEXT NOT NULL,
    sha256 TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    n_rows INTEGER NOT NULL,
    findings TEXT NOT NULL,
    state TEXT NOT NULL,
    late INTEGER NOT NULL,
    targets_version TEXT NOT NULL,
    filler TEXT NOT NULL DEFAULT '',
    phone TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS submissions_period ON submissions(year, month, unit);
CREATE TABLE IF NOT EXISTS rows (
    submission_id INTEGER NOT NULL REFERENCES submissions(id),
    indicator TEXT NOT NULL,
    county TEXT NOT NULL,
    value REAL,
    reported_state TEXT NOT NULL,
    progress TEXT NOT NULL,
    problems TEXT NOT NULL,
    plan TEXT NOT NULL,
    excel_row INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS rows_submission ON rows(submission_id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS publications (
    id INTEGER PRIMARY KEY,
    year INTEGER NOT NULL,
    month INTEGER NOT NULL,
    revision INTEGER NOT NULL,
    reason TEXT NOT NULL,
    published_at TEXT NOT NULL,
    published_by TEXT NOT NULL,
    as_of_time TEXT,
    targets_hash TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    path TEXT NOT NULL,
    document TEXT NOT NULL,
    UNIQUE(year, month, revision)
);
CREATE TABLE IF NOT EXISTS publication_versions (
    publication_id INTEGER NOT NULL REFERENCES publications(id),
    unit TEXT NOT NULL,
    month INTEGER NOT NULL,
    sha256 TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS publication_versions_pub ON publication_versions(publication_id);
CREATE TRIGGER IF NOT EXISTS publications_no_update BEFORE UPDATE ON publications
    BEGIN SELECT RAISE(ABORT, 'published revisions are immutable'); END;
CREATE TRIGGER IF NOT EXISTS publications_no_delete BEFORE DELETE ON publications
    BEGIN SELECT RAISE(ABORT, 'published revisions are immutable'); END;
CREATE TRIGGER IF NOT EXISTS publication_versions_no_update BEFORE UPDATE ON publication_versions
    BEGIN SELECT RAISE(ABORT, 'published revisions are immutable'); END;
CREATE TRIGGER IF NOT EXISTS publication_versions_no_delete BEFORE DELETE ON publication_versions
    BEGIN SELECT RAISE(ABORT, 'published revisions are immutable'); END;
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    who TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);

-- 问题督办台账 (lib/ledger.py): written by people, not derivable from the raw files.
CREATE TABLE IF NOT EXISTS ledger_items (
    id INTEGER PRIMARY KEY,
    year INTEGER NOT NULL,
    project INTEGER NOT NULL,
    indicator TEXT NOT NULL DEFAULT '',
    county TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL,
    source TEXT NOT NULL,
    source_detail TEXT NOT NULL DEFAULT '',
    raised_on TEXT NOT NULL,
    responsible TEXT NOT NULL,
    coordinating TEXT NOT NULL DEFAULT '',
    due TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    closure_requested_by TEXT NOT NULL DEFAULT '',
    closure_requested_at TEXT NOT NULL DEFAULT '',
    closed_on TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_items_key ON ledger_items(project, indicator, county, status);
CREATE TABLE IF NOT EXISTS ledger_reports (
    id INTEGER PRIMARY KEY,
    item_id INTEGER NOT NULL REFERENCES ledger_items(id),
    sha256 TEXT NOT NULL,
    unit TEXT NOT NULL,
    year INTEGER NOT NULL,
    month INTEGER NOT NULL,
    indicator TEXT NOT NULL,
    county TEXT NOT NULL,
    cell TEXT NOT NULL,
    text TEXT NOT NULL,
    similarity REAL,
    matched_text TEXT NOT NULL DEFAULT '',
    added_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_reports_item ON ledger_reports(item_id);
CREATE INDEX IF NOT EXISTS ledger_reports_key ON ledger_reports(unit, year, month, indicator, county);
CREATE TABLE IF NOT EXISTS ledger_followups (
    id INTEGER PRIMARY KEY,
    item_id INTEGER NOT NULL REFERENCES ledger_items(id),
    on_date TEXT NOT NULL,
    at TEXT NOT NULL,
    who TEXT NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_followups_item ON ledger_followups(item_id);
CREATE TABLE IF NOT EXISTS ledger_photos (
    id INTEGER PRIMARY KEY,
    item_id INTEGER NOT NULL REFERENCES ledger_items(id),
    name TEXT NOT NULL,
    data BLOB NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    added_at TEXT NOT NULL,
    added_by TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_photos_item ON ledger_photos(item_id);
CREATE TABLE IF NOT EXISTS ledger_seen (sha256 TEXT PRIMARY KEY, seen_at TEXT NOT NULL);
