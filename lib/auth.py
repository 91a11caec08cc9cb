"""Users, roles, password hashes, sign-in rate limiting and the secrets file (no Streamlit here).

Configuration (``.streamlit/secrets.toml``)::

    [auth]
    demo_mode = false                 # with no users: false = refuse everyone (fail closed)

    [auth.users."zhang.san"]          # login names are quoted keys (python -m lib.auth add-user writes them)
    name = "张三"
    role = "analyst"                  # viewer | unit | analyst | admin
    password_hash = "$argon2id$..."   # python -m lib.auth add-user zhang.san --name 张三 --role analyst

    [auth.users.jyj]
    name = "市教育局填报员"
    role = "unit"                     # 填报单位: bound to one reporting unit of the target table
    unit = "市教育局"
    password_hash = "$argon2id$..."

    [auth.oidc_roles]                 # with Streamlit's st.login (OIDC) configured: e-mail -> role
    "leader@example.gov.cn" = "viewer"
    "clerk@jyj.example.gov.cn" = { role = "unit", unit = "市教育局" }

The fail-closed rule: a secrets file that exists but cannot be read or parsed, or an ``[auth]`` section that does
not validate (unknown key, wrong type, unknown role, bad hash, a unit that is not in the target table, incomplete
OIDC settings), refuses everyone with a message naming the file, line or key. Only a *missing* file (or a file
without ``[auth]``) means "no users", i.e. the explicit demo mode.

Roles are ordered viewer < unit < analyst < admin: each may do everything the one before may. A ``unit`` user may
act only for its own reporting unit (``User.may_act_for``); analysts and admins act for every unit.

CLI::

    python -m lib.auth add-user LOGIN --name NAME --role ROLE [--unit UNIT] [--secrets PATH] [--password-stdin]
    python -m lib.auth check [--secrets PATH]

``add-user`` asks for the password twice (or reads one line from stdin), writes only its argon2 hash through
tomlkit (comments and order kept, keys quoted), re-reads the file to prove it parses and gives back this user,
and only then replaces the file.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import math
import os
import re
import sys
import time
import tomllib
import unicodedata
from collections import OrderedDict, deque
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt
import tomlkit
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from lib import logs

VIEWER, UNIT, ANALYST, ADMIN = "viewer", "unit", "analyst", "admin"
ROLE_NAMES = {VIEWER: "查看", UNIT: "填报单位", ANALYST: "填报管理", ADMIN: "管理员"}
RANK = {VIEWER: 0, UNIT: 1, ANALYST: 2, ADMIN: 3}
DEMO_LOGIN = "demo"


def role_at_least(role: str, required: str) -> bool:
    """The one role rule: ``role`` is ``required`` or a higher one (viewer < unit < analyst < admin). An unknown
    role has no rank and may do nothing (fail closed)."""
    return role in RANK and RANK[role] >= RANK[required]

log = logging.getLogger(__name__)

MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_BYTES = 1024  # argon2 has no 72-byte limit; this only bounds the work one attempt costs
MAX_LOGIN_CHARS = 64
MAX_NAME_CHARS = 64


@dataclass(frozen=True)
class User:
    login: str
    name: str
    role: str
    unit: str | None = None  # the bound reporting unit (as in the target table); only for role unit

    @property
    def role_name(self) -> str:
        return ROLE_NAMES[self.role]

    @property
    def label(self) -> str:
        """Role as shown to people: 填报单位 users with their unit."""
        return f"{self.role_name}·{self.unit}" if self.role == UNIT else self.role_name

    def can(self, role: str) -> bool:
        """True if this user has ``role`` or a higher one (viewer < unit < analyst < admin)."""
        return role_at_least(self.role, role)

    def may_act_for(self, unit: str | None) -> bool:
        """May this user download the template of, upload for, or see the submissions of ``unit``?"""
        if self.can(ANALYST):
            return True
        return self.role == UNIT and bool(self.unit) and unit == self.unit



def unit_refusal(user: User, unit: str | None, what: str = "此操作") -> str:
    """The one message a unit user sees when something belongs to another unit (Chinese)."""
    return (f"{what}属于“{unit or '未识别的单位'}”。您的账号只能办理本单位“{user.unit}”的事项，已拒绝，未保存任何内容；"
            "如需代其他单位报送，请联系督查室。")

DEMO_USER = User(DEMO_LOGIN, "演示用户", ADMIN)


class AuthConfigError(ValueError):
    """The secrets file or its [auth] section cannot be used: everyone is refused. The message is for the admin."""


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    password_hash: str
    unit: str | None = None


@dataclass(frozen=True)
class AuthConfig:
    demo_mode: bool = True
    users: dict = field(default_factory=dict)  # login -> Account
    oidc_roles: dict = field(default_factory=dict)  # e-mail (lower case) -> (role, unit or None)
    oidc: bool = False  # Streamlit's OIDC (st.login) is configured

    @property
    def open_demo(self) -> bool:
        """No sign-in at all: nobody is configured and demo mode is on."""
        return not self.users and not self.oidc and self.demo_mode

    @property
    def closed(self) -> bool:
        """Fail closed: nobody is configured and demo mode is off."""
        return not self.users and not self.oidc and not self.demo_mode

    def bound_units(self) -> set[str]:
        """Reporting units that unit users (password or OIDC) are bound to: a new target table must keep them."""
        return {a.unit for a in self.users.values() if a.unit} | {u for _, u in self.oidc_roles.values() if u}

    def user(self, login: str) -> User | None:
        """The configured user ``login`` as it stands now (role and unit re-read on every call)."""
        account = self.users.get(login)
        return User(login, account.name, account.role, account.unit) if account else None


# --- reading and validating the secrets ------------------------------------------------------

OIDC_REQUIRED = ("redirect_uri", "cookie_secret", "client_id", "client_secret", "server_metadata_url")
OIDC_OPTIONAL = ("client_kwargs", "expose_tokens")
AUTH_KEYS = {"demo_mode", "users", "oidc_roles", *OIDC_REQUIRED, *OIDC_OPTIONAL}
USER_KEYS = {"name", "role", "password_hash", "unit"}
_BCRYPT = re.compile(r"\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}")
_ARGON2_HASH = re.compile(r"\$argon2id\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+")


def quoted(key: str) -> str:
    """A key as written in TOML (quoted unless bare), for messages that name a key."""
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def is_password_hash(value: object) -> bool:
    return isinstance(value, str) and bool(_BCRYPT.fullmatch(value) or _ARGON2_HASH.fullmatch(value))


def text_problem(value: str, what: str, limit: int) -> str | None:
    """Why ``value`` cannot be a login or a display name (None when it can)."""
    if not value or not value.strip():
        return f"{what}不能为空"
    if value != value.strip():
        return f"{what}首尾不能有空格"
    if len(value) > limit:
        return f"{what}最多 {limit} 个字符"
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") for c in value):
        return f"{what}含有控制字符或无法显示的字符"
    return None


def _role_and_unit(where: str, role: object, unit: object, units: Collection[str] | None) -> tuple[str, str | None]:
    if role not in RANK:
        raise AuthConfigError(f"{where} role = {role!r} 无效，应为 viewer、unit、analyst 或 admin 之一。")
    if role == UNIT:
        if not isinstance(unit, str) or not unit.strip():
            raise AuthConfigError(f"{where} 的角色为 unit（填报单位），必须用 unit = \"单位名称\" 指定所属填报单位。")
        if units is not None and unit not in units:
            raise AuthConfigError(f"{where} unit = \"{unit}\" 不是目标表中的填报单位（可选：{'、'.join(units)}）。")
        return role, unit
    if unit is not None:
        raise AuthConfigError(f"{where} 只有 unit（填报单位）角色可以设置 unit，当前角色为 {role}。")
    return role, None


def parse_config(secrets: Mapping, units: Collection[str] | None = None) -> AuthConfig:
    """Validate the ``[auth]`` section of the secrets (any mapping); raise AuthConfigError naming the key.

    ``units``: the reporting units of the target table; a unit user bound to anything else is refused.
    Without an ``[auth]`` section there are no users and the demo mode is on; with one, ``demo_mode``
    defaults to false, so a typo cannot open the app.
    """
    if not isinstance(secrets, Mapping) or "auth" not in secrets:
        return AuthConfig()
    section = secrets["auth"]
    if not isinstance(section, Mapping):
        raise AuthConfigError("[auth] 应为一个表（以 [auth] 开头的一节）。")
    unknown = sorted(set(section) - AUTH_KEYS)
    if unknown:
        # Streamlit's named OIDC providers ([auth.google] …) are not used: the app calls st.login() with the default.
        raise AuthConfigError(f"[auth] 中有无法识别的设置 {', '.join(quoted(k) for k in unknown)}"
                              f"（可用：{', '.join(sorted(AUTH_KEYS))}）。")
    demo = section.get("demo_mode", False)
    if not isinstance(demo, bool):
        raise AuthConfigError(f"[auth] demo_mode = {demo!r} 无效，应为 true 或 false（不加引号）。")

    users = {}
    raw_users = section.get("users", {})
    if not isinstance(raw_users, Mapping):
        raise AuthConfigError("[auth] users 应为表：每个用户一节 [auth.users.\"登录名\"]。")
    for login, entry in raw_users.items():
        where = f"[auth.users.{quoted(login)}]"
        if not isinstance(entry, Mapping):
            raise AuthConfigError(f"{where} 应为一节（表），每个用户写成 [auth.users.\"登录名\"] 一节。")
        nested = [k for k, v in entry.items() if isinstance(v, Mapping)]
        if nested:
            raise AuthConfigError(f"{where} 下又有一节 {quoted(nested[0])}：含点或空格的登录名必须加引号，"
                                  f"例如 [auth.users.\"{login}.{nested[0]}\"]。请用 python -m lib.auth add-user 写入。")
        extra = sorted(set(entry) - USER_KEYS)
        if extra:
            raise AuthConfigError(f"{where} 中有无法识别的键 {', '.join(quoted(k) for k in extra)}（可用：name、role、unit、password_hash）。")
        problem = text_problem(login, "登录名", MAX_LOGIN_CHARS)
        if problem:
            raise AuthConfigError(f"{where}：{problem}。")
        name = entry.get("name", login)
        if not isinstance(name, str) or text_problem(name, "姓名", MAX_NAME_CHARS):
            raise AuthConfigError(f"{where} name = {name!r} 无效：{text_problem(str(name), '姓名', MAX_NAME_CHARS) or '应为文字'}。")
        role, unit = _role_and_unit(where, entry.get("role"), entry.get("unit"), units)
        password_hash = entry.get("password_hash")
        if not is_password_hash(password_hash):
            raise AuthConfigError(f"{where} 缺少有效的 password_hash（请用 python -m lib.auth add-user 生成）。")
        users[login] = Account(name, role, password_hash, unit)

    oidc_roles = {}
    raw_roles = section.get("oidc_roles", {})
    if not isinstance(raw_roles, Mapping):
        raise AuthConfigError("[auth] oidc_roles 应为表：\"邮箱\" = \"角色\"。")
    for email, value in raw_roles.items():
        where = f"[auth.oidc_roles] {quoted(email)}"
        if "@" not in email:
            raise AuthConfigError(f"{where} 不是电子邮箱地址。")
        if isinstance(value, Mapping):
            extra = sorted(set(value) - {"role", "unit"})
            if extra:
                raise AuthConfigError(f"{where} 中有无法识别的键 {', '.join(extra)}（可用：role、unit）。")
            oidc_roles[email.lower()] = _role_and_unit(where, value.get("role"), value.get("unit"), units)
        else:
            oidc_roles[email.lower()] = _role_and_unit(where, value, None, units)

    oidc_keys = [k for k in (*OIDC_REQUIRED, *OIDC_OPTIONAL) if k in section]
    if oidc_keys:
        missing = [k for k in OIDC_REQUIRED if not isinstance(section.get(k), str) or not section.get(k).strip()]
        if missing:
            raise AuthConfigError(f"[auth] 统一身份认证（OIDC）设置不完整：缺少 {', '.join(missing)}。")
    return AuthConfig(demo_mode=demo, users=users, oidc_roles=oidc_roles, oidc=bool(oidc_keys))


_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")


def read_secrets_file(path: Path) -> dict:
    """One secrets file as a dict; AuthConfigError naming the file, line and column when it cannot be read."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise AuthConfigError(f"文件 {path} 不是 UTF-8 编码的文本（第 {exc.start} 字节），无法读取。请用 UTF-8 保存。") from exc
    except OSError as exc:
        raise AuthConfigError(f"文件 {path} 无法读取：{exc.strerror or exc}。") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        position = _TOML_POSITION.search(str(exc))
        where = f"第 {position[1]} 行第 {position[2]} 列" if position else "某处"
        detail = _TOML_POSITION.sub("", str(exc)).strip()
        hint = "（字符串中的反斜杠要写成 \\\\）" if "'\\'" in detail or "escape" in detail.lower() else ""
        raise AuthConfigError(f"文件 {path} 不是有效的 TOML，{where}：{detail}{hint}。") from exc


def check_secrets_files(paths: list[str]) -> bool:
    """True when one of the configured secrets files exists; AuthConfigError naming the line when one is broken.

    Only when this returns False (no file at all) may a failure to load the secrets mean "no users".
    """
    existing = [p for p in paths if os.path.lexists(p)]
    for path in existing:
        if not os.path.isdir(path):  # a Kubernetes-style secrets folder is read by Streamlit itself
            read_secrets_file(Path(path))
    return bool(existing)


# --- passwords ------------------------------------------------------------------------------

_ARGON2 = PasswordHasher()  # argon2id, RFC 9106 low-memory profile (t=3, m=64 MiB, p=4)


def password_problem(password: str) -> str | None:
    """Why ``password`` cannot be set (Chinese), or None."""
    if len(password) < MIN_PASSWORD_CHARS:
        return f"密码至少 {MIN_PASSWORD_CHARS} 位。"
    if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        return f"密码过长（最多 {MAX_PASSWORD_BYTES} 字节，约 {MAX_PASSWORD_BYTES // 3} 个汉字）。"
    return None


def hash_password(password: str) -> str:
    """An argon2id hash (no 72-byte limit: long Chinese passphrases work)."""
    problem = password_problem(password)
    if problem:
        raise ValueError(problem)
    return _ARGON2.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    """Check against an argon2id hash, or a bcrypt hash written by earlier versions."""
    data = (password or "").encode("utf-8")
    if len(data) > MAX_PASSWORD_BYTES or not isinstance(password_hash, str):
        return False
    if password_hash.startswith("$argon2"):
        try:
            return _ARGON2.verify(password_hash, data)
        except InvalidHashError:
            log.warning("a stored argon2 hash is malformed; that user cannot sign in", exc_info=True)
            return False
        except VerificationError:  # the wrong password
            return False
    try:
        return bcrypt.checkpw(data, password_hash.encode("ascii"))
    except (ValueError, TypeError):  # not a bcrypt hash, or a password over bcrypt's 72 bytes
        log.warning("a stored password hash is neither argon2 nor bcrypt, or the password is too long for bcrypt",
                    exc_info=True)
        return False


# What an unknown login name is checked against, so that its answer takes as long as a known name's wrong password. A
# constant made once by ``_ARGON2.hash("not-a-password")``: hashing it at import cost ~0.35 CPU s in every process
# (each server, each command). tests/test_auth.py checks it has the hasher's parameters (same verify time).
_DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$D8iZRnpNop/stWFXWV7RIg$vBw9hlNlzFpYmXVOaf+G1xPkFdz9eeojyTjAV6riymE"


# --- rate limiting --------------------------------------------------------------------------

class RateLimiter:
    """Failed sign-ins, counted per (client address, login name) and per client address.

    - ``max_failures`` failures for one login name from one address within ``window`` seconds lock that name
      *for that address* only, so nobody can lock the administrator out from another machine;
    - ``max_address_failures`` failures from one address in total lock that address for every name, so one
      address cannot try many names either.

    Entries expire ``window`` seconds after their last failure, and at most ``max_entries`` are kept (the ones
    failed least recently are dropped first), so inventing names cannot grow memory without bound. Clients
    without a known address (a local browser) share one address.
    """

    def __init__(self, max_failures: int = 5, window: float = 600, max_address_failures: int = 20,
                 max_entries: int = 10_000, clock=time.monotonic):
        self.max_failures, self.window, self.clock = max_failures, window, clock
        self.max_address_failures, self.max_entries = max_address_failures, max_entries
        self._failures: OrderedDict[tuple, deque] = OrderedDict()

    def __len__(self) -> int:
        return len(self._failures)

    @staticmethod
    def _keys(login: str, address: str | None) -> tuple[tuple, tuple]:
        name = (login or "").strip().lower()[:MAX_LOGIN_CHARS]  # a forged megabyte-long name costs no more
        return ("name", address or "", name), ("address", address or "")

    def _recent(self, key: tuple) -> deque:
        q = self._failures.get(key)
        if q is None:
            return deque()
        while q and self.clock() - q[0] > self.window:
            q.popleft()
        if not q:
            del self._failures[key]
        return q

    def locked_for(self, login: str, address: str | None = None) -> float:
        """Seconds until ``login`` may be tried again from ``address`` (0 when it may)."""
        wait = 0.0
        for key, limit in zip(self._keys(login, address), (self.max_failures, self.max_address_failures)):
            q = self._recent(key)
            if len(q) >= limit:
                wait = max(wait, self.window - (self.clock() - q[-limit]))
        return max(0.0, wait)

    def failure(self, login: str, address: str | None = None) -> None:
        now = self.clock()
        for key, limit in zip(self._keys(login, address), (self.max_failures, self.max_address_failures)):
            q = self._recent(key)
            if key not in self._failures:
                q = self._failures[key] = deque(maxlen=limit)
            q.append(now)
            self._failures.move_to_end(key)
        # Oldest first: drop what has expired, then whatever is over the cap.
        while self._failures:
            oldest_key, oldest = next(iter(self._failures.items()))
            if len(self._failures) > self.max_entries or not oldest or now - oldest[-1] > self.window:
                del self._failures[oldest_key]
            else:
                break

    def success(self, login: str, address: str | None = None) -> None:
        self._failures.pop(self._keys(login, address)[0], None)


def authenticate(config: AuthConfig, limiter: RateLimiter, login: str, password: str,
                 address: str | None = None) -> tuple[User | None, str]:
    """(user, "") on success, else (None, a Chinese message). Unknown users cost the same argon2 check."""
    login = (login or "").strip()
    wait = limiter.locked_for(login, address)
    if wait:
        return None, f"登录失败次数过多，请 {math.ceil(wait / 60)} 分钟后再试。"
    account = config.users.get(login)
    # Compare against a dummy hash for unknown logins so timing does not reveal which names exist.
    ok = verify_password(password or "", account.password_hash if account else _DUMMY_HASH)
    if account and ok:
        limiter.success(login, address)
        return config.user(login), ""
    limiter.failure(login, address)
    return None, "用户名或密码错误。"


def oidc_user(config: AuthConfig, email: str | None, name: str | None) -> User | None:
    """Map a signed-in OIDC identity to a role (and unit); None when the e-mail has no role (access refused)."""
    if not email:
        return None
    mapped = config.oidc_roles.get(email.lower())
    if not mapped:
        return None
    role, unit = mapped
    return User(email.lower(), name or email, role, unit)


# --- CLI ------------------------------------------------------------------------------------

def write_user(path: Path, login: str, name: str, role: str, password_hash: str, unit: str | None = None,
               units: Collection[str] | None = None) -> None:
    """Add or replace one user in a secrets.toml, keeping everything else (comments, order) as it was.

    Raises AuthConfigError (Chinese) and leaves the file untouched when the login or name cannot be written
    so that reading the file gives them back exactly, or when the existing file does not parse.
    """
    path = Path(path)
    for value, what, limit in ((login, "登录名", MAX_LOGIN_CHARS), (name, "姓名", MAX_NAME_CHARS)):
        problem = text_problem(value, what, limit)
        if problem:
            raise AuthConfigError(f"{problem}：{value!r}。")
    wanted = Account(name, role, password_hash, unit if role == UNIT else None)
    if path.exists():
        read_secrets_file(path)  # names the line when the current file is broken
        doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    else:
        doc = tomlkit.document()
    if "auth" not in doc:
        section = tomlkit.table()
        section.add("demo_mode", False)
        doc.add("auth", section)
    section = doc["auth"]
    if "users" not in section:
        section.add("users", tomlkit.table(is_super_table=True))
    entry = tomlkit.table()
    entry.add("name", name)
    entry.add("role", role)
    if wanted.unit is not None:
        entry.add("unit", wanted.unit)
    entry.add("password_hash", password_hash)
    section["users"][login] = entry
    text = tomlkit.dumps(doc)
    # Prove it: the new text parses, validates, and gives back exactly this user.
    try:
        config = parse_config(tomllib.loads(text), units)
    except (tomllib.TOMLDecodeError, AuthConfigError) as exc:
        raise AuthConfigError(f"写入后的文件无法通过校验，未修改 {path}：{exc}") from exc
    if config.users.get(login) != wanted:
        raise AuthConfigError(f"登录名或姓名无法原样写入 TOML，未修改 {path}：{login!r} / {name!r}。")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # secrets: readable by the owner only
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def target_units(targets_path: Path | None = None) -> list[str]:
    """Reporting units of the data folder's target table (what a unit user may be bound to)."""
    from lib.store import Store
    from lib.targets import load_targets

    return (load_targets(targets_path) if targets_path else Store().targets()).reporting_units


def main(argv: list[str] | None = None) -> int:
    logs.setup()
    parser = argparse.ArgumentParser(description="用户管理：生成密码哈希并写入 secrets.toml")
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add-user", help="添加或更新用户")
    add.add_argument("login")
    add.add_argument("--name", required=True)
    add.add_argument("--role", required=True, choices=list(RANK))
    add.add_argument("--unit", help="填报单位名称（角色为 unit 时必填，须是目标表中的填报单位）")
    add.add_argument("--targets", type=Path, help="目标表（默认：数据目录中最新年度的现行目标表）")
    add.add_argument("--secrets", type=Path, default=Path(".streamlit/secrets.toml"))
    add.add_argument("--password-stdin", action="store_true", help="从标准输入读取密码（一行）")
    check = sub.add_parser("check", help="校验 secrets.toml 的登录配置")
    check.add_argument("--secrets", type=Path, default=Path(".streamlit/secrets.toml"))
    check.add_argument("--targets", type=Path, help="目标表（默认：数据目录中最新年度的现行目标表）")
    args = parser.parse_args(argv)

    if args.command == "check":
        try:
            config = parse_config(read_secrets_file(args.secrets), target_units(args.targets))
        except AuthConfigError as exc:
            print(f"登录配置有误：{exc}", file=sys.stderr)
            return 1
        print(f"{args.secrets}：{len(config.users)} 个用户，{len(config.oidc_roles)} 个统一身份认证映射，校验通过。")
        return 0

    units = None
    if args.role == UNIT:
        if not args.unit:
            parser.error("角色为 unit（填报单位）时必须用 --unit 指定填报单位")
        units = target_units(args.targets)
        if args.unit not in units:
            parser.error(f"“{args.unit}”不是目标表中的填报单位。可选：{'、'.join(units)}")
    elif args.unit:
        parser.error("只有 unit（填报单位）角色可以指定 --unit")
    for value, what, limit in ((args.login, "登录名", MAX_LOGIN_CHARS), (args.name, "姓名", MAX_NAME_CHARS)):
        problem = text_problem(value, what, limit)
        if problem:
            parser.error(problem)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("密码：")
        if getpass.getpass("再次输入：") != password:
            parser.error("两次输入的密码不一致")
    problem = password_problem(password)
    if problem:
        parser.error(problem)
    try:
        write_user(args.secrets, args.login, args.name, args.role, hash_password(password), args.unit, units)
    except AuthConfigError as exc:
        parser.error(str(exc))
    print(f"已写入用户 {args.login}（{ROLE_NAMES[args.role]}{'·' + args.unit if args.unit else ''}）到 {args.secrets}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
