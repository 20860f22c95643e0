"""The console's people (services.access.users) on both databases: create, sign-in,
lock-out after MAX_FAILURES, reset, disable, and the audit trail of each."""

from __future__ import annotations

import datetime as dt

import pytest

from yibao.core.errors import Conflict, Forbidden, InvalidRequest
from yibao.services.access.rights import Principal, in_township
from yibao.services.access.users import (
    LOCK_MINUTES,
    MAX_FAILURES,
    SignInRefused,
    create_user,
    current_user,
    disable_user,
    list_users,
    reset_password,
    sign_in,
)
from yibao.store.uow import UnitOfWork

NOW = dt.datetime(2020, 2, 14, 2, 0, tzinfo=dt.UTC)
ADMIN = Principal("cli:test", "admin", None)


def _actions(uow: UnitOfWork) -> list[tuple[str, str]]:
    with uow:
        rows = uow.hospital.audit_entries(entity="user", entity_id=None, limit=100)
    return [(r.action, r.actor) for r in reversed(rows)]


def test_create_sign_in_and_audit(uow: UnitOfWork) -> None:
    u = create_user(uow, ADMIN, login="li", role="district_clerk", password="pw-12345678",
                    display_name="李经办", now=NOW)  # fmt: skip
    assert (u.login, u.role, u.display_name) == ("li", "district_clerk", "李经办")
    with uow:
        stored = uow.users.by_login("li")
    assert stored is not None
    assert "pw-12345678" not in stored.password_hash
    assert stored.password_hash.startswith("$argon2id$")
    me = sign_in(uow, "li", "pw-12345678", now=NOW)
    assert me.principal.actor == "user:li"
    assert me.principal.may("deferred.settle")
    assert _actions(uow) == [("user.create", "key:cli:test"), ("user.sign_in", "user:li")]
    assert [v.login for v in list_users(uow, ADMIN)] == ["li"]


def test_bad_users_are_refused_field_by_field(uow: UnitOfWork) -> None:
    with pytest.raises(InvalidRequest) as info:
        create_user(uow, ADMIN, login="X Y", role="chief", password="short", now=NOW)
    assert {p for p, _ in info.value.problems} == {"login", "role", "password"}
    with pytest.raises(InvalidRequest) as info:
        create_user(uow, ADMIN, login="tc", role="township_clerk", password="pw-12345678",
                    now=NOW)  # fmt: skip
    assert [p for p, _ in info.value.problems] == ["township"]
    create_user(uow, ADMIN, login="tc", role="township_clerk", township_code="500102001",
                password="pw-12345678", now=NOW)  # fmt: skip
    with pytest.raises(Conflict):
        create_user(uow, ADMIN, login="tc", role="finance", password="pw-12345678", now=NOW)
    with pytest.raises(Forbidden):
        create_user(uow, Principal("x", "clerk", None), login="y", role="finance",
                    password="pw-12345678", now=NOW)  # fmt: skip


def test_lock_out_after_failures_then_reset(uow: UnitOfWork) -> None:
    create_user(uow, ADMIN, login="fin", role="finance", password="pw-12345678", now=NOW)
    for n in range(1, MAX_FAILURES):
        with pytest.raises(SignInRefused, match=f"再错 {MAX_FAILURES - n} 次"):
            sign_in(uow, "fin", "wrong-password", now=NOW)
    with pytest.raises(SignInRefused, match="已锁定") as info:
        sign_in(uow, "fin", "wrong-password", now=NOW)
    assert info.value.locked_until == NOW + dt.timedelta(minutes=LOCK_MINUTES)
    with pytest.raises(SignInRefused, match="已锁定"):  # the right password, still locked
        sign_in(uow, "fin", "pw-12345678", now=NOW + dt.timedelta(minutes=LOCK_MINUTES - 1))
    assert sign_in(uow, "fin", "pw-12345678", now=NOW + dt.timedelta(minutes=LOCK_MINUTES))
    for _ in range(MAX_FAILURES):
        with pytest.raises(SignInRefused):
            sign_in(uow, "fin", "wrong-password", now=NOW)
    reset_password(uow, ADMIN, "fin", "new-pw-1234", now=NOW)
    assert sign_in(uow, "fin", "new-pw-1234", now=NOW).login == "fin"
    actions = [a for a, _ in _actions(uow)]
    assert actions.count("user.locked") == 2
    assert "user.password_reset" in actions
    assert actions.count("user.sign_in_failed") == 2 * (MAX_FAILURES - 1)


def test_unknown_and_disabled_users_get_the_same_answer(uow: UnitOfWork) -> None:
    create_user(uow, ADMIN, login="aud", role="auditor", password="pw-12345678", now=NOW)
    with pytest.raises(SignInRefused) as unknown:
        sign_in(uow, "nobody", "pw-12345678", now=NOW)
    disable_user(uow, ADMIN, "aud", now=NOW)
    with pytest.raises(SignInRefused) as disabled:
        sign_in(uow, "aud", "pw-12345678", now=NOW)
    assert str(unknown.value) == str(disabled.value) == "登录名或密码错误"
    assert current_user(uow, "aud") is None


def test_township_clerk_acts_only_for_its_township() -> None:
    tc = Principal("tc", "township_clerk", None, "500102001", "user")
    in_township(tc, "500102001", "insuree")
    with pytest.raises(Forbidden):
        in_township(tc, "500102002", "insuree")
    in_township(Principal("d", "district_clerk", None, None, "user"), "500102002", "insuree")
