"""Supervision on both databases: a settled stay flagged by the scan of recent
settlements, the hospital sees only its own flags and answers, a supervisor confirms
(the deduction posted, the ledger balanced) or dismisses with a reason; every step an
event and an audit entry; a second run raises nothing new."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.registry_data import CENTRE, EMPLOYEE, load_examples
from yibao.core.errors import Conflict, Forbidden, InvalidRequest, NotFound
from yibao.core.ledger.accounts import SUPERVISION_DEDUCTION
from yibao.packs import PACKS_DIR
from yibao.services.access.rights import Principal
from yibao.services.encounters import lifecycle as uc
from yibao.services.encounters.context import CST, Context
from yibao.services.reports import reads as reports
from yibao.services.supervision import flags as sv
from yibao.services.supervision import review
from yibao.store.uow import UnitOfWork

T0 = dt.datetime(2020, 2, 3, 9, 0, tzinfo=CST)
NOW = dt.datetime(2020, 4, 1, 10, 0, tzinfo=CST)  # 49 days after discharge: late
HOSPITAL = Principal("k-centre", "hospital", CENTRE)
OTHER = Principal("k-other", "hospital", "H50010200002")
SUP = Principal("s1", "supervisor", None, kind="user")
CLERK = Principal("k-clerk", "clerk", None)


@pytest.fixture
def ctx() -> Context:
    return Context(Context.from_folder(PACKS_DIR).packs, clock=lambda: NOW)


@pytest.fixture
def settled(uow: UnitOfWork, ctx: Context) -> str:
    load_examples(uow)
    cmd = uc.Admit(EMPLOYEE, "21", T0, (uc.Diagnosis("B99.900", True),))
    enc = uc.admit(uow, ctx, HOSPITAL, cmd, msgid=None)
    fees = (
        uc.FeeIn(
            "1",
            "ZL-0001",
            price_e6=1_500_000_000,
            qty_e4=30_000,
            service_time=T0 + dt.timedelta(days=1),
        ),
        uc.FeeIn(
            "2",
            "ZL-0001",
            price_e6=15_000_000,
            qty_e4=10_000,
            service_time=dt.datetime(2020, 2, 20, 9, tzinfo=CST),
        ),
    )  # after discharge
    uc.upload_fees(uow, ctx, HOSPITAL, enc.id, fees, msgid=None)
    uc.settle(uow, ctx, HOSPITAL, enc.id, discharge_date=dt.date(2020, 2, 12), msgid="m1")
    return enc.id


def test_flag_review_confirm_and_dismiss(uow: UnitOfWork, ctx: Context, settled: str) -> None:
    run = sv.supervise_recent(uow, ctx, SUP)
    assert run.stays == 1
    flags = {f.rule_id: f for f in review.queue(uow, SUP)}
    assert set(flags) == {"fee_outside_stay", "late_settlement"}
    late, outside = flags["late_settlement"], flags["fee_outside_stay"]
    assert outside.encounter_id == settled
    assert outside.amount_fen == 1500  # the line dated after discharge
    assert outside.evidence["lines"][0]["service_date"] == "2020-02-20"
    # again: nothing new
    assert sv.supervise_recent(uow, ctx, SUP).flags_new == 0
    # the hospital sees its own flags only, and answers
    assert review.queue(uow, OTHER) == []
    with pytest.raises(NotFound):
        review.flag_view(uow, OTHER, late.id)
    assert {f.id for f in review.queue(uow, HOSPITAL)} == {late.id, outside.id}
    with pytest.raises(Forbidden):
        review.answer(uow, ctx, SUP, late.id, "x")
    with pytest.raises(InvalidRequest, match="answer"):
        review.answer(uow, ctx, HOSPITAL, late.id, "  ")
    assert review.answer(uow, ctx, HOSPITAL, late.id, "系统故障，延迟上传").state == "answered"
    # only a supervisor reviews; a reason is required to dismiss
    with pytest.raises(Forbidden):
        review.dismiss(uow, ctx, CLERK, late.id, "ok")
    with pytest.raises(InvalidRequest, match="reason"):
        review.dismiss(uow, ctx, SUP, late.id, "")
    done = review.dismiss(uow, ctx, SUP, late.id, "医院已说明：信息系统故障")
    assert done.state == "dismissed"
    with pytest.raises(Conflict, match="reviewed already"):
        review.confirm(uow, ctx, SUP, late.id, 100)
    # confirm with the amount: never more than the fund paid for the stay
    view = review.flag_view(uow, SUP, outside.id)
    book, paid = max(view.fund_paid.items(), key=lambda kv: kv[1])
    with pytest.raises(InvalidRequest, match="more than fund"):
        review.confirm(uow, ctx, SUP, outside.id, paid + 1)
    with pytest.raises(InvalidRequest, match="integer"):
        review.confirm(uow, ctx, SUP, outside.id, -5)
    ok = review.confirm(uow, ctx, SUP, outside.id, 1500, note="出院后费用，追回")
    assert (ok.state, ok.recovered_fen, ok.deduction_tx_id) == ("confirmed", 1500, f"SD{ok.id}")
    with uow:
        tx = uow.hospital.transactions([ok.deduction_tx_id])[0]
        audit = uow.hospital.audit_entries(
            entity="supervision_flag", entity_id=outside.id, limit=10
        )
    legs = {(p.account.code, p.account.book, p.account.key): p.amount_fen for p in tx.postings}
    assert legs == {(SUPERVISION_DEDUCTION.code, book, CENTRE): 1500, ("benefit", book, ""): -1500}
    assert reports.ledger_problems(uow, ctx.packs) == []
    steps = [e.kind for e in review.flag_view(uow, HOSPITAL, outside.id).events]
    assert steps == ["raised", "confirmed"]
    assert [e.action for e in audit] == ["supervision.confirmed"]
    assert [e.kind for e in review.flag_view(uow, SUP, late.id).events] == [
        "raised", "answered", "dismissed"]  # fmt: skip


def test_events_are_append_only(uow: UnitOfWork, ctx: Context, settled: str) -> None:
    from sqlalchemy import text

    sv.supervise_recent(uow, ctx, SUP)
    with uow, pytest.raises(Exception, match="append-only"):
        uow.session.execute(text("UPDATE supervision_flag_events SET text = 'x'"))


def test_period_scan_and_roles(uow: UnitOfWork, ctx: Context, settled: str) -> None:
    with pytest.raises(Forbidden):
        sv.supervise_period(uow, ctx, HOSPITAL, dt.date(2020, 1, 1), dt.date(2020, 3, 31))
    run = sv.supervise_period(uow, ctx, SUP, dt.date(2020, 1, 1), dt.date(2020, 3, 31))
    assert (run.stays, run.flags_new) == (1, 2)
    assert sv.supervise_recent(uow, ctx, SUP).flags_new == 0  # the same flags: none new


def test_daily_report_and_workbook(uow: UnitOfWork, ctx: Context, settled: str,
                                   tmp_path: object) -> None:  # fmt: skip
    from pathlib import Path

    from openpyxl import load_workbook

    from yibao.services.reports.daily import daily_report
    from yibao.services.supervision import flag_counts, queue, write_workbook

    sv.supervise_recent(uow, ctx, SUP)
    outside = next(f for f in review.queue(uow, SUP) if f.rule_id == "fee_outside_stay")
    review.confirm(uow, ctx, SUP, outside.id, 1000)
    report = daily_report(uow, ctx, SUP, NOW.date())
    section = next(s for s in report.sections if s.name == "supervision")
    figures = {f.label: f.value for f in section.figures}
    assert figures["新增疑点"] == 2
    assert figures["追回（扣款）金额"] == 1000
    assert figures["待审核疑点"] == 1
    assert {r[0] for r in section.tables[0].rows} == {"fee_outside_stay", "late_settlement"}
    counts = flag_counts(uow, SUP)
    assert sum(c.flags for c in counts) == 2
    assert flag_counts(uow, Principal("k-o", "hospital", "H50010200002")) == []
    path = write_workbook(Path(str(tmp_path)) / "s.xlsx", counts, queue(uow, SUP, state=None))
    wb = load_workbook(path)
    assert wb.sheetnames == ["汇总", "疑点明细"]
    assert wb["疑点明细"].max_row == 3
