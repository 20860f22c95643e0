"""The console's people (issue 17): accounts, passwords, sign-in and lock-out.

Roles (``store.access_tables.USER_ROLES``; what each may do is ``rights.PERMISSIONS``):
``district_clerk`` (区医保局 经办), ``township_clerk`` (乡镇社保所: only its township's
insurees, ``rights.in_township``), ``finance``, ``supervisor``, ``auditor`` (read-only),
``admin`` (users and API keys).

Passwords are hashed with argon2id at OWASP's minimum (19 MiB, 2 passes, 1 lane: about
0.1 s on one core, where argon2-cffi's defaults took 0.8 s on our 2-core machine); only
the hash is stored, and a stored hash of other parameters still verifies. Sign-in is
refused with one message for a wrong login or password, so a login cannot be probed.
After ``MAX_FAILURES`` wrong passwords in a row the account is locked for
``LOCK_MINUTES`` minutes (refused even with the right password; an admin's
``reset_password`` unlocks it at once). Every sign-in, failure, lock-out, sign-out and
change to an account is in the audit log (entity ``user``, the login as its id); no
password or hash ever is.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from yibao.core.errors import Conflict, InvalidRequest, NotFound, Unauthorized
from yibao.services.access.rights import Principal, audit, mask_ids, require
from yibao.store.access_tables import USER_ROLES
from yibao.store.uow import UnitOfWork

__all__ = [
    "DEMO_PASSWORD",
    "LOCK_MINUTES",
    "MAX_FAILURES",
    "ROLE_NAMES",
    "USER_ROLES",
    "DemoUser",
    "SignInRefused",
    "UserView",
    "create_user",
    "current_user",
    "demo_users",
    "disable_user",
    "list_users",
    "reset_password",
    "sign_in",
    "sign_out",
]

MAX_FAILURES = 5
"""Wrong passwords in a row that lock an account (ADR c1: 5 in a row, as GB/T 22239
等保 level 3 practice asks for a limit; a clerk mistyping twice is not locked)."""
LOCK_MINUTES = 15
"""How long a lock-out lasts; an admin's reset ends it at once."""

ROLE_NAMES = {
    "district_clerk": "区医保局经办",
    "township_clerk": "乡镇社保所经办",
    "finance": "财务",
    "supervisor": "监督",
    "auditor": "审计（只读）",
    "admin": "系统管理员",
}
"""The roles as the console names them (zh-CN)."""

_LOGIN = re.compile(r"[a-z0-9][a-z0-9_.-]{1,39}")
_MIN_PASSWORD, _MAX_PASSWORD = 8, 128
_HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
_DUMMY = _HASHER.hash("not a password of anyone's")  # unknown logins cost one verify too


@dataclass(frozen=True, slots=True)
class UserView:
    """A user as listed: never the hash."""

    login: str
    role: str
    township_code: str | None
    display_name: str
    created_by: str
    created_at: dt.datetime
    password_set_at: dt.datetime
    failed_attempts: int
    locked_until: dt.datetime | None
    disabled_at: dt.datetime | None

    @property
    def role_name(self) -> str:
        return ROLE_NAMES.get(self.role, self.role)

    @property
    def principal(self) -> Principal:
        return Principal(self.login, self.role, None, self.township_code, "user")

    def locked(self, now: dt.datetime) -> bool:
        return self.locked_until is not None and _aware(self.locked_until) > now

    @classmethod
    def of(cls, r: Any) -> UserView:
        return cls(r.login, r.role, r.township_code, r.display_name, r.created_by,
                   _aware(r.created_at), _aware(r.password_set_at), r.failed_attempts,
                   None if r.locked_until is None else _aware(r.locked_until),
                   None if r.disabled_at is None else _aware(r.disabled_at))  # fmt: skip


def _aware(t: dt.datetime) -> dt.datetime:
    """A stored time (SQLite keeps no zone: the store writes UTC)."""
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)


def _password_problem(password: str) -> str | None:
    if len(password) < _MIN_PASSWORD:
        return f"密码至少 {_MIN_PASSWORD} 个字符"
    if len(password) > _MAX_PASSWORD:
        return f"密码最多 {_MAX_PASSWORD} 个字符"
    if not password.isprintable():
        return "密码不能含控制字符或换行"
    return None


def _checks(login: str, role: str, township_code: str | None, display_name: str,
            password: str) -> list[tuple[str, str]]:  # fmt: skip
    problems = []
    if not _LOGIN.fullmatch(login):
        problems.append(("login", "登录名为 2–40 个小写字母、数字或 _ . -，以字母或数字开头"))
    if role not in USER_ROLES:
        problems.append(("role", f"角色须为 {', '.join(USER_ROLES)} 之一"))
    if role == "township_clerk" and not township_code:
        problems.append(("township", "乡镇社保所经办须指定乡镇代码 (--township)"))
    if role != "township_clerk" and township_code:
        problems.append(("township", "只有乡镇社保所经办有乡镇代码"))
    if township_code and not re.fullmatch(r"\d{6,12}", township_code):
        problems.append(("township", "乡镇代码为 6–12 位数字"))
    if len(display_name) > 60 or not display_name.isprintable():
        problems.append(("name", "姓名最多 60 个可打印字符"))
    if (why := _password_problem(password)) is not None:
        problems.append(("password", why))
    return problems


def create_user(uow: UnitOfWork, caller: Principal, *, login: str, role: str, password: str,
                township_code: str | None = None, display_name: str = "",
                now: dt.datetime) -> UserView:  # fmt: skip
    """A new console user (admins only). ``InvalidRequest`` names each bad field;
    ``Conflict`` when the login is taken."""
    require(caller, "users.manage")
    login = login.strip()
    display_name = display_name.strip() or login
    if problems := _checks(login, role, township_code, display_name, password):
        raise InvalidRequest.of(problems)
    row = {"login": login, "role": role, "township_code": township_code or None,
           "display_name": display_name, "password_hash": _HASHER.hash(password),
           "password_set_at": now, "failed_attempts": 0, "locked_until": None,
           "created_by": caller.actor[:64], "created_at": now, "disabled_at": None}  # fmt: skip
    with uow(write=True):
        if uow.users.by_login(login) is not None:
            raise Conflict(f"登录名 {login} 已存在")
        uow.users.insert(row)
        view = UserView.of(uow.users.by_login(login))
        audit(uow, caller, "user.create", "user", login, before=None, after=_audited(view),
              at=now)  # fmt: skip
        uow.commit()
    return view


def _audited(u: UserView) -> dict[str, Any]:
    return {"login": u.login, "role": u.role, "township": u.township_code,
            "disabled": u.disabled_at is not None}  # fmt: skip


def list_users(uow: UnitOfWork, caller: Principal) -> list[UserView]:
    """Every user, disabled ones too (admins only)."""
    require(caller, "users.manage")
    with uow:
        return [UserView.of(r) for r in uow.users.all()]


def _existing(uow: UnitOfWork, login: str) -> UserView:
    row = uow.users.by_login(login, lock=True)
    if row is None:
        raise NotFound(f"没有用户 {login}")
    return UserView.of(row)


def disable_user(uow: UnitOfWork, caller: Principal, login: str, *, now: dt.datetime) -> UserView:
    """Disable a user (never deleted): refused at sign-in, and its open sessions end at
    their next request. Disabling a disabled user changes nothing."""
    require(caller, "users.manage")
    with uow(write=True):
        before = _existing(uow, login)
        if before.disabled_at is not None:
            return before
        if caller.kind == "user" and caller.key_id == login:
            raise Conflict("不能停用自己的账号")
        uow.users.update(login, {"disabled_at": now})
        after = UserView.of(uow.users.by_login(login))
        audit(uow, caller, "user.disable", "user", login, before=_audited(before),
              after=_audited(after), at=now)  # fmt: skip
        uow.commit()
    return after


def reset_password(uow: UnitOfWork, caller: Principal, login: str, password: str, *,
                   now: dt.datetime) -> UserView:  # fmt: skip
    """A new password for ``login`` (admins only): ends a lock-out and every session
    signed in with the old one."""
    require(caller, "users.manage")
    if (why := _password_problem(password)) is not None:
        raise InvalidRequest.of([("password", why)])
    with uow(write=True):
        before = _existing(uow, login)
        uow.users.update(login, {"password_hash": _HASHER.hash(password), "password_set_at": now,
                                 "failed_attempts": 0, "locked_until": None})  # fmt: skip
        after = UserView.of(uow.users.by_login(login))
        audit(uow, caller, "user.password_reset", "user", login, before=_audited(before),
              after=_audited(after), at=now, detail={"was_locked": before.locked(now)})  # fmt: skip
        uow.commit()
    return after


class SignInRefused(Unauthorized):
    """A refused sign-in: ``locked_until`` when the account is locked (the console says
    until when); the message never says whether the login exists."""

    def __init__(self, message: str, *, locked_until: dt.datetime | None = None) -> None:
        super().__init__(message)
        self.locked_until = locked_until


_WRONG = "登录名或密码错误"


def sign_in(uow: UnitOfWork, login: str, password: str, *, now: dt.datetime,
            source: str = "console") -> UserView:  # fmt: skip
    """Check a login and password: the user, or ``SignInRefused``. A wrong password
    counts a failure; the ``MAX_FAILURES``-th in a row locks the account for
    ``LOCK_MINUTES``. Every attempt is audited (``user.sign_in``,
    ``user.sign_in_failed``, ``user.locked``, ``user.sign_in_refused``)."""
    login = login.strip()[:40]
    with uow(write=True):
        row = uow.users.by_login(login, lock=True) if login else None
        if row is None:
            _verify(_DUMMY, password)
            who = Principal(mask_ids(login)[:40] or "-", "none", None, None, "user")
            _note(uow, who, "user.sign_in_failed", now, reason="unknown login", source=source)
            uow.commit()
            raise SignInRefused(_WRONG)
        user = UserView.of(row)
        who = user.principal
        if user.disabled_at is not None:
            _verify(_DUMMY, password)
            _note(uow, who, "user.sign_in_refused", now, reason="disabled", source=source)
            uow.commit()
            raise SignInRefused(_WRONG)
        if user.locked(now):
            _note(uow, who, "user.sign_in_refused", now, reason="locked", source=source)
            uow.commit()
            raise SignInRefused(_locked_message(user.locked_until), locked_until=user.locked_until)
        if not _verify(row.password_hash, password):
            failures = user.failed_attempts + 1
            if failures >= MAX_FAILURES:
                until = now + dt.timedelta(minutes=LOCK_MINUTES)
                uow.users.update(login, {"failed_attempts": 0, "locked_until": until})
                _note(uow, who, "user.locked", now, reason=f"{failures} wrong passwords",
                      source=source, until=until.isoformat())  # fmt: skip
                uow.commit()
                raise SignInRefused(_locked_message(until), locked_until=until)
            uow.users.update(login, {"failed_attempts": failures})
            _note(uow, who, "user.sign_in_failed", now, reason="wrong password", source=source,
                  failures=failures)  # fmt: skip
            uow.commit()
            raise SignInRefused(f"{_WRONG}（再错 {MAX_FAILURES - failures} 次将锁定 "
                                f"{LOCK_MINUTES} 分钟）")  # fmt: skip
        uow.users.update(login, {"failed_attempts": 0, "locked_until": None})
        _note(uow, who, "user.sign_in", now, source=source)
        uow.commit()
    return user


def _locked_message(until: dt.datetime | None) -> str:
    shown = "" if until is None else until.astimezone(_CST).strftime("%Y-%m-%d %H:%M")
    return (f"连续输错密码 {MAX_FAILURES} 次，账号已锁定至 {shown}（北京时间），"
            "请稍后再试或联系系统管理员重置密码")  # fmt: skip


_CST = dt.timezone(dt.timedelta(hours=8), "CST")


def _verify(hashed: str, password: str) -> bool:
    try:
        return _HASHER.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def _note(uow: UnitOfWork, who: Principal, action: str, now: dt.datetime,
          **detail: Any) -> None:  # fmt: skip
    audit(uow, who, action, "user", who.key_id, before=None, after=None, at=now, detail=detail)


def sign_out(uow: UnitOfWork, caller: Principal, *, now: dt.datetime) -> None:
    """Record a sign-out (the session cookie is the adapter's to clear)."""
    with uow(write=True):
        _note(uow, caller, "user.sign_out", now)
        uow.commit()


def current_user(uow: UnitOfWork, login: str) -> UserView | None:
    """The user a session names, re-read on every request: ``None`` when it no longer
    exists or is disabled (its sessions end at once)."""
    with uow:
        row = uow.users.by_login(login)
    if row is None or row.disabled_at is not None:
        return None
    return UserView.of(row)


@dataclass(frozen=True, slots=True)
class DemoUser:
    login: str
    role: str
    township_code: str | None
    password: str
    created: bool


DEMO_PASSWORD = "yibao-demo-2020"
"""The demo users' password, printed by ``yibao demo serve`` (a demo database only)."""


def demo_users(uow: UnitOfWork, *, now: dt.datetime,
               logins: Sequence[tuple[str, str]] = ()) -> list[DemoUser]:  # fmt: skip
    """One console user of every role for the demo district (created when missing, left
    as they are otherwise), with ``DEMO_PASSWORD``; the township clerk gets the first
    township of the insurees registry. ``logins``: (login, role) pairs instead of
    the default ``demo-<role>``."""
    pairs = list(logins) or [(f"demo-{r.replace('_', '-')}", r) for r in USER_ROLES]
    with uow:
        towns = [r[0] for r in uow.insurees.distinct("township") if r[0]]
    admin = Principal("cli:demo", "admin", None)
    out = []
    for login, role in pairs:
        town = (towns[0] if towns else "000000") if role == "township_clerk" else None
        with uow:
            found = uow.users.by_login(login)
        if found is None:
            create_user(uow, admin, login=login, role=role, password=DEMO_PASSWORD,
                        township_code=town, display_name=f"演示{ROLE_NAMES[role]}",
                        now=now)  # fmt: skip
        else:
            town = found.township_code
        out.append(DemoUser(login, role, town, DEMO_PASSWORD, found is None))
    return out
