"""What the fund services share: months, events, the books that prepay, posting."""

from __future__ import annotations

import datetime as dt
from typing import Any

from yibao.core.errors import Conflict, InvalidRequest
from yibao.core.ledger import Transaction
from yibao.core.policy.model import PrepaymentTerms
from yibao.services.access.rights import Principal
from yibao.services.encounters.context import CST, Context
from yibao.store.uow import UnitOfWork

__all__ = ["event", "month_bounds", "parse_month", "post", "prepayment_terms", "today"]


def today(ctx: Context) -> dt.date:
    """The business date now (Beijing)."""
    return ctx.now().astimezone(CST).date()


def parse_month(text: str) -> dt.date:
    """``2020-02`` -> 2020-02-01; ``InvalidRequest`` naming ``month`` otherwise."""
    try:
        y, m = text.strip().split("-")
        return dt.date(int(y), int(m), 1)
    except (ValueError, AttributeError):
        raise InvalidRequest(f"month: {text!r} is not a month (yyyy-mm)") from None


def month_bounds(month: dt.date) -> tuple[dt.date, dt.date]:
    """First and last day of ``month``."""
    first = month.replace(day=1)
    nxt = (first + dt.timedelta(days=32)).replace(day=1)
    return first, nxt - dt.timedelta(days=1)


def event(uow: UnitOfWork, caller: Principal, entity: str, entity_id: str, action: str,
          at: dt.datetime, **detail: Any) -> None:  # fmt: skip
    """Append one step to ``fund_events`` (who, role, when, what)."""
    uow.funds.insert("event", [{"entity": entity, "entity_id": entity_id, "action": action,
                                "actor": caller.actor[:64], "role": caller.role[:20], "at": at,
                                "detail": detail}])  # fmt: skip


def post(uow: UnitOfWork, tx: Transaction, at: dt.datetime) -> None:
    """Book one balanced transaction (refused if it does not balance: never stored)."""
    from yibao.core.ledger import transaction_problems

    problems = transaction_problems(tx)
    if problems:
        raise Conflict(f"transaction {tx.id} refused: {'; '.join(problems)}")
    uow.hospital.insert_transaction(tx, at)


def prepayment_terms(ctx: Context, on: dt.date) -> PrepaymentTerms | None:
    """The prepayment figures of the pack in force on ``on`` (the first that has them)."""
    for p in ctx.packs:
        if p.prepayment is not None and p.valid_from <= on <= p.valid_to:
            return p.prepayment
    return None
