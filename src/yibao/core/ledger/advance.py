"""A deferred encounter's advance (医院垫付) and its clearing: 先救治、后结算.

When a stay cannot be settled yet (the insuree's enrolment is not imported, the
hospital captured it offline, a transfer-in waits for the sending hospital:
渝医保发〔2020〕3号 四（四）, 涪医保发〔2020〕6号 三), the hospital has treated the patient
and advanced the cost. ``advance_for`` books that advance in the memo book ``ADVANCE``
(999996 医院垫付基金), keyed by the hospital:

=========================================  =========================================
debit                                      credit
=========================================  =========================================
advance_receivable 999996 : provider       hospital_payable 999996 : provider
(the funds' settlement still to come)      (what the hospital is owed for it)
=========================================  =========================================

When the queue settles the encounter, ``clearing_of`` books the exact negation (kind
``clearing``, ``reverses`` = the advance) beside the settlement's own transaction, so
the book nets to zero per encounter and its open balance per hospital is what the
hospitals have advanced on stays still waiting (the queue's "amounts advanced").
"""

from __future__ import annotations

import datetime as dt

from yibao.core.ledger.accounts import ADVANCE, ADVANCE_RECEIVABLE, HOSPITAL_PAYABLE, Account
from yibao.core.ledger.journal import Posting, Transaction, balances

__all__ = ["advance_for", "advanced_by_provider", "clearing_of", "clearing_problems"]


def advance_for(
    *, tx_id: str, provider_code: str, encounter_id: str, advance_fen: int, booked_on: dt.date
) -> Transaction:
    """The ``advance`` transaction of a deferred encounter (module docstring)."""
    if type(advance_fen) is not int or advance_fen < 0:
        raise ValueError(f"advance_fen {advance_fen!r} is not a non-negative integer fen")
    postings = (
        Posting(Account(ADVANCE_RECEIVABLE.code, ADVANCE, provider_code), advance_fen),
        Posting(Account(HOSPITAL_PAYABLE.code, ADVANCE, provider_code), -advance_fen),
    )
    return Transaction(tx_id, booked_on, "advance", postings,
                       narration=f"医院垫付 就诊 {encounter_id}")  # fmt: skip


def clearing_of(advance: Transaction, *, tx_id: str, booked_on: dt.date) -> Transaction:
    """The ``clearing`` of an advance: its exact negation, booked when it is settled."""
    if advance.kind != "advance":
        raise ValueError(f"tx {advance.id} is a {advance.kind}, not an advance")
    return Transaction(tx_id, booked_on, "clearing",
                       tuple(p.negated() for p in advance.postings), reverses=advance.id,
                       narration=f"垫付结清 {advance.id}")  # fmt: skip


def advanced_by_provider(txs: list[Transaction]) -> dict[str, int]:
    """The open advance per hospital: the balance of ``advance_receivable`` in ADVANCE."""
    out: dict[str, int] = {}
    for account, fen in balances(txs).items():
        if (account.code, account.book) == (ADVANCE_RECEIVABLE.code, ADVANCE) and fen:
            out[account.key] = fen
    return out


def clearing_problems(advance: Transaction, clearing: Transaction | None) -> list[str]:
    """A clearing negates its advance exactly and names it."""
    if clearing is None:
        return []
    if clearing.kind != "clearing" or clearing.reverses != advance.id:
        return [f"tx {clearing.id}: is not marked as the clearing of {advance.id}"]
    if clearing.postings != tuple(p.negated() for p in advance.postings):
        return [f"tx {clearing.id}: is not the exact negation of {advance.id}"]
    return []
