"""core.ledger.advance: a deferred stay's advance (医院垫付) and its clearing."""

from __future__ import annotations

import datetime as dt

import pytest

from yibao.core.ledger import transaction_problems
from yibao.core.ledger.advance import (
    advance_for,
    advanced_by_provider,
    clearing_of,
    clearing_problems,
)
from yibao.core.ledger.journal import Posting

DAY = dt.date(2020, 2, 10)


def test_advance_and_clearing_balance_and_net_to_zero() -> None:
    adv = advance_for(tx_id="V1", provider_code="H1", encounter_id="M1", advance_fen=26500,
                      booked_on=DAY)  # fmt: skip
    assert adv.kind == "advance"
    assert transaction_problems(adv) == []
    assert [(p.account.label, p.amount_fen) for p in adv.postings] == [
        ("advance_receivable:999996:H1", 26500),
        ("hospital_payable:999996:H1", -26500),
    ]
    other = advance_for(tx_id="V2", provider_code="H2", encounter_id="M2", advance_fen=100,
                        booked_on=DAY)  # fmt: skip
    assert advanced_by_provider([adv, other]) == {"H1": 26500, "H2": 100}
    clr = clearing_of(adv, tx_id="W1", booked_on=DAY + dt.timedelta(days=3))
    assert (clr.kind, clr.reverses) == ("clearing", "V1")
    assert transaction_problems(clr) == []
    assert clearing_problems(adv, clr) == []
    assert clearing_problems(adv, None) == []
    assert advanced_by_provider([adv, other, clr]) == {"H2": 100}


def test_bad_amounts_and_bad_clearings_are_named() -> None:
    with pytest.raises(ValueError, match="advance_fen"):
        advance_for(tx_id="V", provider_code="H", encounter_id="M", advance_fen=-1,
                    booked_on=DAY)  # fmt: skip
    with pytest.raises(ValueError, match="advance_fen"):
        advance_for(tx_id="V", provider_code="H", encounter_id="M", advance_fen=1.5,  # type: ignore[arg-type]
                    booked_on=DAY)  # fmt: skip
    adv = advance_for(tx_id="V1", provider_code="H1", encounter_id="M1", advance_fen=500,
                      booked_on=DAY)  # fmt: skip
    with pytest.raises(ValueError, match="not an advance"):
        clearing_of(clearing_of(adv, tx_id="W1", booked_on=DAY), tx_id="W2", booked_on=DAY)
    good = clearing_of(adv, tx_id="W1", booked_on=DAY)
    wrong_target = good.__class__(good.id, DAY, "clearing", good.postings, reverses="V9")
    assert "not marked" in clearing_problems(adv, wrong_target)[0]
    short = good.__class__(good.id, DAY, "clearing",
                           (Posting(good.postings[0].account, -499),
                            Posting(good.postings[1].account, 499)), reverses="V1")  # fmt: skip
    assert "exact negation" in clearing_problems(adv, short)[0]
