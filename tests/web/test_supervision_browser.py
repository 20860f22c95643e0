"""基金监管 in headless Chromium (Debian's /usr/bin/chromium, as test_browser.py): a
supervisor opens the queue, a flag, dismisses it without a reason (the error beside the
field), confirms it with an amount, and sees it leave the queue."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.registry_data import EMPLOYEE
from tests.web.conftest import Console, app_for, seed
from tests.web.test_browser import _free_port, _sign_in, browser, page  # noqa: F401
from tests.web.test_supervision_pages import Flagged, flagged_stays
from yibao.store.db import make_engine
from yibao.store.uow import UnitOfWork


@pytest.fixture(scope="module")
def flagged_server(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Flagged]]:
    import uvicorn
    from fastapi.testclient import TestClient

    from yibao import bootstrap

    path = tmp_path_factory.mktemp("supervision") / "yibao.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    mp = pytest.MonkeyPatch()
    app = app_for(url, mp)
    engine = make_engine(url)
    with TestClient(app) as client:
        console = Console(client, seed(UnitOfWork(engine), client))
        flagged = flagged_stays(console)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}", flagged
    srv.should_exit = True
    thread.join(10)
    mp.undo()
    bootstrap.dispose_engines()
    engine.dispose()


def test_a_supervisor_dismisses_without_a_reason_then_confirms(
    flagged_server: tuple[str, Flagged],
    page: Any,  # noqa: F811
) -> None:
    base, flagged = flagged_server
    fid = flagged.flags[EMPLOYEE]
    _sign_in(page, base, "supervisor")
    page.wait_for_url("**/console/today")
    page.click("nav a[href='/console/supervision']")
    page.wait_for_url("**/console/supervision")
    assert "疑点审核" in page.inner_text("h1")
    page.click(f"#flag-{fid} a[href='/console/supervision/flags/{fid}']")
    page.wait_for_url(f"**/console/supervision/flags/{fid}")
    assert "2020-02-10" in page.inner_text("#evidence")
    assert page.locator("table.trace tr").count() > 5  # the stay's settlement trace
    page.click("#dismiss")  # no reason
    page.wait_for_selector("#err-reason")
    assert "请填写排除理由" in page.inner_text("#err-reason")
    assert "待审核" in page.inner_text("#flag-state")
    page.fill("input[name=amount]", "1,200.05")
    page.click("#confirm")
    page.wait_for_selector("#notice")
    assert fid in page.inner_text("#notice")
    assert page.locator(f"#flag-{fid}").count() == 0  # left the queue
    page.select_option("select[name=state]", "confirmed")
    page.click("form.filters button[type=submit]")  # HTMX swaps the rows in
    page.wait_for_selector(f"#flag-{fid}")
    assert "1,200.05" in page.inner_text(f"#flag-{fid}")
    uow = flagged.console.data.uow
    with uow:
        row = uow.supervision.flag(fid)
    assert (row.state, row.recovered_fen) == ("confirmed", 120_005)
