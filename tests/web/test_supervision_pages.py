"""基金监管 pages without a browser (TestClient, both databases): two stays flagged
(a fee dated before admission), the supervisor's queue, a flag with its evidence and the
stay's trace, confirm (yuan typed, fen exactly, the deduction posted) and dismiss (a
reason) with errors beside their fields, the hospital's profile, the workbook; a township
clerk refused, a form without its CSRF token refused, a district clerk reads only."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

import pytest

from tests.registry_data import CENTRE, DIBAO, EMPLOYEE
from tests.web.conftest import NOW, Console, csrf_of
from yibao.adapters.web.supervision import evidence_items
from yibao.services.access.rights import Principal, create_key
from yibao.services.supervision import supervise_period

SUP = Principal("t-sup", "supervisor", None, kind="user")
LINES = [
    {"sn": "1", "code": "ZL-0001", "price_e6": 1_500_000_000, "qty_e4": 30_000},
    {"sn": "2", "code": "ZL-0001", "price_e6": 15_000_000, "qty_e4": 10_000,
     "service_time": "2020-02-10T09:00:00+08:00"},  # before admission
]  # fmt: skip


@dataclass
class Flagged:
    console: Console
    flags: dict[str, str]  # psn_no -> flag id (fee_outside_stay)
    stays: dict[str, str]  # psn_no -> encounter id


def flagged_stays(console: Console) -> Flagged:
    """A second stay for each seeded insuree, a fee dated before its admission: the scan
    of February flags it."""
    c, uow = console.client, console.data.uow
    key = create_key(uow, role="hospital", provider_code=CENTRE, label="s2", by="t", now=NOW).key
    h = {"Authorization": f"Bearer {key}"}
    stays = {}
    for psn in (EMPLOYEE, DIBAO):
        r = c.post("/v1/encounters", headers=h, json={
            "insuree_id": psn, "admit_time": "2020-02-13T09:00:00+08:00",
            "diagnoses": [{"code": "B99.900", "main": True}]})  # fmt: skip
        assert r.status_code == 201, r.text
        eid = r.json()["id"]
        r = c.post(f"/v1/encounters/{eid}/fees", json={"lines": LINES}, headers=h)
        assert r.status_code == 200, r.text
        r = c.post(f"/v1/encounters/{eid}/settlement", headers=h,
                   json={"discharge_date": "2020-02-14"})  # fmt: skip
        assert r.status_code == 201, r.text
        stays[psn] = eid
    from yibao.services.encounters.context import Context
    from yibao.services.supervision import queue

    ctx: Context = c.app.state.ctx
    # the clock is fixed: these settle at the time of the seeded ones, which the hook's
    # watermark has passed already; the period scan judges them
    supervise_period(uow, ctx, SUP, dt.date(2020, 2, 1), dt.date(2020, 2, 29))
    flags = {}
    for psn, eid in stays.items():
        rows = queue(uow, SUP, rule_id="fee_outside_stay", state=None)
        found = [f.id for f in rows if f.encounter_id == eid]
        assert found, f"no fee_outside_stay flag for {eid}"
        flags[psn] = found[0]
    c.cookies.clear()
    return Flagged(console, flags, stays)


@pytest.fixture
def flagged(console: Console) -> Flagged:
    return flagged_stays(console)


def _flag(f: Flagged, flag_id: str) -> Any:
    uow = f.console.data.uow
    with uow:
        return uow.supervision.flag(flag_id)


def _refusals(f: Flagged) -> list[str]:
    uow = f.console.data.uow
    with uow:
        rows = uow.hospital.audit_entries(entity="console", entity_id=None, limit=500)
    return [r.entity_id for r in rows if r.action == "access.refused"]


def test_supervisor_confirms_and_dismisses_from_the_console(flagged: Flagged) -> None:
    c, console = flagged.console.client, flagged.console
    console.sign_in("supervisor")
    today = c.get("/console/today").text
    assert 'href="/console/supervision"' in today  # the nav entry
    q = c.get("/console/supervision")
    assert q.status_code == 200
    for fid in flagged.flags.values():
        assert f'id="flag-{fid}"' in q.text
    assert "费用发生日期不在入出院期间" in q.text
    fid, other = flagged.flags[EMPLOYEE], flagged.flags[DIBAO]
    page = c.get(f"/console/supervision/flags/{fid}")
    assert page.status_code == 200
    assert "2020-02-10" in page.text  # the evidence: the line's date
    assert 'class="trace"' in page.text  # the stay's settlement, each amount with its clause
    assert "渝医保发" in page.text
    assert EMPLOYEE not in page.text  # a supervisor sees IDs masked
    token = csrf_of(page.text)

    r = c.post(f"/console/supervision/flags/{fid}/dismiss", data={"csrf": token, "reason": " "})
    assert r.status_code == 422
    assert 'id="err-reason"' in r.text
    for typed, msg in (("", "请输入追回金额"), ("12.345", "最多两位小数"), ("1e3", "最多两位小数"),
                       ("-5", "不能为负数"), ("99999999999999", "金额过大"),
                       ("999999", "超过所选基金")):  # fmt: skip
        r = c.post(f"/console/supervision/flags/{fid}/confirm",
                   data={"csrf": token, "amount": typed})  # fmt: skip
        assert r.status_code == 422, typed
        assert 'id="err-amount"' in r.text, typed
        assert msg in r.text, typed
        assert f'value="{typed}"' in r.text  # what was typed stays in the field
    assert _flag(flagged, fid).state == "open"

    r = c.post(f"/console/supervision/flags/{fid}/confirm",
               data={"csrf": token, "amount": "1,234.5", "note": "重复收费"})  # fmt: skip
    assert r.status_code == 200
    assert r.url.path == "/console/supervision"
    assert f"疑点 {fid} 已确认" in r.text
    assert f'id="flag-{fid}"' not in r.text  # left the queue
    row = _flag(flagged, fid)
    assert (row.state, row.recovered_fen, row.deduction_tx_id) == ("confirmed", 123_450,
                                                                   f"SD{fid}")  # fmt: skip
    uow = console.data.uow
    with uow:
        (tx,) = uow.hospital.transactions([f"SD{fid}"])
    assert sum(p.amount_fen for p in tx.postings) == 0
    assert f'id="flag-{fid}"' in c.get("/console/supervision?state=confirmed").text

    r = c.post(f"/console/supervision/flags/{other}/dismiss",
               data={"csrf": token, "reason": "经核实为入院前门诊费用"})  # fmt: skip
    assert r.status_code == 200
    assert f'id="flag-{other}"' not in r.text
    assert _flag(flagged, other).state == "dismissed"
    again = c.post(f"/console/supervision/flags/{other}/confirm",
                   data={"csrf": token, "amount": "1"})  # fmt: skip
    assert again.status_code == 409  # reviewed already: said beside the form
    assert 'id="err-_form"' in again.text

    prof = c.get(f"/console/supervision/hospitals/{CENTRE}")
    assert prof.status_code == 200
    assert "1,234.50" in prof.text
    assert f"SD{fid}" in prof.text
    assert c.get("/console/supervision/hospitals/NOPE1").status_code == 404
    assert c.get("/console/supervision/flags/SF-none").status_code == 404


def test_filters_and_the_workbook(flagged: Flagged) -> None:
    from openpyxl import load_workbook

    c = flagged.console.client
    flagged.console.sign_in("supervisor")
    fid = flagged.flags[EMPLOYEE]
    assert fid in c.get("/console/supervision?rule=fee_outside_stay&month=2020-02").text
    assert fid not in c.get("/console/supervision?month=2020-03").text
    assert fid not in c.get("/console/supervision?provider=H50010200002").text
    bad = c.get("/console/supervision?month=2020-13&rule=nope&state=x&provider=a-b")
    assert bad.status_code == 200
    for name in ("month", "rule", "state", "provider"):
        assert f'id="err-{name}"' in bad.text, name
    r = c.get("/console/supervision/workbook?month_from=2020-02&month_to=2020-02")
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames == ["汇总", "疑点明细"]
    ids = [row[0] for row in wb["疑点明细"].iter_rows(min_row=2, values_only=True)]
    assert set(flagged.flags.values()) <= set(ids)
    r = c.get("/console/supervision/workbook?month_from=2020/02")
    assert r.status_code == 422
    assert 'id="err-month_from"' in r.text


def test_a_township_clerk_is_refused(flagged: Flagged) -> None:
    c = flagged.console.client
    flagged.console.sign_in("township-clerk")
    assert 'href="/console/supervision"' not in c.get("/console/today").text
    fid = flagged.flags[EMPLOYEE]
    for path in ("/console/supervision", f"/console/supervision/flags/{fid}",
                 f"/console/supervision/hospitals/{CENTRE}",
                 "/console/supervision/workbook"):  # fmt: skip
        r = c.get(path)
        assert r.status_code == 403, path
        assert 'id="error-message"' in r.text
    token = csrf_of(c.get("/console/today").text)
    r = c.post(f"/console/supervision/flags/{fid}/dismiss", data={"csrf": token, "reason": "x"})
    assert r.status_code == 403
    assert _flag(flagged, fid).state == "open"
    assert f"/console/supervision/flags/{fid}" in _refusals(flagged)


def test_a_form_without_its_csrf_token_is_refused(flagged: Flagged) -> None:
    c = flagged.console.client
    flagged.console.sign_in("supervisor")
    fid = flagged.flags[EMPLOYEE]
    for action, data in (("confirm", {"amount": "1.00"}), ("dismiss", {"reason": "x"})):
        for sent in ({}, {"csrf": "forged"}):
            r = c.post(f"/console/supervision/flags/{fid}/{action}", data=data | sent)
            assert r.status_code == 403, (action, sent)
            assert "安全令牌" in r.text
    assert _flag(flagged, fid).state == "open"
    assert f"/console/supervision/flags/{fid}/confirm" in _refusals(flagged)


def test_a_district_clerk_reads_but_does_not_review(flagged: Flagged) -> None:
    c = flagged.console.client
    flagged.console.sign_in("district-clerk")
    fid = flagged.flags[EMPLOYEE]
    page = c.get(f"/console/supervision/flags/{fid}")
    assert page.status_code == 200
    assert 'id="confirm-form"' not in page.text
    assert EMPLOYEE in page.text  # a clerk sees the ID (the read audited)
    r = c.post(f"/console/supervision/flags/{fid}/confirm",
               data={"csrf": csrf_of(page.text), "amount": "1.00"})  # fmt: skip
    assert r.status_code == 403
    assert _flag(flagged, fid).state == "open"


def test_evidence_is_shown_from_integers() -> None:
    items = evidence_items({"measure": "cost", "value": 1_234_567, "peer_median": 100,
                            "peers": 40, "lines": [{"sn": "1", "price_e6": 58_300,
                                                    "filed_e6": 50_000_000}]},
                           stay_links=False)  # fmt: skip
    shown = {i.label: (i.text, [[c.text for c in r] for r in i.rows]) for i in items}
    assert shown["本次"][0] == "12,345.67"
    assert shown["同类中位数"][0] == "1.00"
    assert shown["同类住院数"][0] == "40"
    assert shown["涉及的费用明细"][1] == [["1", "0.0583", "50.00"]]
    days = evidence_items({"measure": "stay_days", "value": 30}, stay_links=False)
    assert days[1].text == "30"
