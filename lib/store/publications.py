"""Published revisions (computed and checked by ``lib.publish``; stored here): immutable rows (triggers refuse
UPDATE and DELETE on both backends), and on SQLite one file per revision under ``publications/`` written before its
row commits, which a rebuild reads back."""

from __future__ import annotations

import hashlib
import json

import pandas as pd

from lib.store.db import Connection

PUBLICATIONS_DIR = "publications"  # one immutable file per published revision (lib.publish)


def publications_version_of(generation, count, last) -> str:
    """``Store.publications_version()`` from the generation, the number of revisions and the newest id."""
    return f"{generation}:{count}:{last}"


class Publications:
    """The publications half of ``Store`` (needs ``read``, ``write``, ``log``, ``archive`` and ``folder``)."""

    def publications_version(self) -> str:
        """Changes whenever a revision is published or the database is rebuilt: a cache key for the revision
        lists (publishing leaves ``version()`` alone, the live figures do not change). One tiny query."""
        with self.read() as con:
            n, last, generation = con.execute(
                "SELECT (SELECT COUNT(*) FROM publications), (SELECT MAX(id) FROM publications), "
                "(SELECT value FROM meta WHERE key='generation')").fetchone()
        return publications_version_of(generation, n, last)

    def publications(self, year: int | None = None, month: int | None = None) -> pd.DataFrame:
        """Every published revision (without its document), oldest first."""
        where, params = [], []
        for column, value in (("year", year), ("month", month)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(int(value))
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self.read() as con:
            frame = con.frame(
                "SELECT id, year, month, revision, reason, published_at, published_by, as_of_time, targets_hash, "
                f"content_hash, path FROM publications {clause} ORDER BY year, month, revision", params)
        if frame.empty:
            frame = frame.astype({"id": "int64", "year": "int64", "month": "int64", "revision": "int64"})
        frame["as_of_time"] = frame["as_of_time"].astype(object).where(frame["as_of_time"].notna(), None)
        return frame

    def publication_record(self, publication_id: int) -> tuple[str, list[tuple[str, int, str]]]:
        """(document, [(unit, month, sha256)]) of one stored revision, as the database holds them."""
        with self.read() as con:
            row = con.execute("SELECT document FROM publications WHERE id = ?", (int(publication_id),)).fetchone()
            versions = [tuple(v) for v in con.execute(
                "SELECT unit, month, sha256 FROM publication_versions WHERE publication_id = ? ORDER BY rowid",
                (int(publication_id),)).fetchall()]
        if row is None:
            raise KeyError(f"没有编号为 {publication_id} 的发布记录")
        return row[0], versions

    def publication_versions(self, publication_id: int) -> list[tuple[str, int, str]]:
        """[(unit, month, sha256)] a stored revision froze (without reading its document)."""
        with self.read() as con:
            return [tuple(v) for v in con.execute("SELECT unit, month, sha256 FROM publication_versions "
                                                  "WHERE publication_id = ? ORDER BY rowid", (int(publication_id),))]

    def publication_file(self, publication_id: int) -> bytes | None:
        """The revision's document as its archive holds it (SQLite: the file on disk), to check against the row."""
        with self.read() as con:
            row = con.execute("SELECT document, path FROM publications WHERE id = ?", (int(publication_id),)).fetchone()
        return None if row is None else self.archive.read_document(row[0], row[1])

    def add_publication(self, make_document, who: str) -> tuple[int, str]:
        """Store the next revision of a month, made by ``make_document(revision) -> (meta, versions, document)``.

        Runs under the write lock, so the revision number is the next free one. On SQLite the document (the exact
        bytes the content hash is taken over) is written to ``publications/<年>/<月>/r<修订>-<hash12>.json`` and
        made durable before the database commits; ``rebuild()`` reads these files back. Returns (id, relative path).
        """
        with self.write() as con:
            def next_revision(year: int, month: int) -> int:
                row = con.execute("SELECT MAX(revision) FROM publications WHERE year=? AND month=?", (year, month)).fetchone()
                return 0 if row[0] is None else row[0] + 1
            meta, versions, document = make_document(next_revision)
            content_hash = hashlib.sha256(document).hexdigest()
            rel = f"{PUBLICATIONS_DIR}/{meta['year']}/{meta['month']:02d}/r{meta['revision']}-{content_hash[:12]}.json"
            undo = self.archive.put_document(rel, document)
            try:
                pub_id = self._insert_publication(con, meta, versions, document, rel)
                self.log(who, "发布", f"{meta['year']} 年 {meta['month']} 月 修订 {meta['revision']}"
                         f"（内容哈希 {content_hash[:12]}）" + (f"：{meta['reason']}" if meta["reason"] else ""), con)
            except BaseException:
                undo()
                raise
        return pub_id, rel

    @staticmethod
    def _insert_publication(con: Connection, meta: dict, versions: list[dict], document: bytes, rel: str) -> int:
        pub_id = con.insert(
            "INSERT INTO publications(year, month, revision, reason, published_at, published_by, as_of_time, "
            "targets_hash, content_hash, path, document) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (meta["year"], meta["month"], meta["revision"], meta["reason"], meta["published_at"], meta["published_by"],
             meta["as_of_time"], meta["targets_hash"], hashlib.sha256(document).hexdigest(), rel, document.decode("utf-8")))
        con.executemany("INSERT INTO publication_versions(publication_id, unit, month, sha256) VALUES (?,?,?,?)",
                        [(pub_id, v["unit"], v["month"], v["sha256"]) for v in versions])
        return pub_id

    def _restore_publications(self, con: Connection) -> int:
        """SQLite rebuild: every publication file back into the database, as it is on disk (``lib.publish.verify``
        checks it)."""
        paths = sorted((self.folder / PUBLICATIONS_DIR).glob("*/*/r*.json"))
        for path in paths:
            document = path.read_bytes()
            doc = json.loads(document)
            self._insert_publication(con, doc["meta"], doc["versions"], document, str(path.relative_to(self.folder)))
        return len(paths)

    def remove_publications(self) -> int:
        """Clearing the demo: every published revision goes (months published from demo figures). On SQLite the files
        (a rebuild follows); on PostgreSQL the rows, past the immutability triggers for this one transaction."""
        if not self.archive.in_database:
            published = list((self.folder / PUBLICATIONS_DIR).glob("*/*/r*.json"))
            for path in published:
                path.unlink()
            return len(published)
        with self.write() as con:
            con.execute("SET LOCAL livelihood.allow_delete = 'on'")
            n = con.execute("SELECT COUNT(*) FROM publications").fetchone()[0]
            con.execute("DELETE FROM publication_versions")
            con.execute("DELETE FROM publications")
        return n
