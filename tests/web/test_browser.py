"""The real console in headless Chromium (Debian's /usr/bin/chromium driven by
Playwright; never Playwright's own browsers): uvicorn on 127.0.0.1 and a free port, a
SQLite file database with the example registries, a user of every role and two settled
stays. Sign-in, every page, a bad upload (errors shown, nothing saved), a form without
its CSRF token (refused), a township clerk refused another township's insuree, sign-out."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.registry_data import DIBAO, EMPLOYEE
from tests.web.conftest import PASSWORD, Seeded, app_for, seed
from yibao.store.db import make_engine
from yibao.store.uow import UnitOfWork

CHROMIUM = Path("/usr/bin/chromium")
playwright_api = pytest.importorskip("playwright.sync_api")
if not CHROMIUM.exists():  # make test installs it (Makefile: chromium)
    pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium", pytrace=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    import uvicorn
    from fastapi.testclient import TestClient

    from yibao import bootstrap

    path = tmp_path_factory.mktemp("console") / "yibao.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    mp = pytest.MonkeyPatch()
    app = app_for(url, mp)
    engine = make_engine(url)
    with TestClient(app) as client:  # the same app: seed through its REST API
        data = seed(UnitOfWork(engine), client)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}", data
    srv.should_exit = True
    thread.join(10)
    mp.undo()
    bootstrap.dispose_engines()
    engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM))
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    pg = ctx.new_page()
    pg.set_default_timeout(10_000)
    yield pg
    ctx.close()


def _sign_in(page: Any, base: str, login: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/console/login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_sign_in_every_page_and_sign_out(server: Any, page: Any) -> None:
    base, data = server
    _sign_in(page, base, "admin", "not-the-password")
    assert "登录名或密码错误" in page.inner_text("#err-password")
    _sign_in(page, base, "admin")
    page.wait_for_url("**/console/today")
    page.click("nav a[href='/console/admin']")
    assert "用户与密钥" in page.inner_text("h1")
    assert page.locator("nav a[href='/console/stays']").count() == 0  # not an admin's
    page.click("#logout")
    _sign_in(page, base, "district-clerk")
    page.wait_for_url("**/console/today")
    assert page.inner_text("h1").startswith("日报")
    page.goto(f"{base}/console/today?date=2020-02-12")
    assert page.locator("svg").count() >= 3  # the charts
    for path, title in (("stays", "就诊查询"), ("deferred", "延迟结算"), ("registry", "登记信息")):
        page.click(f"nav a[href='/console/{path}']")
        page.wait_for_url(f"**/console/{path}")
        assert title in page.inner_text("h1")
    assert page.locator("nav a[href='/console/admin']").count() == 0
    page.goto(f"{base}/console/stays")
    page.fill("input[name=insuree]", EMPLOYEE)
    page.click("form.filters button[type=submit]")  # HTMX swaps the rows in
    page.wait_for_selector(f"#rows a[href='/console/stays/{data.stays[EMPLOYEE]}']")
    assert data.stays[DIBAO] not in page.inner_text("#rows")
    page.click(f"#rows a[href='/console/stays/{data.stays[EMPLOYEE]}']")
    page.wait_for_url(f"**/console/stays/{data.stays[EMPLOYEE]}")
    assert page.locator(f"#settlement-{data.settlements[EMPLOYEE]} table.trace tr").count() > 5
    page.click("#logout")
    page.wait_for_url("**/console/login?out=1")
    page.goto(f"{base}/console/today")
    page.wait_for_url("**/console/login")


def _insurees(data: Seeded) -> int:
    with data.uow:
        return data.uow.insurees.count_current()


def test_a_bad_upload_shows_every_row_error_and_saves_nothing(
    server: Any, page: Any, tmp_path: Path
) -> None:
    base, data = server
    before = _insurees(data)
    bad = tmp_path / "insurees.csv"
    header = "psn_no,name,scheme,resident_tier,insured_region,township,assistance_category,"
    header += "assistance_from,assistance_to,account_opening_fen,enrolled,valid_from,valid_to"
    bad.write_text(header + "\n"
                   "500102199001010011,好人,employee,,500102,500102001,none,,,0,true,2020-01-01,\n"
                   "123,坏号,employee,,500102,,none,,,0,true,2020-01-01,\n"
                   "500102199001010038,坏险种,gold,,500102,,none,,,0,true,2020-01-01,\n",
                   encoding="utf-8")  # fmt: skip
    _sign_in(page, base, "district-clerk")
    page.goto(f"{base}/console/registry")
    page.select_option("select[name=kind]", "insurees")
    page.set_input_files("input[name=file]", str(bad))
    page.click("#import-submit")
    page.wait_for_selector("#problems")
    assert "未保存任何数据" in page.inner_text("#job-state")
    rows = page.locator("#problems tbody tr")
    assert rows.count() >= 2
    shown = page.inner_text("#problems")
    assert "row 3" in shown
    assert "row 4" in shown
    assert _insurees(data) == before


def test_a_form_without_its_csrf_token_is_refused(server: Any, page: Any) -> None:
    base, _ = server
    _sign_in(page, base, "district-clerk")
    page.goto(f"{base}/console/deferred")
    page.evaluate("document.querySelector('form[action$=\"/deferred/settle\"] "
                  "input[name=csrf]').remove()")  # fmt: skip
    page.click("#settle-ready")
    page.wait_for_selector("#error-message")
    assert "安全令牌" in page.inner_text("#error-message")
    page.goto(f"{base}/console/deferred")  # still signed in; the real form works
    page.click("#settle-ready")
    page.wait_for_selector("#run-result")


def test_a_township_clerk_is_refused_another_townships_insuree(server: Any, page: Any) -> None:
    base, data = server
    _sign_in(page, base, "township-clerk")
    page.goto(f"{base}/console/stays/{data.stays[DIBAO]}")
    assert "不属于本乡镇" in page.inner_text("#error-message")
    page.goto(f"{base}/console/stays/{data.stays[EMPLOYEE]}")
    assert EMPLOYEE in page.inner_text("main")
