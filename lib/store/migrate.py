"""Schema migrations: numbered SQL files, run on open, for both backends.

``lib/store/migrations/<backend>/NNNN_name.sql`` are applied in order, each inside the store's own write
transaction together with its row in ``schema_migrations`` (so two servers starting at once apply each step once,
and a failed step leaves the schema as it was). A store created before migrations existed has no
``schema_migrations``: step 0001 of SQLite is that old schema written with ``IF NOT EXISTS``, so such a store
passes through it unchanged and upgrades in place from there.

Why a small runner and not alembic: alembic brings SQLAlchemy and its own configuration (alembic.ini, an env.py,
Python migration scripts against SQLAlchemy's operations API), none of which the rest of the code uses; our two
backends need different SQL anyway for the few places they differ (triggers, identity columns), and the steps must
run on open under the store's own lock, without a separate command an operator could forget. A dozen lines of
runner over plain .sql files that a DBA can read is the smaller thing to trust.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from pathlib import Path

from lib.store.db import Database

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

TABLE = ("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
         "applied_at TEXT NOT NULL)")


def steps(kind: str) -> list[tuple[int, str]]:
    """(number, file name) of every step of a backend, in order."""
    found = [(int(m.group(1)), p.name) for p in (MIGRATIONS / kind).glob("*.sql") if (m := _NAME.match(p.name))]
    return sorted(found)


def applied(db: Database) -> set[int]:
    with db.read() as con:
        try:
            return {r[0] for r in con.execute("SELECT version FROM schema_migrations")}
        except Exception:  # no such table yet: a new store or one of the layout before migrations
            return set()


def migrate(db: Database) -> list[str]:
    """Apply the steps not yet applied; returns their names. Cheap when up to date (one read)."""
    wanted = steps(db.kind)
    if {n for n, _ in wanted} <= applied(db):
        return []
    done = []
    with db.write() as con:
        con.execute(TABLE)
        have = {r[0] for r in con.execute("SELECT version FROM schema_migrations")}
        for number, name in wanted:
            if number in have:
                continue
            db.run_script(con, (MIGRATIONS / db.kind / name).read_text(encoding="utf-8"))
            con.execute("INSERT INTO schema_migrations(version, name, applied_at) VALUES (?,?,?)",
                        (number, name, datetime.now().isoformat(timespec="seconds")))
            done.append(name)
    if done:
        log.info("schema of %s upgraded: %s", db.describe(), ", ".join(done))
    return done
