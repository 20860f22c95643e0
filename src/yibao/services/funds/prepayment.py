"""预付: a hospital's prepayment, from application to disbursement (渝医保发〔2020〕3号 三（一）;
the provincial notice 三（一）: larger prepayments for busy hospitals).

::

    apply (hospital or a clerk for it) ─> applied ─propose (finance: amount)─> proposed
        ─approve (finance, ANOTHER person)─> approved ─disburse─> disbursed (posted)
    applied | proposed ─reject─> rejected

The baseline is the pack's formula (``prepayment``: months of last year's average monthly
fund payment + expected COVID patients × the average fund cost of a confirmed stay
measured from the settlements so far), shown beside the amount applied for; the amount
proposed is the reviewer's. A later application for the same hospital is a top-up. The
disbursement is one balanced transaction per hospital (``ledger.funds.prepayment_tx``),
split over the pack's fund books in proportion to last year's payments; monthly
clearings offset it (``clearing``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from yibao.core.engine.funds import ACCOUNT
from yibao.core.errors import Conflict, Forbidden, InvalidRequest, NotFound
from yibao.core.ledger.accounts import ADVANCE, ADVANCE_RECEIVABLE, FUND_BOOKS, HOSPITAL_PAYABLE
from yibao.core.ledger.funds import Baseline, prepayment_baseline, prepayment_tx, split_by_weight
from yibao.services.access.rights import Principal, own, require
from yibao.services.encounters.context import Context, new_id
from yibao.services.funds.common import event, post, prepayment_terms, today
from yibao.store.uow import UnitOfWork

__all__ = [
    "STATE_NAMES",
    "PrepaymentIn",
    "PrepaymentView",
    "apply",
    "approve",
    "baseline_for",
    "disburse",
    "open_prepayments",
    "prepayments",
    "propose",
    "reject",
]

STATE_NAMES = {"applied": "已申请", "proposed": "已初审", "approved": "已复核",
               "disbursed": "已拨付", "rejected": "不予预付"}  # fmt: skip
PAYING_BOOKS = tuple(sorted(FUND_BOOKS - {ACCOUNT}))
_MAX_FEN = 10**13  # 1000 亿元: past it, a typo


@dataclass(frozen=True, slots=True)
class PrepaymentIn:
    provider_code: str
    amount_fen: int
    reason: str
    expected_patients: int = 0


@dataclass(frozen=True, slots=True)
class PrepaymentView:
    id: str
    provider_code: str
    kind: str
    state: str
    applied_fen: int
    reason: str
    expected_patients: int
    baseline: dict[str, Any] | None
    proposed_fen: int | None
    by_book: dict[str, int] | None
    applied_by: str
    proposed_by: str | None
    approved_by: str | None
    tx_id: str | None
    booked_on: dt.date | None
    version: int

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "provider_code": self.provider_code, "kind": self.kind,
                "state": self.state, "state_name": STATE_NAMES[self.state],
                "applied_fen": self.applied_fen, "reason": self.reason,
                "expected_patients": self.expected_patients, "baseline": self.baseline,
                "proposed_fen": self.proposed_fen, "by_book": self.by_book,
                "applied_by": self.applied_by, "proposed_by": self.proposed_by,
                "approved_by": self.approved_by, "tx_id": self.tx_id,
                "booked_on": self.booked_on.isoformat() if self.booked_on else None,
                "version": self.version}  # fmt: skip


def _view(r: Any) -> PrepaymentView:
    return PrepaymentView(r.id, r.provider_code, r.kind, r.state, int(r.applied_fen), r.reason,
                          int(r.expected_patients), r.baseline,
                          None if r.proposed_fen is None else int(r.proposed_fen), r.by_book,
                          r.applied_by, r.proposed_by, r.approved_by, r.tx_id, r.booked_on,
                          int(r.version))  # fmt: skip


def _prior_paid(uow: UnitOfWork, provider_code: str, year: int) -> tuple[dict[str, int], str]:
    """Last year's fund payments to the hospital per book, from the ledger; else the
    figure recorded with its budget (``prior_paid_fen``, imported), under no book."""
    rows = uow.funds.owed(dt.date(year - 1, 1, 1), dt.date(year - 1, 12, 31),
                          HOSPITAL_PAYABLE.code, provider_code)  # fmt: skip
    by_book: dict[str, int] = {}
    for r in rows:
        if r.book in PAYING_BOOKS and r.fen:
            by_book[r.book] = by_book.get(r.book, 0) + int(r.fen)
    if by_book:
        return by_book, "ledger"
    budget = uow.funds.budgets(year).get(provider_code)
    if budget is not None and budget.prior_paid_fen is not None:
        return {"": int(budget.prior_paid_fen)}, "budget"
    return {}, "none"


def baseline_for(uow: UnitOfWork, ctx: Context, provider_code: str, expected_patients: int,
                 on: dt.date) -> tuple[Baseline, dict[str, Any]] | None:  # fmt: skip
    """The formula's baseline for a hospital on a day, with where each figure came from;
    None when no pack in force has a ``prepayment`` section."""
    terms = prepayment_terms(ctx, on)
    if terms is None:
        return None
    with uow:
        prior, source = _prior_paid(uow, provider_code, on.year)
        n, total = uow.funds.confirmed_stays(on)
    stay = (total * 2 + n) // (2 * n) if n else terms.covid_stay_fen
    b = prepayment_baseline(prior_year_paid_fen=sum(prior.values()), months=terms.months,
                            expected_patients=expected_patients, covid_stay_fen=stay)  # fmt: skip
    doc = {
        **b._asdict(),
        "prior_source": source,
        "prior_by_book": prior,
        "covid_stay_source": f"settlements:{n}" if n else "pack",
        "clause": terms.clause,
    }
    return b, doc


def apply(uow: UnitOfWork, ctx: Context, caller: Principal, cmd: PrepaymentIn) -> PrepaymentView:
    """A hospital applies (or a district clerk for it): amount, reason, expected COVID
    patients; the baseline is computed and kept beside it."""
    require(caller, "funds.apply")
    own(caller, cmd.provider_code, "provider")
    problems = []
    if type(cmd.amount_fen) is not int or not 0 < cmd.amount_fen < _MAX_FEN:
        problems.append("amount_fen: 申请金额须为正数")
    if not cmd.reason.strip() or len(cmd.reason) > 200:
        problems.append("reason: 请填写申请理由（200字以内）")
    if type(cmd.expected_patients) is not int or not 0 <= cmd.expected_patients <= 100_000:
        problems.append("expected_patients: 预计收治新冠患者人数须为0至100000的整数")
    if problems:
        raise InvalidRequest("; ".join(problems))
    now = ctx.now()
    day = today(ctx)
    with uow(write=True):
        ctx.provider(uow, cmd.provider_code, day)  # ProviderNotFound: not a hospital of ours
        got = baseline_for(uow, ctx, cmd.provider_code, cmd.expected_patients, day)
        earlier = uow.funds.prepayments(provider_code=cmd.provider_code,
                                        states=("approved", "disbursed"))  # fmt: skip
        pid = new_id("PRE", now)
        row = {"id": pid, "provider_code": cmd.provider_code,
               "kind": "topup" if earlier else "initial", "state": "applied",
               "applied_fen": cmd.amount_fen, "reason": cmd.reason.strip(),
               "expected_patients": cmd.expected_patients,
               "baseline": got[1] if got else None, "applied_by": caller.actor[:64],
               "applied_at": now, "updated_at": now, "version": 1}  # fmt: skip
        uow.funds.insert("prepayment", [row])
        event(uow, caller, "prepayment", pid, "applied", now, amount_fen=cmd.amount_fen)
        uow.commit()
        return _view(uow.funds.get("prepayment", pid))


def _get(uow: UnitOfWork, caller: Principal, pid: str) -> Any:
    r = uow.funds.get("prepayment", pid, lock=True)
    if r is None:
        raise NotFound(f"prepayment {pid} not found")
    own(caller, r.provider_code, f"prepayment {pid}")
    return r


def _move(uow: UnitOfWork, r: Any, values: dict[str, Any]) -> None:
    if not uow.funds.move("prepayment", r.id, int(r.version), values):
        raise Conflict(f"prepayment {r.id} was changed meanwhile: reload it")


def propose(uow: UnitOfWork, ctx: Context, caller: Principal, pid: str,
            amount_fen: int) -> PrepaymentView:  # fmt: skip
    """初审: finance sets the amount (the baseline beside it) and its split over the books."""
    require(caller, "funds.approve")
    if type(amount_fen) is not int or not 0 < amount_fen < _MAX_FEN:
        raise InvalidRequest("amount_fen: 拟预付金额须为正数")
    now = ctx.now()
    with uow(write=True):
        r = _get(uow, caller, pid)
        if r.state != "applied":
            raise Conflict(f"prepayment {pid} is {r.state}, not applied")
        terms = prepayment_terms(ctx, today(ctx))
        books = terms.books if terms is not None else PAYING_BOOKS[:1]
        prior = (r.baseline or {}).get("prior_by_book") or {}
        split = split_by_weight(amount_fen, {b: int(prior.get(b, 0)) for b in books})
        _move(
            uow,
            r,
            {
                "state": "proposed",
                "proposed_fen": amount_fen,
                "by_book": split,
                "proposed_by": caller.actor[:64],
                "proposed_at": now,
                "updated_at": now,
            },
        )
        event(uow, caller, "prepayment", pid, "proposed", now, amount_fen=amount_fen)
        uow.commit()
        return _view(uow.funds.get("prepayment", pid))


def approve(uow: UnitOfWork, ctx: Context, caller: Principal, pid: str) -> PrepaymentView:
    """复核: a second finance person approves; the one who proposed may not."""
    require(caller, "funds.approve")
    now = ctx.now()
    with uow(write=True):
        r = _get(uow, caller, pid)
        if r.state != "proposed":
            raise Conflict(f"prepayment {pid} is {r.state}, not proposed")
        if r.proposed_by == caller.actor[:64]:
            raise Forbidden("复核人不能与初审人为同一人（双人审批）")
        _move(uow, r, {"state": "approved", "approved_by": caller.actor[:64],
                       "approved_at": now, "updated_at": now})  # fmt: skip
        event(uow, caller, "prepayment", pid, "approved", now)
        uow.commit()
        return _view(uow.funds.get("prepayment", pid))


def reject(uow: UnitOfWork, ctx: Context, caller: Principal, pid: str,
           reason: str) -> PrepaymentView:  # fmt: skip
    require(caller, "funds.approve")
    if not reason.strip():
        raise InvalidRequest("reason: 请填写不予预付的理由")
    now = ctx.now()
    with uow(write=True):
        r = _get(uow, caller, pid)
        if r.state not in ("applied", "proposed"):
            raise Conflict(f"prepayment {pid} is {r.state}: it can no longer be rejected")
        _move(uow, r, {"state": "rejected", "updated_at": now})
        event(uow, caller, "prepayment", pid, "rejected", now, reason=reason.strip()[:200])
        uow.commit()
        return _view(uow.funds.get("prepayment", pid))


def disburse(uow: UnitOfWork, ctx: Context, caller: Principal, pid: str) -> PrepaymentView:
    """拨付: the approved amount posted (per book: the hospital owes it back)."""
    require(caller, "funds.pay")
    now, day = ctx.now(), today(ctx)
    with uow(write=True):
        r = _get(uow, caller, pid)
        if r.state != "approved":
            raise Conflict(f"prepayment {pid} is {r.state}, not approved")
        tx = prepayment_tx(tx_id=f"P{pid}"[:40], provider_code=r.provider_code,
                           by_book={b: int(f) for b, f in (r.by_book or {}).items()},
                           booked_on=day, narration=f"预付 {r.provider_code} {pid}")  # fmt: skip
        post(uow, tx, now)
        _move(uow, r, {"state": "disbursed", "tx_id": tx.id, "booked_on": day, "updated_at": now})
        event(uow, caller, "prepayment", pid, "disbursed", now, tx_id=tx.id)
        uow.commit()
        return _view(uow.funds.get("prepayment", pid))


def prepayments(uow: UnitOfWork, caller: Principal, *, provider_code: str | None = None,
                states: tuple[str, ...] = ()) -> list[PrepaymentView]:  # fmt: skip
    require(caller, "funds.read")
    if caller.role == "hospital":
        provider_code = caller.provider_code
    with uow:
        return [_view(r) for r in uow.funds.prepayments(provider_code=provider_code,
                                                        states=states or None)]  # fmt: skip


def open_prepayments(uow: UnitOfWork, end: dt.date | None = None) -> dict[tuple[str, str], int]:
    """The open prepayment per (hospital, book): the balance of ``advance_receivable``
    in the fund books (the deferred queue's memo book 999996 is not a prepayment)."""
    with uow:
        got = uow.funds.balances(ADVANCE_RECEIVABLE.code, None, end=end)
    return {k: v for k, v in got.items() if k[1] != ADVANCE}
