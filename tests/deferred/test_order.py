"""The queue settled in one pass equals settling the same stays one by one in
(discharge_date, encounter_id) order; a blocked stay holds back the later ones of its
insuree-year (both databases)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.deferred.helpers import CLERK, FEES, HOSPITAL, OTHER, books_ok, context, enrol, stay
from tests.registry_data import load_examples
from yibao.services.encounters import lifecycle as uc
from yibao.services.stays.deferred import queue as dq
from yibao.store.uow import UnitOfWork

A, B = "500102199501010061", "500102199601010077"  # neither imported at first
# discharge dates out of admission order, two on one day (the encounter id decides)
DAYS = (dt.date(2020, 3, 20), dt.date(2020, 3, 5), dt.date(2020, 3, 5), dt.date(2020, 4, 1))
# 30 bed days: caps move
BIG = (uc.FeeIn("9", "001103000010000", price_e6=20_000_000_000, qty_e4=300_000),)


@pytest.fixture
def loaded(uow: UnitOfWork) -> UnitOfWork:
    load_examples(uow)
    return uow


def _stays(uow: UnitOfWork, ctx: object, psn: str) -> list[uc.EncounterState]:
    out = []
    for n, day in enumerate(DAYS):
        who = OTHER if n == 2 else HOSPITAL
        out.append(
            stay(
                uow,
                ctx,
                psn,
                day,
                fees=FEES + BIG,
                caller=who,  # type: ignore[arg-type]
                insured_region="500102",
                admitted=dt.date(2020, 3, 1),
            )
        )
    return out


def test_one_pass_equals_one_by_one(loaded: UnitOfWork) -> None:
    ctx = context()
    queued = _stays(loaded, ctx, A)
    for e in queued:
        who = OTHER if e.provider_code == OTHER.provider_code else HOSPITAL
        assert isinstance(dq.settle_or_defer(loaded, ctx, who, e.id), dq.Deferral)
    enrol(loaded, A)
    run = dq.settle_ready(loaded, ctx, CLERK)  # one batch pass
    order = sorted(queued, key=lambda e: (e.discharge_date, e.id))
    assert [e for e, _ in run.settled] == [e.id for e in order]
    assert (run.batch, run.fallback) == (4, None)

    enrol(loaded, B)
    twins = _stays(loaded, ctx, B)
    twin_order = sorted(twins, key=lambda e: (e.discharge_date, e.id))
    by_hand = []
    for e in twin_order:  # one by one, the ordinary way
        who = OTHER if e.provider_code == OTHER.provider_code else HOSPITAL
        by_hand.append(uc.settle(loaded, ctx, who, e.id))
    for (_, sid), mine in zip(run.settled, by_hand, strict=True):
        got = uc.settlement(loaded, CLERK, sid).settlement
        assert got.setlinfo == mine.settlement.setlinfo
        assert got.accumulators_after == mine.settlement.accumulators_after
    assert len({s.settlement.setlinfo.hifp_pay for s in by_hand}) > 1  # the caps bite
    books_ok(loaded, ctx)


@pytest.mark.parametrize("bulk", [True, False])
def test_a_blocked_stay_holds_back_the_later_ones(loaded: UnitOfWork, bulk: bool) -> None:
    ctx = context()
    enrol(loaded, A)
    early = stay(loaded, ctx, A, dt.date(2020, 3, 1), fees=())
    dq.defer(loaded, ctx, HOSPITAL, early.id, reason="offline", advance_fen=5000)  # no lines
    late = stay(loaded, ctx, A, dt.date(2020, 3, 9))
    dq.defer(loaded, ctx, HOSPITAL, late.id, reason="offline")
    run = dq.settle_ready(loaded, ctx, CLERK, bulk=bulk)
    assert (run.settled, run.waiting) == ([], {"offline": 2})
    uc.upload_fees(loaded, ctx, HOSPITAL, early.id, FEES, msgid=None)
    run = dq.settle_ready(loaded, ctx, HOSPITAL, bulk=bulk)
    assert [e for e, _ in run.settled] == [early.id, late.id]
    assert run.batch == (2 if bulk else 0)
    assert dq.settle_ready(loaded, ctx, HOSPITAL, bulk=bulk).settled == []  # a no-op
    books_ok(loaded, ctx)
