"""Streamlit glue shared by app.py and the pages: cached loaders, global filters, banner.

Everything that computes lives in lib/; this module only caches and renders.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, replace
from datetime import date
from functools import cached_property

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from lib import auth, charts, demo, ledger
from lib import progress as P
from lib import publish as PB
from lib import schema as S
from lib.config import data_dir, demo_requested
from lib.formatting import MISSING, display_table
from lib.status import done_at
from lib.store import Store
from lib.targets import Targets

logger = logging.getLogger(__name__)


@st.cache_resource
def get_store(folder: str) -> Store:
    """One Store per data folder for the server's lifetime (it opens a connection per call)."""
    return Store(folder)


def store() -> Store:
    return get_store(str(data_dir()))


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
def _published_targets(folder: str, targets_hash: str) -> Targets:
    return PB.published_targets(get_store(folder), targets_hash)


@st.cache_resource(max_entries=6, show_spinner=False)
def load_bundle(folder: str, version: str) -> Bundle:
    """Read the target table and the store once per store version (version = cache key), or a published revision."""
    s = get_store(folder)
    if version.startswith(PUBLISHED_PREFIX):
        pub = PB.load_by_id(s, int(version.split(":")[1]))
        rows = s.rows_of(pub.versions["submission_id"].dropna())
        return Bundle(_published_targets(folder, pub.targets_hash), rows, s.submissions(), pub.month, s.is_demo(), pub)
    targets = s.targets()
    rows = s.current_rows(targets.year)  # the dashboard shows the target table's year; older years stay on disk
    return Bundle(targets, rows, s.submissions(), P.default_month(targets, rows), s.is_demo())


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
        self.detail = detail_view(folder, version, month)

    @cached_property
    def projects(self) -> pd.DataFrame:
        if self._frozen:
            return self._frozen.tables["projects"]
        return P.project_table(self._targets, self._rows, self.month, self.detail)

    @cached_property
    def categories(self) -> pd.DataFrame:
        if self._frozen:
            return self._frozen.tables["categories"]
        return P.category_table(self._targets, self._rows, self.month, self.projects)

    @cached_property
    def units(self) -> pd.DataFrame:
        if self._frozen:
            return self._frozen.tables["units"]
        return P.unit_table(self._targets, self._rows, self.month, self.projects)

    @cached_property
    def counties(self) -> pd.DataFrame:
        if self._frozen:
            return self._frozen.tables["counties"]
        return P.county_table(self._targets, self._rows, self.month, self.detail)

    @cached_property
    def compliance(self) -> pd.DataFrame:
        if self._frozen:
            return self._frozen.tables["compliance"]
        return P.compliance(self._targets, self._submissions, self.month)


@st.cache_resource(max_entries=64, show_spinner=False)
def detail_view(folder: str, version: str, month: int) -> pd.DataFrame:
    """The indicator × county table of one month: computed once, shared by every page, trend and projection."""
    b = load_bundle(folder, version)
    frozen = _frozen(b, month)
    return frozen.tables["detail"] if frozen else P.detail(b.targets, b.rows, month)


@st.cache_resource(max_entries=24, show_spinner=False)
def details_until(folder: str, version: str, month: int) -> pd.DataFrame:
    """The detail tables of months 1..month, stacked (one vectorised pass): for trends and the projection."""
    b = load_bundle(folder, version)
    return P.detail_months(b.targets, b.rows, range(1, month + 1))


@st.cache_resource(max_entries=48, show_spinner=False)
def month_view(folder: str, version: str, month: int) -> MonthView:
    """All tables of one as-of month, each computed once per store version when a page first needs it."""
    return MonthView(folder, version, month)


@st.cache_resource(max_entries=24, show_spinner=False)
def changes_view(folder: str, version: str, month: int) -> pd.DataFrame:
    """Projects whose status changed since the previous month."""
    if month <= 1:
        return pd.DataFrame(columns=["项目序号", "项目名称", "状态（前）", "完成率（前）", "状态（后）", "完成率（后）", "变化"])
    b = load_bundle(folder, version)
    return P.status_changes(b.targets, b.rows, month - 1, month, month_view(folder, version, month - 1).projects,
                            month_view(folder, version, month).projects)


@st.cache_resource(max_entries=48, show_spinner=False)
def county_matrix_view(folder: str, version: str, month: int, categories: tuple, units: tuple) -> pd.DataFrame:
    """县市区 × 项目 gaps, narrowed by the category and unit filters."""
    b = load_bundle(folder, version)
    detail = month_view(folder, version, month).detail
    narrowed = Filters(month, categories, units, (), ()).detail(detail)
    return P.county_project_matrix(b.targets, b.rows, month, narrowed)


@st.cache_resource(max_entries=16, show_spinner=False)
def changes_since_view(folder: str, live_version: str, published: str) -> pd.DataFrame:
    """What changed since a published revision (lib.publish.changes) against the live state of its month."""
    pub = load_bundle(folder, published).publication
    live = load_bundle(folder, live_version)
    return PB.changes(pub, month_view(folder, live_version, pub.month).detail, live.submissions)


@st.cache_resource(max_entries=48, show_spinner=False)
def county_view(folder: str, version: str, month: int, categories: tuple, units: tuple) -> pd.DataFrame:
    """The county table over the projects the category and unit filters leave (all projects when none is set)."""
    b = load_bundle(folder, version)
    detail = month_view(folder, version, month).detail
    if not categories and not units:
        return month_view(folder, version, month).counties
    narrowed = Filters(month, categories, units, (), ()).detail(detail)
    return P.county_table(b.targets, b.rows, month, narrowed)


@st.cache_resource(max_entries=24, show_spinner=False)
def trend_view(folder: str, version: str, month: int, level: str) -> pd.DataFrame:
    b = load_bundle(folder, version)
    return P.trend(b.targets, b.rows, month, level, details_until(folder, version, month))


@st.cache_resource(max_entries=24, show_spinner=False)
def projection_view(folder: str, version: str, month: int) -> pd.DataFrame:
    b = load_bundle(folder, version)
    return P.projection(b.targets, b.rows, month, details_until(folder, version, month))


@st.cache_resource(max_entries=24, show_spinner=False)
def report_figures(folder: str, version: str, month: int, revision: int | None, live: bool):
    """The figures of one month's 督查通报 (lib.report.figures_for), once per store version and choice."""
    from lib import report

    return report.figures_for(get_store(folder), load_bundle(folder, version).targets, month, revision, live)


def current() -> tuple[str, str, Bundle]:
    """(folder, version, bundle) for this rerun. Where the demo was asked for (``config.demo_requested``) and is
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
    version = s.version()
    folder = str(s.folder)
    return folder, version, load_bundle(folder, version)


# (file, title, icon, least role): pages a role may not use are not in its navigation at all.
PAGES = [
    ("pages/overview.py", "总览", ":material/dashboard:", auth.VIEWER),
    ("pages/category.py", "分类进展", ":material/category:", auth.VIEWER),
    ("pages/unit.py", "单位进展", ":material/apartment:", auth.VIEWER),
    ("pages/county.py", "县区进展", ":material/map:", auth.VIEWER),
    ("pages/project.py", "项目详情", ":material/description:", auth.VIEWER),
    ("pages/ledger.py", "督办台账", ":material/assignment_late:", auth.VIEWER),
    ("pages/export.py", "数据导出", ":material/download:", auth.VIEWER),
    ("pages/publish.py", "发布与修订", ":material/verified:", auth.VIEWER),
    ("pages/report.py", "督查通报", ":material/article:", auth.VIEWER),
    ("pages/upload.py", "数据上报", ":material/upload_file:", auth.UNIT),
    ("pages/targets.py", "目标表", ":material/table_edit:", auth.ADMIN),
    ("pages/admin.py", "用户与审计", ":material/admin_panel_settings:", auth.ADMIN),
]
DEFAULT_PAGE = "pages/overview.py"


def nav_pages(user: auth.User | None) -> list:
    """st.Page objects for the user's navigation (every page, hidden, before sign-in), made once per session and
    set of pages: st.Page resolves its file on the disk each time it is made (a realpath per page per rerun)."""
    paths = tuple(path for path, _, _, role in PAGES if user is None or user.can(role))
    made = st.session_state.get("_nav_pages")
    if made is None or made[0] != (user is None, paths):
        made = ((user is None, paths), [st.Page(path, title=title, icon=icon if user is not None else None,
                                default=path == DEFAULT_PAGE) for path, title, icon, _ in PAGES if path in paths])
        st.session_state["_nav_pages"] = made
    return made[1]


# --- global filters (sidebar, mirrored in the URL) ------------------------------------

FILTER_KEYS = {"f_month": "month", "f_category": "category", "f_unit": "unit", "f_county": "county", "f_status": "status"}


@dataclass(frozen=True)
class Filters:
    month: int
    categories: tuple[str, ...]
    units: tuple[str, ...]
    counties: tuple[str, ...]
    statuses: tuple[str, ...]
    source: str = ""  # "" for live figures, else the published revision shown, e.g. 已发布修订0

    def for_names(self) -> dict:
        return {"类别": list(self.categories), "牵头单位": list(self.units), "县市区": list(self.counties),
                "状态": list(self.statuses), "口径": self.source}

    def _apply(self, frame: pd.DataFrame, by_county: bool) -> pd.DataFrame:
        pairs = [("类别", self.categories), ("牵头单位", self.units), ("状态", self.statuses)]
        if by_county:
            pairs.append(("县市区", self.counties))
        for column, chosen in pairs:
            if chosen:
                frame = frame[frame[column].isin(chosen)]
        return frame

    def projects(self, projects: pd.DataFrame) -> pd.DataFrame:
        """Project-level rows (the county filter does not apply: projects are city-wide)."""
        return self._apply(projects, by_county=False)

    def detail(self, detail: pd.DataFrame) -> pd.DataFrame:
        """Indicator × county rows, every filter applied."""
        return self._apply(detail, by_county=True)

    def active(self) -> dict[str, tuple[str, ...]]:
        """The list filters a user has set (name -> chosen values), in the sidebar's order."""
        chosen = {"类别": self.categories, "牵头单位": self.units, "县市区": self.counties, "状态": self.statuses}
        return {name: values for name, values in chosen.items() if values}


def _from_url(key: str, options: list, multi: bool):
    raw = st.query_params.get(FILTER_KEYS[key])
    if raw is None:
        return None
    if multi:
        return [v for v in raw.split(",") if v in options]
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if value in options else None


def sidebar_filters(bundle: Bundle) -> Filters:
    """Global filters shared by every page; read from and written to the query string."""
    t = bundle.targets
    months = list(range(1, 13))
    categories = list(dict.fromkeys(t.projects["类别"]))
    units = list(dict.fromkeys(t.projects["牵头单位"]))
    counties = t.counties
    options = {"f_month": months, "f_category": categories, "f_unit": units, "f_county": counties, "f_status": S.STATUSES}
    if "filters_loaded" not in st.session_state:
        # A shared link sets the view once; after that the widgets own the state.
        for key, opts in options.items():
            value = _from_url(key, opts, multi=key != "f_month")
            if value is not None:
                st.session_state[key] = value
        st.session_state["filters_loaded"] = True
    default_month = bundle.latest_month or 1
    if st.session_state.get("f_month") not in months:
        st.session_state["f_month"] = default_month
    with st.sidebar:
        st.markdown("#### 筛选")
        st.selectbox("截至月份", months, key="f_month", format_func=lambda m: f"{t.year} 年 {m} 月",
                     help="默认为多数单位已报送的最新月份")
        st.multiselect("类别", categories, key="f_category", select_all=False, placeholder="全部类别")
        st.multiselect("牵头单位", units, key="f_unit", select_all=False, placeholder="全部单位")
        st.multiselect("县市区", counties, key="f_county", select_all=False, placeholder="全部县市区",
                       help="作用于县区进展、项目详情的分县数据、总览的存在问题与明细导出；项目按全市统计")
        st.multiselect("状态", S.STATUSES, key="f_status", select_all=False, placeholder="全部状态")
    for key, param in FILTER_KEYS.items():
        value = st.session_state.get(key)
        text = ",".join(value) if isinstance(value, list) else (str(value) if value else "")
        if text:
            if st.query_params.get(param) != text:
                st.query_params[param] = text
        elif param in st.query_params:
            del st.query_params[param]
    return Filters(
        month=int(st.session_state["f_month"]),
        categories=tuple(st.session_state.get("f_category") or ()),
        units=tuple(st.session_state.get("f_unit") or ()),
        counties=tuple(st.session_state.get("f_county") or ()),
        statuses=tuple(st.session_state.get("f_status") or ()),
    )


# --- 实时 / 已发布 (sidebar, mirrored in the URL) ------------------------------------------------

SOURCE_LIVE, SOURCE_PUBLISHED = "实时", "已发布"
SOURCE_PARAMS = {SOURCE_LIVE: "live", SOURCE_PUBLISHED: "published"}  # ?source=…&rev=…
LIVE_LABEL = "实时数据 · 随报送、更正与恢复随时变化"


def _revision_options(folder: str, year: int, month: int) -> pd.DataFrame:
    """The month's published revisions. A new revision shows at once: one tiny query per rerun names the state of
    the publications, and the list (a pandas read, ~15 ms, 7 % of a loaded server's time) is read once per state."""
    return _revisions_of(folder, year, month, get_store(folder).publications_version())


@st.cache_resource(max_entries=64, show_spinner=False)
def _revisions_of(folder: str, year: int, month: int, publications_version: str) -> pd.DataFrame:
    return get_store(folder).publications(year, month)  # shared read-only


def source_picker(folder: str, bundle: Bundle, month: int) -> PB.Publication | None:
    """The 实时 / 已发布 switch for the chosen month: the publication to show, or None for live figures.

    Default: the latest revision of the month where one exists. The URL carries the choice and the revision, so a
    shared link shows the same figures even after a later revision.
    """
    year = bundle.targets.year
    revisions = _revision_options(folder, year, month)
    if "source_loaded" not in st.session_state:
        raw = st.query_params.get("source")
        chosen = {v: k for k, v in SOURCE_PARAMS.items()}.get(raw)
        if chosen:
            st.session_state["f_source"] = chosen
        rev = st.query_params.get("rev")
        if rev and rev.isdigit():
            st.session_state["f_revision"] = int(rev)
        st.session_state["source_loaded"] = True
    if "_show_revision" in st.session_state:  # set by show_published() on the previous run
        st.session_state["f_source"] = SOURCE_PUBLISHED
        st.session_state["f_revision"] = st.session_state.pop("_show_revision")
    st.session_state.setdefault("f_source", SOURCE_PUBLISHED)
    pub = None
    with st.sidebar:
        st.markdown("#### 数据口径")
        if revisions.empty:
            st.caption(f"{year} 年 {month} 月尚未发布，显示实时数据。")
        else:
            st.radio("数据口径", [SOURCE_PUBLISHED, SOURCE_LIVE], key="f_source", horizontal=True,
                     label_visibility="collapsed", help="已发布：该月发布时冻结的正式数字；实时：当前库中的最新数据")
            numbers = revisions["revision"].astype(int).tolist()
            if st.session_state.get("f_revision") not in numbers:
                st.session_state["f_revision"] = numbers[-1]
            if st.session_state["f_source"] == SOURCE_PUBLISHED:
                if len(numbers) > 1:
                    st.selectbox("修订", numbers, key="f_revision", format_func=lambda n: f"修订 {n}"
                                 + ("（最新）" if n == numbers[-1] else ""))
                row = revisions[revisions["revision"] == st.session_state["f_revision"]].iloc[0]
                pub = load_bundle(folder, f"{PUBLISHED_PREFIX}{int(row['id'])}:{row['content_hash'][:16]}").publication
        if pub is not None:
            st.info(pub.label(), icon=":material/verified:")
        else:
            st.caption(LIVE_LABEL)
    source = SOURCE_PARAMS[SOURCE_PUBLISHED if pub is not None else SOURCE_LIVE]
    wanted = {"source": source, "rev": str(pub.revision) if pub is not None else None}
    if revisions.empty and "source" not in st.query_params:
        wanted["source"] = None  # nothing to choose yet: a link keeps following the default
    for param, text in wanted.items():
        if text is None:
            if param in st.query_params:
                del st.query_params[param]
        elif st.query_params.get(param) != text:
            st.query_params[param] = text
    return pub


def show_published(revision: int) -> None:
    """Switch the sidebar to a revision of the chosen month from the next rerun on (e.g. just published)."""
    st.session_state["_show_revision"] = revision


@dataclass(frozen=True, eq=False)
class Frame:
    folder: str
    version: str
    bundle: Bundle
    filters: Filters
    user: auth.User
    live_version: str = ""  # the store version of the live figures (version names a revision when published)
    live_bundle: Bundle | None = None

    def __iter__(self):
        return iter((self.folder, self.version, self.bundle, self.filters))

    def live(self) -> Frame:
        """The same frame on live data (pages that act on the store: upload, targets, publishing)."""
        if self.bundle.publication is None:
            return self
        return replace(self, version=self.live_version, bundle=self.live_bundle, filters=replace(self.filters, source=""))


def setup_frame(user: auth.User) -> Frame:
    """Data and sidebar filters for one rerun (app.py calls this before the page runs)."""
    folder, version, bundle = current()
    chosen = sidebar_filters(bundle)
    live_version, live_bundle = version, bundle
    pub = source_picker(folder, bundle, chosen.month)
    if pub is not None:
        version = published_version(pub)
        bundle = load_bundle(folder, version)
        chosen = replace(chosen, source=f"已发布修订{pub.revision}")
    with st.sidebar:
        if user.can(auth.ADMIN):  # versions are an administrator's detail
            st.caption(f"{bundle.targets.year} 年度 · 目标表版本 {bundle.targets.version[:8]} · 数据版本 {live_version.split(':')[0]}")
        st.caption(f"当前用户：{user.name}（{user.label}）")
        if user.login != auth.DEMO_LOGIN and st.button("退出登录", key="auth_logout", icon=":material/logout:"):
            store().log(user.name, "退出登录", user.login)
            st.session_state.clear()  # nothing of this session (checked files, filters) is left for the next user
            if auth_config().oidc:
                st.logout()
            st.rerun()
    return Frame(folder, version, bundle, chosen, user, live_version, live_bundle)


def frame(live: bool = False) -> Frame:
    """The frame app.py set up for this rerun (``live``: on live data whatever the 实时/已发布 switch says).

    Streamlit runs a page file without app.py while it is in its legacy
    pages/-folder mode: on the first request after a server start that lands on a
    page URL (until some run has called st.navigation). The page then registers the
    navigation itself and reruns once, so app.py takes over with this same URL; if
    that is not possible (AppTest resets the mode every run) it signs in and sets
    the frame up itself.
    """
    from streamlit.runtime.pages_manager import PagesManager  # the legacy-mode flag has no public accessor

    current_frame = st.session_state.pop("_frame", None)
    legacy = bool(getattr(PagesManager, "uses_pages_directory", False))
    if current_frame is None and legacy and not st.session_state.get("_navigation_claimed"):
        st.session_state["_navigation_claimed"] = True
        st.navigation([st.Page(path, title=title) for path, title, _, _ in PAGES], position="hidden")
        st.rerun()
    current_frame = current_frame or setup_frame(sign_in())
    st.session_state["_current_frame"] = current_frame
    return live_frame() if live else current_frame


def live_frame() -> Frame:
    """This rerun's frame on live data (after ``frame()``): for what acts on the store or compares with it."""
    current_frame = st.session_state["_current_frame"].live()
    st.session_state["_current_frame"] = current_frame
    return current_frame


def user() -> auth.User:
    return st.session_state["_current_frame"].user


def require(role: str) -> auth.User:
    """Server-side check before any action: stop the run unless the signed-in user has ``role``."""
    current_user = user()
    if not current_user.can(role):
        st.error(f"您的角色（{current_user.role_name}）无权执行此操作，需要“{auth.ROLE_NAMES[role]}”及以上角色。")
        st.stop()
    return current_user


def require_unit(unit: str | None, what: str = "此操作") -> auth.User:
    """Server-side check before acting for a reporting unit: stop unless the user may act for ``unit``."""
    current_user = require(auth.UNIT)
    if not current_user.may_act_for(unit):
        st.error(auth.unit_refusal(current_user, unit, what))
        st.stop()
    return current_user


# --- sign-in --------------------------------------------------------------------------------

@st.cache_data(max_entries=4, show_spinner=False)
def _reporting_units(folder: str, stamp: tuple) -> tuple[str, ...]:
    return tuple(get_store(folder).targets().reporting_units)


def reporting_units() -> tuple[str, ...]:
    """The target table's reporting units (what a unit user may be bound to), re-read when the table changes."""
    s = store()
    stat = (s.folder / "targets.xlsx").stat()
    return _reporting_units(str(s.folder), (stat.st_mtime_ns, stat.st_size))


def auth_config() -> auth.AuthConfig:
    """The validated [auth] configuration. Raises auth.AuthConfigError when it exists but cannot be used.

    Streamlit raises the same error for a missing secrets file and for one that does not parse, so on an
    error the configured files are looked at here: only when none of them exists are there "no users".
    """
    try:
        secrets = st.secrets.to_dict()
    except Exception as exc:
        from streamlit import config as st_config

        if auth.check_secrets_files(st_config.get_option("secrets.files")):  # raises naming the line
            raise auth.AuthConfigError(f"secrets 无法读取：{exc}") from exc
        secrets = {}
    return auth.parse_config(secrets, reporting_units())


@st.cache_resource
def rate_limiter() -> auth.RateLimiter:
    """One limiter per server process: failed sign-ins are counted per address and user name across sessions."""
    return auth.RateLimiter()


def client_address() -> str | None:
    """The client's IP address as the server sees it (None for a browser on this machine)."""
    address = st.context.ip_address
    return address if isinstance(address, str) else None


def markdown_text(text: str) -> str:
    """``text`` shown literally inside Markdown (a backslash, * or _ in a message or path stays as typed)."""
    return re.sub(r"([\\`*_{}\[\]<>()#+\-.!|~$])", r"\\\1", text)


def refuse(message: str) -> None:
    """The refusal page: the problem for the administrator, no data, no navigation; stops the run."""
    logger.error("Access refused for everyone: %s", message)
    # Register the pages hidden, so Streamlit's pages/-folder mode does not list them either.
    st.navigation(nav_pages(None), position="hidden")
    st.error(f"**系统拒绝访问**：{markdown_text(message)}", icon=":material/lock:")
    st.caption("请系统管理员修正 .streamlit/secrets.toml（可运行 python -m lib.auth check 检查）后刷新本页。")
    st.stop()


def signed_in_user() -> auth.User | None:
    """The signed-in user, or None; stops the run with an error when access is refused outright.

    The session keeps only who signed in and how; role and unit are looked up in the current
    configuration on every run, so a changed or removed account takes effect at once.
    """
    try:
        config = auth_config()
    except auth.AuthConfigError as exc:
        refuse(f"登录配置有误。{exc}")
    if config.open_demo:
        return auth.DEMO_USER
    if config.closed:
        refuse("未配置任何用户，且已关闭演示模式（demo_mode = false）。请管理员在 secrets.toml 中添加用户。")
    signed = st.session_state.get("auth_user")
    if isinstance(signed, auth.User):
        if st.session_state.get("auth_source") == "oidc":
            current_user = auth.oidc_user(config, signed.login, signed.name) if config.oidc else None
        else:
            current_user = config.user(signed.login)
        if current_user is not None:
            st.session_state["auth_user"] = current_user
            return current_user
        st.session_state.pop("auth_user", None)
        st.session_state["auth_notice"] = "您的账号已被停用或不再有角色，请重新登录或联系管理员。"
    if config.oidc and getattr(st.user, "is_logged_in", False):
        mapped = auth.oidc_user(config, st.user.get("email"), st.user.get("name"))
        if mapped is None:
            st.error(f"账号 {markdown_text(str(st.user.get('email')))} 未分配角色，请联系管理员。")
            st.button("退出", on_click=st.logout, key="auth_oidc_out")
            st.stop()
        st.session_state["auth_user"], st.session_state["auth_source"] = mapped, "oidc"
        store().log(mapped.name, "登录", f"{mapped.login}（统一身份认证，{mapped.label}）")
        return mapped
    return None


def login_form() -> None:
    """The sign-in form; stops the run (a successful sign-in reruns the same page)."""
    config = auth_config()
    st.title("重点民生实事进展看板 · 登录")
    notice = st.session_state.pop("auth_notice", None)
    if notice:
        st.warning(notice)
    if config.users:
        with st.form("auth_form"):
            login = st.text_input("用户名", key="auth_login", max_chars=auth.MAX_LOGIN_CHARS)
            password = st.text_input("密码", type="password", key="auth_password")
            submitted = st.form_submit_button("登录", type="primary")
        if submitted:
            address = client_address()
            found, message = auth.authenticate(config, rate_limiter(), login, password, address)
            where = f"，地址 {address}" if address else ""
            if found:
                st.session_state["auth_user"], st.session_state["auth_source"] = found, "password"
                store().log(found.name, "登录", f"{found.login}（{found.label}{where}）")
                st.rerun()
            store().log(login or "（空）", "登录失败", message + where)
            st.error(message)
    if config.oidc:
        st.button("使用统一身份认证登录", on_click=st.login, key="auth_oidc")
    st.stop()


def sign_in() -> auth.User:
    """The signed-in user; renders the sign-in form and stops the run when there is none."""
    return signed_in_user() or login_form()


def auth_banner() -> None:
    """Open demo mode in one line; how to end it only for administrators."""
    if auth_config().open_demo:
        hint = "（管理员：在 secrets.toml 中配置用户并设置 demo_mode = false 即可关闭）" if user().can(auth.ADMIN) else ""
        st.info(f"**演示模式**：未配置用户，任何人都可修改数据{hint}。", icon=":material/lock_open:")


def filters() -> Filters:
    return st.session_state["_current_frame"].filters


def page_start(title: str | None, ignored: dict[str, str] | None = None) -> None:
    """What every page shows first: compact spacing, the demo banners, the title, the filters in force.

    ``ignored`` names the global filters this page does not apply and why (筛选名 -> reason);
    the page says so whenever such a filter is set.
    """
    compact()
    banner(data()[2])
    auth_banner()
    if title:
        st.title(title)
    source_badge()
    filter_summary(ignored or {})


ALL_FILTERS = "全部筛选"  # key of ``ignored`` for pages that apply none of the sidebar's filters


def filter_summary(ignored: dict[str, str]) -> None:
    """One line under the title: the filters in force, and those this page does not apply (with why)."""
    active = filters().active()
    if ALL_FILTERS in ignored:
        st.caption(f"侧栏筛选不作用于本页：{ignored[ALL_FILTERS]}。", help=None)
        return
    used = [f"{name}：{'、'.join(values)}" for name, values in active.items() if name not in ignored]
    notes = [f"“{name}”筛选未用于{ignored[name]}" for name in active if name in ignored]
    parts = (["筛选 · " + "；".join(used)] if used else []) + notes
    if parts:
        st.caption(" · ".join(parts), help=None)


def source_badge() -> None:
    """Which figures the page shows: a published revision (its label) or the live state."""
    pub = data()[2].publication
    if pub is not None:
        st.markdown(f":green-badge[:material/verified: {pub.label()}]")
    else:
        st.markdown(f":blue-badge[:material/bolt: {LIVE_LABEL}]")


def banner(bundle: Bundle) -> None:
    if bundle.is_demo:
        st.warning("**示例数据**：系统生成的演示数据，仅供体验，不代表真实进展。", icon=":material/science:")


def status_legend(targets: Targets) -> None:
    with st.expander("图例与口径：序时进度、状态颜色", icon=":material/info:"):
        chips = " ".join(
            f"<span style='background:{S.STATUS_COLORS[s]};color:white;padding:2px 8px;border-radius:10px;margin-right:4px'>{s}</span>"
            for s in S.STATUSES)
        st.markdown(chips, unsafe_allow_html=True)  # our own constant markup, no user data
        st.markdown(
            f"- **完成率** = 累计完成 ÷ 年度目标（汇总时每项封顶 100%）。\n"
            f"- **序时进度** = 截至月末应完成的比例，默认“月份 ÷ 12”；目标表“序时计划”中的指标按其计划。\n"
            f"- **差距** = 完成率 − 序时进度（个百分点）。落后不超过 {targets.lag_threshold:g} 个百分点为正常推进，"
            f"超过 {targets.lag_threshold:g} 为滞后，超过 {targets.severe_threshold:g} 为严重滞后；完成率 ≥ 100% 为已完成。\n"
            f"- **目标口径**：“约”“左右”达到目标的 {done_at(S.BASIS_ABOUT):.0%} 即为已完成；“以上”“不少于”“不低于”达到目标数为已完成；"
            "“不高于”是上限，当前水平不超过上限即为已完成（序时进度按 100% 计），超过为滞后或严重滞后。\n"
            "- 定性指标按填报单位选择的进展状态；“未启动”在一季度内视为正常推进。"
        )


def status_chip(status: str) -> str:
    """Coloured status label for st.markdown (our constant colours only)."""
    return f":{S.STATUS_MARKDOWN_COLORS.get(status, 'gray')}-background[{status}]"





class SharedFigure(go.Figure):
    """A cached figure shared read-only by every session, its dict form computed once.

    st.plotly_chart calls ``to_dict()`` on every rerun: a deep copy of the figure with every
    array base64-encoded, more than half of what a chart costs the live server per rerun
    (py-spy, bench/RESULTS.md). A shared figure answers with the dict made when it was cached.
    """

    def to_dict(self):
        return self._shared_dict  # never mutated: plotly.io.to_json and Streamlit only read it


@st.cache_resource(max_entries=512, show_spinner=False)
def _cached_figure(cache_key: tuple, _build):
    fig = _build()
    if type(fig) is go.Figure:
        shared_dict = fig.to_dict()
        fig.__class__ = SharedFigure  # same layout; only to_dict differs
        fig._shared_dict = shared_dict
    return fig


def chart(build, key: str, depends: tuple = (), all_filters: bool = True, **kwargs):
    """st.plotly_chart with our colours (theme=None) and config; every chart has a key for tests.

    ``build`` returns the figure. Building Plotly figures costs tens of milliseconds, so
    a figure is built once per (chart, store version, filters, ``depends``) and reused
    read-only on later reruns. A chart that depends on only some filters passes
    ``all_filters=False`` and names them in ``depends``, so other filters do not rebuild it.
    """
    folder, version, _ = data()
    fig = _cached_figure((key, folder, version, filters() if all_filters else None, tuple(depends)), build)
    return st.plotly_chart(fig, key=key, theme=None, config=charts.PLOTLY_CONFIG, **kwargs)


COMPACT_CSS = """
<style>
  .block-container {padding-top: 1.2rem; padding-bottom: 1rem;}
  h1 {font-size: 1.7rem !important; padding-top: 0.2rem !important;}
  [data-testid="stAlert"] [data-testid="stAlertContainer"] {padding: 0.35rem 0.8rem; min-height: 0;}
  [data-testid="stAlert"] p {font-size: 0.85rem;}
  [data-testid="stMetricValue"] {font-size: 1.6rem;}
  .status-cards {display: flex; flex-wrap: wrap; gap: 8px; margin-bottom: 8px;}
  .status-cards > div {flex: 1 1 0; min-width: 92px;}
  [data-testid="stExpandSidebarButton"]::after, [data-testid="stSidebarCollapsedControl"] button::after {
    content: "筛选"; font-size: 0.9rem; margin-left: 2px;}
  @media (max-width: 640px) {
    .block-container {padding-top: 3.6rem; padding-left: 0.8rem; padding-right: 0.8rem;}
    h1 {font-size: 1.35rem !important;}
    .status-cards > div {flex: 1 1 28%;}
  }
</style>
"""


def compact() -> None:
    """Less empty space so a 1366×768 screen shows the key figures without scrolling (constant CSS only)."""
    st.markdown(COMPACT_CSS, unsafe_allow_html=True)


def status_cards(counts: dict[str, int], total: int) -> None:
    """One coloured card per status (numbers and our constant labels only)."""
    cells = "".join(
        f"<div style='border-left:6px solid {S.STATUS_COLORS[s]};background:#f6f8fa;padding:6px 10px;border-radius:6px'>"
        f"<div style='font-size:0.85rem;color:#57606a'>{s}</div>"
        f"<div style='font-size:1.6rem;font-weight:600'>{int(counts.get(s, 0))}<span style='font-size:0.9rem'> 个</span></div></div>"
        for s in S.STATUSES)
    head = (f"<div style='background:#f6f8fa;padding:6px 10px;border-radius:6px'><div style='font-size:0.85rem;color:#57606a'>"
            f"项目总数</div><div style='font-size:1.6rem;font-weight:600'>{int(total)}<span style='font-size:0.9rem'> 个</span></div></div>")
    st.markdown(f"<div class='status-cards'>{head}{cells}</div>", unsafe_allow_html=True)


def table(frame: pd.DataFrame, key: str, percent=("完成率", "序时进度", "预计年末完成率"), points=("差距",),
          months=("月份", "数据月份"), **kwargs):
    """st.dataframe as a person reads it (lib.formatting.display_table): one decimal for %, '—' for no value."""
    shown = display_table(frame, percent=[c for c in percent if c in frame], points=[c for c in points if c in frame],
                          months=[c for c in months if c in frame])
    config = {"差距": st.column_config.Column("差距（个百分点）", help="完成率 − 序时进度")} if "差距" in frame else {}
    if "进展状态" in frame:  # the unit's own choice, beside the status the system computes
        config["进展状态"] = st.column_config.Column("单位自报状态", help="填报单位在报表中选择的进展状态；"
                                                                   "“状态”列由系统按完成率与序时进度计算")
    config.update(kwargs.pop("column_config", {}))
    return st.dataframe(shown, hide_index=True, key=key, column_config=config, placeholder=MISSING, **kwargs)


# Upload findings coloured by level.
FINDING_COLORS = {S.LEVEL_ERROR: "#ffd7d5", S.LEVEL_WARNING: "#fff1c2"}


def url_pick(widget_key: str, param: str, options: list) -> None:
    """Seed a page widget from the URL once (a shared link reproduces it)."""
    raw = st.query_params.get(param)
    if widget_key not in st.session_state and raw is not None:
        for option in options:
            if str(option) == raw:
                st.session_state[widget_key] = option


def url_keep(param: str, value) -> None:
    """Mirror a page widget's value in the URL (None removes it)."""
    if value is None:
        if param in st.query_params:
            del st.query_params[param]
    elif st.query_params.get(param) != str(value):
        st.query_params[param] = str(value)


def data() -> tuple[str, str, Bundle]:
    """(folder, version, bundle) of this rerun's frame."""
    fr = st.session_state["_current_frame"]
    return fr.folder, fr.version, fr.bundle


def view(month: int | None = None) -> MonthView:
    folder, version, _ = data()
    return month_view(folder, version, month or filters().month)


@st.cache_data(max_entries=64, show_spinner=False)
def template_bytes(folder: str, targets_version: str, unit: str | None) -> bytes:
    """One unit's template, or all of them zipped (unit=None). Keyed on the target table version."""
    from lib.template import build_template, templates_zip

    targets = get_store(folder).targets()
    return templates_zip(targets) if unit is None else build_template(targets, unit)


# --- 问题督办台账 -----------------------------------------------------------------------------------

@st.cache_resource(max_entries=8, show_spinner=False)
def ledger_sync(folder: str, version: str) -> ledger.SyncResult:
    """Candidates from new submissions, once per store version (any upload, restore or rebuild moves it)."""
    s = get_store(folder)
    return ledger.sync(s, s.targets())


@st.cache_resource(max_entries=8, show_spinner=False)
def _ledger_items(folder: str, version: str, ledger_version: str, today: str) -> pd.DataFrame:
    return ledger.items(get_store(folder), load_bundle(folder, version).targets, date.fromisoformat(today))


def ledger_items() -> pd.DataFrame:
    """Every ledger item (lib.ledger.items) after syncing new submissions; read once per ledger change and day."""
    current_frame = st.session_state["_current_frame"]  # the ledger is live whatever the 实时/已发布 switch says
    folder, version = current_frame.folder, current_frame.live_version or current_frame.version
    ledger_sync(folder, version)
    return _ledger_items(folder, version, ledger.version(get_store(folder)), date.today().isoformat())


def ledger_cards(counts: dict[str, int]) -> None:
    """The ledger's counts as cards (numbers and constant labels only); 逾期 in the overdue colour."""
    labels = [(ledger.CANDIDATE, "待确认", ledger.STATE_COLORS[ledger.CANDIDATE]),
              ("在办", "在办（待处理＋协调中）", ledger.STATE_COLORS[ledger.TODO]),
              ("逾期", "逾期未办结", ledger.OVERDUE_COLOR), ("本月办结", "本月办结", ledger.STATE_COLORS[ledger.DONE])]
    cells = "".join(
        f"<div style='flex:1;min-width:120px;border-left:6px solid {color};background:#f6f8fa;padding:6px 10px;"
        f"border-radius:6px'><div style='font-size:0.85rem;color:#57606a'>{label}</div>"
        f"<div style='font-size:1.5rem;font-weight:600;color:{color if key == '逾期' and counts[key] else 'inherit'}'>"
        f"{int(counts[key])}<span style='font-size:0.9rem'> 项</span></div></div>" for key, label, color in labels)
    st.markdown(f"<div style='display:flex;flex-wrap:wrap;gap:8px;margin-bottom:8px'>{cells}</div>", unsafe_allow_html=True)


LEDGER_COLUMNS = ["编号", "状态", "逾期", "项目", "指标编号", "县市区", "问题描述", "责任单位", "提出日期", "办结时限",
                  "报送次数", "最近进展"]


def ledger_table(items: pd.DataFrame):
    """The ledger as shown on a page: overdue rows highlighted (a Styler for st.dataframe), text never None."""
    shown = pd.DataFrame({
        "编号": items["编号"], "状态": items["状态"] + items["申请办结"].map(lambda w: "（申请办结）" if w else ""),
        "逾期": items["逾期天数"].map(lambda d: f"{d} 天" if d else ""),
        "项目": items["项目序号"].astype(str) + ". " + items["项目名称"], "指标编号": items["指标编号"],
        "县市区": items["县市区"], "问题描述": items["问题描述"], "责任单位": items["责任单位"],
        "提出日期": items["提出日期"], "办结时限": items["办结时限"], "报送次数": items["报送次数"],
        "最近进展": items["最近进展"]}, columns=LEDGER_COLUMNS).reset_index(drop=True)
    overdue = items["逾期"].to_numpy()

    def style(row):
        if overdue[row.name]:
            return [f"background-color:{ledger.OVERDUE_BACKGROUND};color:{ledger.OVERDUE_COLOR}"] * len(row)
        return [""] * len(row)
    return shown.style.apply(style, axis=1)


LEDGER_COLUMN_CONFIG = {
    "编号": st.column_config.NumberColumn("编号", width="small", format="%d"),
    "问题描述": st.column_config.TextColumn("问题描述", width="large"),
    "最近进展": st.column_config.TextColumn("最近进展", width="medium"),
    "报送次数": st.column_config.NumberColumn("报送次数", width="small", help="单位在不同月份报送同一问题的次数"),
}


def logged_export(who: str, file_name: str, n_rows: int, build):
    """A deferred download that records who exported what when it is clicked."""
    def run() -> bytes:
        store().log(who, "导出", f"{file_name}（{n_rows} 行）")
        return build()
    return run
