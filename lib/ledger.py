"""问题督办台账: every problem a unit reports is tracked until it is solved.

An item is one problem of one project (optionally one indicator and one county). Its life::

    待确认 ──confirm──▶ 待处理 ◀──▶ 协调中 ──close (analyst)──▶ 已办结
       └──────────────dismiss (reason)─────────────────────▶ 不予处理
    已办结 / 不予处理 ──reopen (reason)──▶ 待处理

Where items come from:

- ``sync`` reads every current submission not yet seen (by sha256, which survives ``rebuild``) in month order.
  Each non-empty 存在问题 cell ("无" and the like do not count) is matched against the open items of the same
  project, indicator and county: if the text is similar enough (``similarity`` ≥ ``MATCH_THRESHOLD``) it is
  attached to that item as a new report, with the score and the text it matched, else it becomes a new
  candidate (待确认). A corrected version of a unit-month updates its own report instead of adding one.
  An analyst can split a wrongly attached report off into its own candidate.
- Analysts add items by hand (督导发现, 会议交办), optionally with photos (PNG/JPG only, size-capped, re-encoded).

Permissions are plain functions over (role, unit) (``may_manage``, ``may_follow_up``, ``may_request_closure``);
every write function checks them itself and raises ``LedgerError`` with a Chinese message, so a page cannot
forget. Analysts (and admins) manage everything; a 填报单位 user may add follow-ups to the items its unit is
responsible for or coordinates, and ask for closure of the ones it is responsible for; only an analyst closes.
Every change is written to the audit log in the same transaction.

Tables: ``lib/store/migrations/*/0001_initial.sql`` (both backends). CLI::

    python -m lib.ledger sync                              # candidates from submissions not yet seen (idempotent)
    python -m lib.ledger export [--status 待处理,协调中] > items.csv   # UTF-8-BOM CSV, EXPORT_COLUMNS
"""

from __future__ import annotations

import argparse
import io
import logging
import re
import sys
import unicodedata
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

import pandas as pd
from PIL import Image, ImageOps, UnidentifiedImageError

from lib import auth, config, logs
from lib import schema as S
from lib.store import STATE_CURRENT, Store, bump_version
from lib.targets import Targets

log = logging.getLogger(__name__)

# --- states, sources, rules (the one home of each) ------------------------------------------------
CANDIDATE, TODO, COORDINATING, DONE, DISMISSED = "待确认", "待处理", "协调中", "已办结", "不予处理"
STATES = [CANDIDATE, TODO, COORDINATING, DONE, DISMISSED]
OPEN_STATES = (CANDIDATE, TODO, COORDINATING)  # a repeat report attaches to these
ACTIVE_STATES = (TODO, COORDINATING)  # confirmed and not finished: these can be overdue
CLOSED_STATES = (DONE, DISMISSED)
TRANSITIONS = {
    CANDIDATE: (TODO, DISMISSED),
    TODO: (COORDINATING, DONE, DISMISSED),
    COORDINATING: (TODO, DONE, DISMISSED),
    DONE: (TODO,),
    DISMISSED: (TODO,),
}
STATE_COLORS = {CANDIDATE: S.GREY, TODO: S.BLUE, COORDINATING: S.ORANGE, DONE: S.GREEN, DISMISSED: "#57606a"}
OVERDUE_COLOR = S.RED
OVERDUE_BACKGROUND = "#ffebe9"

SOURCE_REPORT, SOURCE_INSPECTION, SOURCE_MEETING = "单位报送", "督导发现", "会议交办"
MANUAL_SOURCES = (SOURCE_INSPECTION, SOURCE_MEETING)

MATCH_THRESHOLD = 0.4  # character-bigram Dice score from which a report counts as the same problem
DEFAULT_DUE_DAYS = 30  # 办结时限 proposed when a candidate is confirmed without one
# What clerks type in 存在问题 when there is no problem (compared without punctuation or spaces).
NO_PROBLEM = {"无", "暂无", "没有", "无问题", "暂无问题", "无明显问题", "未发现问题", "正常", "无困难", "暂无困难", "无存在问题"}

PHOTO_TYPES = {"PNG": ".png", "JPEG": ".jpg"}
PHOTO_EXTENSIONS = (".png", ".jpg", ".jpeg")
MAX_PHOTOS_PER_ITEM = 12

FOLLOW_UP, STATUS_CHANGE, CLOSURE_REQUEST, EDIT, PHOTO = "跟进", "状态变更", "申请办结", "修改", "照片"

EXPORT_COLUMNS = ["编号", "项目序号", "项目名称", "指标编号", "县市区", "问题描述", "来源", "责任单位", "提出日期",
                  "办结时限", "状态", "最近进展", "逾期"]
SYSTEM = "系统（自动同步）"
UNIT = auth.UNIT  # 填报单位: a user bound to one reporting unit (User.unit)


class LedgerError(ValueError):
    """A refused ledger action; the message is Chinese and says what to do."""


@dataclass(frozen=True)
class Actor:
    """Who acts: name for the audit log, role and (for a 填报单位 user) the bound unit."""
    name: str
    role: str
    unit: str | None = None

    @classmethod
    def of(cls, user) -> Actor:
        return cls(user.name, user.role, getattr(user, "unit", None))


# --- permissions: plain functions over (role, unit) -------------------------------------------------

def may_manage(role: str) -> bool:
    """Create, confirm, edit, change state, close, split: analysts and admins (the role rule of lib/auth.py)."""
    return auth.role_at_least(role, auth.ANALYST)


def _units(text: str) -> set[str]:
    return {u.strip() for u in re.split(r"[、，,；;\s]+", text or "") if u.strip()}


def may_follow_up(role: str, unit: str | None, responsible: str, coordinating: str = "") -> bool:
    """Add a follow-up: analysts, or a unit user whose unit is responsible for or coordinates the item."""
    if may_manage(role):
        return True
    return role == UNIT and bool(unit) and (unit == responsible or unit in _units(coordinating))


def may_request_closure(role: str, unit: str | None, responsible: str, status: str) -> bool:
    """Ask for 已办结: the responsible unit's user, on a confirmed, unfinished item (an analyst then decides)."""
    return role == UNIT and bool(unit) and unit == responsible and status in ACTIVE_STATES


def _require(allowed: bool, what: str) -> None:
    if not allowed:
        raise LedgerError(f"无权{what}：只有填报管理人员，或该事项的责任单位（协办单位可添加进展），可以操作。")


# --- text similarity -------------------------------------------------------------------------------

def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "")
    return "".join(ch for ch in text if unicodedata.category(ch)[0] not in "PZSC")


def is_problem(text: str) -> bool:
    """A 存在问题 cell that states a problem (not empty, not "无" or the like)."""
    core = _normalise(text)
    return bool(core) and core not in NO_PROBLEM


@lru_cache(maxsize=4096)  # the same sentences come back month after month; read-only results
def _bigrams(text: str) -> Counter:
    core = _normalise(text)
    return Counter(core[i:i + 2] for i in range(len(core) - 1)) if len(core) > 1 else Counter([core])


def similarity(a: str, b: str) -> float:
    """Dice coefficient of the character bigrams, ignoring punctuation and spaces: 0 (unrelated) … 1 (same)."""
    x, y = _bigrams(a), _bigrams(b)
    total = sum(x.values()) + sum(y.values())
    return 2 * sum((x & y).values()) / total if total else 0.0


# --- dates -------------------------------------------------------------------------------------------

def _iso(value: date | None) -> str:
    return value.isoformat() if value else ""


def _now() -> str:
    return datetime.now().isoformat(timespec="seconds")


def overdue_days(status: str, due: str, today: date) -> int:
    """Days past 办结时限 of a confirmed, unfinished item (0 when not overdue): the one overdue rule."""
    if status not in ACTIVE_STATES or not due:
        return 0
    return max(0, (today - date.fromisoformat(due)).days)


# --- photos --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Photo:
    name: str
    data: bytes  # re-encoded JPEG: no metadata (GPS) from the original, bounded size
    width: int
    height: int


def prepare_photo(name: str, data: bytes) -> Photo:
    """Check and re-encode one on-site photo; raise LedgerError naming the file when it is refused.

    Only PNG and JPG, at most ``config.MAX_PHOTO_BYTES`` and ``config.MAX_PHOTO_PIXELS``; the picture is
    decoded, turned upright (EXIF orientation), scaled to at most ``config.PHOTO_EDGE`` pixels and saved
    as a fresh JPEG, so nothing of the original file but its pixels is kept.
    """
    label = f"照片“{name}”"
    if not name.lower().endswith(PHOTO_EXTENSIONS):
        raise LedgerError(f"{label}不是 PNG 或 JPG 文件，未保存。只能上传 .jpg、.jpeg 或 .png 照片。")
    if len(data) > config.MAX_PHOTO_BYTES:
        raise LedgerError(f"{label}大小 {len(data) / 1024 / 1024:.1f} MB，超过 {config.MAX_PHOTO_BYTES // 1024 // 1024} MB "
                          "上限，未保存。请压缩或截取后再上传。")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind, (width, height) = probe.format, probe.size
            if kind not in PHOTO_TYPES:
                raise LedgerError(f"{label}的内容是 {kind or '未知'} 格式，不是 PNG 或 JPG，未保存。")
            if width * height > config.MAX_PHOTO_PIXELS:
                raise LedgerError(f"{label}尺寸 {width}×{height} 像素过大，未保存。请缩小后再上传。")
            probe.verify()
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            img = ImageOps.exif_transpose(img)
            if img.mode not in ("RGB", "L"):
                background = Image.new("RGB", img.size, "white")
                rgba = img.convert("RGBA")
                background.paste(rgba, mask=rgba.getchannel("A"))
                img = background
            img.thumbnail((config.PHOTO_EDGE, config.PHOTO_EDGE))
            out = io.BytesIO()
            img.convert("RGB").save(out, "JPEG", quality=85, optimize=True)
            size = img.size
    except LedgerError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        log.info("photo %r refused: %s", name, exc, exc_info=True)
        raise LedgerError(f"{label}无法作为图片读取（文件可能已损坏或不是照片），未保存。") from None
    stem = re.sub(r"\.(png|jpe?g)$", "", name, flags=re.I)
    return Photo(f"{stem}.jpg", out.getvalue(), size[0], size[1])


def prepare_photos(files: list[tuple[str, bytes]], already: int = 0) -> list[Photo]:
    """Every photo checked before any is stored: one refused file refuses the lot, each named."""
    if already + len(files) > MAX_PHOTOS_PER_ITEM:
        raise LedgerError(f"每个事项最多 {MAX_PHOTOS_PER_ITEM} 张照片（已有 {already} 张，本次 {len(files)} 张）。")
    photos, problems = [], []
    for name, data in files:
        try:
            photos.append(prepare_photo(name, data))
        except LedgerError as exc:
            problems.append(str(exc))
    if problems:
        raise LedgerError("\n".join(problems))
    return photos


# --- writing -----------------------------------------------------------------------------------------

def _bump(con) -> None:
    bump_version(con, "ledger_version")


@contextmanager
def _changing(store: Store):
    """One write transaction that changes the ledger: its version moves (a cache key for the pages)."""
    with store.write() as con:
        yield con
        _bump(con)


def version(store: Store) -> str:
    """Changes whenever the ledger changes (the store's own version does not move for ledger edits) or the
    database is rebuilt (the generation is new)."""
    with store.read() as con:
        key = dict(con.execute("SELECT key, value FROM meta WHERE key IN ('generation', 'ledger_version')").fetchall())
    return f"{key.get('generation', '')}:{key.get('ledger_version', 0)}"


def _item(con, item_id: int) -> dict:
    cur = con.execute("SELECT * FROM ledger_items WHERE id=?", (int(item_id),))
    row = cur.fetchone()
    if row is None:
        raise LedgerError(f"没有编号为 {item_id} 的督办事项。")
    return dict(zip([d[0] for d in cur.description], row))


def _follow(con, item_id: int, who: str, kind: str, text: str, on: date | None = None) -> None:
    con.execute("INSERT INTO ledger_followups(item_id, on_date, at, who, kind, text) VALUES (?,?,?,?,?,?)",
                (int(item_id), _iso(on or date.today()), _now(), who, kind, text))


def _touch(con, item_id: int, **fields) -> None:
    fields["updated_at"] = _now()
    sets = ", ".join(f"{k}=?" for k in fields)
    con.execute(f"UPDATE ledger_items SET {sets} WHERE id=?", (*fields.values(), int(item_id)))


def _insert_item(con, **fields) -> int:
    now = _now()
    fields = {"created_at": now, "updated_at": now, **fields}
    return con.insert(f"INSERT INTO ledger_items({', '.join(fields)}) VALUES ({', '.join('?' * len(fields))})",
                      tuple(fields.values()))


def _lead_unit(targets: Targets, project: int) -> str:
    projects = targets.projects.set_index("项目序号")
    if project not in projects.index:
        raise LedgerError(f"目标表中没有项目序号 {project}。")
    return str(projects.at[project, "牵头单位"])


def _check_place(targets: Targets, project: int, indicator: str, county: str) -> None:
    _lead_unit(targets, project)
    if indicator:
        ind = targets.indicators
        known = set(ind.loc[ind["项目序号"] == project, "指标编号"])
        if indicator not in known:
            raise LedgerError(f"指标“{indicator}”不属于项目 {project}，请从该项目的指标中选择或留空。")
    if county and county not in [S.CITY, *targets.counties]:
        raise LedgerError(f"县市区“{county}”不在目标表中，请从列表中选择或留空。")


@dataclass
class SyncResult:
    submissions: int = 0
    new_items: int = 0
    attached: int = 0
    corrected: int = 0

    def summary(self) -> str:
        return (f"读取 {self.submissions} 份新报送：新增待确认问题 {self.new_items} 条，"
                f"归入已有事项 {self.attached} 条，更正 {self.corrected} 条。")


def sync(store: Store, targets: Targets, who: str = SYSTEM) -> SyncResult:
    """Candidates from every current submission of ``targets``' year not yet seen (idempotent; one transaction, safe
    to race). Each year is read with its own table: the indicator codes of two years' tables may name other projects."""
    projects = dict(zip(targets.indicators["指标编号"], targets.indicators["项目序号"].astype(int)))
    leads = dict(zip(targets.projects["项目序号"].astype(int), targets.projects["牵头单位"]))
    cell_column = S.COLUMN_LETTER["存在问题"]
    result = SyncResult()
    with store.write() as con:
        subs = con.execute(
            "SELECT id, sha256, unit, year, month, received_at FROM submissions WHERE state=? AND year=? AND sha256 NOT IN "
            "(SELECT sha256 FROM ledger_seen) ORDER BY year, month, activated_at, id", (STATE_CURRENT, targets.year)).fetchall()
        known = _Known(con, targets.year) if subs else None  # nothing new (the usual call): nothing read
        for sub_id, sha, unit, year, month, received_at in subs:
            rows = con.execute("SELECT indicator, county, problems, excel_row FROM rows WHERE submission_id=? "
                               "AND problems != '' ORDER BY rowid", (sub_id,)).fetchall()
            for indicator, county, text, excel_row in rows:
                if not is_problem(text):
                    continue
                project = projects.get(indicator)
                if project is None:
                    log.warning("ledger sync: indicator %s of submission %s is not in the target table", indicator, sha)
                    continue
                _sync_one(con, store, known, result, dict(
                    sha256=sha, unit=unit, year=year, month=month, indicator=indicator, county=county,
                    cell=f"{cell_column}{excel_row}", text=text), project, leads.get(project, unit), received_at[:10], who)
            con.execute("INSERT INTO ledger_seen(sha256, seen_at) VALUES (?,?)", (sha, _now()))
            result.submissions += 1
        if result.submissions:
            store.log(who, "台账同步", result.summary(), con)
            _bump(con)
    return result


class _Known:
    """What a sync compares each new report with, read in two queries at its start and kept current as it writes
    (one transaction): a query per report cell and per open item was most of a first sync's time (>1,600 cells on
    the demo's six months). ``reports``: this year's reports by unit, month, indicator and county (the first by id,
    as the store returns them); ``items``: every item's [status, description]; ``open``: the open items of each
    project, indicator and county, by id; ``texts``: each item's reports, by id. A report is one list shared by
    ``reports`` and ``texts`` ([id, item id, text]), so a correction is seen by both."""

    def __init__(self, con, year: int):
        self.items: dict[int, list] = {}
        self.open: dict[tuple, list[int]] = {}
        for item_id, status, description, project, indicator, county in con.execute(
                "SELECT id, status, description, project, indicator, county FROM ledger_items ORDER BY id"):
            self.items[item_id] = [status, description]
            if status in OPEN_STATES:
                self.open.setdefault((project, indicator, county), []).append(item_id)
        self.reports: dict[tuple, list] = {}
        self.texts: dict[int, list[list]] = {}
        for report_id, item_id, text, unit, report_year, month, indicator, county in con.execute(
                "SELECT id, item_id, text, unit, year, month, indicator, county FROM ledger_reports ORDER BY id"):
            self._add(report_id, item_id, text, (unit, report_year, month, indicator, county), report_year == year)

    def _add(self, report_id: int, item_id: int, text: str, key: tuple, this_year: bool = True) -> None:
        report = [report_id, item_id, text]
        self.texts.setdefault(item_id, []).append(report)
        if this_year:
            self.reports.setdefault(key, report)

    def add(self, report_id: int, item_id: int, report: dict) -> None:
        self._add(report_id, item_id, report["text"], _report_key(report))

    def new_item(self, item_id: int, place: tuple, description: str) -> None:
        self.items[item_id] = [CANDIDATE, description]
        self.open.setdefault(place, []).append(item_id)


def _report_key(report: dict) -> tuple:
    return report["unit"], report["year"], report["month"], report["indicator"], report["county"]


def _sync_one(con, store: Store, known: _Known, result: SyncResult, report: dict, project: int, lead: str,
              raised_on: str, who: str) -> None:
    place = f"{report['unit']} {report['year']}年{report['month']}月 {report['cell']}"
    earlier = known.reports.get(_report_key(report))
    if earlier is not None:  # a corrected version of the same unit-month: it replaces its own report
        report_id, item_id, old_text = earlier
        status, description = known.items[item_id]
        con.execute("UPDATE ledger_reports SET sha256=?, cell=?, text=? WHERE id=?",
                    (report["sha256"], report["cell"], report["text"], report_id))
        earlier[2] = report["text"]
        if old_text != report["text"]:
            if status == CANDIDATE and description == old_text:
                _touch(con, item_id, description=report["text"])
                known.items[item_id][1] = report["text"]
            store.log(who, "台账更正", f"事项 {item_id}：{place} 的存在问题随新版本报表更正", con)
            result.corrected += 1
        return
    best, best_score, best_text = None, 0.0, ""
    for item_id in known.open.get((project, report["indicator"], report["county"]), ()):
        texts = [known.items[item_id][1]] + [text for _, _, text in known.texts.get(item_id, ())]
        for text in texts:
            score = similarity(report["text"], text)
            if score > best_score:
                best, best_score, best_text = item_id, score, text
    if best is not None and best_score >= MATCH_THRESHOLD:
        known.add(_add_report(con, best, report, best_score, best_text), best, report)
        _touch(con, best)
        store.log(who, "台账归并", f"{place} 的存在问题归入事项 {best}（相似度 {best_score:.0%}）", con)
        result.attached += 1
        return
    item_id = _insert_item(con, year=report["year"], project=project, indicator=report["indicator"],
                           county=report["county"], description=report["text"], source=SOURCE_REPORT,
                           source_detail=place, raised_on=raised_on, responsible=lead, status=CANDIDATE,
                           created_by=who)
    known.new_item(item_id, (project, report["indicator"], report["county"]), report["text"])
    known.add(_add_report(con, item_id, report, None, ""), item_id, report)
    store.log(who, "台账新增候选", f"事项 {item_id}：{place}", con)
    result.new_items += 1


def _add_report(con, item_id: int, report: dict, score: float | None, matched: str) -> int:
    return con.insert("INSERT INTO ledger_reports(item_id, sha256, unit, year, month, indicator, county, cell, text, "
                      "similarity, matched_text, added_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                      (item_id, report["sha256"], report["unit"], report["year"], report["month"], report["indicator"],
                       report["county"], report["cell"], report["text"], score, matched, _now()))


def create_item(store: Store, targets: Targets, actor: Actor, *, project: int, description: str, source: str,
                raised_on: date | None = None, due: date | None = None, responsible: str = "",
                coordinating: list[str] | tuple = (), indicator: str = "", county: str = "", source_detail: str = "",
                photos: list[tuple[str, bytes]] = ()) -> int:
    """An item an analyst records by hand (督导发现 / 会议交办); it starts as 待处理. Returns its 编号."""
    _require(may_manage(actor.role), "新增督办事项")
    description = (description or "").strip()
    if not description:
        raise LedgerError("请填写问题描述。")
    if source not in MANUAL_SOURCES:
        raise LedgerError(f"来源应为{'或'.join(MANUAL_SOURCES)}，收到“{source}”。")
    project = int(project)
    _check_place(targets, project, indicator, county)
    raised_on = raised_on or date.today()
    if due and due < raised_on:
        raise LedgerError(f"办结时限 {due} 早于提出日期 {raised_on}，请改正。")
    prepared = prepare_photos(list(photos))
    responsible = responsible or _lead_unit(targets, project)
    with _changing(store) as con:
        item_id = _insert_item(con, year=targets.year, project=project, indicator=indicator, county=county,
                               description=description, source=source, source_detail=source_detail.strip(),
                               raised_on=_iso(raised_on), responsible=responsible,
                               coordinating="、".join(coordinating), due=_iso(due), status=TODO, created_by=actor.name)
        _store_photos(con, item_id, prepared, actor)
        store.log(actor.name, "台账新增", f"事项 {item_id}（{source}，项目 {project}，责任单位 {responsible}"
                  f"{'，照片 ' + str(len(prepared)) + ' 张' if prepared else ''}）", con)
    return item_id


def _store_photos(con, item_id: int, photos: list[Photo], actor: Actor) -> None:
    for photo in photos:
        con.execute("INSERT INTO ledger_photos(item_id, name, data, width, height, added_at, added_by) "
                    "VALUES (?,?,?,?,?,?,?)", (int(item_id), photo.name, photo.data, photo.width, photo.height, _now(), actor.name))


def add_photos(store: Store, item_id: int, actor: Actor, files: list[tuple[str, bytes]]) -> int:
    """Attach on-site photos to an item (analysts). Returns how many were stored."""
    _require(may_manage(actor.role), "添加照片")
    with _changing(store) as con:
        _item(con, item_id)
        already = con.execute("SELECT COUNT(*) FROM ledger_photos WHERE item_id=?", (int(item_id),)).fetchone()[0]
        photos = prepare_photos(files, already)
        _store_photos(con, item_id, photos, actor)
        _follow(con, item_id, actor.name, PHOTO, f"添加照片 {len(photos)} 张")
        _touch(con, item_id)
        store.log(actor.name, "台账照片", f"事项 {item_id}：添加照片 {len(photos)} 张", con)
    return len(photos)


def confirm(store: Store, item_ids: list[int], actor: Actor, due: date | None = None, today: date | None = None) -> int:
    """Bulk-confirm candidates (待确认 → 待处理); 办结时限 ``due`` or today + DEFAULT_DUE_DAYS. Returns the count."""
    _require(may_manage(actor.role), "确认候选问题")
    today = today or date.today()
    due = due or today + timedelta(days=DEFAULT_DUE_DAYS)
    done = []
    with _changing(store) as con:
        for item_id in item_ids:
            item = _item(con, item_id)
            if item["status"] != CANDIDATE:
                continue
            _touch(con, item["id"], status=TODO, due=item["due"] or _iso(due))
            _follow(con, item["id"], actor.name, STATUS_CHANGE, f"确认为督办事项，办结时限 {item['due'] or _iso(due)}", today)
            done.append(item["id"])
        if done:
            store.log(actor.name, "台账确认", f"确认 {len(done)} 条：" + "、".join(map(str, done)), con)
    return len(done)


def set_status(store: Store, item_id: int, status: str, actor: Actor, note: str = "", today: date | None = None) -> None:
    """Move an item along TRANSITIONS (analysts). 不予处理 and reopening need a reason (``note``)."""
    _require(may_manage(actor.role), "变更状态（办结需由填报管理人员确认）")
    note = (note or "").strip()
    today = today or date.today()
    with _changing(store) as con:
        item = _item(con, item_id)
        old = item["status"]
        if status not in TRANSITIONS.get(old, ()):
            raise LedgerError(f"事项 {item_id} 当前为“{old}”，不能改为“{status}”。可改为：{'、'.join(TRANSITIONS[old])}。")
        reopening = old in CLOSED_STATES
        if (status == DISMISSED or reopening) and not note:
            raise LedgerError("不予处理或重新打开须填写理由。")
        fields = {"status": status, "closure_requested_by": "", "closure_requested_at": ""}
        if status == DISMISSED:
            fields["reason"] = note
        if status == DONE:
            fields["closed_on"] = _iso(today)
        if reopening:
            fields.update(closed_on="", reason="")
        if old == CANDIDATE and status == TODO and not item["due"]:
            fields["due"] = _iso(today + timedelta(days=DEFAULT_DUE_DAYS))
        _touch(con, item_id, **fields)
        _follow(con, item_id, actor.name, STATUS_CHANGE, f"{old} → {status}" + (f"：{note}" if note else ""), today)
        store.log(actor.name, "台账状态", f"事项 {item_id}：{old} → {status}" + (f"（{note}）" if note else ""), con)


def dismiss(store: Store, item_ids: list[int], actor: Actor, reason: str) -> int:
    """Bulk 不予处理 with one reason (analysts). Items already closed are left alone. Returns the count."""
    _require(may_manage(actor.role), "设为不予处理")
    if not (reason or "").strip():
        raise LedgerError("不予处理须填写理由。")
    count = 0
    for item_id in item_ids:
        with store.read() as con:
            status = _item(con, item_id)["status"]
        if DISMISSED in TRANSITIONS.get(status, ()):
            set_status(store, item_id, DISMISSED, actor, reason)
            count += 1
    return count


def add_follow_up(store: Store, item_id: int, actor: Actor, text: str, on: date | None = None) -> None:
    """A dated entry in the item's log (who, when, what)."""
    text = (text or "").strip()
    if not text:
        raise LedgerError("请填写进展内容。")
    with _changing(store) as con:
        item = _item(con, item_id)
        _require(may_follow_up(actor.role, actor.unit, item["responsible"], item["coordinating"]), f"为事项 {item_id} 添加进展")
        if item["status"] in CLOSED_STATES:
            raise LedgerError(f"事项 {item_id} 已“{item['status']}”，如需继续跟进请先重新打开。")
        if on and on > date.today():
            raise LedgerError(f"进展日期 {on} 晚于今天，请改正。")
        _follow(con, item_id, actor.name, FOLLOW_UP, text, on)
        _touch(con, item_id)
        store.log(actor.name, "台账跟进", f"事项 {item_id}：{text[:60]}", con)


def request_closure(store: Store, item_id: int, actor: Actor, note: str) -> None:
    """The responsible unit reports the problem solved; the item stays open until an analyst closes it."""
    note = (note or "").strip()
    if not note:
        raise LedgerError("申请办结须说明解决情况。")
    with _changing(store) as con:
        item = _item(con, item_id)
        _require(may_request_closure(actor.role, actor.unit, item["responsible"], item["status"]),
                 f"为事项 {item_id} 申请办结（仅责任单位，且事项须为待处理或协调中）")
        _touch(con, item_id, closure_requested_by=actor.name, closure_requested_at=_now())
        _follow(con, item_id, actor.name, CLOSURE_REQUEST, note)
        store.log(actor.name, "台账申请办结", f"事项 {item_id}：{note[:60]}", con)


def decline_closure(store: Store, item_id: int, actor: Actor, reason: str) -> None:
    """An analyst sends a closure request back; the item stays where it was."""
    _require(may_manage(actor.role), "退回办结申请")
    if not (reason or "").strip():
        raise LedgerError("退回办结申请须填写理由。")
    with _changing(store) as con:
        item = _item(con, item_id)
        if not item["closure_requested_by"]:
            raise LedgerError(f"事项 {item_id} 没有待审核的办结申请。")
        _touch(con, item_id, closure_requested_by="", closure_requested_at="")
        _follow(con, item_id, actor.name, STATUS_CHANGE, f"退回办结申请：{reason.strip()}")
        store.log(actor.name, "台账退回办结", f"事项 {item_id}：{reason.strip()[:60]}", con)


EDITABLE = {"description": "问题描述", "due": "办结时限", "responsible": "责任单位", "coordinating": "协调单位",
            "source_detail": "来源说明"}


def update_item(store: Store, item_id: int, actor: Actor, **changes) -> list[str]:
    """Change 问题描述 / 办结时限 / 责任单位 / 协调单位 / 来源说明 (analysts). Returns what changed."""
    _require(may_manage(actor.role), "修改督办事项")
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    values = {k: (_iso(v) if isinstance(v, date) else "、".join(v) if isinstance(v, list | tuple) else (v or "").strip())
              for k, v in changes.items()}
    if "description" in values and not values["description"]:
        raise LedgerError("问题描述不能为空。")
    if "responsible" in values and not values["responsible"]:
        raise LedgerError("请选择责任单位。")
    with _changing(store) as con:
        item = _item(con, item_id)
        diff = {k: v for k, v in values.items() if item[k] != v}
        if not diff:
            return []
        _touch(con, item_id, **diff)
        text = "；".join(f"{EDITABLE[k]}：{item[k] or '（空）'} → {v or '（空）'}" for k, v in diff.items())
        _follow(con, item_id, actor.name, EDIT, text)
        store.log(actor.name, "台账修改", f"事项 {item_id}：{text}", con)
    return [EDITABLE[k] for k in diff]


def split_report(store: Store, report_id: int, actor: Actor) -> int:
    """Detach a report that was attached to the wrong item: it becomes a candidate of its own. Returns its 编号."""
    _require(may_manage(actor.role), "拆分报送")
    report_id = int(report_id)  # numpy integers would bind as bytes
    with _changing(store) as con:
        cur = con.execute("SELECT * FROM ledger_reports WHERE id=?", (int(report_id),))
        row = cur.fetchone()
        if row is None:
            raise LedgerError(f"没有编号为 {report_id} 的报送记录。")
        report = dict(zip([d[0] for d in cur.description], row))
        item = _item(con, report["item_id"])
        if con.execute("SELECT COUNT(*) FROM ledger_reports WHERE item_id=?", (item["id"],)).fetchone()[0] < 2:
            raise LedgerError(f"这是事项 {item['id']} 唯一的报送，无需拆分；如不是问题，请设为不予处理。")
        place = f"{report['unit']} {report['year']}年{report['month']}月 {report['cell']}"
        received = con.execute("SELECT received_at FROM submissions WHERE sha256=?", (report["sha256"],)).fetchone()
        new_id = _insert_item(con, year=report["year"], project=item["project"], indicator=report["indicator"],
                              county=report["county"], description=report["text"], source=SOURCE_REPORT,
                              source_detail=place, raised_on=received[0][:10] if received else _iso(date.today()),
                              responsible=item["responsible"], status=CANDIDATE, created_by=actor.name)
        con.execute("UPDATE ledger_reports SET item_id=?, similarity=NULL, matched_text='' WHERE id=?", (new_id, report_id))
        _follow(con, item["id"], actor.name, EDIT, f"拆分出 {place} 的报送，另立为事项 {new_id}")
        _touch(con, item["id"])
        store.log(actor.name, "台账拆分", f"事项 {item['id']} 的报送 {report_id}（{place}）另立为事项 {new_id}", con)
    return new_id


# --- reading -----------------------------------------------------------------------------------------

ITEM_COLUMNS = ["编号", "年度", "项目序号", "项目名称", "指标编号", "县市区", "问题描述", "来源", "来源说明", "提出日期",
                "责任单位", "协调单位", "办结时限", "状态", "理由", "申请办结", "办结日期", "报送次数", "最近进展",
                "最近进展日期", "逾期天数", "逾期", "更新时间"]


def items(store: Store, targets: Targets, today: date | None = None) -> pd.DataFrame:
    """Every item, one row each, ITEM_COLUMNS (text columns never hold None): overdue first (most days first),
    then confirmed items by 办结时限, then candidates, closed items last."""
    today = today or date.today()
    with store.read() as con:
        frame = con.frame(
            "SELECT i.*, (SELECT COUNT(*) FROM ledger_reports r WHERE r.item_id = i.id) AS n_reports, "
            "(SELECT f.on_date || ' ' || f.who || '：' || f.text FROM ledger_followups f WHERE f.item_id = i.id "
            " AND f.kind IN (?, ?) ORDER BY f.on_date DESC, f.id DESC LIMIT 1) AS latest, "
            "(SELECT f.on_date FROM ledger_followups f WHERE f.item_id = i.id AND f.kind IN (?, ?) "
            " ORDER BY f.on_date DESC, f.id DESC LIMIT 1) AS latest_on "
            "FROM ledger_items i ORDER BY i.id", (FOLLOW_UP, CLOSURE_REQUEST) * 2)
    names = dict(zip(targets.projects["项目序号"].astype(int), targets.projects["项目名称"]))
    days = [overdue_days(s, d, today) for s, d in zip(frame["status"], frame["due"])]
    out = pd.DataFrame({
        "编号": frame["id"].astype("int64"), "年度": frame["year"].astype("int64"),
        "项目序号": frame["project"].astype("int64"),
        "项目名称": [names.get(int(p), "（目标表中已无此项目）") for p in frame["project"]],
        "指标编号": frame["indicator"], "县市区": frame["county"], "问题描述": frame["description"],
        "来源": frame["source"], "来源说明": frame["source_detail"], "提出日期": frame["raised_on"],
        "责任单位": frame["responsible"], "协调单位": frame["coordinating"], "办结时限": frame["due"],
        "状态": frame["status"], "理由": frame["reason"],
        "申请办结": frame["closure_requested_by"], "办结日期": frame["closed_on"],
        "报送次数": frame["n_reports"].astype("int64"), "最近进展": frame["latest"].fillna(""),
        "最近进展日期": frame["latest_on"].fillna(""), "逾期天数": pd.Series(days, dtype="int64"),
        "逾期": [d > 0 for d in days], "更新时间": frame["updated_at"],
    }, columns=ITEM_COLUMNS)
    # overdue first, then the confirmed ones by 办结时限, then candidates, closed last
    order = out["状态"].map({TODO: 0, COORDINATING: 0, CANDIDATE: 1, DONE: 2, DISMISSED: 2})
    out = out.assign(_closed=out["状态"].isin(CLOSED_STATES), _order=order, _due=out["办结时限"].replace("", "9999"))
    out = out.sort_values(["_closed", "逾期天数", "_order", "_due", "编号"], ascending=[True, False, True, True, True])
    return out.drop(columns=["_closed", "_order", "_due"]).reset_index(drop=True)


@dataclass(frozen=True)
class ItemFilter:
    statuses: tuple[str, ...] = ()
    projects: tuple[int, ...] = ()
    units: tuple[str, ...] = ()  # 责任单位 (or one of the 协调单位)
    counties: tuple[str, ...] = ()
    overdue_only: bool = False

    def apply(self, frame: pd.DataFrame) -> pd.DataFrame:
        if self.statuses:
            frame = frame[frame["状态"].isin(self.statuses)]
        if self.projects:
            frame = frame[frame["项目序号"].isin(self.projects)]
        if self.units:
            wanted = set(self.units)
            frame = frame[[r in wanted or bool(_units(c) & wanted) for r, c in zip(frame["责任单位"], frame["协调单位"])]]
        if self.counties:
            frame = frame[frame["县市区"].isin(self.counties)]
        if self.overdue_only:
            frame = frame[frame["逾期"]]
        return frame


def counts(frame: pd.DataFrame, today: date | None = None) -> dict[str, int]:
    """待确认, 在办 (待处理 + 协调中), 逾期, 本月办结 (closed in today's calendar month)."""
    today = today or date.today()
    month = today.strftime("%Y-%m")
    return {
        CANDIDATE: int((frame["状态"] == CANDIDATE).sum()),
        "在办": int(frame["状态"].isin(ACTIVE_STATES).sum()),
        "逾期": int(frame["逾期"].sum()),
        "本月办结": int(((frame["状态"] == DONE) & frame["办结日期"].str.startswith(month)).sum()),
    }


def export_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """EXPORT_COLUMNS of the given items (candidates included, their 状态 says 待确认)."""
    source = [f"{s}（{d}）" if d else s for s, d in zip(frame["来源"], frame["来源说明"])]
    overdue = [f"是（{d} 天）" if d else "否" for d in frame["逾期天数"]]
    return pd.DataFrame({
        "编号": frame["编号"], "项目序号": frame["项目序号"], "项目名称": frame["项目名称"], "指标编号": frame["指标编号"],
        "县市区": frame["县市区"], "问题描述": frame["问题描述"], "来源": source, "责任单位": frame["责任单位"],
        "提出日期": frame["提出日期"], "办结时限": frame["办结时限"], "状态": frame["状态"], "最近进展": frame["最近进展"],
        "逾期": overdue}, columns=EXPORT_COLUMNS)


def reports(store: Store, item_id: int) -> pd.DataFrame:
    """The unit reports attached to an item, oldest first, with the match that attached them."""
    with store.read() as con:
        frame = con.frame(
            "SELECT r.id AS 报送记录, r.year AS 年, r.month AS 月, r.unit AS 填报单位, "
            "r.indicator AS 指标编号, r.county AS 县市区, r.cell AS 单元格, r.text AS 存在问题, r.similarity AS 相似度, "
            "r.matched_text AS 匹配文本, s.id AS 报送编号 FROM ledger_reports r "
            "LEFT JOIN submissions s ON s.sha256 = r.sha256 WHERE r.item_id=? ORDER BY r.year, r.month, r.id",
            (int(item_id),))
    month = frame.pop("年").astype(str) + "-" + frame.pop("月").map("{:02d}".format)
    frame.insert(1, "月份", month.astype(object))
    frame["报送编号"] = frame["报送编号"].astype("Int64")
    return frame


def follow_ups(store: Store, item_id: int) -> pd.DataFrame:
    """The item's dated log, newest first: 日期, 类型, 人员, 内容, 记录时间."""
    with store.read() as con:
        return con.frame(
            "SELECT on_date AS 日期, kind AS 类型, who AS 人员, text AS 内容, replace(at, 'T', ' ') AS 记录时间 "
            "FROM ledger_followups WHERE item_id=? ORDER BY on_date DESC, id DESC", (int(item_id),))


def photos(store: Store, item_id: int) -> list[tuple[str, bytes]]:
    with store.read() as con:
        return [(n, bytes(d)) for n, d in con.execute(
            "SELECT name, data FROM ledger_photos WHERE item_id=? ORDER BY id", (int(item_id),))]


def narrative_history(targets: Targets, rows: pd.DataFrame, item: pd.Series | dict, store: Store | None = None) -> pd.DataFrame:
    """The reporting unit's monthly 存在问题 / 下步计划 for the item's project (rows: Store.current_rows).

    The unit is the one that reported the item; for an item recorded by hand, the responsible unit if it
    reports on the project, else every unit that does. Newest month first; rows with both cells empty are left out.
    """
    ind = targets.indicators
    codes = set(ind.loc[ind["项目序号"] == int(item["项目序号"]), "指标编号"])
    mine = rows[rows["指标编号"].isin(codes) & (rows["年度"] == int(item["年度"]))]
    units = set()
    if store is not None:
        units = set(reports(store, int(item["编号"]))["填报单位"])
    if not units and item["责任单位"] in set(mine["填报单位"]):
        units = {item["责任单位"]}
    if units:
        mine = mine[mine["填报单位"].isin(units)]
    mine = mine[(mine["存在问题"] != "") | (mine["下步计划"] != "")]
    mine = mine.sort_values(["月份", "指标编号", "县市区"], ascending=[False, True, True])
    return mine[["月份", "填报单位", "指标编号", "县市区", "存在问题", "下步计划"]].reset_index(drop=True)


# --- CLI -----------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    logs.setup()
    parser = argparse.ArgumentParser(description="问题督办台账：同步候选问题、导出台账")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("sync", help="从尚未读取的已接收报送中生成待确认问题（可重复运行）")
    export = sub.add_parser("export", help="以 UTF-8 BOM CSV 输出台账到标准输出")
    export.add_argument("--status", default="", help=f"只导出这些状态，逗号分隔：{','.join(STATES)}")
    args = parser.parse_args(argv)
    store = Store()
    targets = store.targets()
    if args.command == "sync":
        for year in store.target_years():
            print(f"{year} 年度：" + sync(store, store.targets(year), who="命令行").summary())
        return 0
    wanted = tuple(s.strip() for s in re.split(r"[,，、]", args.status) if s.strip())
    unknown = [s for s in wanted if s not in STATES]
    if unknown:
        print(f"未知状态：{'、'.join(unknown)}。可选：{'、'.join(STATES)}", file=sys.stderr)
        return 2
    frame = ItemFilter(statuses=wanted).apply(items(store, targets))
    from lib.export import to_csv_bytes  # openpyxl with it: not at every server's start

    sys.stdout.buffer.write(to_csv_bytes(export_frame(frame)))
    sys.stdout.flush()
    store.log("命令行", "导出", f"督办台账 CSV（{len(frame)} 行）")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
