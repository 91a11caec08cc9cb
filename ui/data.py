"""Cached data for the pages: the store, a bundle per store version (or published revision), and every view
computed from it, keyed on (folder, version, month, filters) so a new upload, restore, publication or target table
(each moves the store version) is seen at once and a warm rerun recomputes nothing."""

from __future__ import annotations

import functools
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date

import pandas as pd
import streamlit as st

from lib import demo, ledger
from lib import progress as P
from lib import publish as PB
from lib.config import data_dir, demo_requested
from lib.store import DATABASE_URL_ENV, Store
from lib.targets import Targets
from ui.filters import Filters, current_filters, year_picker


class SharedMemo:
    """``build()`` once per hashable key for every session of the process, the newest ``max_entries`` kept.

    st.cache_resource hashes its arguments with Streamlit's own hasher on every call (~0.3-3 ms for a key holding
    the filters, ~10 % of a warm rerun on a live server); the keys here are plain tuples, so a hit is a dict
    look-up. Two sessions asking for the same missing key build it once (the second waits), as with
    st.cache_resource. ``clear()`` forgets everything (a simulated restart in bench/dashboard.py).
    """

    def __init__(self, max_entries: int):
        self.max_entries = max_entries
        self._values: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict = {}

    def get(self, key, build):
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
            building = self._building.setdefault(key, threading.Lock())
        with building:
            with self._lock:
                if key in self._values:  # built by another session meanwhile
                    return self._values[key]
            try:
                value = build()
                with self._lock:
                    self._values[key] = value
                    while len(self._values) > self.max_entries:
                        self._values.popitem(last=False)
            finally:  # built or failed: no lock kept per key (a failed key is simply built again next time)
                with self._lock:
                    self._building.pop(key, None)
        return value

    def peek(self, key):
        """The value kept for ``key``, or None (nothing is built)."""
        with self._lock:
            return self._values.get(key)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


_SHARED: list[SharedMemo] = []


def shared(max_entries: int):
    """``@st.cache_resource(max_entries=…)`` for a function of plain hashable positional arguments, without
    Streamlit's hashing of them on every call (its hasher and an ``inspect.signature`` per call: 6-9 % of a warm
    rerun's CPU on a live server, py-spy, bench/RESULTS.md). One value per arguments for every session, the newest
    ``max_entries`` kept; ``func.clear()`` forgets them, ``clear_shared()`` every such function's."""
    def wrap(func):
        memo = SharedMemo(max_entries)
        _SHARED.append(memo)

        @functools.wraps(func)
        def call(*args):
            return memo.get(args, lambda: func(*args))
        call.clear = memo.clear
        call.peek = lambda *args: memo.peek(args)
        return call
    return wrap


def clear_shared() -> None:
    """Forget every ``shared`` function's values and ``cached`` views (a simulated restart)."""
    for memo in _SHARED:
        memo.clear()
    _MEMO.clear()


def get_store(folder: str) -> Store:
    """One Store per data folder and database (``LIVELIHOOD_DATABASE_URL``; unset: SQLite in the folder) for the
    server's lifetime (it opens a connection per call)."""
    return _store(folder, os.environ.get(DATABASE_URL_ENV, "").strip())


@shared(256)  # a Store per folder and database: in effect unbounded (tests make many folders)
def _store(folder: str, url: str) -> Store:
    return Store(folder, url)


def store() -> Store:
    return get_store(str(data_dir()))


def begin_rerun() -> None:
    """A new rerun: what is read once per rerun (``store_versions``, the sign-in configuration) is read afresh.
    app.py calls it first thing (and ``ui.frame`` where a page runs without app.py)."""
    st.session_state["_rerun"] = {}


def once_per_rerun(name: str, read):
    """``read()`` once per rerun (after ``begin_rerun``); every call outside a begun rerun reads."""
    kept = st.session_state.get("_rerun")
    if kept is None:
        return read()
    if name not in kept:
        kept[name] = read()
    return kept[name]


def store_versions() -> tuple[str, str]:
    """(the store's version, the publications' state), read in one query once per rerun: every cache key of the
    rerun (the bundle, the sign-in units, the revision list) takes them from here."""
    return once_per_rerun("versions", lambda: store().versions())


@dataclass(frozen=True, eq=False)
class Bundle:
    """Everything read from disk for one store version. Treated as read-only."""
    targets: Targets
    rows: pd.DataFrame
    submissions: pd.DataFrame
    latest_month: int | None  # the month the dashboard opens on (lib.progress.default_month)
    is_demo: bool
    publication: PB.Publication | None = None  # set when the bundle serves a published revision (read-only)


# A published revision is served like a store version: its "version" names it (it never changes), its bundle holds
# the rows of the submission versions it froze, and MonthView hands out its stored tables for its month. Pages
# need no branch of their own.
PUBLISHED_PREFIX = "pub:"


def published_version(pub: PB.Publication) -> str:
    return f"{PUBLISHED_PREFIX}{pub.id}:{pub.content_hash[:16]}"


@st.cache_resource(max_entries=4, show_spinner=False)
def _published_targets(folder: str, targets_hash: str, _live: Targets) -> Targets:
    """The target table a revision was computed with: the live one when it is that very table (no second parse)."""
    if _live.version == targets_hash[:16]:
        return _live
    return PB.published_targets(get_store(folder), targets_hash)


def _published_rows(s: Store, live_rows: pd.DataFrame, submission_ids) -> pd.DataFrame:
    """The rows of the submission versions a revision froze: taken from the live rows where those versions are still
    current (usually all of them), the rest read from the store; ordered as Store.rows_of orders them."""
    ids = pd.Series(sorted({int(i) for i in submission_ids}), dtype="int64")
    kept = live_rows[live_rows["submission_id"].isin(ids)]
    missing = ids[~ids.isin(kept["submission_id"])]
    if len(missing):
        kept = pd.concat([kept, s.rows_of(missing)]).sort_values("submission_id", kind="stable")
    return kept.reset_index(drop=True)


# The live figures of one year are served under a "version" naming the year and the store's state, e.g.
# "2024@17": every cached view keyed on the version is then the view of that year, with no year argument of its own.
YEAR_SEPARATOR = "@"


def year_version(year: int, store_version: str) -> str:
    return f"{year}{YEAR_SEPARATOR}{store_version}"


def store_version_of(version: str) -> str:
    """The store's own version inside a year's version (what the administrator's caption shows)."""
    return version.split(YEAR_SEPARATOR, 1)[-1]


@shared(6)
def load_bundle(folder: str, version: str) -> Bundle:
    """Read one year's target table and rows once per store version (version = cache key), or a published revision."""
    s = get_store(folder)
    if version.startswith(PUBLISHED_PREFIX):
        pub = PB.load_by_id(s, int(version.split(":")[1]))
        live = load_bundle(folder, year_version(pub.year, s.version()))  # the live bundle of its year: usually cached
        rows = _published_rows(s, live.rows, pub.versions["submission_id"].dropna())
        return Bundle(_published_targets(folder, pub.targets_hash, live.targets), rows, live.submissions, pub.month,
                      live.is_demo, pub)
    targets = stored_targets(folder, store_version_of(version), int(version.split(YEAR_SEPARATOR, 1)[0]))
    rows = s.current_rows(targets.year)
    return Bundle(targets, rows, s.submissions(), P.default_month(targets, rows), s.is_demo())


@shared(8)
def target_years(folder: str, store_version: str) -> tuple[int, ...]:
    """Years with a stored target table, ascending (one query per store version)."""
    return tuple(get_store(folder).target_years())


@shared(8)
def stored_targets(folder: str, store_version: str, year: int) -> Targets:
    """``year``'s current target table, parsed once per store version: the year's bundle and sign-in's list of
    reporting units (ui.access.reporting_units) share it."""
    return get_store(folder).targets(year)


def _frozen(bundle: Bundle, month: int) -> PB.Publication | None:
    """The publication whose stored tables serve ``month``, if any."""
    pub = bundle.publication
    return pub if pub is not None and pub.month == month else None


class MonthView:
    """All tables of one as-of month. Each is computed on first use (a page needs only some), then kept."""

    def __init__(self, folder: str, version: str, month: int):
        b = load_bundle(folder, version)
        self._targets, self._rows, self._submissions, self.month = b.targets, b.rows, b.submissions, month
        self._frozen = _frozen(b, month)  # a published revision of this month: its stored tables, as published
        self._tables: dict[str, pd.DataFrame] = {}
        self.detail = detail_view(folder, version, month)

    def _table(self, name: str, compute) -> pd.DataFrame:
        """The level table ``name``: the revision's stored table where one serves this month, else ``compute()``;
        made on first use, then kept."""
        if name not in self._tables:
            self._tables[name] = self._frozen.tables[name] if self._frozen else compute()
        return self._tables[name]

    @property
    def projects(self) -> pd.DataFrame:
        return self._table("projects", lambda: P.project_table(self._targets, self._rows, self.month, self.detail))

    @property
    def categories(self) -> pd.DataFrame:
        return self._table("categories", lambda: P.category_table(self._targets, self._rows, self.month, self.projects))

    @property
    def units(self) -> pd.DataFrame:
        return self._table("units", lambda: P.unit_table(self._targets, self._rows, self.month, self.projects))

    @property
    def counties(self) -> pd.DataFrame:
        return self._table("counties", lambda: P.county_table(self._targets, self._rows, self.month, self.detail))

    @property
    def compliance(self) -> pd.DataFrame:
        """Reporting compliance; live figures are recomputed once a day (a deadline passing turns 未到期 into 未报送)."""
        if self._frozen:
            return self._frozen.tables["compliance"]
        today = date.today()
        kept = self.__dict__.get("_compliance")
        if kept is None or kept[0] != today:
            kept = (today, P.compliance(self._targets, self._submissions, self.month, today))
            self.__dict__["_compliance"] = kept
        return kept[1]


@shared(64)
def detail_view(folder: str, version: str, month: int) -> pd.DataFrame:
    """The indicator × county table of one month: computed once, shared by every page, trend and projection."""
    b = load_bundle(folder, version)
    frozen = _frozen(b, month)
    if frozen:
        return frozen.tables["detail"]
    pair = _detail_pair.peek(folder, version, month + 1)  # computed with the month after it (the overview's changes)
    return (pair or _detail_pair(folder, version, month))[month]


@shared(32)
def _detail_pair(folder: str, version: str, month: int) -> dict[int, pd.DataFrame]:
    """The month's table and the month before's in one pass (lib.progress.detail_each: each equal to the month
    computed alone): the overview shows a month's status changes against the month before."""
    b = load_bundle(folder, version)
    return P.detail_each(b.targets, b.rows, [m for m in (month - 1, month) if m >= 1])


@shared(24)
def details_until(folder: str, version: str, month: int) -> pd.DataFrame:
    """The detail tables of months 1..month, stacked (one vectorised pass): for trends and the projection."""
    b = load_bundle(folder, version)
    return P.detail_months(b.targets, b.rows, range(1, month + 1))


@shared(48)
def month_view(folder: str, version: str, month: int) -> MonthView:
    """All tables of one as-of month, each computed once per store version when a page first needs it."""
    return MonthView(folder, version, month)


@shared(24)
def changes_view(folder: str, version: str, month: int) -> pd.DataFrame:
    """Projects whose status changed since the previous month."""
    if month <= 1:
        return pd.DataFrame(columns=["项目序号", "项目名称", "状态（前）", "完成率（前）", "状态（后）", "完成率（后）", "变化"])
    b = load_bundle(folder, version)
    return P.status_changes(b.targets, b.rows, month - 1, month, month_view(folder, version, month - 1).projects,
                            month_view(folder, version, month).projects)


@shared(48)
def detail_by_project(folder: str, version: str, month: int) -> P.ProjectRows:
    """The month's indicator × county table grouped by project once: the project page slices the project it shows."""
    return P.ProjectRows(month_view(folder, version, month).detail)


@shared(24)
def history_view(folder: str, version: str, month: int, counties: tuple) -> P.ProjectRows:
    """Every project's narrative rows up to the month (lib.progress.narrative_history), in one pass."""
    b = load_bundle(folder, version)
    return P.narrative_history(b.targets, b.rows, month, counties)


@shared(48)
def county_projects_view(folder: str, version: str, month: int) -> pd.DataFrame:
    """Each project's figures in each county of the month (lib.progress.county_project_rows), all projects: the
    county table and the county × project gaps of any category / unit filter are these rows narrowed, rolled up."""
    b = load_bundle(folder, version)
    return P.county_project_rows(b.targets, month_view(folder, version, month).detail.assign(月份=month))


def _county_projects(folder: str, version: str, month: int, categories: tuple, units: tuple) -> pd.DataFrame:
    """``county_projects_view`` narrowed to the projects the category and unit filters leave."""
    per_project = county_projects_view(folder, version, month)
    if not categories and not units:
        return per_project
    chosen = Filters(month, categories, units, (), ()).projects(load_bundle(folder, version).targets.projects)
    return per_project[per_project["项目序号"].isin(chosen["项目序号"])]


@shared(48)
def county_matrix_view(folder: str, version: str, month: int, categories: tuple, units: tuple) -> pd.DataFrame:
    """县市区 × 项目 gaps, narrowed by the category and unit filters."""
    b = load_bundle(folder, version)
    return P.county_matrix(b.targets, _county_projects(folder, version, month, categories, units))


@shared(16)
def changes_since_view(folder: str, live_version: str, published: str) -> pd.DataFrame:
    """What changed since a published revision (lib.publish.changes) against the live state of its month."""
    pub = load_bundle(folder, published).publication
    live = load_bundle(folder, live_version)
    return PB.changes(pub, month_view(folder, live_version, pub.month).detail, live.submissions)


@shared(48)
def county_view(folder: str, version: str, month: int, categories: tuple, units: tuple) -> pd.DataFrame:
    """The county table over the projects the category and unit filters leave (all projects when none is set)."""
    if not categories and not units:
        return month_view(folder, version, month).counties
    b = load_bundle(folder, version)
    per_project = _county_projects(folder, version, month, categories, units)
    return P.county_roll_up(b.targets, per_project).drop(columns=["月份"])


@shared(24)
def trend_view(folder: str, version: str, month: int, level: str) -> pd.DataFrame:
    b = load_bundle(folder, version)
    return P.trend(b.targets, b.rows, month, level, details_until(folder, version, month))


@shared(24)
def projection_view(folder: str, version: str, month: int) -> pd.DataFrame:
    b = load_bundle(folder, version)
    return P.projection(b.targets, b.rows, month, details_until(folder, version, month))


@dataclass(frozen=True)
class LastYear:
    """The overview's figure of the same month a year earlier (its city-wide roll-up, lib.progress.city_table)."""
    year: int
    month: int
    rate: float  # mean capped completion of the projects (NaN when none is quantitative)
    gap: float   # against that month's 序时进度, in percentage points
    projects: int
    source: str  # the published revision it comes from, or 实时 where the month was not published


@shared(24)
def last_year_view(folder: str, store_version: str, year: int, month: int, categories: tuple,
                   units: tuple) -> LastYear | None:
    """The same month of ``year`` − 1 under the 类别 / 牵头单位 filters (by name), or None where that year has no
    target table, no report for the month, or no project the filters leave. Its latest published revision where
    the month was published (the figure the office announced), else its live figures."""
    last = year - 1
    if last not in target_years(folder, store_version):
        return None
    revisions = get_store(folder).publications(last, month)
    if len(revisions):
        row = revisions.iloc[-1]
        version = f"{PUBLISHED_PREFIX}{int(row['id'])}:{row['content_hash'][:16]}"
    else:
        version = year_version(last, store_version)
    bundle = load_bundle(folder, version)
    if not (bundle.rows["月份"] <= month).any():
        return None
    projects = Filters(month, categories, units, (), ()).projects(month_view(folder, version, month).projects)
    if projects.empty:
        return None
    city = P.city_table(bundle.targets, bundle.rows, month, projects)
    pub = bundle.publication
    return LastYear(last, month, float(city["完成率"].iloc[0]), float(city["差距"].iloc[0]), len(projects),
                    f"已发布修订 {pub.revision}" if pub is not None else "实时")


def last_year() -> LastYear | None:
    """``last_year_view`` for this rerun's year, month and filters (the live store state, whatever the switch)."""
    fr = st.session_state["_current_frame"]
    version = fr.live_version or fr.version
    if version.startswith(PUBLISHED_PREFIX):
        return None
    return last_year_view(fr.folder, store_version_of(version), fr.bundle.targets.year, fr.filters.month,
                          fr.filters.categories, fr.filters.units)


@shared(24)
def report_figures(folder: str, version: str, month: int, revision: int | None, live: bool):
    """The figures of one month's 督查通报 (lib.report.figures_for), once per store version and choice."""
    from lib import report

    return report.figures_for(get_store(folder), load_bundle(folder, version).targets, month, revision, live)


@shared(24)
def report_summary(folder: str, version: str, month: int, revision: int | None, live: bool):
    """What the 督查通报 page shows of that month's figures (lib.report.summarize), once per store version and choice:
    read-only, shared by every session."""
    from lib import report

    return report.summarize(report_figures(folder, version, month, revision, live))


def current() -> tuple[str, str, Bundle]:
    """(folder, version, bundle) for this rerun: the year chosen in the sidebar (``ui.filters.year_picker``). Where the demo was asked for (``config.demo_requested``) and is
    not complete yet, its build runs in a process of its own (lib.demo.start_demo: it survives this session, and
    two first visitors share one build); this visitor watches its progress until it is done."""
    s = store()
    if not st.session_state.get("demo_checked"):
        if demo_requested(s.folder) and not demo.is_complete(s.folder) and not s.has_real_reports():
            demo.start_demo(s.folder)
            share = demo.progress_share(s.folder)
            st.progress(share, text=f"首次启动：正在后台生成示例数据 {share:.0%}（约半分钟；关闭页面不会中断）…")
            time.sleep(1.0)
            st.rerun()
        st.session_state["demo_checked"] = True
    folder, store_version = str(s.folder), store_versions()[0]
    version = year_version(year_picker(list(target_years(folder, store_version))), store_version)
    return folder, version, load_bundle(folder, version)


def _revision_options(folder: str, year: int, month: int) -> pd.DataFrame:
    """The month's published revisions. A new revision shows at once: the rerun's one query (``store_versions``)
    names the state of the publications, and the list (a pandas read, ~15 ms) is read once per state."""
    return _revisions_of(folder, year, month, store_versions()[1])


@shared(64)
def _revisions_of(folder: str, year: int, month: int, publications_version: str) -> pd.DataFrame:
    return get_store(folder).publications(year, month)  # shared read-only


def current_data() -> tuple[str, str, Bundle]:
    """(folder, version, bundle) of this rerun's frame."""
    fr = st.session_state["_current_frame"]
    return fr.folder, fr.version, fr.bundle


def view(month: int | None = None) -> MonthView:
    folder, version, _ = current_data()
    return month_view(folder, version, month or current_filters().month)


_MEMO = SharedMemo(512)


def _memo(cache_key: tuple, build):
    return _MEMO.get(cache_key, build)


def cached(name: str, build, depends: tuple = (), all_filters: bool = True):
    """``build()`` once per (name, data folder, store version or published revision, filters, ``depends``), shared
    read-only by every session: a page's filtered frames and readable tables, so a warm rerun does no pandas work.

    The store version moves with every upload, restore, rebuild and target-table change, and a published revision
    has a version of its own, so none of them can show a stale value. ``build`` may read only this rerun's data,
    the filters and what ``depends`` names (a page widget's value); a view that reads only some filters passes
    ``all_filters=False`` and names those in ``depends``.
    """
    folder, version, _ = current_data()
    return _memo((name, folder, version, current_filters() if all_filters else None, tuple(depends)), build)


def filtered_projects() -> pd.DataFrame:
    """The project table of the chosen month, the category, unit and status filters applied (projects are
    city-wide: the county filter does not apply)."""
    return cached("projects", lambda: current_filters().projects(view().projects))


def filtered_detail() -> pd.DataFrame:
    """The indicator × county table of the chosen month, every filter applied."""
    return cached("detail", lambda: current_filters().detail(view().detail))


@st.cache_data(max_entries=64, show_spinner=False)
def template_bytes(folder: str, year: int, targets_version: str, unit: str | None) -> bytes:
    """One unit's template of ``year``, or all of them zipped (unit=None). Keyed on the target table version."""
    from lib.template import build_template, templates_zip

    targets = get_store(folder).targets(year)
    return templates_zip(targets) if unit is None else build_template(targets, unit)


# --- 问题督办台账 -----------------------------------------------------------------------------------

@shared(8)
def ledger_sync(folder: str, version: str) -> ledger.SyncResult:
    """Candidates from new submissions, once per store version (any upload, restore or rebuild moves it)."""
    return ledger.sync(get_store(folder), load_bundle(folder, version).targets)  # the year the version names


@shared(8)
def _ledger_items(folder: str, version: str, ledger_version: str, today: str) -> pd.DataFrame:
    return ledger.items(get_store(folder), load_bundle(folder, version).targets, date.fromisoformat(today))


@shared(8)
def _ledger_year(folder: str, version: str, ledger_version: str, today: str, year: int) -> pd.DataFrame:
    items = _ledger_items(folder, version, ledger_version, today)
    return items[items["年度"] == year]  # shared read-only


@shared(8)
def _ledger_counts(folder: str, version: str, ledger_version: str, today: str, year: int) -> dict[str, int]:
    return ledger.counts(_ledger_year(folder, version, ledger_version, today, year), date.fromisoformat(today))


def ledger_key() -> tuple[str, str, str, str, int]:
    """(folder, live version, ledger version, today, year) of this rerun, after syncing new submissions: what the
    ledger items of this rerun depend on (a cache key for views of them, e.g. ``ui.cached(..., depends=(…,
    ui.ledger_key()))``). Read once per rerun: the ledger page asks for its items, its counts and this key, and
    every ledger change ends its run (``st.rerun``)."""
    return once_per_rerun("ledger_key", _ledger_key_now)


def _ledger_key_now() -> tuple[str, str, str, str, int]:
    current_frame = st.session_state["_current_frame"]  # the ledger is live whatever the 实时/已发布 switch says
    folder, version = current_frame.folder, current_frame.live_version or current_frame.version
    ledger_sync(folder, version)
    return folder, version, ledger.version(get_store(folder)), date.today().isoformat(), current_frame.bundle.targets.year


def ledger_items() -> pd.DataFrame:
    """The ledger items of the sidebar's year (lib.ledger.items) after syncing new submissions; read once per
    ledger change and day, shared read-only."""
    return _ledger_year(*ledger_key())


def ledger_counts() -> dict[str, int]:
    """lib.ledger.counts of ``ledger_items()`` (the cards on the overview and the ledger page), once per ledger
    change and day instead of four pandas scans on every rerun."""
    return _ledger_counts(*ledger_key())
