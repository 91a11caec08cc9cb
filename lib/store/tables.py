"""Target tables per year, in the database: versioned (the current table of a year is its highest version),
audited, with their sha256. ``Store.version()`` moves with every change, so every server's dashboards follow.

A store without any table is seeded on open: from the data folder's ``targets.xlsx`` of the old layout (with
``targets-history/`` as earlier versions) or else from the bundled ``data/targets.xlsx``; after that no code reads a
folder's targets.xlsx.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import pandas as pd

from lib import config
from lib.store.db import Connection, bump_version
from lib.targets import Targets, TargetTableError, parse_targets

SEEDER = "系统"
_PARSED: dict[str, Targets] = {}  # sha256 -> parsed table (a table's bytes never change under its hash)


def parse_stored(sha: str, data: bytes) -> Targets:
    """Parse a stored target table once per process (a table parses in about 0.3 s)."""
    if sha not in _PARSED:
        parsed, problems = parse_targets(bytes(data), source=f"目标表 {sha[:12]}")
        if problems:
            raise TargetTableError(problems)
        _remember(sha, parsed)
    return _PARSED[sha]


def _remember(sha: str, parsed: Targets) -> None:
    if len(_PARSED) > 16:
        _PARSED.pop(next(iter(_PARSED)))
    _PARSED[sha] = parsed


class TargetTables:
    """The target-table half of ``Store`` (needs ``read``, ``write``, ``log`` and ``folder``)."""

    def _seed_targets(self) -> None:
        with self.read() as con:
            if con.execute("SELECT 1 FROM target_tables LIMIT 1").fetchone():
                return
        legacy = self.folder / "targets.xlsx"
        sources = sorted((self.folder / "targets-history").glob("*.xlsx")) if legacy.exists() else []
        sources.append(legacy if legacy.exists() else config.BUNDLED_TARGETS)
        with self.write() as con:
            if con.execute("SELECT 1 FROM target_tables LIMIT 1").fetchone():
                return  # another process seeded first
            for path in sources:
                data = path.read_bytes()
                sha = hashlib.sha256(data).hexdigest()
                parsed = _PARSED.get(sha)  # a new data folder of the bundled table: parsed once per process
                if parsed is None:
                    parsed, problems = parse_targets(data, source=str(path))
                    if problems:
                        if path is sources[-1]:
                            raise TargetTableError(problems)
                        continue  # an unreadable old history copy stays on disk, not imported
                    _remember(sha, parsed)
                self._add_target_table(con, parsed.year, data, SEEDER, f"导入 {path.name}")

    def _add_target_table(self, con: Connection, year: int, data: bytes, who: str, why: str) -> int | None:
        """Store ``data`` as the next version of ``year``'s table (inside a write transaction); None if identical
        to the current one."""
        sha = hashlib.sha256(data).hexdigest()
        last = con.execute("SELECT version, sha256 FROM target_tables WHERE year=? ORDER BY version DESC LIMIT 1",
                           (year,)).fetchone()
        if last and last[1] == sha:
            return None
        version = (last[0] if last else 0) + 1
        con.execute("INSERT INTO target_tables(year, version, sha256, data, stored_at, stored_by) VALUES (?,?,?,?,?,?)",
                    (year, version, sha, data, datetime.now().isoformat(timespec="seconds"), who))
        bump_version(con)
        self.log(who, "更换目标表" if last else "新增目标表",
                 f"{year} 年度第 {version} 版（sha256 {sha[:12]}" + (f"，替换第 {last[0]} 版" if last else "") + f"）：{why}",
                 con)
        return version

    def replace_targets(self, data: bytes, who: str) -> list:
        """Store a target table as the next version of its own year (a new year is simply added) if it validates.
        Audited either way. Returns the problems (empty when stored, or when identical to the current version)."""
        parsed, problems = parse_targets(data, source="upload")
        if problems:
            self.log(who, "目标表被拒", f"{len(problems)} 个问题：" + "；".join(str(p) for p in problems[:3]))
            return problems
        with self.write() as con:
            stored = self._add_target_table(con, parsed.year, data, who, f"{len(parsed.indicators)} 项指标")
            if stored is None:
                self.log(who, "目标表未变", f"上传的 {parsed.year} 年度目标表与当前版本相同，未另存新版本", con)
        return []

    def target_years(self) -> list[int]:
        """Years with a stored target table, ascending."""
        with self.read() as con:
            return [r[0] for r in con.execute("SELECT DISTINCT year FROM target_tables ORDER BY year")]

    def target_table(self, year: int) -> tuple[int, bytes] | None:
        """(version, xlsx bytes) of the current target table of ``year``, None if that year has none."""
        with self.read() as con:
            row = con.execute("SELECT version, data FROM target_tables WHERE year=? ORDER BY version DESC LIMIT 1",
                              (int(year),)).fetchone()
        return (row[0], bytes(row[1])) if row else None

    def target_bytes(self, sha256: str) -> bytes | None:
        """Any stored version with this sha256 (what a publication names), None if none."""
        with self.read() as con:
            row = con.execute("SELECT data FROM target_tables WHERE sha256=? LIMIT 1", (sha256,)).fetchone()
        return bytes(row[0]) if row else None

    def targets(self, year: int | None = None) -> Targets:
        """The current target table of ``year`` (None: the latest year stored)."""
        with self.read() as con:
            if year is None:
                row = con.execute("SELECT sha256, data FROM target_tables ORDER BY year DESC, version DESC LIMIT 1").fetchone()
            else:
                row = con.execute("SELECT sha256, data FROM target_tables WHERE year=? ORDER BY version DESC LIMIT 1",
                                  (int(year),)).fetchone()
        if row is None:
            raise KeyError(f"没有 {year} 年度的目标表，请在“目标表”页上传该年度的目标表。")
        return parse_stored(row[0], row[1])

    def target_history(self, year: int) -> pd.DataFrame:
        """Every stored version of ``year``'s table, oldest first: version, sha256, stored_at, stored_by, current."""
        with self.read() as con:
            frame = con.frame("SELECT version, sha256, stored_at, stored_by FROM target_tables WHERE year=? "
                              "ORDER BY version", (int(year),))
        frame["current"] = frame["version"] == frame["version"].max()
        return frame
