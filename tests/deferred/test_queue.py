"""The deferred queue on both databases: deferral with its advance, settlement when the
enrolment arrives, clearing, order per insuree-year, status."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.deferred.helpers import (
    CLERK,
    HOSPITAL,
    NEWCOMER,
    OTHER,
    books_ok,
    context,
    enrol,
    stay,
)
from tests.registry_data import load_examples
from yibao.core.errors import Conflict, InsureeNotImported, NotFound
from yibao.core.ledger.accounts import ADVANCE, ADVANCE_RECEIVABLE, Account
from yibao.core.ledger.journal import balance_of
from yibao.services.encounters import lifecycle as uc
from yibao.services.stays.deferred import queue as dq
from yibao.store.uow import UnitOfWork

D1 = dt.date(2020, 2, 10)


@pytest.fixture
def loaded(uow: UnitOfWork) -> UnitOfWork:
    load_examples(uow)
    return uow


def _advance_balance(uow: UnitOfWork, provider: str) -> int:
    with uow:
        txs = uow.hospital.transactions()
    return balance_of(txs, Account(ADVANCE_RECEIVABLE.code, ADVANCE, provider))


def test_not_imported_insuree_is_deferred_then_settled_on_import(loaded: UnitOfWork) -> None:
    ctx = context()
    with pytest.raises(InsureeNotImported, match="insured_region"):
        stay(loaded, ctx, NEWCOMER, D1)
    enc = stay(loaded, ctx, NEWCOMER, D1, insured_region="500102")
    d = dq.settle_or_defer(loaded, ctx, HOSPITAL, enc.id)
    assert isinstance(d, dq.Deferral)
    assert (d.reason, d.advance_fen, d.medfee_sumamt, d.provisional) == (
        "not_enrolled",
        10000 + 4500 + 12000,
        26500,
        False,
    )
    assert uc.encounter(loaded, HOSPITAL, enc.id).status == "deferred"
    assert _advance_balance(loaded, HOSPITAL.provider_code or "") == 26500
    books_ok(loaded, ctx)
    again = dq.settle_or_defer(loaded, ctx, HOSPITAL, enc.id)  # a retry: the same deferral
    assert again == d
    with pytest.raises(Conflict, match="deferred"):
        uc.settle(loaded, ctx, HOSPITAL, enc.id)
    st = dq.queue_status(loaded, ctx, CLERK)
    assert [(r.provider_code, r.reason, r.count, r.advance_fen) for r in st.rows] == [
        (HOSPITAL.provider_code, "not_enrolled", 1, 26500)
    ]
    assert dq.queue_status(loaded, ctx, OTHER).rows == ()
    assert dq.settle_ready(loaded, ctx, CLERK).settled == []  # still not imported
    enrol(loaded, NEWCOMER)
    run = dq.settle_ready(loaded, ctx, CLERK)
    assert [e for e, _ in run.settled] == [enc.id]
    now = uc.encounter(loaded, HOSPITAL, enc.id)
    assert now.status == "settled"
    cleared = dq.deferral(loaded, HOSPITAL, enc.id)
    assert not cleared.open
    assert cleared.settlement_id == now.settlement_id
    s = uc.settlement(loaded, HOSPITAL, now.settlement_id or "")
    assert s.settlement.setlinfo.medfee_sumamt == 26500
    assert _advance_balance(loaded, HOSPITAL.provider_code or "") == 0
    assert dq.queue_status(loaded, ctx, CLERK).rows == ()
    books_ok(loaded, ctx)
    events = [e.kind for e in _events(loaded, enc.id)]
    assert events[-3:] == ["deferred", "deferral_cleared", "settled"]


def _events(uow: UnitOfWork, eid: str) -> list:  # type: ignore[type-arg]
    with uow:
        return uow.hospital.events(eid)


def test_offline_deferral_with_a_provisional_advance(loaded: UnitOfWork) -> None:
    from tests.registry_data import EMPLOYEE

    ctx = context()
    enc = stay(loaded, ctx, EMPLOYEE, D1, fees=())
    d = dq.defer(loaded, ctx, HOSPITAL, enc.id, reason="offline", advance_fen=30000)
    assert (d.reason, d.advance_fen, d.provisional, d.medfee_sumamt) == ("offline", 30000, True, 0)
    with pytest.raises(NotFound):
        dq.defer(loaded, ctx, OTHER, enc.id, reason="offline", advance_fen=1)
    assert dq.settle_ready(loaded, ctx, CLERK).waiting == {"offline": 1}  # no lines yet
    from tests.deferred.helpers import FEES

    uc.upload_fees(loaded, ctx, HOSPITAL, enc.id, FEES, msgid=None)  # the hospital's upload
    done = dq.settle_or_defer(loaded, ctx, HOSPITAL, enc.id)
    assert isinstance(done, uc.Settled)
    assert done.settlement.setlinfo.medfee_sumamt == 26500
    assert not dq.deferral(loaded, HOSPITAL, enc.id).open
    books_ok(loaded, ctx)


def test_ledger_check_sees_a_queue_that_disagrees_with_the_books(loaded: UnitOfWork) -> None:
    from sqlalchemy import text

    from yibao.services.reports import reads as reports

    ctx = context()
    enc = stay(loaded, ctx, NEWCOMER, D1, insured_region="500102")
    d = dq.settle_or_defer(loaded, ctx, HOSPITAL, enc.id)
    assert isinstance(d, dq.Deferral)
    with loaded:  # a deferral row edited behind the service's back
        loaded.session.execute(text("UPDATE deferrals SET advance_fen = advance_fen + 1"))
        loaded.session.execute(text("UPDATE encounters SET status = 'discharged'"))
        loaded.commit()
    problems = reports.ledger_problems(loaded, ctx.packs)
    assert any("does not book 26501 fen" in p for p in problems)
    with loaded:
        loaded.session.execute(text("UPDATE deferrals SET advance_fen = advance_fen - 1"))
        loaded.commit()
    problems = reports.ledger_problems(loaded, ctx.packs)
    assert problems == [f"deferral {d.id}: open, but encounter {enc.id} is not deferred"]
