"""药品监测 in headless Chromium (the console's real server, tests/web/test_browser.py's
fixtures): the overview's charts, the signal list, a signal's evidence, dismissing it
without a reason (the message beside the field) and investigating it (its state and
step shown), accepting an emergency filing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from tests.registry_data import CENTRE
from tests.web.conftest import NOW, PASSWORD, Seeded
from tests.web.test_browser import browser, page, server  # noqa: F401  (fixtures)
from yibao.services import drugs
from yibao.services.access.rights import Principal

CLERK = Principal("t-clerk", "district_clerk", None, kind="user")
LPV = "XL04AXX999T000000000001"


def _seed(data: Seeded, tmp_path: Path) -> str:
    lines = ["order_id,order_date,provider,code,supplier,price,qty_ordered,qty_delivered,"
             "delivery_date"]  # fmt: skip
    day, n = dt.date(2020, 1, 1), 0
    while day <= dt.date(2020, 2, 13):
        for hosp in (CENTRE, "H50010200002"):
            n += 1
            price = "12.5" if day < dt.date(2020, 2, 5) else "30"
            lines.append(
                f"BR{n:04d},{day},{hosp},{LPV},配送甲,{price},10,10,{day + dt.timedelta(1)}"
            )
        day += dt.timedelta(days=3)
    path = tmp_path / "orders.csv"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    drugs.import_orders(data.uow, CLERK, path, now=NOW)
    drugs.scan_region(data.uow, CLERK, dt.date(2020, 2, 1), dt.date(2020, 2, 13), now=NOW)
    filing = drugs.DrugFilingIn(CENTRE, LPV, "应急供应商", 20_000_000, 100_000,
                                dt.date(2020, 2, 10), "挂网缺货（浏览器测试）")  # fmt: skip
    drugs.file_purchase(data.uow, CLERK, filing, now=NOW)
    return drugs.signals(data.uow, CLERK, kinds=["price"])[0].id


def _sign_in(pg: Any, base: str, login: str) -> None:
    pg.goto(f"{base}/console/login")
    pg.fill("input[name=login]", login)
    pg.fill("input[name=password]", PASSWORD)
    pg.click("button[type=submit]")
    pg.wait_for_url("**/console/today")


def test_the_drug_pages_in_a_browser(server: Any, page: Any, tmp_path: Path) -> None:  # noqa: F811
    base, data = server
    sid = _seed(data, tmp_path)
    _sign_in(page, base, "supervisor")
    page.click("nav a[href='/console/drugs']")
    page.wait_for_url("**/console/drugs")
    assert "药品监测" in page.inner_text("h1")
    assert page.locator(f"#drug-{LPV} svg").count() == 3
    page.click("#signals-link")
    page.wait_for_url("**/console/drugs/signals")
    page.click(f"#signal-table a[href='/console/drugs/signals/{sid}']")
    page.wait_for_url(f"**/console/drugs/signals/{sid}")
    assert page.locator("#evidence svg").count() == 1
    page.click("#dismiss")
    assert "理由" in page.inner_text("#err-reason")
    page.fill("#investigate-form textarea[name=reason]", "电话核实配送企业")
    page.click("#investigate")
    page.wait_for_url(f"**/console/drugs/signals/{sid}")
    assert page.inner_text("#signal-state") == "调查中"
    assert "电话核实配送企业" in page.inner_text("#steps")
    page.click("#logout")
    _sign_in(page, base, "district-clerk")
    page.goto(f"{base}/console/drugs/filings")
    row = page.locator("#filing-table tr", has_text="浏览器测试")
    row.locator("button[value=accept]").click()
    page.wait_for_url("**/console/drugs/filings")
    assert "已受理" in page.locator("#filing-table tr", has_text="浏览器测试").inner_text()
