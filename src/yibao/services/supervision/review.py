"""The review queue (issue 22): supervisors confirm a flag with the amount to recover, or
dismiss it with a reason; the hospital reads its own flags and answers.

::

    open ─answer (hospital)─> answered ─answer─> answered
    open | answered ─confirm (supervisor, amount ≥ 0 fen)─> confirmed
    open | answered ─dismiss (supervisor, reason)─> dismissed

Each step is an append-only ``supervision_flag_events`` row and an audit entry; the
flag's row is its projection (optimistic: a step on a flag that moved meanwhile is a
conflict). Confirming with an amount posts the deduction, one balanced transaction in the
stay's fund book: debit ``supervision_deduction`` (receivable from the hospital, keyed by
its code), credit ``benefit`` (the fund's expense recovered). The monthly clearing
(services/funds) subtracts what is open of it from what the fund owes the hospital. A
stay's deduction never exceeds what that fund paid for the stay.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from yibao.core.engine.funds import ACCOUNT
from yibao.core.errors import Conflict, InvalidRequest, NotFound
from yibao.core.ledger import Account, Posting, Transaction, transaction_problems
from yibao.core.ledger.accounts import BENEFIT, FUND_BOOKS, SUPERVISION_DEDUCTION
from yibao.services.access.rights import Principal, audit, own, require
from yibao.services.encounters.context import CST, Context
from yibao.store.uow import UnitOfWork

__all__ = ["OPEN_STATES", "FlagView", "answer", "confirm", "dismiss", "flag_view", "queue"]

OPEN_STATES = ("open", "answered")
_BOOKS = FUND_BOOKS - {ACCOUNT}
MAX_TEXT = 500


@dataclass(frozen=True, slots=True)
class FlagView:
    flag: Any  # the supervision_flags row
    events: tuple[Any, ...]
    title: str
    clause: str
    settlement_id: str | None  # the stay's standing settlement (its trace)
    fund_paid: dict[str, int]  # what each fund book paid for the stay (benefit postings)


def _text(field: str, text: str | None, *, required: bool) -> str | None:
    t = (text or "").strip()
    if required and not t:
        raise InvalidRequest(f"{field}: required", [(field, "required")])
    if len(t) > MAX_TEXT:
        raise InvalidRequest(f"{field}: at most {MAX_TEXT} characters", [(field, "too long")])
    return t or None


def _get(uow: UnitOfWork, caller: Principal, flag_id: str, *, lock: bool = False) -> Any:
    row = uow.supervision.flag(flag_id, lock=lock)
    if row is None:
        raise NotFound(f"flag {flag_id} not found")
    own(caller, row.provider_code, f"flag {flag_id}")
    return row


def _fund_paid(uow: UnitOfWork, settlement_id: str | None) -> dict[str, int]:
    if settlement_id is None:
        return {}
    out: dict[str, int] = {}
    for tx in uow.hospital.transactions([settlement_id]):
        for p in tx.postings:
            if p.account.code == BENEFIT.code and p.account.book in _BOOKS:
                out[p.account.book] = out.get(p.account.book, 0) + p.amount_fen
    return out


def _settlement_of(uow: UnitOfWork, row: Any) -> str | None:
    if row.encounter_id is None:
        return None
    enc = uow.hospital.encounter(row.encounter_id)
    return None if enc is None else enc.settlement_id


def flag_view(uow: UnitOfWork, caller: Principal, flag_id: str) -> FlagView:
    """One flag with its evidence, its steps and what the stay's funds paid."""
    from yibao.services.supervision.flags import rule_set

    require(caller, "supervision.read")
    with uow:
        row = _get(uow, caller, flag_id)
        events = tuple(uow.supervision.events(flag_id))
        setl = _settlement_of(uow, row)
        paid = _fund_paid(uow, setl)
    rule = rule_set().rule(row.rule_id)
    return FlagView(row, events, rule.title if rule else row.rule_id,
                    rule.clause if rule else "", setl, paid)  # fmt: skip


def queue(uow: UnitOfWork, caller: Principal, *, state: tuple[str, ...] | None = OPEN_STATES,
          provider_code: str | None = None, rule_id: str | None = None,
          month: str | None = None, limit: int = 200, offset: int = 0) -> list[Any]:  # fmt: skip
    """Flags, newest first (a hospital: its own only)."""
    require(caller, "supervision.read")
    if caller.role == "hospital":
        provider_code = caller.provider_code
    with uow:
        return uow.supervision.flags(state=state, provider_code=provider_code,
                                     rule_id=rule_id, month=month, limit=min(limit, 1000),
                                     offset=offset)  # fmt: skip


def _step(uow: UnitOfWork, caller: Principal, row: Any, kind: str, state_to: str,
          at: dt.datetime, *, text: str | None = None, amount_fen: int | None = None,
          book: str | None = None, tx_id: str | None = None,
          values: dict[str, Any] | None = None) -> None:  # fmt: skip
    seq = len(uow.supervision.events(row.id)) + 1
    change = {"state": state_to, "updated_at": at, **(values or {})}
    moved = uow.supervision.move(row.id, row.version, change)
    if moved != 1:
        raise Conflict(f"flag {row.id} changed meanwhile: read it again")
    uow.supervision.insert([], [{"flag_id": row.id, "seq": seq, "kind": kind,
                                 "state_from": row.state, "state_to": state_to, "at": at,
                                 "actor": caller.actor[:64], "role": caller.role[:20],
                                 "text": text, "amount_fen": amount_fen, "book": book,
                                 "tx_id": tx_id}])  # fmt: skip
    audit(uow, caller, f"supervision.{kind}", "supervision_flag", row.id,
          before={"state": row.state, "version": row.version},
          after={"state": state_to, "version": row.version + 1, "amount_fen": amount_fen,
                 "book": book, "tx_id": tx_id}, at=at,
          detail={"rule_id": row.rule_id, "provider_code": row.provider_code})  # fmt: skip


def _open(row: Any) -> None:
    if row.state not in OPEN_STATES:
        raise Conflict(f"flag {row.id} is {row.state}: reviewed already")


def answer(uow: UnitOfWork, ctx: Context, caller: Principal, flag_id: str, text: str) -> Any:
    """The hospital's answer to one of its flags (recorded; the flag stays to review)."""
    require(caller, "supervision.answer")
    body = _text("answer", text, required=True)
    at = ctx.now()
    with uow(write=True):
        row = _get(uow, caller, flag_id, lock=True)
        _open(row)
        _step(uow, caller, row, "answered", "answered", at, text=body)
        uow.commit()
    return uow_flag(uow, flag_id)


def dismiss(uow: UnitOfWork, ctx: Context, caller: Principal, flag_id: str, reason: str) -> Any:
    """Dismiss a flag: nothing to recover, and why."""
    require(caller, "supervision.review")
    why = _text("reason", reason, required=True)
    at = ctx.now()
    with uow(write=True):
        row = _get(uow, caller, flag_id, lock=True)
        _open(row)
        _step(uow, caller, row, "dismissed", "dismissed", at, text=why)
        uow.commit()
    return uow_flag(uow, flag_id)


def confirm(uow: UnitOfWork, ctx: Context, caller: Principal, flag_id: str, amount_fen: int,
            *, book: str | None = None, note: str | None = None) -> Any:  # fmt: skip
    """Confirm a flag with the amount to recover (integer fen, 0: misuse without a loss):
    a positive amount is posted as the hospital's deduction in ``book`` (default: the
    fund that paid most of the stay)."""
    require(caller, "supervision.review")
    if type(amount_fen) is not int or amount_fen < 0:
        raise InvalidRequest("amount_fen: an integer number of fen ≥ 0",
                             [("amount_fen", "not an integer ≥ 0")])  # fmt: skip
    text = _text("note", note, required=False)
    at = ctx.now()
    with uow(write=True):
        row = _get(uow, caller, flag_id, lock=True)
        _open(row)
        tx_id = None
        if amount_fen:
            book = _book(uow, row, amount_fen, book)
            tx_id = f"SD{row.id}"[:40]
            tx = Transaction(
                id=tx_id, booked_on=at.astimezone(CST).date(), kind="adjustment",
                postings=(Posting(Account(SUPERVISION_DEDUCTION.code, book, row.provider_code),
                                  amount_fen),
                          Posting(Account(BENEFIT.code, book, ""), -amount_fen)),
                narration=f"基金监管扣款 {row.id} {row.rule_id}"[:200],
            )  # fmt: skip
            problems = transaction_problems(tx)
            if problems:
                raise Conflict(f"deduction refused: {'; '.join(problems)}")
            uow.hospital.insert_transaction(tx, at)
        _step(uow, caller, row, "confirmed", "confirmed", at, text=text, amount_fen=amount_fen,
              book=book if amount_fen else None, tx_id=tx_id,
              values={"recovered_fen": amount_fen, "deduction_tx_id": tx_id})  # fmt: skip
        uow.commit()
    return uow_flag(uow, flag_id)


def _book(uow: UnitOfWork, row: Any, amount_fen: int, book: str | None) -> str:
    if book is not None and book not in _BOOKS:
        raise InvalidRequest(f"book: {book!r} is not a fund book ({', '.join(sorted(_BOOKS))})",
                             [("book", "not a fund book")])  # fmt: skip
    if row.subject == "hospital":
        if book is None:
            raise InvalidRequest("book: required for a hospital's flag", [("book", "required")])
        return book
    paid = _fund_paid(uow, _settlement_of(uow, row))
    if not paid:
        raise Conflict(f"flag {row.id}: the stay has no standing settlement paid by a fund")
    chosen = book or max(paid, key=lambda b: (paid[b], b))
    if amount_fen > paid.get(chosen, 0):
        raise InvalidRequest(
            f"amount_fen: {amount_fen} fen is more than fund {chosen} paid for the stay "
            f"({paid.get(chosen, 0)} fen)",
            [("amount_fen", "more than the fund paid")],
        )
    return chosen


def uow_flag(uow: UnitOfWork, flag_id: str) -> Any:
    """The flag's row as it stands now."""
    with uow:
        return uow.supervision.flag(flag_id)
