-- The whole schema on PostgreSQL: the SQLite tables with the same columns and types (dates stay ISO text, so both
-- backends return the same values), a BIGSERIAL ``rowid`` where code reads in insertion order, and ``files``:
-- the raw uploads themselves (bytea, content-addressed by sha256) with their sidecar, which SQLite keeps on disk.
CREATE TABLE submissions (
    id BIGSERIAL PRIMARY KEY,
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
CREATE INDEX submissions_period ON submissions(year, month, unit);
-- At most one current version of a unit and month, whatever happens: the database enforces it too
-- ('当前' is lib.store.core.STATE_CURRENT; a schema step cannot import it).
CREATE UNIQUE INDEX submissions_one_current ON submissions(unit, year, month) WHERE state = '当前';
CREATE TABLE rows (
    rowid BIGSERIAL PRIMARY KEY,
    submission_id BIGINT NOT NULL REFERENCES submissions(id),
    indicator TEXT NOT NULL,
    county TEXT NOT NULL,
    value DOUBLE PRECISION,
    reported_state TEXT NOT NULL,
    progress TEXT NOT NULL,
    problems TEXT NOT NULL,
    plan TEXT NOT NULL,
    excel_row INTEGER NOT NULL
);
CREATE INDEX rows_submission ON rows(submission_id);
CREATE TABLE files (
    sha256 TEXT PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    data BYTEA NOT NULL,
    sidecar TEXT NOT NULL
);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE publications (
    id BIGSERIAL PRIMARY KEY,
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
CREATE TABLE publication_versions (
    rowid BIGSERIAL PRIMARY KEY,
    publication_id BIGINT NOT NULL REFERENCES publications(id),
    unit TEXT NOT NULL,
    month INTEGER NOT NULL,
    sha256 TEXT NOT NULL
);
CREATE INDEX publication_versions_pub ON publication_versions(publication_id);
CREATE FUNCTION publications_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Only clearing the demo (Store.remove_publications) lifts this, for its own transaction.
    IF current_setting('livelihood.allow_delete', true) = 'on' AND TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'published revisions are immutable';
END $$;
CREATE TRIGGER publications_no_change BEFORE UPDATE OR DELETE ON publications
    FOR EACH ROW EXECUTE FUNCTION publications_immutable();
CREATE TRIGGER publication_versions_no_change BEFORE UPDATE OR DELETE ON publication_versions
    FOR EACH ROW EXECUTE FUNCTION publications_immutable();
CREATE TABLE target_tables (
    id BIGSERIAL PRIMARY KEY,
    year INTEGER NOT NULL,
    version INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    data BYTEA NOT NULL,
    stored_at TEXT NOT NULL,
    stored_by TEXT NOT NULL,
    UNIQUE(year, version)
);
CREATE INDEX target_tables_sha ON target_tables(sha256);
CREATE TABLE audit (
    id BIGSERIAL PRIMARY KEY,
    at TEXT NOT NULL,
    who TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE TABLE ledger_items (
    id BIGSERIAL PRIMARY KEY,
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
CREATE INDEX ledger_items_key ON ledger_items(project, indicator, county, status);
CREATE TABLE ledger_reports (
    id BIGSERIAL PRIMARY KEY,
    item_id BIGINT NOT NULL REFERENCES ledger_items(id),
    sha256 TEXT NOT NULL,
    unit TEXT NOT NULL,
    year INTEGER NOT NULL,
    month INTEGER NOT NULL,
    indicator TEXT NOT NULL,
    county TEXT NOT NULL,
    cell TEXT NOT NULL,
    text TEXT NOT NULL,
    similarity DOUBLE PRECISION,
    matched_text TEXT NOT NULL DEFAULT '',
    added_at TEXT NOT NULL
);
CREATE INDEX ledger_reports_item ON ledger_reports(item_id);
CREATE INDEX ledger_reports_key ON ledger_reports(unit, year, month, indicator, county);
CREATE TABLE ledger_followups (
    id BIGSERIAL PRIMARY KEY,
    item_id BIGINT NOT NULL REFERENCES ledger_items(id),
    on_date TEXT NOT NULL,
    at TEXT NOT NULL,
    who TEXT NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX ledger_followups_item ON ledger_followups(item_id);
CREATE TABLE ledger_photos (
    id BIGSERIAL PRIMARY KEY,
    item_id BIGINT NOT NULL REFERENCES ledger_items(id),
    name TEXT NOT NULL,
    data BYTEA NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    added_at TEXT NOT NULL,
    added_by TEXT NOT NULL
);
CREATE INDEX ledger_photos_item ON ledger_photos(item_id);
CREATE TABLE ledger_seen (sha256 TEXT PRIMARY KEY, seen_at TEXT NOT NULL);
