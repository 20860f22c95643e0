"""Many stays deferred in one go write what deferring them one by one writes (both
databases), and the queue then settles them."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.deferred.helpers import CLERK, HOSPITAL, NEWCOMER, books_ok, context, enrol, stay
from tests.registry_data import load_examples
from yibao.core.errors import Conflict
from yibao.services.encounters import lifecycle as uc
from yibao.services.stays.deferred import queue as dq
from yibao.services.stays.deferred.deferring import record_deferrals
from yibao.store.uow import UnitOfWork


@pytest.fixture
def loaded(uow: UnitOfWork) -> UnitOfWork:
    load_examples(uow)
    return uow


def test_bulk_deferral_equals_one_by_one_and_settles(loaded: UnitOfWork) -> None:
    ctx = context()
    days = (dt.date(2020, 2, 10), dt.date(2020, 2, 20), dt.date(2020, 3, 1))
    encs = [stay(loaded, ctx, NEWCOMER, d, insured_region="500102") for d in days]
    single = stay(loaded, ctx, NEWCOMER, dt.date(2020, 3, 9), insured_region="500102")
    one = dq.settle_or_defer(loaded, ctx, HOSPITAL, single.id)
    assert isinstance(one, dq.Deferral)
    with loaded(write=True):
        ids = record_deferrals(loaded, ctx, HOSPITAL, encs, reason="not_enrolled")
        loaded.commit()
    assert len(ids) == 3
    many = [dq.deferral(loaded, HOSPITAL, e.id) for e in encs]
    for d in many:
        assert (d.reason, d.advance_fen, d.medfee_sumamt, d.provisional) == (
            one.reason,
            one.advance_fen,
            one.medfee_sumamt,
            one.provisional,
        )
    for e in encs:
        now = uc.encounter(loaded, HOSPITAL, e.id)
        assert (now.status, now.version) == ("deferred", e.version + 1)
    books_ok(loaded, ctx)
    st = dq.queue_status(loaded, ctx, CLERK)
    assert (st.count, st.advance_fen) == (4, 4 * one.advance_fen)
    with loaded(write=True), pytest.raises(Conflict, match="not discharged as given"):
        record_deferrals(loaded, ctx, HOSPITAL, encs, reason="not_enrolled")
    enrol(loaded, NEWCOMER)
    run = dq.settle_ready(loaded, ctx, CLERK)
    assert [e for e, _ in run.settled] == [e.id for e in encs] + [single.id]
    books_ok(loaded, ctx)
