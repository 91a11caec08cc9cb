"""Roles, sign-in, rate limiting, fail-closed configuration and the audit log."""

from __future__ import annotations

import io
import re
import tomllib
from pathlib import Path

import bcrypt
import pytest
from argon2 import PasswordHasher
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from lib import auth
from lib.store import Store
from tests.factory import filled
from tests.test_pages import APP, upload

PASSWORD = "correct-horse-9"
# The test users' hash: argon2id at the lowest cost argon2 allows (~0.2 ms to check), read by the same
# verify_password as any stored hash (its cost is read from the hash itself). The app's own hash_password (t=3, 64 MiB,
# p=4: ~0.33 CPU s a hash or check) is tested below; at that cost the ~30 sign-ins and rate-limit checks of this
# file spent ~10 CPU s proving nothing about sign-in that this hash does not.
HASH = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)


def secrets(**users) -> dict:
    """An [auth] section: login=(name, role) or (name, "unit", bound unit)."""
    return {"auth": {"demo_mode": False, "users": {
        login: {"name": spec[0], "role": spec[1], "password_hash": HASH, **({"unit": spec[2]} if len(spec) > 2 else {})}
        for login, spec in users.items()}}}


USERS = secrets(leader=("王局长", auth.VIEWER), clerk=("李科员", auth.ANALYST), boss=("赵主任", auth.ADMIN),
                mz=("民政局填报员", auth.UNIT, "市民政局"))
LOGIN_OF = {auth.VIEWER: "leader", auth.UNIT: "mz", auth.ANALYST: "clerk", auth.ADMIN: "boss"}


# --- lib/auth -------------------------------------------------------------------------------

def test_new_hashes_are_salted_argon2_and_old_bcrypt_hashes_still_verify():
    made = auth.hash_password(PASSWORD)
    assert made.startswith("$argon2id$v=19$m=65536,t=3,p=4$") and PASSWORD not in made  # RFC 9106's low-memory profile
    assert auth.hash_password(PASSWORD) != made  # a new salt each time
    assert auth.verify_password(PASSWORD, made)
    assert not auth.verify_password("wrong-password", made)
    assert auth.verify_password(PASSWORD, HASH) and not auth.verify_password("wrong-password", HASH)  # the users' below
    assert not auth.verify_password(PASSWORD, "not-a-hash")
    old = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()  # written by earlier versions
    assert auth.verify_password(PASSWORD, old) and not auth.verify_password("wrong-password", old)
    assert auth.parse_config(secrets_with_hash(old)).users["x"].password_hash == old
    with pytest.raises(ValueError, match="至少 8 位"):
        auth.hash_password("short")


def test_unknown_names_are_checked_against_a_hash_as_costly_as_a_real_one():
    # The dummy hash is a constant: it must have the hasher's own parameters, or an unknown login name would answer
    # faster (or slower) than a known name with a wrong password.
    assert not auth._ARGON2.check_needs_rehash(auth._DUMMY_HASH)
    assert auth.verify_password("not-a-password", auth._DUMMY_HASH)
    assert not auth.verify_password("not-a-password!", auth._DUMMY_HASH)


def test_long_chinese_passphrase():
    passphrase = "春风又绿江南岸明月何时照我还两岸猿声啼不住轻舟已过万重山好"  # 29 characters, 87 bytes > bcrypt's 72
    assert len(passphrase.encode()) > 72
    hashed = auth.hash_password(passphrase)
    assert auth.verify_password(passphrase, hashed)
    assert not auth.verify_password(passphrase[:24], hashed)  # no silent truncation
    with pytest.raises(ValueError, match="密码过长"):
        auth.hash_password("长" * 400)


def secrets_with_hash(password_hash: str) -> dict:
    return {"auth": {"users": {"x": {"role": "viewer", "password_hash": password_hash}}}}


def test_parse_config():
    config = auth.parse_config(USERS)
    assert set(config.users) == {"leader", "clerk", "boss", "mz"} and not config.open_demo and not config.closed
    assert config.users["mz"].unit == "市民政局" and config.bound_units() == {"市民政局"}
    assert auth.parse_config({}).open_demo  # no [auth] at all: the explicit demo mode
    assert auth.parse_config({"auth": {}}).closed  # an [auth] section: demo only when demo_mode = true
    assert auth.parse_config({"auth": {"demo_mode": True}}).open_demo
    oidc = auth.parse_config({"auth": {**OIDC, "oidc_roles": {"Leader@Example.gov.cn": "viewer",
                                                              "jyj@example.gov.cn": {"role": "unit", "unit": "市教育局"}}}},
                             units=["市教育局"])
    assert oidc.oidc and not oidc.open_demo
    assert auth.oidc_user(oidc, "leader@example.gov.cn", "王").role == auth.VIEWER
    assert auth.oidc_user(oidc, "JYJ@example.gov.cn", "刘") == auth.User("jyj@example.gov.cn", "刘", auth.UNIT, "市教育局")
    assert auth.oidc_user(oidc, "someone@else.cn", "x") is None


OIDC = {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "s" * 32, "client_id": "dashboard",
        "client_secret": "c", "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration"}


@pytest.mark.parametrize("section, named", [
    ({"users": {"x": {"role": "god", "password_hash": HASH}}}, "role = 'god'"),
    ({"users": {"x": {"role": "viewer", "password_hash": "plain"}}}, "password_hash"),
    ({"users": {"x": {"role": "viewer"}}}, "password_hash"),
    ({"demo_mode": "false"}, "demo_mode"),  # a string is not false: it must not open the app
    ({"demo_mod": False}, "demo_mod"),  # a typo must not fall back to the demo mode
    ({"users": "admin"}, "users"),
    ({"users": {"x": "secret-value"}}, '[auth.users.x]'),
    ({"users": {"zhang": {"san": {"role": "viewer", "password_hash": HASH}}}}, '"zhang.san"'),  # unquoted dotted key
    ({"users": {"x": {"role": "viewer", "password_hash": HASH, "passwd": "1"}}}, "passwd"),
    ({"users": {"x": {"role": "unit", "password_hash": HASH}}}, "unit ="),
    ({"users": {"x": {"role": "unit", "unit": "市外星局", "password_hash": HASH}}}, "不是目标表中的填报单位"),
    ({"users": {"x": {"role": "viewer", "unit": "市教育局", "password_hash": HASH}}}, "只有 unit"),
    ({"users": {" x": {"role": "viewer", "password_hash": HASH}}}, "首尾不能有空格"),
    ({"users": {"x": {"role": "viewer", "name": "李\u0007四", "password_hash": HASH}}}, "控制字符"),
    ({"oidc_roles": {"a@b.cn": "unit"}}, "unit ="),
    ({"oidc_roles": {"not-an-email": "viewer"}}, "邮箱"),
    ({"client_id": "c"}, "redirect_uri"),  # OIDC half configured
    ({"google": {"client_id": "c"}}, "google"),  # named providers are not used by the app
])
def test_invalid_auth_section_names_the_key(section, named):
    with pytest.raises(auth.AuthConfigError) as error:
        auth.parse_config({"auth": section}, units=["市教育局", "市民政局"])
    assert named in str(error.value)
    assert "secret-value" not in str(error.value) and "$argon2" not in str(error.value)  # no secret echoed


def test_unparsable_secrets_file_names_the_line(tmp_path):
    path = tmp_path / "secrets.toml"
    path.write_text('[auth]\ndemo_mode = false\n\n[auth.users.li]\nname = "李\\四"\nrole = "viewer"\n', encoding="utf-8")
    with pytest.raises(auth.AuthConfigError, match=r"第 5 行第 \d+ 列.*反斜杠"):
        auth.read_secrets_file(path)
    with pytest.raises(auth.AuthConfigError, match="第 5 行"):
        auth.check_secrets_files([str(tmp_path / "missing.toml"), str(path)])
    assert auth.check_secrets_files([str(tmp_path / "missing.toml")]) is False  # only a missing file means no users
    path.write_bytes(b"[auth]\nname = \"\xc0\xc1\"\n")
    with pytest.raises(auth.AuthConfigError, match="UTF-8"):
        auth.read_secrets_file(path)


def test_roles_rank_and_units():
    viewer, unit, analyst, admin = (auth.User("a", "A", r, "市教育局" if r == auth.UNIT else None)
                                    for r in (auth.VIEWER, auth.UNIT, auth.ANALYST, auth.ADMIN))
    assert viewer.can(auth.VIEWER) and not viewer.can(auth.UNIT)
    assert unit.can(auth.VIEWER) and unit.can(auth.UNIT) and not unit.can(auth.ANALYST)
    assert analyst.can(auth.UNIT) and analyst.can(auth.ANALYST) and not analyst.can(auth.ADMIN)
    assert admin.can(auth.VIEWER) and admin.can(auth.ADMIN)
    assert unit.may_act_for("市教育局") and not unit.may_act_for("市民政局") and not unit.may_act_for(None)
    assert not viewer.may_act_for("市教育局") and analyst.may_act_for("市民政局") and admin.may_act_for("市民政局")
    assert not auth.User("a", "A", auth.UNIT, None).may_act_for(None)
    assert unit.label == "填报单位·市教育局" and auth.ROLE_NAMES[auth.UNIT] == "填报单位"


def test_rate_limit_per_address_and_user_name():
    now = [0.0]
    limiter = auth.RateLimiter(max_failures=5, window=600, clock=lambda: now[0])
    config = auth.parse_config(USERS)
    for _ in range(5):
        assert auth.authenticate(config, limiter, "boss", "nope", "10.0.0.66")[0] is None
    user, message = auth.authenticate(config, limiter, "boss", PASSWORD, "10.0.0.66")
    assert user is None and "次数过多" in message  # locked for that address, even with the right password
    assert "请 10 分钟后再试" in message  # exactly 600 s left: ten minutes, not eleven
    # ... but not for the administrator at another address: one address cannot lock an account out.
    assert auth.authenticate(config, limiter, "boss", PASSWORD, "10.0.0.5")[0].role == auth.ADMIN
    assert auth.authenticate(config, limiter, "clerk", PASSWORD, "10.0.0.66")[0].name == "李科员"
    now[0] = 59  # 541 s of the lock left: the message rounds up to whole minutes
    user, message = auth.authenticate(config, limiter, "boss", PASSWORD, "10.0.0.66")
    assert user is None and "请 10 分钟后再试" in message
    now[0] = 601
    assert auth.authenticate(config, limiter, "boss", PASSWORD, "10.0.0.66")[0].name == "赵主任"
    assert limiter.locked_for("boss", "10.0.0.66") == 0


def test_rate_limit_one_address_cannot_try_many_names():
    now = [0.0]
    limiter = auth.RateLimiter(max_failures=5, max_address_failures=20, window=600, clock=lambda: now[0])
    for i in range(20):
        limiter.failure(f"name{i}", "10.0.0.66")
    assert limiter.locked_for("anyone-else", "10.0.0.66") > 0
    assert limiter.locked_for("anyone-else", "10.0.0.67") == 0
    now[0] = 601
    assert limiter.locked_for("anyone-else", "10.0.0.66") == 0


def test_rate_limiter_is_bounded_and_expires():
    now = [0.0]
    limiter = auth.RateLimiter(window=600, max_entries=100, clock=lambda: now[0])
    for i in range(5000):  # an attacker inventing names from many addresses
        limiter.failure(f"invented-{i}", f"10.1.{i // 250}.{i % 250}")
    assert len(limiter) == 100  # the cap, and no fewer: a failure is forgotten only when it must be
    limiter.failure("x" * 1_000_000, "10.2.0.1")
    assert max(len(key[-1]) for key in limiter._failures) <= auth.MAX_LOGIN_CHARS
    now[0] = 10_000
    limiter.failure("x", "10.9.9.9")  # anything old has expired and is dropped on the next failure
    assert len(limiter) == 2
    now[0] = 10_600  # exactly one window later: that failure still counts (locked_for counts it), so it is kept
    limiter.failure("y", "10.9.9.8")
    assert len(limiter) == 4


def test_add_user_cli_writes_only_a_hash(tmp_path, monkeypatch):
    path = tmp_path / ".streamlit" / "secrets.toml"

    def add(*args, password):
        monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
        return auth.main(["add-user", *args, "--secrets", str(path), "--password-stdin"])

    assert add("zhang.san", "--name", "张三", "--role", "analyst", password="first-password-1") == 0
    add("zhang.san", "--name", "张三", "--role", "admin", password="second-password-2")
    add("li si", "--name", "李\\四 \"老李\"", "--role", "viewer", password="春风又绿江南岸明月何时照我还两岸猿声啼不住轻舟已过万重山")
    add("jyj", "--name", "教育局填报员", "--role", "unit", "--unit", "市教育局", password="third-password-3")
    text = path.read_text(encoding="utf-8")
    assert "password" not in text.replace("password_hash", "") and "second-password-2" not in text
    assert '[auth.users."zhang.san"]' in text and text.count("zhang.san") == 1
    assert (path.stat().st_mode & 0o077) == 0  # readable by the owner only
    config = auth.parse_config(tomllib.loads(text))
    assert config.users["zhang.san"].role == auth.ADMIN and not config.demo_mode
    assert config.users["li si"].name == "李\\四 \"老李\""
    assert config.users["jyj"] == auth.Account("教育局填报员", auth.UNIT, config.users["jyj"].password_hash, "市教育局")
    limiter = auth.RateLimiter()
    assert auth.authenticate(config, limiter, "zhang.san", "second-password-2")[0].role == auth.ADMIN
    assert auth.authenticate(config, limiter, "li si", "春风又绿江南岸明月何时照我还两岸猿声啼不住轻舟已过万重山")[0].role == auth.VIEWER
    assert auth.authenticate(config, limiter, "jyj", "third-password-3")[0] == auth.User("jyj", "教育局填报员", auth.UNIT, "市教育局")


@pytest.mark.parametrize("args, message", [
    (["--role", "unit"], "--unit"),
    (["--role", "unit", "--unit", "市外星局"], "不是目标表中的填报单位"),
    (["--role", "viewer", "--unit", "市教育局"], "只有 unit"),
    (["--role", "viewer", "--name", "李\u0007四"], "控制字符"),
])
def test_add_user_refuses(tmp_path, monkeypatch, capsys, args, message):
    path = tmp_path / "secrets.toml"
    path.write_text("# 督查室登录配置\n[auth]\ndemo_mode = false\n", encoding="utf-8")
    monkeypatch.setattr("sys.stdin", io.StringIO("a-good-password\n"))
    argv = ["add-user", "x", "--name", "某人", *args, "--secrets", str(path), "--password-stdin"]
    with pytest.raises(SystemExit):
        auth.main(argv)
    assert message in capsys.readouterr().err
    assert path.read_text(encoding="utf-8") == "# 督查室登录配置\n[auth]\ndemo_mode = false\n"  # untouched


def test_add_user_refuses_to_edit_a_broken_file(tmp_path, monkeypatch, capsys):
    path = tmp_path / "secrets.toml"
    broken = '[auth]\nname = "李\\四"\ndemo_mode = false\n'
    path.write_text(broken, encoding="utf-8")
    monkeypatch.setattr("sys.stdin", io.StringIO("a-good-password\n"))
    with pytest.raises(SystemExit):
        auth.main(["add-user", "x", "--name", "某人", "--role", "viewer", "--secrets", str(path), "--password-stdin"])
    assert "第 2 行" in capsys.readouterr().err and path.read_text(encoding="utf-8") == broken


def test_add_user_keeps_comments_and_other_settings(tmp_path):
    path = tmp_path / "secrets.toml"
    path.write_text("# 督查室\n[auth]\ndemo_mode = false  # 生产\n\n[auth.users.old]  # 老用户\nname = \"老王\"\n"
                    f"role = \"viewer\"\npassword_hash = \"{HASH}\"\n\n[other]\nkey = 1\n", encoding="utf-8")
    auth.write_user(path, "new", "新人", auth.ANALYST, HASH)
    text = path.read_text(encoding="utf-8")
    assert "# 督查室" in text and "# 生产" in text and "# 老用户" in text and "[other]" in text
    assert set(auth.parse_config(tomllib.loads(text)).users) == {"old", "new"}


LOGINS = st.text(st.characters(codec="utf-8"), min_size=1, max_size=20) | st.sampled_from(
    ["zhang.san", "li si", "a.b.c", "张 三", "x\\y", 'q"uote', "[auth]", "a=b", "#c", "demo"])
NAMES = st.text(st.characters(codec="utf-8"), min_size=1, max_size=20)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(users=st.dictionaries(LOGINS, st.tuples(NAMES, st.sampled_from(sorted(auth.RANK))), min_size=1, max_size=4))
def test_add_user_then_read_gives_back_the_same_users(tmp_path_factory, users):
    """Property: for any Unicode names and logins (dots, spaces, quotes, backslashes), add-user either refuses
    and leaves the file as it was, or the file parses and gives back exactly the users written."""
    path = tmp_path_factory.mktemp("secrets") / "secrets.toml"
    expected = {}
    for login, (name, role) in users.items():
        unit = "市教育局" if role == auth.UNIT else None
        before = path.read_bytes() if path.exists() else None
        try:
            auth.write_user(path, login, name, role, HASH, unit, units=["市教育局"])
        except auth.AuthConfigError:
            assert auth.text_problem(login, "登录名", 64) or auth.text_problem(name, "姓名", 64)
            assert (path.read_bytes() if path.exists() else None) == before
            continue
        expected[login] = auth.Account(name, role, HASH, unit)
    if expected:
        config = auth.parse_config(auth.read_secrets_file(path), units=["市教育局"])
        assert config.users == expected


def test_streamlit_auth_extra_is_pinned_and_installed():
    """st.login needs Authlib: requirements.txt pins streamlit with its auth extra."""
    from streamlit.auth_util import is_authlib_installed

    requirements = (Path(APP).parent / "requirements.txt").read_text(encoding="utf-8")
    assert re.search(r"^streamlit\[auth\]==", requirements, re.M) and re.search(r"^Authlib==", requirements, re.M)
    assert is_authlib_installed()


def test_example_secrets_file_parses():
    example = Path(APP).parent / ".streamlit" / "secrets.toml.example"
    config = auth.parse_config(tomllib.loads(example.read_text(encoding="utf-8")), units=["市教育局"])
    assert config.users["admin"].role == auth.ADMIN and config.users["jyj"].unit == "市教育局" and not config.demo_mode


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
    import ui
    pages = set()
    for path, *_ in ui.PAGES:
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
    ("mz", {"pages/overview.py", "pages/export.py", "pages/upload.py"}, {"pages/targets.py", "pages/admin.py"}),
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


def _below_the_page():
    """(page, role) for every page and every role below the least role that page needs."""
    from ui.access import PAGES
    return [(path, role) for path, _title, _icon, least in PAGES
            for role in (auth.VIEWER, auth.UNIT, auth.ANALYST) if auth.RANK[role] < auth.RANK[least]]


@pytest.mark.parametrize("page, role", _below_the_page())
def test_actions_recheck_the_role_server_side(demo_copy, page, role):
    """Every role below a page's own (an analyst on 用户与审计 too, not only a viewer) whose request reaches the
    page's code anyway (run directly, without app.py's navigation) is refused, with none of its actions shown."""
    user = auth.parse_config(USERS).user(LOGIN_OF[role])
    at = AppTest.from_file(str(Path(APP).parent / page), default_timeout=120)
    at.secrets["auth"] = USERS["auth"]
    at.session_state["auth_user"] = user
    at.run()
    assert not at.exception
    assert any("无权执行此操作" in e.value for e in at.error)
    assert not at.file_uploader and not at.download_button
    assert not [b for b in at.button if b.key in ("targets_regenerate", "upload_accept")]
    assert not widget_keys(at) & {key for key, _ in ACTIONS.get(page, [])}


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
    assert any("登录配置有误" in e.value and "role = 'god'" in e.value for e in at.error) and not at.title
    assert not at.get("plotly_chart") and not at.dataframe and not at.text_input


def test_unit_bound_to_a_unit_missing_from_the_target_table_fails_closed(app):
    at = app(secrets(x=("某人", auth.UNIT, "市外星局")))
    at.run()
    assert any("不是目标表中的填报单位" in e.value for e in at.error) and not at.title and not at.text_input


@pytest.fixture()
def secrets_file(tmp_path):
    """Point Streamlit's secrets.files at one file, as `streamlit run --secrets.files=PATH` does."""
    from streamlit import config as st_config
    from streamlit.runtime.secrets import secrets_singleton

    path = tmp_path / "secrets.toml"
    original = st_config.get_option("secrets.files")
    st_config._set_option("secrets.files", [str(path)], "test")
    secrets_singleton._reset()
    yield path
    st_config._set_option("secrets.files", original, "test")
    secrets_singleton._reset()


def test_secrets_file_that_does_not_parse_refuses_everyone(app, secrets_file):
    at = app()
    at.run()  # no file: the explicit demo mode
    assert any("演示模式" in i.body for i in at.info)
    secrets_file.write_text('[auth]\ndemo_mode = false\n\n[auth.users.li]\nname = "李\\四"\n', encoding="utf-8")
    at = app()
    at.run()
    refusal = re.sub(r"\\(.)", r"\1", " ".join(e.value for e in at.error))  # as shown: Markdown escapes removed
    assert "拒绝访问" in refusal and "第 5 行" in refusal and str(secrets_file) in refusal
    assert not at.title and not at.get("plotly_chart") and not at.dataframe and not at.text_input and not at.info
    secrets_file.write_text("[auth]\ndemo_mode = false\n" + "".join(
        f'[auth.users.{login}]\nname = "{name}"\nrole = "{role}"\npassword_hash = "{HASH}"\n'
        for login, (name, role) in {"leader": ("王局长", "viewer")}.items()), encoding="utf-8")
    at = app()
    at.run()  # mended: the sign-in form, no refusal left over
    assert not at.error and at.title[0].value.endswith("登录")


def test_oidc_button_reaches_streamlit_login(app, monkeypatch):
    """With OIDC configured the button is shown and st.login runs (Authlib is installed: streamlit[auth])."""
    from streamlit.runtime.secrets import secrets_singleton

    from tests.test_auth import OIDC
    conf = {"auth": {**OIDC, "oidc_roles": {"mz@example.gov.cn": {"role": "unit", "unit": "市民政局"}}}}
    monkeypatch.setattr(secrets_singleton, "_secrets", conf)  # st.login reads Streamlit's own secrets
    at = app(conf)
    at.run()
    assert at.title[0].value.endswith("登录") and not at.text_input  # no password users: only the OIDC button
    at.button(key="auth_oidc").click().run()
    assert not at.exception, [e.message for e in at.exception]
    # Back from the identity provider: the e-mail is mapped to its role and unit.
    at = app(conf)
    at.user = {"is_logged_in": True, "email": "MZ@example.gov.cn", "name": "刘科员"}
    at.run()
    assert not at.exception and at.title[0].value.startswith("总览")
    assert "pages/upload.py" in nav_pages(at) and "pages/targets.py" not in nav_pages(at)
    assert any("刘科员（填报单位·市民政局）" in c.value for c in at.sidebar.caption)


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


def test_target_table_that_drops_a_bound_unit_is_refused(app, demo_copy, monkeypatch):
    """A unit user bound to a unit the new table no longer has would make the sign-in refuse everyone."""
    import lib.targets
    at = sign_in(app(USERS), "boss")
    at.switch_page("pages/targets.py").run()
    before = Store(demo_copy).target_table(2024)[1]
    real = lib.targets.parse_targets(before, source="test")[0]

    class Without:  # the bundled table as if 市民政局 had been removed from it
        year = real.year
        reporting_units = [u for u in real.reporting_units if u != "市民政局"]
    monkeypatch.setattr(lib.targets, "parse_targets", lambda data, source: (Without(), []))
    at.file_uploader(key="targets_upload").set_value(("targets.xlsx", before, "application/octet-stream")).run()
    at.button(key="targets_replace").click().run()
    assert not at.exception
    assert any("市民政局" in e.value and "未存入" in e.value for e in at.error)
    assert len(Store(demo_copy).target_history(2024)) == 1  # nothing replaced
    log = Store(demo_copy).audit_log()
    assert log[log["操作"] == "目标表被拒"]["详情"].str.contains("市民政局").any()


def test_admin_actions_are_audited(app, demo_copy, targets):
    at = sign_in(app(USERS), "boss")
    at.switch_page("pages/targets.py").run()
    at.button(key="targets_regenerate").click().run()
    assert not at.exception
    assert not (demo_copy / "templates").exists()  # nothing on one server's disk: offered from memory
    assert "targets_templates_download" in {b.key for b in at.get("download_button")}
    import zipfile

    import ui
    made = zipfile.ZipFile(io.BytesIO(ui.template_bytes(str(demo_copy), 2024, targets.version, None))).namelist()
    assert len(made) == len(targets.reporting_units)
    store = Store(demo_copy)
    assert store.replace_targets(b"not a workbook", who="赵主任")  # refused, with problems
    from openpyxl import load_workbook
    resaved = io.BytesIO()
    load_workbook(Path(APP).parent / "data" / "targets.xlsx").save(resaved)  # the same table, other bytes
    assert store.replace_targets(resaved.getvalue(), who="赵主任") == []  # a new version of the year's table
    assert len(store.target_history(2024)) == 2
    exported = ui.logged_export("赵主任", "进展明细.csv", 3, lambda: b"x")()
    assert exported == b"x"
    log = store.audit_log()
    assert {"重新生成模板", "目标表被拒", "更换目标表", "导出", "登录"} <= set(log["操作"])
    at.switch_page("pages/admin.py").run()
    assert not at.exception
    audit = next(d.value for d in at.dataframe if "操作" in d.value.columns)
    assert "重新生成模板" in set(audit["操作"])


# --- the unit role and the role x page matrix -----------------------------------------------

def test_unit_user_uploads_only_its_own_reports(app, demo_copy, targets):
    at = sign_in(app(USERS), "mz")
    at.switch_page("pages/upload.py").run()
    assert not at.exception
    template = at.selectbox(key="upload_template_unit")
    assert template.options == ["市民政局"] and template.disabled
    keys = {b.key for b in at.get("download_button")}
    assert "upload_template_one" in keys and "upload_template_all" not in keys
    store = Store(demo_copy)
    before = store.submissions()
    own = filled(targets, "市民政局", month="2024-07", share=0.6, problems="无", plan="继续")
    other = filled(targets, "市体育局", month="2024-07", share=0.6, problems="无", plan="继续")
    titles = upload(at, {"民政局7月.xlsx": own, "体育局7月.xlsx": other})
    assert any("民政局7月.xlsx" in t and "可接收" in t for t in titles)
    assert any("体育局7月.xlsx" in t and "退回" in t for t in titles)
    assert any("市体育局" in e.value and "只能办理本单位“市民政局”" in e.value for e in at.error)
    at.button(key="upload_accept").click().run()
    assert not at.exception
    after = Store(demo_copy).submissions()
    assert len(after) == len(before) + 1
    newest = after.iloc[0]
    assert newest["unit"] == "市民政局" and newest["uploader"] == "民政局填报员"
    assert not ((after["unit"] == "市体育局") & (after["month"] == 7)).any()  # nothing stored for another unit
    log = Store(demo_copy).audit_log()
    refused = log[(log["操作"] == "上传被拒") & log["详情"].str.contains("市体育局")]
    assert len(refused) == 1 and refused["操作人"].iloc[0] == "民政局填报员"
    history = next(d.value for d in at.dataframe if "填报单位" in d.value.columns)
    assert set(history["填报单位"]) == {"市民政局"}  # its own history only
    assert not [s for s in at.selectbox if s.key == "upload_restore_pick"]


ACTIONS = {  # page -> (widget key that acts, least role that may see it)
    "pages/upload.py": [("upload_files", auth.UNIT), ("upload_template_one", auth.UNIT),
                        ("upload_template_all", auth.ANALYST), ("upload_restore", auth.ANALYST)],
    "pages/targets.py": [("targets_regenerate", auth.ADMIN), ("targets_upload", auth.ADMIN)],
    "pages/admin.py": [("admin_audit_csv", auth.ADMIN)],
    "pages/export.py": [("export_csv", auth.VIEWER)],
    "pages/ledger.py": [("ledger_csv", auth.VIEWER), ("ledger_bulk_confirm", auth.ANALYST), ("ledger_new_save", auth.ANALYST),
                        ("ledger_edit_save", auth.ANALYST)],
    "pages/publish.py": [("publish_go", auth.ANALYST)],
    "pages/report.py": [("report_generate", auth.ANALYST)],
}


def widget_keys(at: AppTest) -> set[str]:
    found = set()
    for kind in ("button", "download_button", "file_uploader", "selectbox"):
        found |= {w.key for w in at.get(kind) if getattr(w, "key", None)}
    return found


@pytest.mark.parametrize("role", [auth.VIEWER, auth.UNIT, auth.ANALYST, auth.ADMIN])
def test_role_page_matrix(app, demo_copy, targets, role):
    """Every page and action for every role: the navigation shows exactly what the role may use, and a page's
    code reached anyway (run directly, as a forged request would) refuses on the server what the navigation hides."""
    import ui
    store = Store(demo_copy)  # a replaced version of the unit's report, so restoring is possible
    store.ingest(filled(targets, "市民政局", month="2024-06", share=0.61), "a.xlsx", targets=targets)
    user = auth.parse_config(USERS).user(LOGIN_OF[role])
    at = sign_in(app(USERS), LOGIN_OF[role])
    assert not at.exception
    assert nav_pages(at) == {path for path, _, _, least in ui.PAGES if user.can(least)}
    opened = ("ledger_new_open", "ledger_edit_open")  # the ledger's forms are drawn only while open: open them
    for key in opened:
        at.session_state[key] = True
    for path, _title, _, least in ui.PAGES:
        if user.can(least):  # through the app's own navigation, as the user clicks
            page = at.switch_page(path).run()
        else:  # hidden: the page's code reached anyway, as a forged request would
            page = AppTest.from_file(str(Path(APP).parent / path), default_timeout=120)
            page.secrets["auth"] = USERS["auth"]
            page.session_state["auth_user"] = user
            for key in opened:
                page.session_state[key] = True
            page.run()
        assert not page.exception, (role, path, [e.message for e in page.exception])
        refused = any("无权执行此操作" in e.value for e in page.error)
        assert refused == (not user.can(least)), (role, path)
        keys = widget_keys(page)
        for key, needed in ACTIONS.get(path, []):
            assert (key in keys) == user.can(needed), (role, path, key)
