"""药品监测 pages without a browser (TestClient, both databases): orders imported with a
price spike, the overview's three charts per drug, the signal list, a signal's evidence
and its state moved (dismiss without a reason refused beside the field; investigate,
then report: each step recorded), emergency filings accepted at the console; an auditor
reads but may not move a signal."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tests.registry_data import CENTRE
from tests.web.conftest import NOW, Console, csrf_of
from yibao.services import drugs
from yibao.services.access.rights import Principal

CLERK = Principal("t-clerk", "district_clerk", None, kind="user")
LPV = "XL04AXX999T000000000001"


def _seed(console: Console, tmp_path: Path) -> str:
    uow = console.data.uow
    lines = ["order_id,order_date,provider,code,supplier,price,qty_ordered,qty_delivered,"
             "delivery_date"]  # fmt: skip
    day, n = dt.date(2020, 1, 1), 0
    while day <= dt.date(2020, 2, 13):
        for hosp in (CENTRE, "H50010200002"):
            n += 1
            price = "12.5" if day < dt.date(2020, 2, 5) else "30"
            lines.append(
                f"PO{n:04d},{day},{hosp},{LPV},配送甲,{price},10,10,{day + dt.timedelta(1)}"
            )
        day += dt.timedelta(days=3)
    path = tmp_path / "orders.csv"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    drugs.import_orders(uow, CLERK, path, now=NOW)
    drugs.scan_region(uow, CLERK, dt.date(2020, 2, 1), dt.date(2020, 2, 13), now=NOW)
    filing = drugs.DrugFilingIn(CENTRE, LPV, "应急供应商", 20_000_000, 100_000,
                                dt.date(2020, 2, 10), "挂网缺货")  # fmt: skip
    drugs.file_purchase(uow, CLERK, filing, now=NOW)
    return drugs.signals(uow, CLERK, kinds=["price"])[0].id


def test_the_drug_pages(console: Console, tmp_path: Path) -> None:
    sid = _seed(console, tmp_path)
    c = console.client
    console.sign_in("supervisor")
    over = c.get("/console/drugs")
    assert over.status_code == 200
    assert f'id="drug-{LPV}"' in over.text
    assert over.text.count("<svg") >= 3
    listing = c.get("/console/drugs/signals?kind=price")
    assert sid in listing.text
    assert "价格高于近期基准" in listing.text
    one = c.get(f"/console/drugs/signals/{sid}")
    assert "证据" in one.text
    assert "30" in one.text
    token = csrf_of(one.text)
    refused = c.post(f"/console/drugs/signals/{sid}/dismiss", data={"csrf": token, "reason": ""})
    assert refused.status_code == 422
    assert 'id="err-reason"' in refused.text
    form = {"csrf": token, "reason": "电话核实", "version": "1"}
    ok = c.post(f"/console/drugs/signals/{sid}/investigate", data=form, follow_redirects=False)
    assert ok.status_code == 303
    stale = c.post(f"/console/drugs/signals/{sid}/report", data={"csrf": token, "version": "1"})
    assert stale.status_code == 409
    c.post(f"/console/drugs/signals/{sid}/report", data={"csrf": token, "version": "2"})
    page = c.get(f"/console/drugs/signals/{sid}").text
    assert "已上报" in page
    assert page.count("user:supervisor") == 2
    c.cookies.clear()
    console.sign_in("district-clerk")
    filings = c.get("/console/drugs/filings")
    assert "挂网缺货" in filings.text
    fid = drugs.filings(console.data.uow, CLERK)[0].id
    token = csrf_of(filings.text)
    bad = c.post(f"/console/drugs/filings/{fid}/decision",
                 data={"csrf": token, "decision": "refuse", "reason": ""})  # fmt: skip
    assert bad.status_code == 422
    done = c.post(f"/console/drugs/filings/{fid}/decision",
                  data={"csrf": token, "decision": "accept"}, follow_redirects=False)  # fmt: skip
    assert done.status_code == 303
    assert drugs.filed_price(console.data.uow, CENTRE, LPV, dt.date(2020, 2, 11)) == 20_000_000
    c.cookies.clear()
    console.sign_in("auditor")
    assert c.get(f"/console/drugs/signals/{sid}").status_code == 200
    no = c.post(f"/console/drugs/signals/{sid}/dismiss",
                data={"csrf": csrf_of(c.get("/console/drugs").text), "reason": "x"})  # fmt: skip
    assert no.status_code == 403
