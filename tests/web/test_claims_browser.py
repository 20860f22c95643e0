"""手工报销 in headless Chromium (the console's browser-test server): a claim from the
township counter to the bank — intake with its fee list, 移交, 初审 with the unknown line
classified, 复核/结算/审批 by another district clerk, the payment batch and the bank's
return file — driven by bench/screenshots.py's ``claim_flow`` (the same steps shoot
docs/console/claim_*.png; set YIBAO_CLAIM_SHOTS=docs/console to write them)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bench.screenshots import claim_flow

from tests.claims.test_claims import hubei_catalog
from tests.registry_data import EMPLOYEE
from tests.web.conftest import NOW, PASSWORD
from tests.web.test_browser import _sign_in, browser, page, server  # noqa: F401  (fixtures)
from yibao.services.access.rights import Principal
from yibao.services.access.users import create_user


def test_a_claim_from_the_counter_to_the_bank(
    server: Any,  # noqa: F811
    page: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    base, data = server
    hubei_catalog(data.uow)
    admin = Principal("cli:test", "admin", None)
    create_user(data.uow, admin, login="district-clerk-2", role="district_clerk",
                password=PASSWORD, display_name="复核员", now=NOW)  # fmt: skip
    page.set_viewport_size({"width": 1366, "height": 900})
    shots = os.environ.get("YIBAO_CLAIM_SHOTS")

    def sign(login: str) -> None:
        _sign_in(page, base, login)
        page.wait_for_url("**/console/today")

    logins = ("township-clerk", "district-clerk", "district-clerk-2", "finance")
    out = Path(shots) if shots else None
    cid = claim_flow(page, base, sign, EMPLOYEE, tmp_path, out, logins)
    assert "医疗费用手工报销结算单" in page.inner_text("h1")
    assert "415.01" in page.content()
    page.goto(f"{base}/console/claims/{cid}")
    assert page.inner_text("#claim-status") == "已支付"
    events = page.inner_text("#claim-events")
    for kind in ("receive", "forward", "classify", "first_review", "second_review", "settle",
                 "approve", "batch", "paid"):  # fmt: skip
        assert kind in events
