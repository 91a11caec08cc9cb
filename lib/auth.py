"""Users, roles, password hashes and sign-in rate limiting (no Streamlit here).

Configuration (``.streamlit/secrets.toml``)::

    [auth]
    demo_mode = false                 # with no users: false = refuse everyone (fail closed)

    [auth.users.zhangsan]
    name = "张三"
    role = "analyst"                  # viewer | analyst | admin
    password_hash = "$2b$12$..."      # python -m lib.auth add-user zhangsan --name 张三 --role analyst

    [auth.oidc_roles]                 # with Streamlit's st.login (OIDC) configured: e-mail -> role
    "leader@example.gov.cn" = "viewer"

CLI: ``python -m lib.auth add-user LOGIN --name NAME --role ROLE [--secrets PATH]``
asks for the password twice (or reads it from stdin with --password-stdin) and
writes only its bcrypt hash.
"""

from __future__ import annotations

import argparse
import getpass
import re
import sys
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt

VIEWER, ANALYST, ADMIN = "viewer", "analyst", "admin"
ROLE_NAMES = {VIEWER: "查看", ANALYST: "填报管理", ADMIN: "管理员"}
RANK = {VIEWER: 0, ANALYST: 1, ADMIN: 2}
DEMO_LOGIN = "demo"


@dataclass(frozen=True)
class User:
    login: str
    name: str
    role: str

    @property
    def role_name(self) -> str:
        return ROLE_NAMES[self.role]

    def can(self, role: str) -> bool:
        """True if this user has ``role`` or a higher one."""
        return RANK[self.role] >= RANK[role]


DEMO_USER = User(DEMO_LOGIN, "演示用户", ADMIN)


class AuthConfigError(ValueError):
    pass


@dataclass(frozen=True)
class AuthConfig:
    demo_mode: bool = True
    users: dict = field(default_factory=dict)  # login -> (name, role, password_hash)
    oidc_roles: dict = field(default_factory=dict)  # e-mail (lower case) -> role
    oidc: bool = False  # Streamlit's OIDC (st.login) is configured

    @property
    def open_demo(self) -> bool:
        """No sign-in at all: nobody is configured and demo mode is on."""
        return not self.users and not self.oidc and self.demo_mode

    @property
    def closed(self) -> bool:
        """Fail closed: nobody is configured and demo mode is off."""
        return not self.users and not self.oidc and not self.demo_mode


def parse_config(secrets) -> AuthConfig:
    """Read the ``[auth]`` section of Streamlit secrets (any mapping); validate roles and hashes."""
    section = dict(secrets.get("auth", {}) or {}) if hasattr(secrets, "get") else {}
    users = {}
    for login, entry in dict(section.get("users", {}) or {}).items():
        entry = dict(entry)
        role = entry.get("role")
        if role not in RANK:
            raise AuthConfigError(f"用户“{login}”的角色“{role}”无效，应为 viewer、analyst 或 admin。")
        password_hash = str(entry.get("password_hash", ""))
        if not password_hash.startswith("$2"):
            raise AuthConfigError(f"用户“{login}”缺少有效的 password_hash（请用 python -m lib.auth add-user 生成）。")
        users[str(login)] = (str(entry.get("name") or login), role, password_hash)
    oidc_roles = {}
    for email, role in dict(section.get("oidc_roles", {}) or {}).items():
        if role not in RANK:
            raise AuthConfigError(f"oidc_roles 中“{email}”的角色“{role}”无效。")
        oidc_roles[str(email).lower()] = role
    # Streamlit's own OIDC settings live in the same [auth] section.
    oidc = bool(section.get("client_id") or section.get("redirect_uri"))
    demo = section.get("demo_mode", True)
    return AuthConfig(demo_mode=bool(demo), users=users, oidc_roles=oidc_roles, oidc=oidc)


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise ValueError("密码至少 8 位")
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt()).decode("ascii")


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode("utf-8"), password_hash.encode("ascii"))
    except (ValueError, TypeError):
        return False


class RateLimiter:
    """At most ``max_failures`` failed sign-ins per user name within ``window`` seconds; then locked."""

    def __init__(self, max_failures: int = 5, window: float = 600, clock=time.monotonic):
        self.max_failures, self.window, self.clock = max_failures, window, clock
        self._failures: dict[str, deque] = defaultdict(deque)

    def _prune(self, login: str) -> deque:
        q = self._failures[login.lower()]
        while q and self.clock() - q[0] > self.window:
            q.popleft()
        return q

    def locked_for(self, login: str) -> float:
        """Seconds until ``login`` may try again (0 when it may)."""
        q = self._prune(login)
        if len(q) < self.max_failures:
            return 0.0
        return max(0.0, self.window - (self.clock() - q[0]))

    def failure(self, login: str) -> None:
        self._prune(login).append(self.clock())

    def success(self, login: str) -> None:
        self._failures.pop(login.lower(), None)


def authenticate(config: AuthConfig, limiter: RateLimiter, login: str, password: str) -> tuple[User | None, str]:
    """(user, "") on success, else (None, a Chinese message). Unknown users cost the same bcrypt check."""
    login = (login or "").strip()
    wait = limiter.locked_for(login)
    if wait:
        return None, f"该用户名登录失败次数过多，请 {int(wait // 60) + 1} 分钟后再试。"
    entry = config.users.get(login)
    # Compare against a dummy hash for unknown logins so timing does not reveal which names exist.
    ok = verify_password(password or "", entry[2] if entry else _DUMMY_HASH)
    if entry and ok:
        limiter.success(login)
        return User(login, entry[0], entry[1]), ""
    limiter.failure(login)
    return None, "用户名或密码错误。"


_DUMMY_HASH = bcrypt.hashpw(b"not-a-password", bcrypt.gensalt(rounds=12)).decode("ascii")


def oidc_user(config: AuthConfig, email: str | None, name: str | None) -> User | None:
    """Map a signed-in OIDC identity to a role; None when the e-mail has no role (access refused)."""
    if not email:
        return None
    role = config.oidc_roles.get(email.lower())
    return User(email.lower(), name or email, role) if role else None


# --- CLI ---------------------------------------------------------------------------------

def user_block(login: str, name: str, role: str, password_hash: str) -> str:
    return f'[auth.users.{login}]\nname = "{name}"\nrole = "{role}"\npassword_hash = "{password_hash}"\n'


def write_user(path: Path, login: str, name: str, role: str, password_hash: str) -> None:
    """Add or replace one user's block in a secrets.toml, leaving everything else as it was."""
    text = path.read_text(encoding="utf-8") if path.exists() else "[auth]\ndemo_mode = false\n"
    block = user_block(login, name, role, password_hash)
    pattern = re.compile(rf"^\[auth\.users\.{re.escape(login)}\]\n(?:(?!\[).*\n?)*", re.M)
    if pattern.search(text):
        text = pattern.sub(block + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="用户管理：生成密码哈希并写入 secrets.toml")
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add-user", help="添加或更新用户")
    add.add_argument("login")
    add.add_argument("--name", required=True)
    add.add_argument("--role", required=True, choices=list(RANK))
    add.add_argument("--secrets", type=Path, default=Path(".streamlit/secrets.toml"))
    add.add_argument("--password-stdin", action="store_true", help="从标准输入读取密码（一行）")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", args.login):
        parser.error("登录名只能包含字母、数字、点、下划线和连字符")
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("密码：")
        if getpass.getpass("再次输入：") != password:
            parser.error("两次输入的密码不一致")
    try:
        password_hash = hash_password(password)
    except ValueError as exc:
        parser.error(str(exc))
    write_user(args.secrets, args.login, args.name.replace('"', ""), args.role, password_hash)
    print(f"已写入用户 {args.login}（{ROLE_NAMES[args.role]}）到 {args.secrets}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
