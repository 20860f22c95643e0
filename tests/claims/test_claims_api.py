"""Manual claims over REST on both databases: multipart intake (fee list and an
attachment in one transaction), the path to payment with two clerk keys (four eyes),
the bank file and the return file, the statement; bad input as problem+json naming
every field; masked reads."""

from __future__ import annotations

import io
import json
from typing import Any

import openpyxl
import pytest

from tests.api.conftest import NOW, Api, api  # noqa: F401  (the fixture)
from tests.claims.test_claims import ACCOUNT, FEES, hubei_catalog
from tests.registry_data import EMPLOYEE
from yibao.core.privacy import mask_account, mask_psn_no
from yibao.services.access.rights import create_key

PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 64


def _claim(**kw: Any) -> dict[str, Any]:
    return {
        "psn_no": EMPLOYEE,
        "provider_code": "H42010600001",
        "admit_date": "2020-02-01",
        "discharge_date": "2020-02-10",
        "diagnoses": [{"code": "B99.900", "main": True}],
        "invoices": [
            {"code": "4201", "number": "00000001", "issued_on": "2020-02-10", "amount_fen": 41_500}
        ],
        "payee_name": "张三丰",
        "payee_bank": "工商银行涪陵支行",
        "payee_account": ACCOUNT,
        "covid_status": "confirmed",
        "provider_name": "武汉市某定点医院",
        "provider_region": "420106",
        "provider_level": 3,
    } | kw


@pytest.fixture
def rest(api: Api) -> Api:  # noqa: F811
    hubei_catalog(api.uow)
    api.keys["clerk2"] = create_key(
        api.uow, role="clerk", provider_code=None, label="clerk2", by="test", now=NOW
    ).key
    return api


def _post(a: Api, path: str, role: str, body: Any = None) -> Any:
    r = a.client.post(path, json=body, headers=a.h(role))
    assert r.status_code == 200, r.text
    return r.json()


def test_intake_to_payment_over_rest(rest: Api) -> None:
    a = rest
    r = a.client.post(
        "/v1/claims",
        data={"claim": json.dumps(_claim()), "doc_types": ["发票"]},
        files=[
            ("fee_list", ("fees.csv", FEES.encode(), "text/csv")),
            ("attachments", ("invoice.png", PNG, "image/png")),
        ],
        headers=a.h("clerk", **{"Idempotency-Key": "intake-1"}),
    )
    assert r.status_code == 201, r.text
    c = r.json()
    cid = c["id"]
    assert c["status"] == "received"
    assert c["payee_account"] == mask_account(ACCOUNT)
    assert [ln["status"] for ln in c["lines"]] == ["mapped", "mapped", "unknown"]
    assert [(x["kind"], x["doc_type"]) for x in c["attachments"]] == [("png", "发票")]
    again = a.client.post(
        "/v1/claims",
        data={"claim": json.dumps(_claim()), "doc_types": ["发票"]},
        files=[
            ("fee_list", ("fees.csv", FEES.encode(), "text/csv")),
            ("attachments", ("invoice.png", PNG, "image/png")),
        ],
        headers=a.h("clerk", **{"Idempotency-Key": "intake-1"}),
    )
    assert (again.status_code, again.json()["id"]) == (201, cid)  # a retry: the same claim
    dup = a.client.post("/v1/claims", data={"claim": json.dumps(_claim())}, headers=a.h("clerk"))
    assert dup.status_code == 409
    assert cid in dup.json()["detail"]

    _post(a, f"/v1/claims/{cid}/forward", "clerk")
    _post(a, f"/v1/claims/{cid}/lines/3/classification", "clerk", {"code": None})
    _post(a, f"/v1/claims/{cid}/first-review", "clerk", {"note": "材料齐全"})
    four = a.client.post(f"/v1/claims/{cid}/second-review", json={}, headers=a.h("clerk"))
    assert four.status_code == 403
    _post(a, f"/v1/claims/{cid}/second-review", "clerk2", {})
    pre = a.client.get(f"/v1/claims/{cid}/settlement", headers=a.h("auditor")).json()
    assert (pre["stored"], pre["payable_fen"], pre["filing"]) == (False, 41_501, "unregistered")
    assert any(t["clause"] for t in pre["trace"])
    _post(a, f"/v1/claims/{cid}/settlement", "clerk2")
    assert a.client.post(f"/v1/claims/{cid}/approval", headers=a.h("clerk")).status_code == 403
    done = _post(a, f"/v1/claims/{cid}/approval", "clerk2")
    assert done["status"] == "approved"

    assert a.client.post("/v1/claim-batches", json={}, headers=a.h("auditor")).status_code == 403
    b = a.client.post("/v1/claim-batches", json={}, headers=a.h("finance"))
    assert b.status_code == 201, b.text
    bid = b.json()["id"]
    assert b.json()["total_fen"] == 41_501
    f = a.client.get(f"/v1/claim-batches/{bid}/bank-file?format=xlsx", headers=a.h("finance"))
    assert f.status_code == 200
    ws = openpyxl.load_workbook(io.BytesIO(f.content)).active
    assert ws is not None
    assert [c.value for c in ws[2]][4] == ACCOUNT  # the bank pays on the full number
    ret = f"序号,报销单号,金额（元）,结果,银行流水号,失败原因\n1,{cid},415.01,成功,B01,\n"
    paid = a.client.post(
        f"/v1/claim-batches/{bid}/bank-return",
        files={"file": ("return.csv", ret.encode(), "text/csv")},
        headers=a.h("finance"),
    )
    assert paid.status_code == 200, paid.text
    assert [ln["status"] for ln in paid.json()["lines"]] == ["paid"]
    st = a.client.get(f"/v1/claims/{cid}/statement", headers=a.h("auditor"))
    assert st.status_code == 200
    assert "415.01" in st.text
    assert EMPLOYEE not in st.text
    assert mask_psn_no(EMPLOYEE) in st.text
    x = a.client.get(f"/v1/claims/{cid}/statement?format=xlsx", headers=a.h("clerk"))
    assert x.headers["content-type"].startswith("application/vnd.openxmlformats")
    seen = a.client.get(f"/v1/claims/{cid}", headers=a.h("auditor")).json()
    assert (seen["status"], seen["psn_no"]) == ("paid", mask_psn_no(EMPLOYEE))
    listed = a.client.get("/v1/claims?status=paid", headers=a.h("clerk")).json()["claims"]
    assert [v["id"] for v in listed] == [cid]
    assert a.client.get("/v1/claims", headers=a.h("hospital")).status_code == 403
    with a.uow:
        reads = a.uow.hospital.audit_entries(entity="claim", entity_id=cid, limit=100)
    assert {e.action for e in reads} >= {"personal.read", "claim.paid", "claim.settle"}


def test_bad_input_is_problem_json_naming_every_field(rest: Api) -> None:
    a = rest
    bad = _claim(psn_no="123", diagnoses=[], extra=1)
    del bad["payee_bank"]
    r = a.client.post("/v1/claims", data={"claim": json.dumps(bad)}, headers=a.h("clerk"))
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"claim.psn_no", "claim.diagnoses", "claim.extra", "claim.payee_bank"}
    head = "序号,项目编码,项目名称,费用日期,单价,数量\n"
    fees = head + "1,X,x,2020-13-01,1,1\n2,Y,y,2020-02-02,-1,1\n"
    r = a.client.post(
        "/v1/claims",
        data={"claim": json.dumps(_claim())},
        files={"fee_list": ("fees.csv", fees.encode(), "text/csv")},
        headers=a.h("clerk"),
    )
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["fee_list.row 2", "fee_list.row 3"]
    r = a.client.post(
        "/v1/claims",
        data={"claim": json.dumps(_claim())},
        files={"attachments": ("x.exe", b"MZ\x90\x00", "application/octet-stream")},
        headers=a.h("clerk"),
    )
    assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "attachments[0]")
    assert a.client.get("/v1/claims", headers=a.h("clerk")).json()["claims"] == []  # none kept
    r = a.client.post("/v1/claims/CL-nope/return", json={"missing": ""}, headers=a.h("clerk"))
    assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "missing")
