"""Who may do what: navigation per role, sign-in (password or OIDC), server-side checks, the demo-mode banner
and audited exports. Anything about access that cannot be read refuses everyone (``refuse``)."""

from __future__ import annotations

import logging
import re

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from lib import auth
from ui.data import once_per_rerun, shared, store, store_versions, stored_targets, target_years

logger = logging.getLogger(__name__)


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


_NAV_PAGES: dict[tuple, list] = {}  # (app folder, signed in?, paths) -> st.Page objects, made once per process


def nav_pages(user: auth.User | None) -> list:
    """st.Page objects for the user's navigation (every page, hidden, before sign-in), copied once per session and
    set of pages from objects made once per process: st.Page resolves its file on the disk each time it is made (a
    realpath and a stat per page, ~3 ms of every new session's first run for twelve pages, py-spy,
    bench/RESULTS.md). Each session gets its own copies: st.navigation marks the page to run on the object."""
    paths = tuple(path for path, _, _, role in PAGES if user is None or user.can(role))
    made = st.session_state.get("_nav_pages")
    if made is None or made[0] != (user is None, paths):
        ctx = get_script_run_ctx()
        key = (str(ctx.pages_manager.main_script_parent) if ctx else None, user is None, paths)
        pages = _NAV_PAGES.get(key)
        if pages is None:
            pages = _NAV_PAGES.setdefault(key, [
                st.Page(path, title=title, icon=icon if user is not None else None, default=path == DEFAULT_PAGE)
                for path, title, icon, _ in PAGES if path in paths])
        made = ((user is None, paths), [_own_copy(page) for page in pages])
        st.session_state["_nav_pages"] = made
    return made[1]


def _own_copy(page):
    """A session's own st.Page: the shared one's attributes in a new object (what copy.copy makes, without its
    reduce protocol: 2 % of a new session's first run, py-spy)."""
    mine = object.__new__(type(page))
    mine.__dict__.update(page.__dict__)
    return mine


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

@shared(4)
def _reporting_units(folder: str, store_version: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(unit for year in target_years(folder, store_version)
                               for unit in stored_targets(folder, store_version, year).reporting_units))


def reporting_units() -> tuple[str, ...]:
    """The reporting units of every year's target table (what a unit user may be bound to: a unit of an earlier
    year still answers for its reports), re-read when the store changes; the tables are the bundles' own
    (``ui.data.stored_targets``: parsed once)."""
    return _reporting_units(str(store().folder), store_versions()[0])


def auth_config() -> auth.AuthConfig:
    """The validated [auth] configuration, read once per rerun (a changed secrets file takes effect on the next).
    Raises auth.AuthConfigError when it exists but cannot be used."""
    return once_per_rerun("auth_config", _read_auth_config)


def _read_auth_config() -> auth.AuthConfig:
    """Streamlit raises the same error for a missing secrets file and for one that does not parse, so on an
    error the configured files are looked at here: only when none of them exists are there "no users"."""
    try:
        secrets = st.secrets.to_dict()
    except Exception as exc:
        from streamlit import config as st_config

        if auth.check_secrets_files(st_config.get_option("secrets.files")):  # raises naming the line
            raise auth.AuthConfigError(f"secrets 无法读取：{exc}") from exc
        logger.debug("no secrets file: no users configured", exc_info=True)  # every rerun in demo mode
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


def logged_export(who: str, file_name: str, n_rows: int, build):
    """A deferred download that records who exported what when it is clicked."""
    def run() -> bytes:
        store().log(who, "导出", f"{file_name}（{n_rows} 行）")
        return build()
    return run
