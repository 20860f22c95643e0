"""异地就医备案 in headless Chromium (the console's browser-test server): a township clerk
takes a COVID filing in through the form (a bad region shown beside its field first) and
forwards it; the district clerk finds it in the queue with its due time, tries to refuse
it without a reason (the message beside the field), approves it and reads its history.
Set YIBAO_FILING_SHOTS=docs/console to write docs/console/filing_*.png."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tests.registry_data import EMPLOYEE
from tests.web.test_browser import _sign_in, browser, page, server  # noqa: F401  (fixtures)


def test_a_filing_from_the_township_to_the_district(server: Any, page: Any) -> None:  # noqa: F811
    base, _ = server
    page.set_viewport_size({"width": 1366, "height": 900})
    shots = os.environ.get("YIBAO_FILING_SHOTS")
    out = Path(shots) if shots else None

    def shot(name: str) -> None:
        if out is not None:
            page.screenshot(path=out / f"{name}.png", full_page=True)

    _sign_in(page, base, "township-clerk")
    page.wait_for_url("**/console/today")
    page.click("nav a[href='/console/filings']")
    page.wait_for_url("**/console/filings")
    page.click("#new-filing")
    page.select_option("select[name=kind]", "temporary")
    page.fill("input[name=insuree_id]", EMPLOYEE)
    page.fill("input[name=dest_region]", "4201")
    page.check("input[name=covid]")
    page.click("#filing-submit")
    assert "6" in page.inner_text("#err-dest_region")
    page.fill("input[name=dest_region]", "420100")
    shot("filing_intake")
    page.click("#filing-submit")
    page.wait_for_url("**/console/filings/F*")
    assert page.inner_text("#filing-state") == "已受理"
    page.click("#do-forward")
    page.wait_for_url("**/console/filings/F*")
    assert page.inner_text("#filing-state") == "已报送"
    page.click("#logout")
    _sign_in(page, base, "district-clerk")
    page.wait_for_url("**/console/today")
    page.goto(f"{base}/console/filings")
    row = page.locator("#filing-queue tbody tr").first
    assert "已报送" in row.inner_text()
    assert "2020-02-15 10:00" in row.inner_text()
    shot("filing_queue")
    row.locator("a").click()
    page.wait_for_url("**/console/filings/F*")
    page.click("#do-refuse")
    assert "理由" in page.inner_text("#err-reason")
    shot("filing_decide")
    page.click("#do-approve")
    page.wait_for_url("**/console/filings/F*")
    assert page.inner_text("#filing-state") == "已核准"
    assert page.locator("#filing-history tbody tr").count() == 4
    shot("filing_history")
