"""资金管理 in headless Chromium (Debian's /usr/bin/chromium, as test_browser.py), the
app's clock on 2020-03-02: finance prepares February 2020's statements and opens one, a
district clerk records the hospital's confirmation, finance pays the batch; the same
finance person who proposed a prepayment is refused at 复核, the refusal beside the
form. bench/screenshots.py's ``funds_pages`` shoots every page here (set
YIBAO_FUNDS_SHOTS=docs/console to write docs/console/funds_*.png)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bench.screenshots import funds_pages

from tests.registry_data import CENTRE
from tests.web.conftest import Console, app_for, seed
from tests.web.test_browser import _free_port, _sign_in, browser, page  # noqa: F401
from tests.web.test_funds_pages import FIN, MARCH, at_march, second_finance
from yibao.packs import PACKS_DIR
from yibao.services.access.rights import Principal
from yibao.services.encounters.context import Context
from yibao.services.funds import clearing, prepayment, subsidy
from yibao.store.db import make_engine
from yibao.store.uow import UnitOfWork

FINANCE = Principal("finance", "finance", None, kind="user")  # the console user "finance"
CLERK = Principal("district-clerk", "district_clerk", None, kind="user")


@pytest.fixture(scope="module")
def funds_server(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, UnitOfWork, str]]:
    import uvicorn
    from fastapi.testclient import TestClient

    from yibao import bootstrap

    path = tmp_path_factory.mktemp("funds") / "yibao.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    mp = pytest.MonkeyPatch()
    app = app_for(url, mp)
    engine = make_engine(url)
    uow = UnitOfWork(engine)
    with TestClient(app) as client:
        console = Console(client, seed(uow, client))
        second_finance(console)
        at_march(console)
    ctx: Context = app.state.ctx
    assert ctx.now() == MARCH
    p = prepayment.apply(
        uow, ctx, CLERK, prepayment.PrepaymentIn(CENTRE, 500_000_00, "新冠定点救治", 5)
    )
    prepayment.propose(uow, ctx, FINANCE, p.id, 400_000_00)
    subsidy.claim(uow, ctx, CLERK, CENTRE, MARCH.date().replace(day=1) - dt.timedelta(days=1))
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}", uow, p.id
    srv.should_exit = True
    thread.join(10)
    mp.undo()
    bootstrap.dispose_engines()
    engine.dispose()


def _sign_out(pg: Any) -> None:
    pg.click("#logout")
    pg.wait_for_url("**/console/login*")


def test_finance_prepares_february_opens_a_statement_and_pays_the_batch(
    funds_server: tuple[str, UnitOfWork, str],
    page: Any,  # noqa: F811
) -> None:
    base, uow, _ = funds_server
    _sign_in(page, base, "finance")
    page.wait_for_url("**/console/today")
    page.click("nav a[href='/console/funds']")
    page.wait_for_url("**/console/funds/prepayments")
    page.click("#funds-tabs a[href='/console/funds/statements']")
    page.fill("#prepare-form input[name=month]", "2020-02")
    page.click("#prepare")
    page.wait_for_selector("#notice")
    assert "已生成 1 张" in page.inner_text("#notice")
    (s,) = clearing.statements(uow, FIN, month=MARCH.date().replace(month=2, day=1))
    page.click(f"#stm-{s.id} a")
    page.wait_for_url(f"**/console/funds/statements/{s.id}")
    assert page.inner_text("#stm-state") == "待确认"
    net = page.inner_text("#stm-net")
    assert net.replace(",", "").replace(".", "") == str(s.net_fen)
    _sign_out(page)

    _sign_in(page, base, "district-clerk")
    page.wait_for_url("**/console/today")
    page.goto(f"{base}/console/funds/statements/{s.id}")
    page.click("#confirm")  # no reference
    page.wait_for_selector("#err-ref")
    page.fill("input[name=ref]", "回执 2020-0302-01")
    page.click("#confirm")
    page.wait_for_function("document.querySelector('#stm-state').innerText === '已确认'")
    _sign_out(page)

    _sign_in(page, base, "finance")
    page.wait_for_url("**/console/today")
    page.goto(f"{base}/console/funds/statements?month=2020-02")
    assert page.inner_text("#confirmed-count") == "1"
    page.click("#pay")
    page.wait_for_selector("#notice")
    assert "已拨付 1 张" in page.inner_text("#notice")
    assert "已拨付" in page.inner_text(f"#stm-{s.id}")
    assert clearing.statement(uow, FIN, s.id).state == "paid"


def test_the_proposer_is_refused_at_approval(
    funds_server: tuple[str, UnitOfWork, str],
    page: Any,  # noqa: F811
) -> None:
    base, uow, pid = funds_server
    _sign_in(page, base, "finance")
    page.wait_for_url("**/console/today")
    page.goto(f"{base}/console/funds/prepayments")
    page.click(f"#pre-{pid} a")
    page.wait_for_url(f"**/console/funds/prepayments/{pid}")
    assert "400,000.00" in page.inner_text("#approve-form")
    assert "基线合计" in page.inner_text("#baseline")
    page.click("#approve")
    page.wait_for_selector("#err-approve")
    assert "双人审批" in page.inner_text("#err-approve")
    assert page.inner_text("#pre-state") == "已初审"
    if os.environ.get("YIBAO_FUNDS_SHOTS"):
        page.set_viewport_size({"width": 1366, "height": 900})
        page.screenshot(path=Path(os.environ["YIBAO_FUNDS_SHOTS"]) / "funds_four_eyes.png",
                        full_page=True)  # fmt: skip
    (p,) = [x for x in prepayment.prepayments(uow, FIN) if x.id == pid]
    assert (p.state, p.approved_by) == ("proposed", None)


def test_every_funds_page_in_the_browser(
    funds_server: tuple[str, UnitOfWork, str],
    page: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    base, uow, _ = funds_server
    page.set_viewport_size({"width": 1366, "height": 900})
    out = Path(os.environ.get("YIBAO_FUNDS_SHOTS") or tmp_path)
    # February's statements, whichever test of this module runs first on this worker
    february = MARCH.date().replace(month=2, day=1)
    if not clearing.statements(uow, FIN, month=february):
        ctx = Context(Context.from_folder(PACKS_DIR).packs, clock=lambda: MARCH)
        clearing.prepare(uow, ctx, FIN, february)

    def sign(login: str) -> None:
        _sign_in(page, base, login)
        page.wait_for_url("**/console/today")

    shots = funds_pages(page, base, sign, out, login="finance")
    names = [p.stem for p in shots]
    assert names == ["funds_prepayments", "funds_prepayment", "funds_statements",
                     "funds_statement", "funds_statement_print", "funds_subsidy",
                     "funds_trial"]  # fmt: skip
    assert all(p.stat().st_size > 10_000 for p in shots)
    assert "平衡" in page.inner_text("#books")
