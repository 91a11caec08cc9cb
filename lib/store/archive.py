"""The verbatim files: every accepted upload as it was sent, with a sidecar saying who/when/which version is
current, and the published revisions' documents. Two homes for them, one interface:

- ``FileArchive`` (SQLite, the embedded default): files in the data folder. Crash-safe protocol: the .xlsx and
  .json are first written as ``*.pending`` files and made durable (fsync; one sync for a batch), then the database
  transaction commits, then both are renamed to their final names. ``recover`` (on open) finishes renames for
  committed submissions and deletes pending files that never committed. So a final-named file exists exactly for
  each committed submission, and a rebuild from the files reproduces the database.
- ``DatabaseArchive`` (PostgreSQL): the same bytes in the ``files`` table (bytea, content-addressed by sha256) in
  the same transaction as the rows, so every server sees the same truth; nothing to recover. ``stage`` queues a
  file and ``flush`` sends the queued ones in one ``COPY`` (the store flushes before anything reads them back).

``entries()`` lists what a rebuild reads: (sidecar, relative path, bytes loader), in any order.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from lib.store.db import Connection

SUBMISSIONS_DIR = "submissions"


def fsync_write(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def make_durable(paths: list[Path]) -> None:
    """Flush freshly written files to disk: one fsync each for a few, one system-wide sync for a batch."""
    if len(paths) > 8 and hasattr(os, "sync"):
        os.sync()  # Linux waits for the writeback to finish; far cheaper than an fsync per file
        return
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def replace_if_present(src: Path, dst: Path) -> None:
    """Rename; another process's recovery may have done it already."""
    try:
        os.replace(src, dst)
    except FileNotFoundError:
        pass


def finish_pending(final: Path) -> None:
    """After COMMIT: give a submission's pending files their final names."""
    for suffix in (".xlsx", ".json"):
        replace_if_present(final.with_suffix(suffix + ".pending"), final.with_suffix(suffix))


def sidecar_bytes(sidecar: dict) -> bytes:
    return json.dumps(sidecar, ensure_ascii=False).encode()


class FileArchive:
    """Verbatim files under the data folder (see the module docstring for the protocol)."""

    in_database = False

    def __init__(self, folder: Path):
        self.folder = folder
        self.submissions_dir = folder / SUBMISSIONS_DIR
        self.submissions_dir.mkdir(exist_ok=True)

    def stage(self, con: Connection, rel: str, data: bytes, sidecar: dict, written: list[Path]) -> Path:
        """Inside the write transaction, before the rows: the pending files (their paths appended to ``written``
        for ``make_durable``). Returns the final path for ``finish_pending`` after COMMIT."""
        final = self.folder / rel
        final.parent.mkdir(parents=True, exist_ok=True)
        for path, body in ((final.with_suffix(".xlsx.pending"), data),
                           (final.with_suffix(".json.pending"), sidecar_bytes(sidecar))):
            path.write_bytes(body)
            written.append(path)
        return final

    def flush(self, con: Connection, written: list[Path]) -> None:
        pass  # the pending files are on disk already; ``durable`` syncs them

    def durable(self, written: list[Path]) -> None:
        make_durable(written)  # before COMMIT: a committed row always has its file on disk

    def set_activated(self, con: Connection, rel: str, activated: str) -> Callable[[], None]:
        """Write the new activation time to the sidecar (made durable now); returns the rename that publishes it,
        which the caller runs inside the transaction (a crash before COMMIT leaves the new activation on disk with
        the old database state: a rebuild then prefers the restored version, which is what the user asked for)."""
        sidecar_path = (self.folder / rel).with_suffix(".json")
        if not sidecar_path.exists():  # stored earlier in this same transaction: still pending
            sidecar_path = sidecar_path.with_suffix(".json.pending")
        sidecar = json.loads(sidecar_path.read_text(encoding="utf-8"))
        sidecar["activated_at"] = activated
        tmp = sidecar_path.with_name(sidecar_path.name + ".tmp")
        fsync_write(tmp, sidecar_bytes(sidecar))
        return lambda: os.replace(tmp, sidecar_path)

    def read(self, rel: str) -> bytes | None:
        path = self.folder / rel
        return path.read_bytes() if path.is_file() else None

    def entries(self) -> Iterator[tuple[dict, str, Callable[[], bytes]]]:
        for sidecar_path in sorted(self.submissions_dir.rglob("*.json")):
            xlsx = sidecar_path.with_suffix(".xlsx")
            if xlsx.exists():
                yield (json.loads(sidecar_path.read_text(encoding="utf-8")), str(xlsx.relative_to(self.folder)),
                       xlsx.read_bytes)

    def remove(self, con: Connection | None, rels: list[str]) -> None:
        """Delete stored files (clearing the demo) and the folders left empty."""
        for rel in rels:
            final = self.folder / rel
            for path in (final, final.with_suffix(".json")):
                path.unlink(missing_ok=True)
        for folder in sorted({(self.folder / rel).parent for rel in rels}, key=lambda p: len(p.parts), reverse=True):
            self._drop_empty(folder)

    def _drop_empty(self, folder: Path) -> None:
        """Remove the unit/month/year folders of ``folder`` that are now empty."""
        for empty in (folder, folder.parent, folder.parent.parent):
            if empty != self.submissions_dir and empty.exists() and not any(empty.iterdir()):
                empty.rmdir()

    def has_pending(self) -> bool:
        return any(self.submissions_dir.rglob("*.pending"))

    def recover(self, con: Connection) -> None:
        """Under the write lock: pending files are only ever written inside a writer's transaction, so any pending
        file seen here is either committed (finish the rename) or abandoned by a dead process (delete it)."""
        committed = {row[0] for row in con.execute("SELECT path FROM submissions")}
        for pending in list(self.submissions_dir.rglob("*.pending")):
            base = pending.name.split(".")[0]
            rel = str((pending.parent / f"{base}.xlsx").relative_to(self.folder))
            if rel in committed:
                replace_if_present(pending, pending.with_name(pending.name[: -len(".pending")]))
                continue
            pending.unlink(missing_ok=True)
            self._drop_empty(pending.parent)

    # --- published revisions' documents ----------------------------------------------------------
    def put_document(self, rel: str, document: bytes) -> Callable[[], None]:
        """Write a publication file (durable) before its row commits; returns the undo for a failed commit."""
        path = self.folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        fsync_write(tmp, document)
        os.replace(tmp, path)
        return lambda: path.unlink(missing_ok=True)

    def read_document(self, con_text: str, rel: str) -> bytes | None:
        """The publication file as on disk (``con_text``, the database's copy, is what it is checked against)."""
        path = self.folder / rel
        return path.read_bytes() if path.is_file() else None


class DatabaseArchive:
    """The raw files in the ``files`` table (PostgreSQL): written in the same transaction as their rows."""

    in_database = True

    def __init__(self, folder: Path, db):
        self.folder = folder
        self.db = db
        self.submissions_dir = folder / SUBMISSIONS_DIR  # not used for files; kept for the same attributes

    def stage(self, con: Connection, rel: str, data: bytes, sidecar: dict, written: list) -> None:
        """Queue the file's row in ``written``; ``flush`` sends a batch's files in one ``COPY``."""
        written.append((sidecar["sha256"], rel, data, sidecar_bytes(sidecar).decode()))
        return None

    def flush(self, con: Connection, written: list) -> None:
        """Inside the write transaction: the queued files, before any statement reads them."""
        if written:
            con.insert_rows("files", ("sha256", "path", "data", "sidecar"), written)
            written.clear()

    def durable(self, written: list) -> None:
        """The COMMIT is the durable step; every staged file must have been flushed into the transaction."""
        if written:  # a programming error: rows would be committed without their files
            raise RuntimeError(f"{len(written)} staged files were not flushed before COMMIT")

    def set_activated(self, con: Connection, rel: str, activated: str) -> Callable[[], None]:
        sidecar = json.loads(con.execute("SELECT sidecar FROM files WHERE path=?", (rel,)).fetchone()[0])
        sidecar["activated_at"] = activated
        con.execute("UPDATE files SET sidecar=? WHERE path=?", (sidecar_bytes(sidecar).decode(), rel))
        return lambda: None

    def read(self, rel: str) -> bytes | None:
        with self.db.read() as con:
            row = con.execute("SELECT data FROM files WHERE path=?", (rel,)).fetchone()
        return bytes(row[0]) if row else None

    def entries(self) -> Iterator[tuple[dict, str, Callable[[], bytes]]]:
        with self.db.read() as con:
            listed = con.execute("SELECT path, sidecar FROM files ORDER BY path").fetchall()
        for rel, sidecar in listed:
            yield json.loads(sidecar), rel, (lambda rel=rel: self.read(rel))

    def remove(self, con: Connection | None, rels: list[str]) -> None:
        if con is None:
            with self.db.write() as c:
                self.remove(c, rels)
            return
        con.executemany("DELETE FROM files WHERE path=?", [(rel,) for rel in rels])

    def has_pending(self) -> bool:
        return False

    def recover(self, con: Connection) -> None:
        pass

    def put_document(self, rel: str, document: bytes) -> Callable[[], None]:
        return lambda: None  # the row's ``document`` column is the publication's one copy

    def read_document(self, con_text: str, rel: str) -> bytes | None:
        return con_text.encode("utf-8")
