"""Manual claims (手工报销) on both databases: every step from the township counter to
the bank, both duplicate rules, four eyes, the paused clock, a failed payment re-queued,
the ledger and the accumulators exact to the fen."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.registry_data import CENTRE, EMPLOYEE, load_examples, put
from yibao.core.errors import Conflict, Forbidden, InvalidRequest
from yibao.core.ledger import posted_amounts
from yibao.core.privacy import mask_account
from yibao.packs import PACKS_DIR
from yibao.services import claims
from yibao.services.access.rights import Principal
from yibao.services.claims import booking, limits
from yibao.services.claims.intake import file_kind
from yibao.services.encounters import lifecycle as uc
from yibao.services.encounters.context import CST, Context
from yibao.services.reports import reads as reports
from yibao.store.uow import UnitOfWork

TOWN = Principal("t1", "township_clerk", None, "500102001", kind="user")
OTHER_TOWN = Principal("t2", "township_clerk", None, "500102009", kind="user")
R1 = Principal("r1", "district_clerk", None, kind="user")
R2 = Principal("r2", "district_clerk", None, kind="user")
FIN = Principal("f1", "finance", None, kind="user")
ACCOUNT = "6222020200112233445"
FAR = "H42010600001"  # a Wuhan hospital outside our registry


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2020, 2, 17, 9, 0, tzinfo=CST)  # a Monday

    def __call__(self) -> dt.datetime:
        return self.now

    def days(self, n: int) -> None:
        self.now += dt.timedelta(days=n)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ctx(clock: Clock) -> Context:
    return Context(Context.from_folder(PACKS_DIR).packs, clock=clock)


def hubei_catalog(uow: UnitOfWork) -> None:
    """Two items of Hubei's catalog (a provider outside the registry is mapped there)."""
    hubei = {"region": "420000", "valid_from": "2019-01-01", "selfpay_bp": "0"}
    put(uow, "catalog", hubei | {"code": "001204000010000", "name": "静脉输液", "category":
                                 "service", "item_class": "A"},
        hubei | {"code": "XJ05AXA159A001010101445", "name": "干扰素", "category": "drug",
                 "item_class": "B", "selfpay_bp": "1000"})  # fmt: skip


@pytest.fixture
def loaded(uow: UnitOfWork) -> UnitOfWork:
    load_examples(uow)
    hubei_catalog(uow)
    return uow


def _cmd(provider: str = FAR, number: str = "00000001", **kw: object) -> claims.ClaimIn:
    base: dict[str, object] = {
        "psn_no": EMPLOYEE,
        "provider_code": provider,
        "admit_date": dt.date(2020, 2, 1),
        "discharge_date": dt.date(2020, 2, 10),
        "diagnoses": (claims.DiagnosisIn("B99.900", True),),
        "invoices": (claims.InvoiceIn("4201", number, dt.date(2020, 2, 10), 41_500),),
        "payee_name": "张三丰",
        "payee_bank": "工商银行涪陵支行",
        "payee_account": ACCOUNT,
        "covid_status": "confirmed",
        "provider_name": "武汉市某定点医院",
        "provider_region": "420106",
        "provider_level": 3,
    }
    return claims.ClaimIn(**(base | kw))  # type: ignore[arg-type]


FEES = (
    "序号,项目编码,项目名称,费用日期,单价,数量\n"
    "1,001204000010000,静脉输液,2020-02-02,15,3\n"  # 甲 4500
    "2,XJ05AXA159A001010101445,干扰素,2020-02-03,120.00,1\n"  # 乙 10 % 12000
    "3,WH-LOCAL-77,院内制剂,2020-02-04,250.005,1\n"  # not in any catalog: 25001 (half up)
)


def _fees(tmp_path: Path, text: str = FEES) -> Path:
    p = tmp_path / "fees.csv"
    p.write_text(text, encoding="utf-8")
    return p


def _to_checked(uow: UnitOfWork, ctx: Context, tmp_path: Path, **kw: object) -> str:
    c = claims.receive(uow, ctx, TOWN, _cmd(**kw))  # type: ignore[arg-type]
    fl = claims.upload_fees(uow, ctx, TOWN, c.id, _fees(tmp_path))
    assert (fl.lines, fl.unknown, fl.total_fen) == (3, 1, 4500 + 12000 + 25001)
    claims.forward(uow, ctx, TOWN, c.id)
    with pytest.raises(Conflict, match="尚未归类"):
        claims.first_review(uow, ctx, R1, c.id)
    claims.classify(uow, ctx, R1, c.id, "3", code=None)  # 自费
    claims.first_review(uow, ctx, R1, c.id)
    claims.second_review(uow, ctx, R2, c.id)
    return c.id


def test_intake_to_payment_exact_to_the_fen(
    loaded: UnitOfWork, ctx: Context, clock: Clock, tmp_path: Path
) -> None:
    cid = _to_checked(loaded, ctx, tmp_path)
    pre = booking.preview(loaded, ctx, R1, cid).settlement
    setl = claims.settle(loaded, ctx, R2, cid)
    with loaded:
        stored = loaded.claims.settlement(setl)
        tx = loaded.hospital.transactions([setl])[0]
        acc = loaded.hospital.accumulators(EMPLOYEE, 2020)
        s = booking.stored_settlement(loaded, setl)
    i = s.setlinfo
    assert i == pre.setlinfo
    # confirmed, out of area without a filing: no referral cut, everything subsidised
    assert s.covid
    assert booking.preview(loaded, ctx, R1, cid).filing == "unregistered"
    assert i.medfee_sumamt == 41_501
    assert i.fulamt_ownpay_amt == 25_001  # the classified line (丙, outside the protocol)
    assert (i.psn_cash_pay, i.acct_pay) == (0, 0)
    assert stored is not None
    assert stored.payable_fen == i.fund_pay_sumamt + i.fiscal_pay == 41_501
    got = posted_amounts(tx)
    assert got.to_insuree == 41_501
    assert got.to_hospital == 0
    assert acc == s.accumulators_after
    assert reports.ledger_problems(loaded, ctx.packs) == []

    with pytest.raises(Forbidden, match="初审以外"):
        claims.approve(loaded, ctx, R1, cid)  # four eyes: not the first reviewer
    claims.approve(loaded, ctx, R2, cid)
    batch = claims.make_batch(loaded, ctx, FIN)
    assert [(ln.claim_id, ln.amount_fen) for ln in batch.lines] == [(cid, 41_501)]
    out = tmp_path / "bank.csv"
    assert claims.write_bank_file(loaded, ctx, FIN, batch.id, out) == 1
    assert ACCOUNT in out.read_text("utf-8-sig")  # the bank pays on the full number
    xlsx = tmp_path / "bank.xlsx"
    claims.write_bank_file(loaded, ctx, FIN, batch.id, xlsx)
    ret = tmp_path / "return.csv"
    ret.write_text("序号,报销单号,金额（元）,结果,银行流水号,失败原因\n"
                   f"1,{cid},415.01,成功,B0001,\n", encoding="utf-8")  # fmt: skip
    done = claims.apply_return(loaded, ctx, FIN, batch.id, ret)
    assert [ln.status for ln in done.lines] == ["paid"]
    claims.apply_return(loaded, ctx, FIN, batch.id, ret)  # read twice: nothing changes
    d = claims.claim_detail(loaded, ctx, R1, cid)
    assert d.claim.status == "paid"
    assert d.claim.payee_account == mask_account(ACCOUNT)
    assert ACCOUNT not in repr(d.claim)
    kinds = [e["kind"] for e in d.events]
    assert kinds == ["receive", "fee_list", "forward", "classify", "first_review",
                     "second_review", "settle", "approve", "batch", "paid"]  # fmt: skip
    page = claims.statement_html(loaded, ctx, R1, cid)
    assert "415.01" in page
    assert "渝医保发〔2020〕3号" in page
    assert ACCOUNT not in page
    with loaded:
        audits = loaded.hospital.audit_entries(entity="claim", entity_id=cid, limit=100)
    assert len(audits) >= 8


def test_invoice_and_online_overlap_are_refused_naming_the_other(
    loaded: UnitOfWork, ctx: Context, tmp_path: Path
) -> None:
    first = claims.receive(loaded, ctx, TOWN, _cmd())
    with pytest.raises(Conflict, match=f"发票 4201-00000001 已在报销申请 {first.id}"):
        claims.receive(loaded, ctx, TOWN, _cmd(admit_date=dt.date(2020, 3, 1),
                                               discharge_date=dt.date(2020, 3, 2)))  # fmt: skip
    with pytest.raises(Conflict, match=f"同期已有报销申请 {first.id}"):
        claims.receive(loaded, ctx, TOWN, _cmd(number="00000002"))
    # a stay settled online at the centre over the same days
    hosp = Principal("k", "hospital", CENTRE)
    enc = uc.admit(loaded, ctx, hosp, uc.Admit(EMPLOYEE, "21", dt.datetime(2020, 2, 3, 9,
                   tzinfo=CST), (uc.Diagnosis("J18.900", True),)), msgid=None)  # fmt: skip
    uc.upload_fees(
        loaded,
        ctx,
        hosp,
        enc.id,
        (uc.FeeIn("1", "ZL-0001", price_e6=15_000_000, qty_e4=10_000),),
        msgid=None,
    )
    s = uc.settle(loaded, ctx, hosp, enc.id, discharge_date=dt.date(2020, 2, 5), msgid=None)
    with pytest.raises(Conflict, match=f"{enc.id}.*已联网结算（结算 {s.settlement_id}）"):
        claims.receive(loaded, ctx, TOWN, _cmd(provider=CENTRE, number="00000003"))


def test_returned_claim_pauses_its_clock(
    loaded: UnitOfWork, ctx: Context, clock: Clock, tmp_path: Path
) -> None:
    c = claims.receive(loaded, ctx, TOWN, _cmd())
    claims.upload_fees(loaded, ctx, TOWN, c.id, _fees(tmp_path))
    claims.forward(loaded, ctx, TOWN, c.id)  # Mon 2020-02-17: 初审 due in 5 working days
    v = claims.claim_detail(loaded, ctx, R1, c.id).claim
    assert v.due_at is not None
    assert v.due_at.astimezone(CST).date() == dt.date(2020, 2, 24)
    clock.days(2)  # Wed
    claims.return_for_correction(loaded, ctx, R1, c.id, "缺出院小结")
    v = claims.claim_detail(loaded, ctx, R1, c.id).claim
    assert (v.status, v.missing, v.due_at, v.paused_days_left) == ("returned", "缺出院小结",
                                                                   None, 3)  # fmt: skip
    clock.days(14)  # two weeks at the counter do not count
    assert claims.overdue(loaded, ctx, R1) == []
    claims.resubmit(loaded, ctx, TOWN, c.id)  # Wed 03-04 + 3 working days
    v = claims.claim_detail(loaded, ctx, R1, c.id).claim
    assert v.status == "forwarded"
    assert v.due_at is not None
    assert v.due_at.astimezone(CST).date() == dt.date(2020, 3, 9)
    clock.days(6)
    assert [o.id for o in claims.overdue(loaded, ctx, R1)] == [c.id]
    with pytest.raises(Forbidden):
        claims.claim_detail(loaded, ctx, OTHER_TOWN, c.id)


def test_failed_payment_is_requeued_and_reversal_is_posted(
    loaded: UnitOfWork, ctx: Context, tmp_path: Path
) -> None:
    cid = _to_checked(loaded, ctx, tmp_path)
    setl = claims.settle(loaded, ctx, R1, cid)
    rev = claims.reverse(loaded, ctx, R2, cid, "金额录入有误")
    with loaded:
        assert loaded.hospital.accumulators(EMPLOYEE, 2020).basic_paid_fen == 0
        assert loaded.hospital.transactions([rev])[0].reverses == setl
    assert reports.ledger_problems(loaded, ctx.packs) == []
    claims.settle(loaded, ctx, R2, cid)
    claims.approve(loaded, ctx, R2, cid)
    b1 = claims.make_batch(loaded, ctx, FIN)
    ret = tmp_path / "r1.csv"
    ret.write_text("序号,报销单号,金额（元）,结果,银行流水号,失败原因\n"
                   f"1,{cid},415.01,失败,,账号不存在\n", encoding="utf-8")  # fmt: skip
    claims.apply_return(loaded, ctx, FIN, b1.id, ret)
    assert claims.claim_detail(loaded, ctx, R1, cid).claim.status == "approved"
    b2 = claims.make_batch(loaded, ctx, FIN)
    assert [ln.claim_id for ln in b2.lines] == [cid]
    assert [ln.status for ln in claims.batch_view(loaded, FIN, b1.id).lines] == ["failed"]
    bad = tmp_path / "r2.csv"
    bad.write_text(f"序号,报销单号,金额（元）,结果\n1,{cid},415.00,成功\n", encoding="utf-8")
    with pytest.raises(InvalidRequest, match="金额与支付明细不符"):
        claims.apply_return(loaded, ctx, FIN, b2.id, bad)
    assert reports.ledger_problems(loaded, ctx.packs) == []


def test_second_reviewer_must_be_another_person(
    loaded: UnitOfWork, ctx: Context, tmp_path: Path
) -> None:
    c = claims.receive(loaded, ctx, TOWN, _cmd())
    claims.upload_fees(loaded, ctx, TOWN, c.id, _fees(tmp_path))
    claims.forward(loaded, ctx, TOWN, c.id)
    claims.classify(loaded, ctx, R1, c.id, "3", code=None)
    claims.first_review(loaded, ctx, R1, c.id)
    with pytest.raises(Forbidden, match="复核须由初审以外"):
        claims.second_review(loaded, ctx, R1, c.id)
    with pytest.raises(Forbidden):
        claims.first_review(loaded, ctx, TOWN, c.id)  # a township clerk does not review


def test_attachments_by_type_and_size(loaded: UnitOfWork, ctx: Context) -> None:
    c = claims.receive(loaded, ctx, TOWN, _cmd())
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 100
    sha = claims.attach(loaded, ctx, TOWN, c.id, "invoice.png", png, "发票")
    assert claims.attach(loaded, ctx, TOWN, c.id, "again.png", png) == sha
    assert file_kind(b"%PDF-1.7") == "pdf"
    assert file_kind(b"MZ\x90") is None
    with pytest.raises(InvalidRequest, match="PDF、JPG 或 PNG"):
        claims.attach(loaded, ctx, TOWN, c.id, "x.exe", b"MZ\x90\x00")
    att = claims.claim_detail(loaded, ctx, R1, c.id).attachments
    assert [(a["kind"], a["size"], a["sha256"]) for a in att] == [("png", 108, sha)]


def test_limits_are_data_with_a_clause() -> None:
    at = dt.datetime(2020, 2, 17, 9, tzinfo=CST)
    lim = limits.limit_for("forwarded", at)
    assert lim is not None
    assert lim.workdays == 5
    assert "渝医保发〔2020〕3号" in lim.clause
    assert limits.limit_for("paid", at) is None
    with pytest.raises(ValueError, match="unknown step"):
        limits.parse_limits({"versions": [{"from": "2020-01-01", "clause": "x",
                                           "steps": {"nope": 1}}]})  # fmt: skip


def test_mask_account() -> None:
    assert mask_account("6222 0202 0011 2233 445") == "6222***********3445"
    assert mask_account("12345678") == "********"


def test_daily_report_claims_section_by_township(
    loaded: UnitOfWork, ctx: Context, clock: Clock, tmp_path: Path
) -> None:
    from yibao.services.reports.daily import daily_report

    cid = _to_checked(loaded, ctx, tmp_path)
    claims.settle(loaded, ctx, R2, cid)
    claims.approve(loaded, ctx, R2, cid)
    batch = claims.make_batch(loaded, ctx, FIN)
    ret = tmp_path / "ret.csv"
    ret.write_text("序号,报销单号,金额（元）,结果,银行流水号,失败原因\n"
                   f"1,{cid},415.01,成功,B1,\n", encoding="utf-8")  # fmt: skip
    claims.apply_return(loaded, ctx, FIN, batch.id, ret)
    other = claims.receive(loaded, ctx, TOWN, _cmd(number="00000009", admit_date=dt.date(
        2020, 1, 20), discharge_date=dt.date(2020, 1, 25)))  # fmt: skip
    day = clock.now.date()
    report = daily_report(loaded, ctx, FIN, day)
    sec = next(s for s in report.sections if s.name == "claims")
    figs = {f.label: f.value for f in sec.figures}
    assert figs == {"当日受理": 2, "审核中": 1, "待支付": 0, "当日支付": 1, "支付金额": 41_501,
                    "超期": 0}  # fmt: skip
    [row] = sec.tables[0].rows
    assert row == ("500102001", 2, 1, 0, 1, 41_501, 0)
    clock.days(7)  # the other claim's 移交 (2 working days) is late by then
    later = daily_report(loaded, ctx, FIN, clock.now.date())
    figs = {f.label: f.value for s in later.sections if s.name == "claims" for f in s.figures}
    assert (figs["当日受理"], figs["审核中"], figs["超期"]) == (0, 1, 1)
    assert other.status == "received"
