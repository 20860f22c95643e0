"""Patients insured elsewhere (inbound), both databases: a Wuhan-insured (420100)
confirmed patient at a Fuling designated hospital, admitted on the certificate number and
the insured region, settled under the Hubei example pack with nothing paid in cash; with
no Hubei pack loaded the same patient is never refused: deferred "no pack for region",
then settled by the queue once the pack is loaded."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import openpyxl
import pytest

from tests.deferred.helpers import COVID, CST, FEES, HOSPITAL
from tests.filings.test_workflow import DISTRICT
from tests.registry_data import load_examples
from yibao.core.errors import Conflict, InvalidFile, InvalidRequest
from yibao.core.ledger.accounts import INTER_REGION_PAYABLE, INTER_REGION_RECEIVABLE
from yibao.core.policy.resolve import PackSet
from yibao.core.registry.identity import check_char
from yibao.packs import PACKS_DIR, shipped_pack
from yibao.packs.files import load_packs
from yibao.services.access.rights import Principal
from yibao.services.encounters import lifecycle as uc
from yibao.services.encounters.context import Context
from yibao.services.filings import clearing as cl
from yibao.services.filings.inbound import enrol_inbound
from yibao.services.reports import reads as reports
from yibao.services.stays.deferred.model import Deferral
from yibao.services.stays.deferred.queue import settle_or_defer, settle_ready
from yibao.store.uow import UnitOfWork

HUBEI = PACKS_DIR / "examples" / "hb-2020-example.yaml"
WUHAN = "42010219800101001"
WUHAN += check_char(WUHAN)
CLERK = Principal("k-clerk", "clerk", None)


BIG = tuple(replace(f, qty_e4=f.qty_e4 * 100) for f in FEES)  # ≈ 26,500 yuan: past the deductible


class Fixed:
    def __init__(self) -> None:
        self.t = dt.datetime(2020, 2, 14, 11, tzinfo=CST)

    def __call__(self) -> dt.datetime:
        return self.t


def _ctx(*packs: Path, clock: Fixed) -> Context:
    return Context(PackSet(load_packs(packs)), clock=clock)


def _stay(uow: UnitOfWork, ctx: Context) -> uc.EncounterState:
    admit = uc.Admit(WUHAN, "21", dt.datetime(2020, 2, 3, 9, tzinfo=CST), COVID,
                     covid_status="confirmed", scheme_code="310",
                     insured_region="420100")  # fmt: skip
    enc = uc.admit(uow, ctx, HOSPITAL, admit, msgid=None)
    uc.upload_fees(uow, ctx, HOSPITAL, enc.id, BIG, msgid=None)
    return uc.discharge(uow, ctx, HOSPITAL, enc.id, dt.datetime(2020, 2, 14, 10, tzinfo=CST),
                        msgid=None)  # fmt: skip


@pytest.fixture
def base(uow: UnitOfWork) -> UnitOfWork:
    load_examples(uow)
    return uow


def test_wuhan_patient_settled_under_the_hubei_pack(base: UnitOfWork) -> None:
    uow, clock = base, Fixed()
    ctx = _ctx(shipped_pack("cq-2020"), HUBEI, clock=clock)
    enc = _stay(uow, ctx)
    assert enc.insured_region == "420100"
    with pytest.raises(InvalidRequest):  # our own insurees come by the registry import
        enrol_inbound(uow, ctx, DISTRICT, psn_no=WUHAN, name="武汉患者", scheme="employee",
                      insured_region="500102", valid_from=dt.date(2020, 1, 1))  # fmt: skip
    enrol_inbound(uow, ctx, DISTRICT, psn_no=WUHAN, name="武汉患者", scheme="employee",
                  insured_region="420100", valid_from=dt.date(2020, 1, 1))  # fmt: skip
    done = settle_or_defer(uow, ctx, HOSPITAL, enc.id)
    assert isinstance(done, uc.Settled)
    info = done.settlement.setlinfo
    assert info.psn_cash_pay == 0
    assert info.hifp_pay > 0
    assert info.fiscal_pay == info.psn_part_amt


def test_no_hubei_pack_deferred_then_settled_when_loaded(base: UnitOfWork) -> None:
    uow, clock = base, Fixed()
    cq_only = _ctx(shipped_pack("cq-2020"), clock=clock)
    with pytest.raises(InvalidRequest):  # not COVID, no pack: refused as before
        uc.admit(uow, cq_only, HOSPITAL, uc.Admit(WUHAN, "21", clock.t, (uc.Diagnosis(
            "J18.900", True),), insured_region="420100"), msgid=None)  # fmt: skip
    enc = _stay(uow, cq_only)  # confirmed: never refused
    enrol_inbound(uow, cq_only, DISTRICT, psn_no=WUHAN, name="武汉患者", scheme="employee",
                  insured_region="420100", valid_from=dt.date(2020, 1, 1))  # fmt: skip
    waiting = settle_or_defer(uow, cq_only, HOSPITAL, enc.id)
    assert isinstance(waiting, Deferral)
    assert waiting.reason == "no_pack"
    assert settle_ready(uow, cq_only, CLERK).settled == []
    loaded = _ctx(shipped_pack("cq-2020"), HUBEI, clock=clock)
    run = settle_ready(uow, loaded, CLERK)
    assert [e for e, _ in run.settled] == [enc.id]
    s = uc.settlement(uow, HOSPITAL, run.settled[0][1])
    assert s.settlement.setlinfo.psn_cash_pay == 0


def test_clearing_inbound_receivable_and_outbound_payable(base: UnitOfWork, tmp_path: Path) -> None:
    uow, clock = base, Fixed()
    ctx = _ctx(shipped_pack("cq-2020"), HUBEI, clock=clock)
    enc = _stay(uow, ctx)
    enrol_inbound(uow, ctx, DISTRICT, psn_no=WUHAN, name="武汉患者", scheme="employee",
                  insured_region="420100", valid_from=dt.date(2020, 1, 1))  # fmt: skip
    done = settle_or_defer(uow, ctx, HOSPITAL, enc.id)
    assert isinstance(done, uc.Settled)
    fund = done.settlement.setlinfo.fund_pay_sumamt
    assert cl.book_inbound(uow, ctx, CLERK) == [done.settlement_id]
    assert cl.book_inbound(uow, ctx, CLERK) == []  # once
    with uow:
        rec = uow.funds.balances(INTER_REGION_RECEIVABLE.code)
    assert sum(v for (key, _), v in rec.items() if key == "420100") == fund
    out = tmp_path / "outbound.csv"
    out.write_text("就医地,结算流水号,人员编号,结算日期,医疗费总额,基金支付,基金类型\n"
                   "440300,S1,500102198003150016,2020-02-10,1200.50,960.40,310100\n",
                   encoding="utf-8")  # fmt: skip
    bad = tmp_path / "bad.csv"
    bad.write_text(out.read_text(encoding="utf-8") + "500103,S2,x,2020-02-31,1,1.001,\n",
                   encoding="utf-8")  # fmt: skip
    with pytest.raises(InvalidFile) as caught:
        cl.import_outbound(uow, ctx, CLERK, bad)
    assert {p for p, _ in caught.value.problems} >= {"row 3, region", "row 3, setl_date",
                                                     "row 3, fund"}  # fmt: skip
    assert cl.import_outbound(uow, ctx, CLERK, out) == ["S1"]
    stmts = cl.prepare_statements(uow, ctx, CLERK, "2020-02")
    assert {(s.counterpart, s.direction, s.fund_fen) for s in stmts} == {
        ("420100", "inbound", fund),
        ("440300", "outbound", 96040),
    }
    assert reports.ledger_problems(uow, ctx.packs) == []
    for s in stmts:
        with pytest.raises(Conflict):
            cl.move_statement(uow, ctx, CLERK, s.id, "cleared")  # confirmed first
        cl.move_statement(uow, ctx, CLERK, s.id, "confirmed")
        done_s = cl.move_statement(uow, ctx, CLERK, s.id, "cleared")
        assert [h["state"] for h in done_s.history] == ["applied", "confirmed", "cleared"]
    with uow:
        assert not any(uow.funds.balances(INTER_REGION_RECEIVABLE.code).values())
        assert not any(uow.funds.balances(INTER_REGION_PAYABLE.code).values())
    assert reports.ledger_problems(uow, ctx.packs) == []
    inbound = next(s for s in stmts if s.direction == "inbound")
    xlsx = cl.write_statement(uow, CLERK, inbound.id, tmp_path / "hb.xlsx")
    sheet = openpyxl.load_workbook(xlsx).active
    assert sheet.cell(2, 2).value != WUHAN  # masked for a clerk key
    csv_text = cl.write_statement(uow, CLERK, inbound.id, tmp_path / "hb.csv").read_text(
        "utf-8-sig"
    )
    assert done.settlement_id in csv_text
