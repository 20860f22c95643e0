"""Bulk booking (services/stays/booking.py): what it writes is what the service's settle
writes, so the API reverses it, the ledger balances, and a moved store is refused."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.registry_data import CENTRE, DIBAO, EMPLOYEE, load_examples
from yibao.packs import PACKS_DIR
from yibao.services.access.rights import Principal
from yibao.services.encounters import lifecycle as uc
from yibao.services.encounters.context import CST, Context
from yibao.services.registry import catalog
from yibao.services.reports import reads as reports
from yibao.services.stays import booking
from yibao.store.uow import UnitOfWork

T0 = dt.datetime(2020, 2, 3, 9, 0, tzinfo=CST)
NOW = dt.datetime(2020, 2, 14, 10, 0, tzinfo=CST)
HOSPITAL = Principal("k-centre", "hospital", CENTRE)
CLERK = Principal("k-clerk", "clerk", None)
PNEUMONIA = (uc.Diagnosis("J18.900", True),)
COVID = (uc.Diagnosis("B99.900", True),)
FEES = (
    uc.FeeIn("1", "YP-0002", price_e6=50_000_000, qty_e4=20_000),
    uc.FeeIn("2", "ZL-0001", price_e6=15_000_000, qty_e4=30_000),
    uc.FeeIn("3", "XJ05AXA159A001010101445", price_e6=120_000_000, qty_e4=10_000),
)


@pytest.fixture
def ctx() -> Context:
    return Context(Context.from_folder(PACKS_DIR).packs, clock=lambda: NOW)


@pytest.fixture
def loaded(uow: UnitOfWork) -> UnitOfWork:
    load_examples(uow)
    return uow


def _stay(uow: UnitOfWork, ctx: Context, psn: str, diags: tuple[uc.Diagnosis, ...],
          days: int = 5) -> str:  # fmt: skip
    enc = uc.admit(uow, ctx, HOSPITAL, uc.Admit(psn, "21", T0, diags), msgid=None)
    uc.upload_fees(uow, ctx, HOSPITAL, enc.id, FEES, msgid=None)
    uc.discharge(uow, ctx, HOSPITAL, enc.id, T0 + dt.timedelta(days=days), msgid=None)
    return enc.id


def _entry(uow: UnitOfWork, ctx: Context, eid: str) -> booking.Entry:
    pre = uc.presettle(uow, ctx, HOSPITAL, eid)
    opening = catalog.insuree_snapshot(uow, pre.insuree_id, pre.discharge_date)
    return booking.Entry(pre.settlement, pre.provider_code, pre.med_type, pre.discharge_date,
                         pre.central_share_bp, opening.account_opening_fen)  # fmt: skip


def test_booked_settlements_reverse_through_the_service_and_balance(
    loaded: UnitOfWork, ctx: Context
) -> None:
    a = _stay(loaded, ctx, EMPLOYEE, PNEUMONIA)
    b = _stay(loaded, ctx, DIBAO, COVID)
    entries = [_entry(loaded, ctx, a), _entry(loaded, ctx, b)]
    with loaded(write=True):
        got = booking.book(loaded, HOSPITAL, entries, at=ctx.now())
        loaded.commit()
    assert set(got.settlement_ids) == {a, b}
    assert reports.ledger_problems(loaded, ctx.packs) == []
    state = uc.encounter(loaded, HOSPITAL, a)
    assert (state.status, state.settlement_id) == ("settled", got.settlement_ids[a])
    with loaded:
        events = [(r.seq, r.kind, r.status_to) for r in loaded.hospital.events(a)]
    assert events[-1] == (state.version, "settled", "settled")
    stored = uc.settlement(loaded, HOSPITAL, got.settlement_ids[a])
    assert stored.settlement == entries[0].settlement
    assert stored.balance_after_fen == 320000 - stored.settlement.setlinfo.acct_pay
    rev = uc.reverse(loaded, ctx, CLERK, got.settlement_ids[a])
    assert rev.accumulators_after == entries[0].settlement.accumulators_before
    again = uc.settle(loaded, ctx, HOSPITAL, a)
    assert again.settlement.setlinfo == entries[0].settlement.setlinfo
    assert reports.ledger_problems(loaded, ctx.packs) == []
    # the second stay of the employee continues from the store (booked after the API's)
    c = _stay(loaded, ctx, EMPLOYEE, PNEUMONIA, days=7)
    with loaded(write=True):
        booking.book(loaded, HOSPITAL, [_entry(loaded, ctx, c)], at=ctx.now())
        loaded.commit()
    assert reports.ledger_problems(loaded, ctx.packs) == []


def test_a_store_that_moved_is_refused_and_nothing_is_written(
    loaded: UnitOfWork, ctx: Context
) -> None:
    a = _stay(loaded, ctx, EMPLOYEE, PNEUMONIA)
    c = _stay(loaded, ctx, EMPLOYEE, PNEUMONIA, days=7)
    stale = _entry(loaded, ctx, a)
    uc.settle(loaded, ctx, HOSPITAL, c)  # moves the employee's accumulators and account
    with loaded:
        before = loaded.hospital.counts()
    with loaded(write=True), pytest.raises(booking.StoreMoved, match="moved"):
        booking.book(loaded, HOSPITAL, [stale], at=ctx.now())
    with loaded:
        assert loaded.hospital.counts() == before
    with loaded(write=True), pytest.raises(booking.Conflict, match="booked twice"):
        booking.book(loaded, HOSPITAL, [stale, stale], at=ctx.now())
