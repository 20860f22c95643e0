"""The console without a browser (TestClient, both databases): sign-in, the session
cookie, CSRF on every form, lock-out, sign-out, township limits, audit entries, the
money filter."""

from __future__ import annotations

import pytest

from tests.registry_data import DIBAO, EMPLOYEE
from tests.web.conftest import PASSWORD, Console, csrf_of
from yibao.adapters.web.formats import bp, yuan
from yibao.core.privacy import mask_psn_no
from yibao.services.access.users import MAX_FAILURES


def _actions(c: Console, entity: str | None = None) -> list[str]:
    with c.data.uow:
        rows = c.data.uow.hospital.audit_entries(entity=entity, entity_id=None, limit=500)
    return [r.action for r in rows]


def test_sign_in_sets_a_signed_http_only_cookie_and_pages_render(console: Console) -> None:
    c = console.client
    assert c.get("/console/today", follow_redirects=False).headers["location"] == "/console/login"
    r = console.sign_in("district-clerk")
    assert r.status_code == 200
    assert r.url.path == "/console/today"
    cookie = r.history[0].headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "Path=/console" in cookie
    assert "samesite=strict" in cookie.lower()
    for path in (
        "/console/today?date=2020-02-12",
        "/console/stays",
        "/console/deferred",
        "/console/registry",
        f"/console/stays/{console.data.stays[EMPLOYEE]}",
    ):
        page = c.get(path)
        assert page.status_code == 200, (path, page.text[:300])
        assert '<html lang="zh-CN">' in page.text
    stay = c.get(f"/console/stays/{console.data.stays[EMPLOYEE]}").text
    assert console.data.settlements[EMPLOYEE] in stay
    assert "渝医保发" in stay or "clause" not in stay  # each amount with its clause
    assert "user.sign_in" in _actions(console, "user")
    assert "personal.read" in _actions(console)
    assert c.get("/console/admin").status_code == 403  # not an admin


def test_a_tampered_cookie_is_no_session(console: Console) -> None:
    console.sign_in("finance")
    value = console.client.cookies.get("yibao_console")
    assert value
    console.client.cookies.set("yibao_console", value[:-2] + "xx", path="/console")
    r = console.client.get("/console/today", follow_redirects=False)
    assert r.status_code == 303


def test_every_post_needs_its_csrf_token(console: Console) -> None:
    c = console.client
    r = c.post("/console/login", data={"login": "admin", "password": PASSWORD})
    assert r.status_code == 403
    assert "CSRF" in r.text
    console.sign_in("admin")
    before = console.data.uow
    for path, data in (("/console/admin/users", {"login": "x1", "role": "finance",
                                                 "password": "pw-12345678"}),
                       ("/console/deferred/settle", {}), ("/console/logout", {}),
                       ("/console/admin/users/finance/disable", {})):  # fmt: skip
        r = c.post(path, data=data | {"csrf": "forged"})
        assert r.status_code == 403, path
        assert "安全令牌" in r.text
    with before:
        assert [u.login for u in before.users.all() if u.login == "x1"] == []
        assert before.users.by_login("finance").disabled_at is None
    assert "access.refused" in _actions(console)
    assert c.get("/console/today").status_code == 200  # still signed in


def test_wrong_passwords_lock_the_account(console: Console) -> None:
    for _ in range(MAX_FAILURES - 1):
        r = console.sign_in("auditor", "wrong-password")
        assert r.status_code == 401
        assert "登录名或密码错误" in r.text
    r = console.sign_in("auditor", "wrong-password")
    assert "已锁定" in r.text
    assert 'id="locked"' in r.text
    assert console.sign_in("auditor").status_code == 401  # locked: the right one too
    assert "user.locked" in _actions(console, "user")


def test_form_errors_sit_beside_their_field(console: Console) -> None:
    console.sign_in("admin")
    c = console.client
    page = c.get("/console/admin").text
    r = c.post(
        "/console/admin/users",
        data={
            "csrf": csrf_of(page),
            "login": "Bad Login",
            "role": "township_clerk",
            "password": "x",
        },
    )
    assert r.status_code == 422
    for field in ("login", "township", "password"):
        assert f'id="err-{field}"' in r.text
    r = c.get("/console/stays?admitted_from=2020-13-01")
    assert 'id="err-admitted_from"' in r.text


def test_township_clerk_sees_only_its_township(console: Console) -> None:
    console.sign_in("township-clerk")
    c = console.client
    mine = c.get(f"/console/stays/{console.data.stays[EMPLOYEE]}")
    assert mine.status_code == 200
    assert EMPLOYEE in mine.text  # a township clerk sees its own insurees unmasked
    other = c.get(f"/console/stays/{console.data.stays[DIBAO]}")
    assert other.status_code == 403
    assert "不属于本乡镇" in other.text
    assert DIBAO not in other.text
    assert mask_psn_no(DIBAO) in other.text
    found = c.get("/console/stays").text
    assert console.data.stays[EMPLOYEE] in found
    assert console.data.stays[DIBAO] not in found
    refused = c.get(f"/console/registry?psn_no={DIBAO}")
    assert refused.status_code == 403
    assert "不属于本乡镇" in refused.text
    assert "access.refused" in _actions(console)


def test_auditor_sees_ids_masked(console: Console) -> None:
    console.sign_in("auditor")
    page = console.client.get(f"/console/stays/{console.data.stays[EMPLOYEE]}").text
    assert EMPLOYEE not in page
    assert mask_psn_no(EMPLOYEE) in page


def test_sign_out_ends_the_session(console: Console) -> None:
    r = console.sign_in("supervisor")
    token = csrf_of(r.text)
    r = console.client.post("/console/logout", data={"csrf": token})
    assert r.url.path == "/console/login"
    assert "已安全退出" in r.text
    assert console.client.get("/console/today", follow_redirects=False).status_code == 303
    assert "user.sign_out" in _actions(console, "user")


@pytest.mark.parametrize(("fen", "shown"), [(0, "0.00"), (5, "0.05"), (-123456789, "-1,234,567.89"),
                                            (100_000_000_000, "1,000,000,000.00")])  # fmt: skip
def test_yuan_is_integer_arithmetic(fen: int, shown: str) -> None:
    assert yuan(fen) == shown


def test_yuan_refuses_a_float() -> None:
    with pytest.raises(TypeError):
        yuan(1.5)  # type: ignore[arg-type]
    assert bp(8500) == "85.00%"
