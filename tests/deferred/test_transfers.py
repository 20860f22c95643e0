"""Transfers (转院) on both databases: the receiving stay settles only after the sending
one, through the deferred queue; 2501 filings link the receiving admission."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.deferred.helpers import CLERK, HOSPITAL, OTHER, books_ok, context, stay
from tests.registry_data import EMPLOYEE, load_examples
from yibao.core.errors import Conflict, InvalidRequest, NotFound
from yibao.services.encounters import lifecycle as uc
from yibao.services.encounters import transfers
from yibao.services.stays.deferred import queue as dq
from yibao.store.uow import UnitOfWork

SENT = dt.date(2020, 2, 8)
RECEIVED = dt.date(2020, 2, 12)


@pytest.fixture
def loaded(uow: UnitOfWork) -> UnitOfWork:
    load_examples(uow)
    return uow


def _deductible(s: uc.Settled) -> int:
    return s.settlement.setlinfo.act_pay_dedc


def test_filed_transfer_links_and_waits_for_the_sending_stay(loaded: UnitOfWork) -> None:
    ctx = context()
    sender = stay(loaded, ctx, EMPLOYEE, SENT)
    with pytest.raises(InvalidRequest, match="itself"):
        transfers.file_transfer(loaded, ctx, HOSPITAL, insuree_id=EMPLOYEE,
                                to_provider=HOSPITAL.provider_code)  # fmt: skip
    with pytest.raises(NotFound):
        transfers.file_transfer(loaded, ctx, OTHER, insuree_id=EMPLOYEE)  # no stay there
    f = transfers.file_transfer(loaded, ctx, HOSPITAL, insuree_id=EMPLOYEE,
                                to_provider=OTHER.provider_code, transfer_date=SENT,
                                reason="病情需要")  # fmt: skip
    assert f.from_encounter_id == sender.id
    before = stay(loaded, ctx, EMPLOYEE, SENT, caller=OTHER, fees=())  # admitted before SENT
    assert before.transfer_from is None
    received = stay(loaded, ctx, EMPLOYEE, RECEIVED, caller=OTHER, admitted=SENT)
    assert received.transfer_from == sender.id  # linked by the filing
    with pytest.raises(Conflict, match="转出医院先结算"):
        uc.settle(loaded, ctx, OTHER, received.id)
    d = dq.settle_or_defer(loaded, ctx, OTHER, received.id)
    assert isinstance(d, dq.Deferral)
    assert d.reason == "awaiting_transfer"
    assert d.advance_fen == 26500
    assert dq.settle_ready(loaded, ctx, CLERK).waiting == {"awaiting_transfer": 1}
    first = dq.settle_or_defer(loaded, ctx, HOSPITAL, sender.id)  # the sending hospital settles
    assert isinstance(first, uc.Settled)
    run = dq.settle_ready(loaded, ctx, CLERK)
    assert [e for e, _ in run.settled] == [received.id]
    second = uc.settlement(loaded, OTHER, run.settled[0][1])
    # the receiving stay's deductible: later admission and transfer shares of the pack
    assert 0 < _deductible(second) < _deductible(first)
    assert any("transfer" in str(t) for t in second.trace)
    books_ok(loaded, ctx)


def test_explicit_transfer_from_and_cancelled_filing(loaded: UnitOfWork) -> None:
    ctx = context()
    sender = stay(loaded, ctx, EMPLOYEE, SENT)
    f = transfers.file_transfer(loaded, ctx, HOSPITAL, insuree_id=EMPLOYEE,
                                to_provider=OTHER.provider_code)  # fmt: skip
    assert transfers.cancel_transfer(loaded, ctx, HOSPITAL, f.id) is True
    assert transfers.cancel_transfer(loaded, ctx, HOSPITAL, f.id) is False  # a repeat
    unlinked = stay(loaded, ctx, EMPLOYEE, RECEIVED, caller=OTHER, admitted=RECEIVED)
    assert unlinked.transfer_from is None
    linked = stay(loaded, ctx, EMPLOYEE, RECEIVED, caller=OTHER, transfer_from=sender.id)
    d = dq.settle_or_defer(loaded, ctx, OTHER, linked.id)
    assert isinstance(d, dq.Deferral)
    assert d.reason == "awaiting_transfer"
    uc.settle(loaded, ctx, HOSPITAL, sender.id)
    # asked again, the deferred receiving stay settles now
    done = dq.settle_or_defer(loaded, ctx, OTHER, linked.id)
    assert isinstance(done, uc.Settled)
    books_ok(loaded, ctx)
