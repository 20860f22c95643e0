"""The REST API on both databases: every use case, idempotency, 冲正, reversal, roles,
masking, and bad input (problem+json naming the field; nothing persisted)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.api.conftest import Api
from tests.registry_data import DIBAO, EMPLOYEE

ADMIT = {"insuree_id": EMPLOYEE, "admit_time": "2020-02-03T09:00:00+08:00",
         "diagnoses": [{"code": "B99.900", "main": True}]}  # fmt: skip
LINES = [
    {"sn": "1", "code": "YP-0002", "price_e6": 50_000_000, "qty_e4": 20_000},
    {"sn": "2", "code": "ZL-0001", "price_e6": 1_500_000_000, "qty_e4": 30_000},
    {"sn": "3", "code": "XJ05AXA159A001010101445", "price_e6": 120_000_000, "qty_e4": 10_000},
]
ZERO = {"basic_entitled_fen": 0, "basic_paid_fen": 0, "serious_base_fen": 0,
        "serious_paid_fen": 0, "assistance_entitled_fen": 0, "assistance_paid_fen": 0}  # fmt: skip


def _admit(api: Api, body: dict[str, Any] | None = None, role: str = "hospital") -> str:
    r = api.client.post("/v1/encounters", json=body or ADMIT, headers=api.h(role))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _fees(api: Api, eid: str, lines: list[dict[str, Any]] | None = None) -> Any:
    r = api.client.post(f"/v1/encounters/{eid}/fees", json={"lines": lines or LINES},
                        headers=api.h())  # fmt: skip
    assert r.status_code == 200, r.text
    return r.json()


def _problem(r: Any, status: int, field: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert set(body) == {"type", "title", "status", "detail", "errors"}
    assert body["status"] == status
    if field is not None:
        assert field in [e["field"] for e in body["errors"]], body
    return dict(body)


def test_the_lifecycle_settles_one_stop_and_reverses(api: Api) -> None:
    c = api.client
    eid = _admit(api)
    up = _fees(api, eid)
    assert up["new"] == 3
    assert up["lines"][0]["hospital_code"] == "YP-0002"
    assert up["lines"][0]["split"]["rule"].startswith("§4.2")
    pre = c.post(f"/v1/encounters/{eid}/presettlement", json={"discharge_date": "2020-02-12"},
                 headers=api.h())  # fmt: skip
    assert pre.status_code == 200
    assert pre.json()["settlement_id"] is None
    r = c.post(f"/v1/encounters/{eid}/settlement", json={"discharge_date": "2020-02-12"},
               headers=api.h())  # fmt: skip
    assert r.status_code == 201, r.text
    s = r.json()
    assert s["setlinfo"] == pre.json()["setlinfo"]
    assert s["setlinfo"]["psn_cash_pay"] == 0
    assert s["setlinfo"]["fiscal_pay"] > 0
    assert s["accumulators_before"] == ZERO
    assert list(s["accumulators_after"]) == list(ZERO)  # six keys, in their order
    after = s["accumulators_after"]
    assert after["basic_paid_fen"] == s["setlinfo"]["hifp_pay"]
    assert after["serious_paid_fen"] == s["setlinfo"]["hifmi_pay"] + s["setlinfo"]["hifob_pay"]
    assert after["assistance_paid_fen"] == s["setlinfo"]["maf_pay"]
    assert s["central_share_bp"] == 6000
    assert s["pack"]["id"] == "cq-2020"
    assert {t["field"] for t in s["trace"]} >= {"hifp_pay", "fiscal_pay", "psn_cash_pay"}
    got = c.get(f"/v1/settlements/{s['settlement_id']}", headers=api.h("clerk")).json()
    assert got["setlinfo"] == s["setlinfo"]
    assert got["trace"] == s["trace"]
    enc = c.get(f"/v1/encounters/{eid}", headers=api.h()).json()
    assert (enc["status"], enc["settlement_id"]) == ("settled", s["settlement_id"])
    rev = c.post(f"/v1/settlements/{s['settlement_id']}/reversal", headers=api.h())
    assert rev.status_code == 201, rev.text
    assert rev.json()["setlinfo"]["medfee_sumamt"] == -s["setlinfo"]["medfee_sumamt"]
    assert rev.json()["accumulators_after"] == s["accumulators_before"]
    again = c.post(f"/v1/encounters/{eid}/settlement", json={}, headers=api.h())
    assert again.status_code == 201
    assert again.json()["setlinfo"] == s["setlinfo"]
    check = c.get("/v1/ledger/check", headers=api.h("finance")).json()
    assert check == {"ok": True, "problems": []}
    cum = c.get(f"/v1/insurees/{EMPLOYEE}/cumulative?year=2020", headers=api.h()).json()
    assert cum["accumulators"] == again.json()["accumulators_after"]


def test_sub_fen_prices_and_fractional_quantities_settle_to_the_fen(api: Api) -> None:
    c = api.client
    eid = _admit(api)
    lines = [
        # 0.0583 yuan a tablet × 42: 2.4486 yuan -> 245 fen (half up), amount given and checked
        {"sn": "1", "code": "YP-0002", "price_e6": 58_300, "qty_e4": 420_000, "amount_fen": 245},
        # 12.345678 yuan × 2.5: 30.864195 yuan -> 3086 fen
        {"sn": "2", "code": "ZL-0001", "price_e6": 12_345_678, "qty_e4": 25_000},
        # 120 yuan × 0.3333: 39.996 yuan -> 4000 fen
        {"sn": "3", "code": "XJ05AXA159A001010101445", "price_e6": 120_000_000, "qty_e4": 3_333},
    ]
    # a refund of 10.5 tablets: -0.61215 yuan -> -61 fen (half up on the magnitude)
    refund = {"sn": "4", "code": "YP-0002", "price_e6": 58_300, "qty_e4": -105_000,
              "reverses_sn": "1", "amount_fen": -61}  # fmt: skip
    up = _fees(api, eid, [*lines, refund])
    assert [(ln["price_e6"], ln["qty_e4"], ln["amount_fen"]) for ln in up["lines"]] == [
        (58_300, 420_000, 245),
        (12_345_678, 25_000, 3086),
        (120_000_000, 3_333, 4000),
        (58_300, -105_000, -61),
    ]
    assert up["lines"][3]["reverses_sn"] == "1"
    assert all("price_fen" not in ln and "qty_milli" not in ln for ln in up["lines"])
    r = c.post(f"/v1/encounters/{eid}/settlement", json={"discharge_date": "2020-02-12"},
               headers=api.h())  # fmt: skip
    assert r.status_code == 201, r.text
    s = r.json()
    info = s["setlinfo"]
    # 31.5 tablets left: 1.83645 yuan -> 184 fen, = 245 - 61
    assert info["medfee_sumamt"] == 184 + 3086 + 4000
    assert info["medfee_sumamt"] == sum(ln["det_item_fee_sumamt"] for ln in s["lines"])
    assert info["medfee_sumamt"] == (info["fund_pay_sumamt"] + info["fiscal_pay"]
                                     + info["acct_pay"] + info["psn_cash_pay"])  # fmt: skip
    assert all(isinstance(v, int) for v in info.values())


def test_the_hospitals_total_is_checked_against_what_is_settled(api: Api) -> None:
    """A partial refund nets into its line, priced once: 120 yuan × 0.3333 (4000 fen) less
    0.1111 (−1333 fen) uploads as 2667 fen but settles 0.2222 × 120 = 26.664 -> 2666 fen.
    The hospital's medfee_sumamt must be the settled total; anything else is refused and
    nothing is stored."""
    c = api.client
    eid = _admit(api)
    _fees(api, eid, [
        {"sn": "1", "code": "XJ05AXA159A001010101445", "price_e6": 120_000_000, "qty_e4": 3_333},
        {"sn": "2", "code": "XJ05AXA159A001010101445", "price_e6": 120_000_000,
         "qty_e4": -1_111, "reverses_sn": "1"},
    ])  # fmt: skip
    before = api.counts()
    url = f"/v1/encounters/{eid}/settlement"
    bad = c.post(url, json={"discharge_date": "2020-02-12", "medfee_sumamt": 2667},
                 headers=api.h())  # fmt: skip
    assert bad.status_code == 422, bad.text
    assert "medfee_sumamt" in bad.text
    assert "2666" in bad.text
    assert api.counts() == before
    ok = c.post(url, json={"discharge_date": "2020-02-12", "medfee_sumamt": 2666},
                headers=api.h())  # fmt: skip
    assert ok.status_code == 201, ok.text
    assert ok.json()["setlinfo"]["medfee_sumamt"] == 2666


def test_an_amount_that_is_not_price_times_qty_is_refused(api: Api) -> None:
    eid = _admit(api)
    before = api.counts()
    line = {"sn": "1", "code": "YP-0002", "price_e6": 58_300, "qty_e4": 420_000, "amount_fen": 244}
    r = api.client.post(f"/v1/encounters/{eid}/fees", json={"lines": [line]}, headers=api.h())
    _problem(r, 422, "lines.0.amount_fen")
    assert api.counts() == before


@pytest.mark.parametrize("qty_e4", [10**7, -(10**7)])
def test_a_line_whose_product_overflows_is_422_naming_the_field(api: Api, qty_e4: int) -> None:
    # each fits in 2^63 − 1, price_e6 × |qty_e4| = 10^19 does not (SETTLEMENT.md §1)
    eid = _admit(api)
    before = api.counts()
    line = {"sn": "1", "code": "YP-0002", "price_e6": 10**12, "qty_e4": qty_e4}
    r = api.client.post(f"/v1/encounters/{eid}/fees", json={"lines": [LINES[1], line]},
                        headers=api.h())  # fmt: skip
    body = _problem(r, 422, "lines.1.qty_e4")
    assert [e["field"] for e in body["errors"]] == ["lines.1.qty_e4"]
    assert "2^63 − 1" in body["errors"][0]["message"]
    assert api.counts() == before


def test_reversal_gives_the_account_back(api: Api) -> None:
    c = api.client
    eid = _admit(api, {**ADMIT, "diagnoses": [{"code": "J18.900", "main": True}]})
    _fees(api, eid)
    r = c.post(f"/v1/encounters/{eid}/discharge",
               json={"discharge_time": "2020-02-12T10:00:00+08:00"}, headers=api.h())  # fmt: skip
    assert r.json()["status"] == "discharged"
    s = c.post(f"/v1/encounters/{eid}/settlement", json={}, headers=api.h()).json()
    paid = s["setlinfo"]["acct_pay"]
    assert paid > 0
    ins = c.get(f"/v1/insurees/{EMPLOYEE}?on=2020-02-12", headers=api.h()).json()
    assert ins["account_balance_fen"] == 320000 - paid
    assert ins["name"] == "张三丰"  # the hospital sees its patient's name
    c.post(f"/v1/settlements/{s['settlement_id']}/reversal", headers=api.h("clerk"))
    ins = c.get(f"/v1/insurees/{EMPLOYEE}?on=2020-02-12", headers=api.h("auditor")).json()
    assert ins["account_balance_fen"] == 320000
    assert ins["accumulators"] == ZERO  # the six keys, all back to 0
    assert ins["insuree_id"] == "500102********0016"  # masked for an auditor
    assert ins["name"] == "张**"


def test_idempotency_key_replays_byte_for_byte(api: Api) -> None:
    c = api.client
    eid = _admit(api)
    _fees(api, eid)
    h = api.h(**{"Idempotency-Key": "settle-1"})
    body = {"discharge_date": "2020-02-12"}
    first = c.post(f"/v1/encounters/{eid}/settlement", json=body, headers=h)
    assert first.status_code == 201
    before = api.counts()
    second = c.post(f"/v1/encounters/{eid}/settlement", json=body, headers=h)
    assert (second.status_code, second.content) == (201, first.content)
    assert second.headers["Idempotent-Replayed"] == "true"
    other = c.post(f"/v1/encounters/{eid}/settlement", json={"discharge_date": "2020-02-13"},
                   headers=h)  # fmt: skip
    _problem(other, 409, "Idempotency-Key")
    assert api.counts() == before
    admit_key = api.h(**{"Idempotency-Key": "adm-1"})
    a1 = c.post("/v1/encounters", json=ADMIT, headers=admit_key)
    a2 = c.post("/v1/encounters", json=ADMIT, headers=admit_key)
    assert a1.content == a2.content  # one admission, not two


def test_compensation_by_idempotency_key(api: Api) -> None:
    c = api.client
    eid = _admit(api)
    _fees(api, eid)
    h = api.h(**{"Idempotency-Key": "lost-answer"})
    s = c.post(f"/v1/encounters/{eid}/settlement", json={"discharge_date": "2020-02-12"},
               headers=h).json()  # fmt: skip
    r = c.post("/v1/compensations", json={"msgid": "lost-answer", "infno": "2304"},
               headers=api.h())  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["undone"]["settlement_reversed"] == s["settlement_id"]
    late = c.post(f"/v1/encounters/{eid}/settlement", json={"discharge_date": "2020-02-12"},
                  headers=h)  # fmt: skip
    assert "compensated" in _problem(late, 409)["detail"]
    assert c.get(f"/v1/encounters/{eid}", headers=api.h()).json()["status"] == "discharged"
    assert c.get("/v1/ledger/check", headers=api.h("auditor")).json()["ok"]


def test_compensating_a_fee_cancellation_uploads_the_lines_again(api: Api) -> None:
    c = api.client
    eid = _admit(api)
    _fees(api, eid)
    lost = c.delete(f"/v1/encounters/{eid}/fees/2", headers=api.h(**{"Idempotency-Key": "c-2"}))
    assert lost.status_code == 200, lost.text
    r = c.post("/v1/compensations", json={"msgid": "c-2"}, headers=api.h())
    assert r.status_code == 200, r.text
    assert r.json()["undone"] == {"lines_restored": ["2"]}
    again = c.post("/v1/compensations", json={"msgid": "c-2"}, headers=api.h())
    assert again.json()["undone"] == {"lines_restored": ["2"]}  # a repeat does nothing more
    fees = c.get(f"/v1/encounters/{eid}/fees", headers=api.h()).json()
    assert sorted((f["sn"], f["cancelled"]) for f in fees["lines"]) == [
        ("1", False),
        ("2", False),
        ("2", True),
        ("3", False),
    ]  # the cancelled row stays
    s = c.post(f"/v1/encounters/{eid}/settlement", json={"discharge_date": "2020-02-12"},
               headers=api.h())  # fmt: skip
    assert s.status_code == 201, s.text
    assert s.json()["setlinfo"]["medfee_sumamt"] == 10000 + 450000 + 12000
    # a reversal is not undone by 冲正: the stay is settled again instead (nothing recorded)
    rev = c.post(f"/v1/settlements/{s.json()['settlement_id']}/reversal",
                 headers=api.h(**{"Idempotency-Key": "rev-1"}))  # fmt: skip
    assert rev.status_code in (200, 201), rev.text
    before = api.counts()
    no = c.post("/v1/compensations", json={"msgid": "rev-1"}, headers=api.h())
    assert "2304" in _problem(no, 409, "msgid")["detail"]
    assert api.counts() == before
    assert c.get("/v1/ledger/check", headers=api.h("auditor")).json()["ok"]


def test_restoring_lines_uploaded_again_meanwhile_is_refused(api: Api) -> None:
    c = api.client
    eid = _admit(api)
    _fees(api, eid)
    assert c.delete(f"/v1/encounters/{eid}/fees/1",
                    headers=api.h(**{"Idempotency-Key": "c-1"})).status_code == 200  # fmt: skip
    _fees(api, eid, [{"sn": "1", "code": "YP-0002", "price_e6": 50_000_000, "qty_e4": 10_000}])
    r = c.post("/v1/compensations", json={"msgid": "c-1"}, headers=api.h())
    assert "feedetl_sn 1" in _problem(r, 409, "msgid")["detail"]


def test_roles_and_the_hospital_boundary(api: Api) -> None:
    c = api.client
    eid = _admit(api)
    _problem(c.get(f"/v1/encounters/{eid}", headers=api.h("other")), 404)
    _problem(c.post(f"/v1/encounters/{eid}/fees", json={"lines": LINES}, headers=api.h("other")),
             404)  # fmt: skip
    assert c.get("/v1/encounters", headers=api.h("other")).json() == {"encounters": []}
    _problem(c.post("/v1/encounters", json=ADMIT, headers=api.h("clerk")), 403)
    _problem(c.get("/v1/ledger/check", headers=api.h("hospital")), 403)
    _problem(c.get("/v1/audit", headers=api.h("finance")), 403)
    _problem(c.get(f"/v1/encounters/{eid}"), 401)
    _problem(c.get(f"/v1/encounters/{eid}", headers={"Authorization": "Bearer yb_x_y"}), 401)
    seen = c.get(f"/v1/encounters/{eid}", headers=api.h("auditor")).json()
    assert seen["insuree_id"] == "500102********0016"
    assert c.get(f"/v1/encounters/{eid}", headers=api.h()).json()["insuree_id"] == EMPLOYEE


def test_the_audit_log_records_every_change_and_cannot_be_changed(api: Api) -> None:
    c = api.client
    eid = _admit(api)
    _fees(api, eid)
    c.post(f"/v1/encounters/{eid}/settlement", json={"discharge_date": "2020-02-12"},
           headers=api.h())  # fmt: skip
    log = c.get(f"/v1/audit?entity=encounter&entity_id={eid}", headers=api.h("auditor"))
    entries = list(reversed(log.json()["entries"]))
    actions = [e["action"] for e in entries]
    assert actions == ["encounter.admitted", "encounter.fees_uploaded", "encounter.settled"]
    for a, b in itertools.pairwise(entries):
        assert a["after_sha256"] == b["before_sha256"]  # each change starts where the last ended
    assert EMPLOYEE not in log.text
    for method in ("put", "patch", "delete"):
        assert getattr(c, method)("/v1/audit", headers=api.h("admin")).status_code == 405


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/fees", {"lines": [{**LINES[0], "price_e6": -1}]}, "lines.0.price_e6"),
        ("/fees", {"lines": [{**LINES[0], "price_e6": 2**63}]}, "lines.0.price_e6"),
        ("/fees", {"lines": [{**LINES[0], "qty_e4": -(2**63)}]}, "lines.0.qty_e4"),
        ("/fees", {"lines": [{**LINES[0], "price_e6": 1.5}]}, "lines.0.price_e6"),
        ("/fees", {"lines": [{**LINES[0], "price_fen": 5000}]}, "lines.0.price_fen"),
        ("/fees", {"lines": [{"sn": "1", "code": "YP-0002", "price_e6": 5}]}, "lines.0.qty_e4"),
        ("/fees", {"lines": [{**LINES[0], "colour": "red"}]}, "lines.0.colour"),
        ("/fees", {"lines": [{**LINES[0], "code": "NOPE-1"}]}, "lines.0.code"),
        ("/fees", {"lines": [LINES[0], LINES[0]]}, "lines.1.sn"),
        ("/fees", {"lines": [{**LINES[0], "amount_fen": 1}]}, "lines.0.amount_fen"),
        ("/fees", {"lines": []}, "lines"),
        ("/settlement", {"discharge_date": "2020-13-01"}, "discharge_date"),
        ("/discharge", {"discharge_time": "2020-02-12T10:00:00"}, "discharge_time"),
    ],
)
def test_bad_input_is_problem_json_naming_the_field(api: Api, path: str, body: dict[str, Any],
                                                    field: str) -> None:  # fmt: skip
    eid = _admit(api)
    before = api.counts()
    r = api.client.post(f"/v1/encounters/{eid}{path}", json=body, headers=api.h())
    _problem(r, 422, field)
    assert api.counts() == before


def test_settling_without_a_discharge_date_names_it(api: Api) -> None:
    eid = _admit(api)
    _fees(api, eid)
    before = api.counts()
    r = api.client.post(f"/v1/encounters/{eid}/settlement", json={}, headers=api.h())
    _problem(r, 422, "discharge_date")
    assert api.counts() == before
    bad = {**ADMIT, "insuree_id": DIBAO, "covid_status": "maybe"}
    _problem(api.client.post("/v1/encounters", json=bad, headers=api.h()), 422, "covid_status")


def test_fees_repeat_cancel_and_conflict(api: Api) -> None:
    c = api.client
    eid = _admit(api)
    _fees(api, eid)
    assert _fees(api, eid)["new"] == 0  # the same lines again: a repeat
    changed = [{**LINES[0], "qty_e4": 30_000}]
    _problem(c.post(f"/v1/encounters/{eid}/fees", json={"lines": changed}, headers=api.h()),
             409, "lines.0.sn")  # fmt: skip
    assert c.delete(f"/v1/encounters/{eid}/fees/1", headers=api.h()).json()["cancelled"] == 1
    assert _fees(api, eid, changed)["new"] == 1  # a cancelled sn may come back
    lines = c.get(f"/v1/encounters/{eid}/fees", headers=api.h()).json()["lines"]
    assert [(ln["sn"], ln["cancelled"]) for ln in lines] == [
        ("1", True), ("2", False), ("3", False), ("1", False)]  # fmt: skip
    assert c.delete(f"/v1/encounters/{eid}/fees", headers=api.h()).json()["cancelled"] == 3
    r = c.post(f"/v1/encounters/{eid}/cancellation", headers=api.h())
    assert r.json()["status"] == "cancelled"


def test_reconciliation_from_the_journal(api: Api) -> None:
    c = api.client
    eid = _admit(api)
    _fees(api, eid)
    s = c.post(f"/v1/encounters/{eid}/settlement", json={"discharge_date": "2020-02-12"},
               headers=api.h()).json()  # fmt: skip
    day = s["booked_on"]
    totals = c.get(f"/v1/reconciliation?begin={day}&end={day}", headers=api.h()).json()
    (row,) = totals["totals"]
    assert (row["scheme"], row["settlement_count"]) == ("employee", 1)
    assert row["medfee_sumamt"] == s["setlinfo"]["medfee_sumamt"]
    assert row["fund_pay_sumamt"] == s["setlinfo"]["fund_pay_sumamt"]  # never the subsidy
    declared = {k: row[k] for k in ("medfee_sumamt", "fund_pay_sumamt", "acct_pay",
                                    "psn_cash_pay", "settlement_count")}  # fmt: skip
    ok = c.post("/v1/reconciliation", json={"begin": day, "end": day, "declared": declared},
                headers=api.h()).json()  # fmt: skip
    assert ok["balanced"]
    off = {**declared, "medfee_sumamt": declared["medfee_sumamt"] + 1}
    bad = c.post("/v1/reconciliation", json={"provider_code": "H50010200001", "begin": day,
                                             "end": day, "declared": off, "detail": []},
                 headers=api.h("finance")).json()  # fmt: skip
    assert not bad["balanced"]
    assert bad["detail"][0]["status"] == "ours_only"


def test_docs_are_served(api: Api) -> None:
    assert api.client.get("/docs").status_code == 200
    spec = api.client.get("/openapi.json").json()
    assert "/v1/encounters/{encounter_id}/settlement" in spec["paths"]
    assert "/nhsa" in spec["paths"]
    line = spec["components"]["schemas"]["FeeLineIn"]
    assert set(line["required"]) == {"sn", "code", "price_e6", "qty_e4"}
    price, qty = line["properties"]["price_e6"], line["properties"]["qty_e4"]
    assert price["type"] == qty["type"] == "integer"
    # FastAPI's OpenAPI model writes bounds as JSON numbers (floats): 2^63 − 1 as 2^63
    assert (price["minimum"], price["maximum"]) == (0, float(2**63 - 1))
    assert (qty["minimum"], qty["maximum"]) == (-float(2**63 - 1), float(2**63 - 1))
    assert "price_fen" not in line["properties"]
    assert "qty_milli" not in line["properties"]


def test_a_long_idempotency_key_is_a_request_id_like_any(api: Api) -> None:
    key = "k" * 100
    eid = _admit(api)
    _fees(api, eid)
    h = api.h(**{"Idempotency-Key": key})
    r = api.client.post(f"/v1/encounters/{eid}/settlement", json={"discharge_date": "2020-02-12"},
                        headers=h)  # fmt: skip
    assert r.status_code == 201, r.text
    undo = api.client.post("/v1/compensations", json={"msgid": key}, headers=api.h())
    assert undo.json()["undone"]["settlement_reversed"] == r.json()["settlement_id"]
    too_long = api.client.post("/v1/encounters", json=ADMIT, headers=api.h(**{
        "Idempotency-Key": "k" * 101}))  # fmt: skip
    _problem(too_long, 422, "header.Idempotency-Key")
