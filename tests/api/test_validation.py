"""Issue 15 over REST, on both databases: every malformed request found from outside is
a 4xx problem+json naming its field, and nothing of it is stored (row counts unchanged)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.conftest import Api
from tests.registry_data import EMPLOYEE

ADMIT: dict[str, Any] = {"insuree_id": EMPLOYEE, "admit_time": "2020-02-03T09:00:00+08:00",
                         "diagnoses": [{"code": "J18.900", "main": True}]}  # fmt: skip
NEWCOMER = "500102199501010061"  # a valid ID number with no enrolment imported
BAD_CHECK = EMPLOYEE[:17] + ("0" if EMPLOYEE[17] != "0" else "1")
LINE = {"sn": "1", "code": "YP-0002", "price_e6": 50_000_000, "qty_e4": 20_000}
BIG = 2**64  # beyond signed 64 bits


def _send(api: Api, method: str, url: str, body: str | None, **headers: str) -> Any:
    h = api.h(**headers, **({"Content-Type": "application/json"} if body is not None else {}))
    return api.client.request(method, url, content=body, headers=h)


def _refused(r: Any, field: str, status: int = 422) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in r.json()["errors"]], r.text


def _admit(api: Api) -> str:
    r = api.client.post("/v1/encounters", json=ADMIT, headers=api.h())
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


ADMISSIONS = [
    ("insuree_id", {"insuree_id": "abc", "insured_region": "500102"}),
    ("insuree_id", {"insuree_id": "abcdefghijklmnopqr", "insured_region": "500102"}),
    ("insuree_id", {"insuree_id": BAD_CHECK}),
    ("insured_region", {"insuree_id": NEWCOMER, "insured_region": "999999"}),
    ("insured_region", {"insuree_id": NEWCOMER, "insured_region": "509999"}),
    ("insured_region", {"insuree_id": NEWCOMER, "insured_region": "50010x"}),
    ("admit_time", {"admit_time": "2817-02-03T09:00:00+08:00"}),
    ("admit_time", {"admit_time": "9663-12-31T09:00:00+08:00"}),
    ("admit_time", {"admit_time": "1899-12-31T09:00:00+08:00"}),
    ("med_type", {"med_type": "12345678"}),
    ("med_type", {"med_type": "2\u202e1"}),
    ("med_type", {"med_type": "21\u200b"}),
    ("insutype", {"insutype": "123456789"}),
    ("insutype", {"insutype": "999"}),
    ("diagnoses.0.code", {"diagnoses": [{"code": "not a code", "main": True}]}),
    ("diagnoses.0.code", {"diagnoses": [{"code": "ZZZ.999", "main": True}]}),
    ("diagnoses.0.code", {"diagnoses": [{"code": "J18\u0000900", "main": True}]}),
    ("diagnoses.0.main", {"diagnoses": [{"code": "J18.900", "main": 1}]}),
    ("transfer_from", {"transfer_from": "M\u0000"}),
]


@pytest.mark.parametrize(("field", "change"), ADMISSIONS)
def test_a_malformed_admission_is_refused_and_not_stored(
    api: Api, field: str, change: dict[str, Any]
) -> None:
    before = api.counts()
    r = _send(api, "POST", "/v1/encounters", json.dumps(ADMIT | change))
    _refused(r, field)
    assert api.counts() == before


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('{"insuree_id": "5001021980031500\\u0000", "admit_time": "2020-02-03T09:00:00+08:00"}',
         "insuree_id"),
        ('{"insuree_id": "50010219800315001\\ud800", "admit_time": "2020-02-03T09:00:00+08:00"}',
         "insuree_id"),
        ('{"insuree_id": "' + EMPLOYEE + '", "admit_time": "2020-02-03T09:00:00+08:00",'
         ' "diagnoses": [{"code": "\\udc00", "main": true}]}', "diagnoses.0.code"),
    ],
)  # fmt: skip
def test_nul_and_lone_surrogates_are_refused(api: Api, text: str, field: str) -> None:
    before = api.counts()
    _refused(_send(api, "POST", "/v1/encounters", text), field)
    assert api.counts() == before


def test_a_cancelled_stay_transfers_no_one(api: Api) -> None:
    eid = _admit(api)
    assert api.client.post(f"/v1/encounters/{eid}/cancellation", headers=api.h()).status_code == 200
    before = api.counts()
    r = _send(api, "POST", "/v1/encounters", json.dumps(ADMIT | {"transfer_from": eid}))
    _refused(r, "transfer_from")
    body = {"insuree_id": EMPLOYEE, "encounter_id": eid}
    _refused(_send(api, "POST", "/v1/transfers", json.dumps(body)), "encounter_id")
    assert api.counts() == before


@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("to_provider", {"to_provider": "H50019999999"}),
        ("to_provider", {"to_provider": "H5001\u202e"}),
        ("insuree_id", {"insuree_id": BAD_CHECK}),
        ("transfer_date", {"transfer_date": "2817-01-01"}),
        ("reason", {"reason": "x" * 201}),
        ("reason", {"reason": "bad\u0001"}),
    ],
)
def test_a_malformed_transfer_is_refused(api: Api, field: str, change: dict[str, Any]) -> None:
    _admit(api)
    before = api.counts()
    body = {"insuree_id": EMPLOYEE} | change
    _refused(_send(api, "POST", "/v1/transfers", json.dumps(body)), field)
    assert api.counts() == before


FEE_CASES = [
    ("lines.0.qty_e4", {"qty_e4": False}),
    ("lines.0.price_e6", {"price_e6": True}),
    ("lines.0.qty_e4", {"qty_e4": 1.0}),
    ("lines.0.amount_fen", {"amount_fen": BIG}),
    ("lines.0.qty_e4", {"qty_e4": -BIG}),
    ("lines.0.sn", {"sn": "1\u0000"}),
    ("lines.0.code", {"code": "x" * 51}),
    ("lines.0.dept", {"dept": "d" * 31}),
    ("lines.0.doctor", {"doctor": "Dr\u0007"}),
    ("lines.0.service_time", {"service_time": "3000-01-01T00:00:00+08:00"}),
]


@pytest.mark.parametrize(("field", "change"), FEE_CASES)
@pytest.mark.parametrize("key", [None, "fees-1"])
def test_a_malformed_fee_line_is_refused(api: Api, field: str, change: dict[str, Any],
                                         key: str | None) -> None:  # fmt: skip
    eid = _admit(api)
    before = api.counts()
    headers = {"Idempotency-Key": key} if key else {}
    body = json.dumps({"lines": [LINE | change]})
    _refused(_send(api, "POST", f"/v1/encounters/{eid}/fees", body, **headers), field)
    assert api.counts() == before


@pytest.mark.parametrize(
    ("field", "body"),
    [
        ("medfee_sumamt", {"medfee_sumamt": BIG}),
        ("medfee_sumamt", {"medfee_sumamt": True}),
        ("acct_used", {"acct_used": 0}),
        ("discharge_date", {"discharge_date": "9663-01-01"}),
    ],
)
def test_a_malformed_settlement_request_is_refused(api: Api, field: str,
                                                   body: dict[str, Any]) -> None:  # fmt: skip
    eid = _admit(api)
    before = api.counts()
    url = f"/v1/encounters/{eid}/settlement"
    _refused(_send(api, "POST", url, json.dumps(body), **{"Idempotency-Key": "s-1"}), field)
    assert api.counts() == before


def test_a_discharge_with_unknown_diagnoses_or_far_dates_is_refused(api: Api) -> None:
    eid = _admit(api)
    before = api.counts()
    url = f"/v1/encounters/{eid}/discharge"
    far = {"discharge_time": "2817-02-12T10:00:00+08:00"}
    _refused(_send(api, "POST", url, json.dumps(far)), "discharge_time")
    bad = {"discharge_time": "2020-02-12T10:00:00+08:00", "diagnoses": [{"code": "NOPE"}]}
    _refused(_send(api, "POST", url, json.dumps(bad)), "diagnoses.0.code")
    assert api.counts() == before


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/v1/encounters?offset=9223372036854775808", "query.offset"),
        ("/v1/encounters?insuree_id=%00", "query.insuree_id"),
        ("/v1/encounters/M%00", "path.encounter_id"),
        ("/v1/encounters/M%00/fees", "path.encounter_id"),
        ("/v1/settlements/S%00", "path.settlement_id"),
        ("/v1/encounters/M%00/deferral", "path.encounter_id"),
        ("/v1/insurees/%00", "path.psn_no"),
        ("/v1/deferred?provider_code=%01", "query.provider_code"),
    ],
)
def test_reads_with_control_characters_or_wide_integers_are_refused(
    api: Api, url: str, field: str
) -> None:
    before = api.counts()
    _refused(api.client.get(url, headers=api.h("admin" if "deferred" in url else "hospital")),
             field)  # fmt: skip
    assert api.counts() == before


def test_wide_integers_in_a_reconciliation_are_refused(api: Api) -> None:
    declared = {"medfee_sumamt": BIG, "fund_pay_sumamt": 0, "settlement_count": 0}
    body = {"begin": "2020-02-01", "end": "2020-02-29", "provider_code": "H50010200001",
            "declared": declared}  # fmt: skip
    _refused(_send(api, "POST", "/v1/reconciliation", json.dumps(body)), "declared.medfee_sumamt")


def test_a_valid_admission_through_the_insured_region_path_still_works(api: Api) -> None:
    r = _send(api, "POST", "/v1/encounters",
              json.dumps(ADMIT | {"insuree_id": NEWCOMER, "insured_region": "500102",
                                  "med_type": "2101", "insutype": "39999"}))  # fmt: skip
    assert r.status_code == 201, r.text
