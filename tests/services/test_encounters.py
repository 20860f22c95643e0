"""The encounter lifecycle as use cases, on both databases: admission, fee lines,
settlement, reversal and re-settlement, compensation, and the ledger behind them."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.registry_data import CENTRE, DIBAO, EMPLOYEE, NOT_ENROLLED, load_examples
from yibao.core.errors import Conflict, Forbidden, InvalidRequest, NotFound, NotInCatalog
from yibao.packs import PACKS_DIR
from yibao.services.access.rights import Principal
from yibao.services.encounters import lifecycle as uc
from yibao.services.encounters.context import CST, Context
from yibao.services.encounters.requests import compensate
from yibao.services.reports import reads as reports
from yibao.store.uow import UnitOfWork

T0 = dt.datetime(2020, 2, 3, 9, 0, tzinfo=CST)
NOW = dt.datetime(2020, 2, 14, 10, 0, tzinfo=CST)
HOSPITAL = Principal("k-centre", "hospital", CENTRE)
OTHER = Principal("k-other", "hospital", "H50010200002")
CLERK = Principal("k-clerk", "clerk", None)
COVID = (uc.Diagnosis("B99.900", True),)
FEES = (
    # 克力芝 丙, on the protocol: covered
    uc.FeeIn("1", "YP-0002", price_e6=50_000_000, qty_e4=20_000),
    uc.FeeIn("2", "ZL-0001", price_e6=15_000_000, qty_e4=30_000),  # 静脉输液 甲
    uc.FeeIn("3", "XJ05AXA159A001010101445", price_e6=120_000_000, qty_e4=10_000),  # 干扰素 乙 10 %
)


@pytest.fixture
def ctx() -> Context:
    return Context(Context.from_folder(PACKS_DIR).packs, clock=lambda: NOW)


@pytest.fixture
def loaded(uow: UnitOfWork) -> UnitOfWork:
    load_examples(uow)
    return uow


def _admit(uow: UnitOfWork, ctx: Context, psn: str = EMPLOYEE, **kw: object) -> uc.EncounterState:
    cmd = uc.Admit(psn, "21", T0, kw.pop("diagnoses", COVID), **kw)  # type: ignore[arg-type]
    return uc.admit(uow, ctx, HOSPITAL, cmd, msgid=None)


def test_confirmed_patient_pays_nothing_and_the_books_balance(
    loaded: UnitOfWork, ctx: Context
) -> None:
    enc = _admit(loaded, ctx)
    assert (enc.status, enc.version) == ("admitted", 1)
    up = uc.upload_fees(loaded, ctx, HOSPITAL, enc.id, FEES, msgid="m-up")
    assert up.new == 3
    assert [r.rule.startswith("§4.2") for r in up.results] == [True, False, True]
    again = uc.upload_fees(loaded, ctx, HOSPITAL, enc.id, FEES, msgid="m-up2")
    assert again.new == 0
    pre = uc.presettle(loaded, ctx, HOSPITAL, enc.id, discharge_date=dt.date(2020, 2, 12))
    s = uc.settle(loaded, ctx, HOSPITAL, enc.id, discharge_date=dt.date(2020, 2, 12), msgid="m1")
    assert s.settlement.setlinfo == pre.settlement.setlinfo
    i = s.settlement.setlinfo
    assert s.settlement.covid
    assert (i.psn_cash_pay, i.acct_pay) == (0, 0)
    assert i.medfee_sumamt == 10000 + 4500 + 12000
    assert s.central_share_bp == 6000
    assert reports.ledger_problems(loaded, ctx.packs) == []
    with loaded:
        tx = loaded.hospital.transactions([s.settlement_id])[0]  # type: ignore[list-item]
    from yibao.core.ledger import posted_amounts

    assert posted_amounts(tx).central_share == (i.fiscal_pay * 6000 + 5000) // 10000
    with pytest.raises(Conflict, match="already settled"):
        uc.settle(loaded, ctx, HOSPITAL, enc.id)
    with pytest.raises(Conflict, match="reverse its settlement first"):
        uc.upload_fees(loaded, ctx, HOSPITAL, enc.id, FEES[:1], msgid=None)


def test_settle_reverse_settle_moves_accumulators_and_account_back(
    loaded: UnitOfWork, ctx: Context
) -> None:
    enc = _admit(loaded, ctx, diagnoses=(uc.Diagnosis("J18.900", True),))
    uc.upload_fees(loaded, ctx, HOSPITAL, enc.id, FEES, msgid=None)
    uc.discharge(loaded, ctx, HOSPITAL, enc.id, T0 + dt.timedelta(days=5), msgid=None)
    first = uc.settle(loaded, ctx, HOSPITAL, enc.id)
    assert first.settlement.setlinfo.acct_pay > 0  # an employee's account pays in-scope
    assert first.balance_after_fen == 320000 - first.settlement.setlinfo.acct_pay
    view = reports.insuree(loaded, CLERK, EMPLOYEE, dt.date(2020, 2, 12))
    assert view.account_balance_fen == first.balance_after_fen
    rev = uc.reverse(loaded, ctx, CLERK, first.settlement_id or "")
    assert rev.accumulators_after == first.accumulators_before
    assert rev.balance_after_fen == 320000
    assert uc.encounter(loaded, HOSPITAL, enc.id).status == "discharged"
    with pytest.raises(Conflict, match="already reversed"):
        uc.reverse(loaded, ctx, HOSPITAL, first.settlement_id or "")
    second = uc.settle(loaded, ctx, HOSPITAL, enc.id)
    assert second.settlement.setlinfo == first.settlement.setlinfo
    assert reports.ledger_problems(loaded, ctx.packs) == []
    cum = reports.cumulative(loaded, HOSPITAL, EMPLOYEE, 2020)
    assert cum.accumulators == second.accumulators_after
    assert cum.paid_by_fund.get("310200") == second.settlement.setlinfo.acct_pay


def test_the_hospital_boundary_and_roles(loaded: UnitOfWork, ctx: Context) -> None:
    enc = _admit(loaded, ctx)
    with pytest.raises(NotFound):
        uc.encounter(loaded, OTHER, enc.id)
    with pytest.raises(NotFound):
        uc.upload_fees(loaded, ctx, OTHER, enc.id, FEES, msgid=None)
    with pytest.raises(Forbidden):
        uc.upload_fees(loaded, ctx, CLERK, enc.id, FEES, msgid=None)
    assert uc.encounter(loaded, CLERK, enc.id).id == enc.id


def test_bad_lines_are_refused_whole_naming_the_line(loaded: UnitOfWork, ctx: Context) -> None:
    enc = _admit(loaded, ctx)
    with loaded:
        before = loaded.hospital.counts()
    nope = uc.FeeIn("9", "NOPE", price_e6=10_000, qty_e4=10_000)
    with pytest.raises(NotInCatalog, match="feedetl_sn 9") as exc:
        uc.upload_fees(loaded, ctx, HOSPITAL, enc.id, (*FEES, nope), msgid=None)
    assert exc.value.problems[0][0] == "lines.3.code"
    refund = uc.FeeIn("4", "ZL-0001", price_e6=15_000_000, qty_e4=-10_000, reverses_sn="77")
    with pytest.raises(InvalidRequest, match=r"lines\.3\.reverses_sn"):
        uc.upload_fees(loaded, ctx, HOSPITAL, enc.id, (*FEES, refund), msgid=None)
    with loaded:
        assert loaded.hospital.counts() == before


def test_refund_lines_net_into_the_line_they_reverse(loaded: UnitOfWork, ctx: Context) -> None:
    enc = _admit(loaded, ctx)
    refund = uc.FeeIn("2R", "ZL-0001", price_e6=15_000_000, qty_e4=-10_000, reverses_sn="2")
    up = uc.upload_fees(loaded, ctx, HOSPITAL, enc.id, (*FEES, refund), msgid=None)
    assert up.results[3].det_item_fee_sumamt == -1500
    pre = uc.presettle(loaded, ctx, HOSPITAL, enc.id, discharge_date=dt.date(2020, 2, 12))
    assert pre.settlement.setlinfo.medfee_sumamt == 10000 + 3000 + 12000
    assert uc.cancel_fees(loaded, ctx, HOSPITAL, enc.id, "2", msgid=None) == 2  # and its refund
    assert uc.cancel_fees(loaded, ctx, HOSPITAL, enc.id, "2", msgid=None) == 0  # a repeat
    s = uc.settle(loaded, ctx, HOSPITAL, enc.id, discharge_date=dt.date(2020, 2, 12))
    assert s.settlement.setlinfo.medfee_sumamt == 10000 + 12000


def test_not_enrolled_and_non_designated_are_refused(loaded: UnitOfWork, ctx: Context) -> None:
    enc = _admit(loaded, ctx, psn=NOT_ENROLLED)
    uc.upload_fees(loaded, ctx, HOSPITAL, enc.id, FEES[1:2], msgid=None)
    with pytest.raises(Conflict, match="参保手续尚未办结"):
        uc.settle(loaded, ctx, HOSPITAL, enc.id, discharge_date=dt.date(2020, 2, 12))
    village = Principal("k3", "hospital", "H50010300001")
    cmd = uc.Admit(DIBAO, "21", T0, COVID)
    assert uc.admit(loaded, ctx, village, cmd, msgid=None).status == "admitted"


def test_compensation_reverses_a_settlement_and_cancels_an_upload(
    loaded: UnitOfWork, ctx: Context
) -> None:
    enc = _admit(loaded, ctx)
    uc.upload_fees(loaded, ctx, HOSPITAL, enc.id, FEES, msgid="UP1")
    s = uc.settle(loaded, ctx, HOSPITAL, enc.id, discharge_date=dt.date(2020, 2, 12),
                  msgid="SET1")  # fmt: skip
    done = compensate(loaded, ctx, HOSPITAL, "SET1", "2304", by_msgid="C1")
    assert done.undone["settlement_reversed"] == s.settlement_id
    again = compensate(loaded, ctx, HOSPITAL, "SET1", "2304", by_msgid="C2")
    assert again.repeated
    assert again.undone == done.undone
    lines = compensate(loaded, ctx, HOSPITAL, "UP1", "2301", by_msgid="C3")
    assert sorted(lines.undone["lines_cancelled"]) == ["1", "2", "3"]
    never = compensate(loaded, ctx, HOSPITAL, "LOST", "2304", by_msgid="C4")
    assert never.undone == {}
    assert reports.ledger_problems(loaded, ctx.packs) == []
    assert uc.encounter(loaded, HOSPITAL, enc.id).status == "discharged"
