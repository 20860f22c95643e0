"""The 手工报销 pages without a browser (TestClient, both databases): intake with an error
beside its field, then accepted; the township forwards; the district classifies and
reviews (four eyes: the second district clerk checks, settles and approves); finance
batches, downloads the bank file and reads the return file; the statement."""

from __future__ import annotations

import re
from typing import Any

from tests.claims.test_claims import ACCOUNT, FEES, hubei_catalog
from tests.registry_data import EMPLOYEE
from tests.web.conftest import NOW, PASSWORD, TOWN, Console, csrf_of
from yibao.core.privacy import mask_account
from yibao.services.access.rights import Principal
from yibao.services.access.users import create_user

PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 64
FORM = {
    "psn_no": EMPLOYEE,
    "provider_code": "H42010600001",
    "provider_name": "武汉市某定点医院",
    "provider_region": "420106",
    "provider_level": "3",
    "admit_date": "2020-02-01",
    "discharge_date": "2020-02-10",
    "diagnoses": "B99.900",
    "covid_status": "confirmed",
    "invoice_code": "4201",
    "invoice_number": "00000001",
    "invoice_date": "2020-02-10",
    "invoice_amount": "415.00",
    "payee_name": "张三丰",
    "payee_bank": "工商银行涪陵支行",
    "payee_account": ACCOUNT,
    "doc_type": "发票",
}


def _post(c: Console, path: str, data: dict[str, str] | None = None, **kw: Any) -> Any:
    token = csrf_of(c.client.get(kw.pop("page", path)).text)
    return c.client.post(path, data={"csrf": token, **(data or {})}, **kw)


def second_clerk(console: Console) -> None:
    admin = Principal("cli:test", "admin", None)
    create_user(console.data.uow, admin, login="district-clerk-2", role="district_clerk",
                password=PASSWORD, display_name="复核员", now=NOW)  # fmt: skip


def test_claim_from_the_counter_to_the_bank(console: Console) -> None:
    hubei_catalog(console.data.uow)
    second_clerk(console)
    c = console.client
    console.sign_in("township-clerk")
    bad = _post(console, "/console/claims/new", FORM | {"payee_account": "12"},
                files={"fee_list": ("fees.csv", FEES.encode(), "text/csv")})  # fmt: skip
    assert bad.status_code == 422
    assert re.search(r'id="err-payee_account">银行账号应为8至30位数字', bad.text)
    ok = _post(console, "/console/claims/new", FORM, page="/console/claims/new", files={
        "fee_list": ("fees.csv", FEES.encode(), "text/csv"),
        "attachment": ("invoice.png", PNG, "image/png")})  # fmt: skip
    assert ok.status_code == 200, ok.text[:500]
    cid = ok.url.path.rsplit("/", 1)[1]
    assert cid.startswith("CL")
    page = ok.text
    assert "已受理" in page
    assert mask_account(ACCOUNT) in page
    assert ACCOUNT not in page
    assert "未对码" in page
    _post(console, f"/console/claims/{cid}/act/forward", page=f"/console/claims/{cid}")
    c.cookies.clear()

    console.sign_in("district-clerk")
    _post(console, f"/console/claims/{cid}/lines/3/classify", {"code": ""},
          page=f"/console/claims/{cid}")  # fmt: skip
    r = _post(console, f"/console/claims/{cid}/act/first-review", {"note": "材料齐全"},
              page=f"/console/claims/{cid}")  # fmt: skip
    assert "已初审" in r.text
    assert "复核须由初审以外的人员办理" in r.text
    assert "应付参保人" in r.text  # the engine's preview
    refused = _post(console, f"/console/claims/{cid}/act/second-review",
                    page=f"/console/claims/{cid}")  # fmt: skip
    assert refused.status_code == 403
    c.cookies.clear()

    console.sign_in("district-clerk-2")
    for act in ("second-review", "settle", "approve"):
        r = _post(console, f"/console/claims/{cid}/act/{act}", page=f"/console/claims/{cid}")
        assert r.status_code == 200, (act, r.text[:300])
    assert "已审批" in r.text
    assert "415.01" in r.text
    c.cookies.clear()

    console.sign_in("finance")
    r = _post(console, "/console/claim-batches")
    assert r.status_code == 200
    bid = r.url.path.rsplit("/", 1)[1]
    f = c.get(f"/console/claim-batches/{bid}/bank-file?format=csv")
    assert ACCOUNT in f.content.decode("utf-8-sig")
    ret = f"序号,报销单号,金额（元）,结果,银行流水号,失败原因\n1,{cid},415.01,成功,B01,\n"
    to, back = f"/console/claim-batches/{bid}/return", f"/console/claim-batches/{bid}"
    short = ret.replace("415.01", "1.00").encode()
    wrong = _post(console, to, page=back, files={"file": ("r.csv", short, "text/csv")})
    assert wrong.status_code == 422
    assert "金额与支付明细不符" in wrong.text
    done = _post(console, to, page=back, files={"file": ("r.csv", ret.encode(), "text/csv")})
    assert re.search(r'id="count-paid">1<', done.text)
    st = c.get(f"/console/claims/{cid}/statement")
    assert st.status_code == 200
    assert "医疗费用手工报销结算单" in st.text
    assert EMPLOYEE not in st.text  # finance sees it masked
    assert "已支付" in c.get(f"/console/claims/{cid}").text
    assert c.get("/console/claims").status_code == 200
    assert TOWN in c.get("/console/claims?status=paid").text
