"""Roles, sign-in, rate limiting, fail-closed configuration and the audit log."""

from __future__ import annotations

import io
import tomllib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lib import auth
from lib.store import Store
from tests.factory import filled
from tests.test_pages import APP

PASSWORD = "correct-horse-9"
HASH = auth.hash_password(PASSWORD)


def secrets(**users) -> dict:
    return {"auth": {"demo_mode": False, "users": {login: {"name": name, "role": role, "password_hash": HASH}
                                                   for login, (name, role) in users.items()}}}


USERS = secrets(leader=("王局长", auth.VIEWER), clerk=("李科员", auth.ANALYST), boss=("赵主任", auth.ADMIN))


# --- lib/auth -------------------------------------------------------------------------------

def test_password_hash_is_salted_bcrypt():
    assert HASH.startswith("$2b$") and PASSWORD not in HASH
    assert auth.hash_password(PASSWORD) != HASH  # a new salt each time
    assert auth.verify_password(PASSWORD, HASH)
    assert not auth.verify_password("wrong-password", HASH)
    assert not auth.verify_password(PASSWORD, "not-a-hash")
    with pytest.raises(ValueError):
        auth.hash_password("short")


def test_parse_config():
    config = auth.parse_config(USERS)
    assert set(config.users) == {"leader", "clerk", "boss"} and not config.open_demo and not config.closed
    assert auth.parse_config({}).open_demo
    assert auth.parse_config({"auth": {"demo_mode": False}}).closed
    with pytest.raises(auth.AuthConfigError, match="角色"):
        auth.parse_config({"auth": {"users": {"x": {"role": "god", "password_hash": HASH}}}})
    with pytest.raises(auth.AuthConfigError, match="password_hash"):
        auth.parse_config({"auth": {"users": {"x": {"role": "viewer", "password_hash": "plain"}}}})
    oidc = auth.parse_config({"auth": {"client_id": "c", "oidc_roles": {"Leader@Example.gov.cn": "viewer"}}})
    assert oidc.oidc and not oidc.open_demo
    assert auth.oidc_user(oidc, "leader@example.gov.cn", "王").role == auth.VIEWER
    assert auth.oidc_user(oidc, "someone@else.cn", "x") is None


def test_roles_rank():
    viewer, analyst, admin = (auth.User("a", "A", r) for r in (auth.VIEWER, auth.ANALYST, auth.ADMIN))
    assert viewer.can(auth.VIEWER) and not viewer.can(auth.ANALYST)
    assert analyst.can(auth.ANALYST) and not analyst.can(auth.ADMIN)
    assert admin.can(auth.VIEWER) and admin.can(auth.ADMIN)


def test_rate_limit_per_user_name():
    now = [0.0]
    limiter = auth.RateLimiter(max_failures=5, window=600, clock=lambda: now[0])
    config = auth.parse_config(USERS)
    for _ in range(5):
        assert auth.authenticate(config, limiter, "clerk", "nope")[0] is None
    user, message = auth.authenticate(config, limiter, "clerk", PASSWORD)
    assert user is None and "次数过多" in message  # locked, even with the right password
    assert auth.authenticate(config, limiter, "boss", PASSWORD)[0].role == auth.ADMIN  # other names unaffected
    now[0] = 601
    assert auth.authenticate(config, limiter, "clerk", PASSWORD)[0].name == "李科员"
    assert limiter.locked_for("clerk") == 0


def test_add_user_cli_writes_only_a_hash(tmp_path, monkeypatch):
    path = tmp_path / ".streamlit" / "secrets.toml"
    monkeypatch.setattr("sys.stdin", io.StringIO("first-password-1\n"))
    assert auth.main(["add-user", "zhang", "--name", "张三", "--role", "analyst", "--secrets", str(path),
                      "--password-stdin"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("second-password-2\n"))
    auth.main(["add-user", "zhang", "--name", "张三", "--role", "admin", "--secrets", str(path), "--password-stdin"])
    monkeypatch.setattr("sys.stdin", io.StringIO("third-password-3\n"))
    auth.main(["add-user", "li", "--name", "李四", "--role", "viewer", "--secrets", str(path), "--password-stdin"])
    text = path.read_text(encoding="utf-8")
    assert "password" not in text.replace("password_hash", "") and "second-password-2" not in text
    config = auth.parse_config(tomllib.loads(text))
    assert config.users["zhang"][1] == auth.ADMIN and text.count("[auth.users.zhang]") == 1
    assert not config.demo_mode
    limiter = auth.RateLimiter()
    assert auth.authenticate(config, limiter, "zhang", "second-password-2")[0].role == auth.ADMIN
    assert auth.authenticate(config, limiter, "li", "third-password-3")[0].role == auth.VIEWER


def test_example_secrets_file_parses():
    example = Path(APP).parent / ".streamlit" / "secrets.toml.example"
    config = auth.parse_config(tomllib.loads(example.read_text(encoding="utf-8")))
    assert config.users["admin"][1] == auth.ADMIN and not config.demo_mode


# --- the app ----------------------------------------------------------------------------------

@pytest.fixture()
def app(demo_copy):
    import ui
    ui.rate_limiter.clear()  # the limiter lives for the server process: start each test with a fresh one

    def make(secret_values: dict | None = None) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=120)
        for key, value in (secret_values or {}).items():
            at.secrets[key] = value
        return at
    return make


def sign_in(at: AppTest, login: str, password: str = PASSWORD) -> AppTest:
    at.run()
    at.text_input(key="auth_login").set_value(login)
    at.text_input(key="auth_password").set_value(password)
    at.button[0].click().run()  # the form's submit button
    return at


def nav_pages(at: AppTest) -> set[str]:
    pages = set()
    for path in ("pages/overview.py", "pages/upload.py", "pages/targets.py", "pages/admin.py", "pages/export.py"):
        try:
            at._resolve_page_hash(str(Path(APP).parent / path))
            pages.add(path)
        except ValueError:
            pass
    return pages


def test_sign_in_required_when_users_are_configured(app):
    at = app(USERS)
    at.run()
    assert not at.exception
    assert at.title[0].value.endswith("登录") and not at.get("plotly_chart")
    assert at.text_input(key="auth_password").proto.type == 1  # a password field


@pytest.mark.parametrize("login, present, absent", [
    ("leader", {"pages/overview.py", "pages/export.py"}, {"pages/upload.py", "pages/targets.py", "pages/admin.py"}),
    ("clerk", {"pages/overview.py", "pages/upload.py"}, {"pages/targets.py", "pages/admin.py"}),
    ("boss", {"pages/overview.py", "pages/upload.py", "pages/targets.py", "pages/admin.py"}, set()),
])
def test_navigation_per_role(app, login, present, absent):
    at = sign_in(app(USERS), login)
    assert not at.exception
    assert at.title[0].value.startswith("总览")
    pages = nav_pages(at)
    assert present <= pages and not (absent & pages)
    if absent:
        with pytest.raises(ValueError):
            at.switch_page(sorted(absent)[0])


@pytest.mark.parametrize("page", ["pages/upload.py", "pages/targets.py", "pages/admin.py"])
def test_actions_recheck_the_role_server_side(demo_copy, page):
    """A viewer whose request reaches a page's code anyway (run directly, without app.py's navigation) is refused."""
    at = AppTest.from_file(str(Path(APP).parent / page), default_timeout=120)
    at.secrets["auth"] = USERS["auth"]
    at.session_state["auth_user"] = auth.User("leader", "王局长", auth.VIEWER)
    at.run()
    assert not at.exception
    assert any("无权执行此操作" in e.value for e in at.error)
    assert not at.file_uploader and not [b for b in at.button if b.key in ("targets_regenerate", "upload_accept")]


def test_wrong_password_and_rate_limit_in_the_form(app, demo_copy):
    at = app(USERS)
    for _ in range(5):
        sign_in(at, "clerk", "wrong-password")
        assert any("用户名或密码错误" in e.value for e in at.error)
    sign_in(at, "clerk", PASSWORD)
    assert any("次数过多" in e.value for e in at.error)
    log = Store(demo_copy).audit_log()
    assert (log["操作"] == "登录失败").sum() >= 6


def test_fail_closed_without_users_when_demo_is_off(app):
    at = app({"auth": {"demo_mode": False}})
    at.run()
    assert any("拒绝访问" in e.value for e in at.error)
    assert not at.title and not at.get("plotly_chart")


def test_demo_mode_banner_without_users(app):
    at = app()
    at.run()
    assert any("演示模式" in i.body for i in at.info)
    assert "pages/admin.py" in nav_pages(at)


def test_bad_configuration_fails_closed(app):
    at = app({"auth": {"users": {"x": {"role": "god", "password_hash": HASH}}}})
    at.run()
    assert any("登录配置有误" in e.value for e in at.error) and not at.title


def test_uploader_is_the_signed_in_user_and_actions_are_audited(app, demo_copy, targets):
    at = sign_in(app(USERS), "clerk")
    at.switch_page("pages/upload.py").run()
    at.file_uploader(key="upload_files").set_value(("体育局.xlsx", filled(targets, "市体育局", month="2024-06", share=0.6,
                                                                           problems="无", plan="继续"),
                                                    "application/octet-stream"))
    at.run()
    at.button(key="upload_accept").click().run()
    assert not at.exception
    store = Store(demo_copy)
    newest = store.submissions().iloc[0]
    assert newest["uploader"] == "李科员"
    log = store.audit_log()
    assert {"登录", "上传接收"} <= set(log["操作"])
    assert log.loc[log["操作"] == "登录", "操作人"].iloc[0] == "李科员"


def test_admin_actions_are_audited(app, demo_copy, targets):
    at = sign_in(app(USERS), "boss")
    at.switch_page("pages/targets.py").run()
    at.button(key="targets_regenerate").click().run()
    assert not at.exception
    assert len(list((demo_copy / "templates").glob("*.xlsx"))) == len(targets.reporting_units)
    store = Store(demo_copy)
    assert store.replace_targets(b"not a workbook", who="赵主任")  # refused, with problems
    assert store.replace_targets((Path(APP).parent / "data" / "targets.xlsx").read_bytes(), who="赵主任") == []
    assert list((demo_copy / "targets-history").glob("*.xlsx"))
    import ui
    exported = ui.logged_export("赵主任", "进展明细.csv", 3, lambda: b"x")()
    assert exported == b"x"
    log = store.audit_log()
    assert {"重新生成模板", "目标表被拒", "更换目标表", "导出", "登录"} <= set(log["操作"])
    at.switch_page("pages/admin.py").run()
    assert not at.exception
    audit = next(d.value for d in at.dataframe if "操作" in d.value.columns)
    assert "重新生成模板" in set(audit["操作"])
