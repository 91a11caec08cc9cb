"""Build real filled workbooks from the real templates, as a clerk would."""

from __future__ import annotations

import io
import shutil
import zipfile
from functools import lru_cache

from openpyxl import load_workbook

from lib import ledger
from lib import schema as S
from lib.template import build_template, fill_template


@lru_cache(maxsize=64)
def _template(targets, unit: str) -> bytes:
    return build_template(targets, unit)


def entries_for(targets, unit: str, share: float = 0.3, problems: str = "", plan: str = "") -> dict:
    """Every input row filled: quantitative at ``share`` of target, qualitative 正常推进."""
    entries = {}
    for r in targets.expected_rows(unit).itertuples(index=False):
        if r.城市合计行:
            continue
        row = {"进展状态": "正常推进", "进展情况": "按计划推进", "存在问题": problems, "下步计划": plan}
        if r.指标类型 != S.TYPE_QUALITATIVE:
            row["累计完成"] = round(float(r.年度目标) * share, 2)
        entries[(r.指标编号, r.县市区)] = row
    return entries


def filled(targets, unit: str, month: str | None = "2024-03", share: float = 0.3, overrides: dict | None = None,
           problems: str = "", plan: str = "", header: dict | None = None) -> bytes:
    entries = entries_for(targets, unit, share, problems, plan)
    for key, values in (overrides or {}).items():
        entries.setdefault(key, {}).update(values)
    return fill_template(_template(targets, unit), month, entries, header)


def edit(data: bytes, fn, sheet: str = S.SHEET_FORM) -> bytes:
    """Apply ``fn(ws, wb)`` to a workbook with openpyxl and return the new bytes."""
    wb = load_workbook(io.BytesIO(data))
    fn(wb[sheet] if sheet in wb.sheetnames else None, wb)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def xml_text(sheet: bytes, text: str) -> bytes:
    """``text`` as it stands in a sheet's XML: UTF-8, or character references when openpyxl serialises with lxml."""
    for form in (text.encode(), "".join(f"&#{ord(c)};" for c in text).encode()):
        if form in sheet:
            return form
    raise AssertionError(f"{text!r} is not in the sheet")


def row_of(targets, unit: str, code: str, county: str = S.CITY) -> int:
    rows = targets.expected_rows(unit)
    idx = rows.index[(rows["指标编号"] == code) & (rows["县市区"] == county)][0]
    return S.FORM_FIRST_DATA_ROW + int(idx)


def rezip(data: bytes, replace: dict[str, bytes] | None = None, drop: set[str] | None = None,
          add: dict[str, bytes] | None = None) -> bytes:
    """Rewrite a workbook's zip parts (for XML-level edits)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if drop and info.filename in drop:
                continue
            body = (replace or {}).get(info.filename, src.read(info.filename))
            dst.writestr(info.filename, body)
        for name, body in (add or {}).items():
            dst.writestr(name, body)
    return out.getvalue()


def store_fingerprint(folder) -> str:
    """Hash of a store's data: raw files under submissions/ plus the submissions and current rows.

    The audit log is left out on purpose: it records rejections too.
    """
    import hashlib

    from lib.store import Store

    digest = hashlib.sha256()
    for path in sorted((folder / "submissions").rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    snap = Store(folder).snapshot()
    digest.update(snap["submissions"].to_json().encode())
    digest.update(snap["rows"].to_json().encode())
    return digest.hexdigest()


def as_real_reports(folder, uploader: str = "测试填报", url: str | None = None) -> None:
    """Turn a copied demo folder into one holding the same reports as real uploads (sidecars rewritten, database
    rebuilt from them): a store that holds demo reports refuses real uploads, so tests that upload start here.
    With a PostgreSQL ``url`` (a copy of the demo's database) the sidecars are those of its ``files`` table.
    The reports' 存在问题 are then synced into the ledger, as the upload page does after every acceptance (an office's
    store that received these reports holds their candidates): a test's first page that shows the ledger finds
    nothing new to sync, instead of every test's private copy syncing the same >100 reports again."""
    from pathlib import Path

    from lib.store import Store
    folder = Path(folder)
    _rebuild_as_real(folder, uploader, url)
    store = Store(folder, url=url) if url else Store(folder)
    ledger.sync(store, store.targets())


def _rebuild_as_real(folder, uploader: str, url: str | None) -> None:
    import json

    from lib.store import DB_NAME, Store
    if url:
        store = Store(folder, url=url)
        with store.write() as con:
            for rel, sidecar in con.execute("SELECT path, sidecar FROM files").fetchall():
                meta = json.loads(sidecar)
                meta["uploader"] = uploader
                con.execute("UPDATE files SET sidecar=? WHERE path=?", (json.dumps(meta, ensure_ascii=False), rel))
        shutil.rmtree(folder / "demo", ignore_errors=True)
        shutil.rmtree(folder / "cache", ignore_errors=True)
        store.rebuild()
        return
    for sidecar in (folder / "submissions").rglob("*.json"):
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        meta["uploader"] = uploader
        sidecar.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    shutil.rmtree(folder / "demo", ignore_errors=True)
    shutil.rmtree(folder / "cache", ignore_errors=True)
    for suffix in ("", "-wal", "-shm"):
        (folder / (DB_NAME + suffix)).unlink(missing_ok=True)
    Store(folder).rebuild()


@lru_cache(maxsize=8)
def targets_of_year(year: int) -> bytes:
    """The bundled target table as another year's (only 设置 · 年度 changed): a second year for the store. The same
    bytes on every call (openpyxl stamps the time it saves)."""
    from openpyxl import load_workbook

    from lib.config import BUNDLED_TARGETS
    wb = load_workbook(BUNDLED_TARGETS)
    for row in wb[S.SHEET_SETTINGS].iter_rows():
        if row[0].value == "年度":
            row[1].value = year
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
