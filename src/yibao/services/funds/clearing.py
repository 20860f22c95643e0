"""月度结算与清算: each hospital's monthly statement, its confirmation, the payment batch
(渝医保发〔2020〕3号 三（三）: 及时足额完成对定点医疗机构的医保费用结算和清算).

::

    prepare (finance: every hospital with postings in the month) ─> draft
        ─confirm (the hospital, or a clerk recording its confirmation)─> confirmed
        ─pay (finance: a batch)─> paid (one clearing transaction each)
    draft | confirmed ─void─> void (then prepare again)

A statement's lines come from the journal, never from a second sum: per fund book, what
the month's settlements and reversals credited to the hospital's payable (ordinary and
COVID apart: 单列), less the open supervision deductions (``supervision_deduction``,
posted by supervision), less the prepayment offset (at most the pack's ``offset_bp`` of
what is owed and the open prepayment) — ``ledger.funds.clearing_lines``. Paying posts
``ledger.funds.clearing_tx``; `yibao ledger check` proves each statement against the
postings again (``checks.fund_problems``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from yibao.core.errors import Conflict, InvalidRequest, NotFound
from yibao.core.ledger.accounts import ADVANCE, HOSPITAL_PAYABLE, SUPERVISION_DEDUCTION
from yibao.core.ledger.funds import StatementLine, clearing_lines, clearing_tx
from yibao.services.access.rights import Principal, own, require
from yibao.services.encounters.context import Context, new_ids
from yibao.services.funds.common import event, month_bounds, post, prepayment_terms, today
from yibao.services.funds.prepayment import open_prepayments
from yibao.store.uow import UnitOfWork

__all__ = [
    "STATE_NAMES",
    "Batch",
    "StatementView",
    "confirm",
    "month_owed",
    "pay",
    "prepare",
    "statement",
    "statements",
    "void",
]

STATE_NAMES = {"draft": "待确认", "confirmed": "已确认", "paid": "已拨付", "void": "已作废"}
_UNPAID = ("draft", "confirmed")


@dataclass(frozen=True, slots=True)
class StatementView:
    id: str
    provider_code: str
    month: dt.date
    state: str
    lines: tuple[StatementLine, ...]
    settlements: int
    prepared_by: str
    confirmed_by: str | None
    batch_id: str | None
    tx_id: str | None
    paid_on: dt.date | None
    version: int

    @property
    def owed_ordinary_fen(self) -> int:
        return sum(ln.owed_ordinary_fen for ln in self.lines)

    @property
    def owed_covid_fen(self) -> int:
        return sum(ln.owed_covid_fen for ln in self.lines)

    @property
    def deduction_fen(self) -> int:
        return sum(ln.deduction_fen for ln in self.lines)

    @property
    def offset_fen(self) -> int:
        return sum(ln.offset_fen for ln in self.lines)

    @property
    def net_fen(self) -> int:
        return sum(ln.net_fen for ln in self.lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "provider_code": self.provider_code,
            "month": self.month.strftime("%Y-%m"), "state": self.state,
            "state_name": STATE_NAMES[self.state], "settlements": self.settlements,
            "owed_ordinary_fen": self.owed_ordinary_fen, "owed_covid_fen": self.owed_covid_fen,
            "deduction_fen": self.deduction_fen, "offset_fen": self.offset_fen,
            "net_fen": self.net_fen, "prepared_by": self.prepared_by,
            "confirmed_by": self.confirmed_by, "batch_id": self.batch_id, "tx_id": self.tx_id,
            "paid_on": self.paid_on.isoformat() if self.paid_on else None,
            "version": self.version,
            "lines": [{"book": ln.book, "owed_ordinary_fen": ln.owed_ordinary_fen,
                       "owed_covid_fen": ln.owed_covid_fen, "deduction_fen": ln.deduction_fen,
                       "offset_fen": ln.offset_fen, "net_fen": ln.net_fen}
                      for ln in self.lines],
        }  # fmt: skip


def lines_of(doc: Iterable[Sequence[Any]]) -> tuple[StatementLine, ...]:
    return tuple(StatementLine(str(b), int(o), int(c), int(d), int(f)) for b, o, c, d, f in doc)


def _view(r: Any) -> StatementView:
    return StatementView(r.id, r.provider_code, r.month, r.state, lines_of(r.lines),
                         int(r.settlements), r.prepared_by, r.confirmed_by, r.batch_id, r.tx_id,
                         r.paid_on, int(r.version))  # fmt: skip


def month_owed(uow: UnitOfWork, month: dt.date, provider_code: str | None = None
               ) -> dict[str, dict[str, tuple[int, int]]]:  # fmt: skip
    """Per hospital and book: (ordinary, COVID) credited to its payable by the month's
    settlements and reversals — one query for every hospital."""
    begin, end = month_bounds(month)
    out: dict[str, dict[str, list[int]]] = defaultdict(dict)
    for r in uow.funds.owed(begin, end, HOSPITAL_PAYABLE.code, provider_code):
        if r.book == ADVANCE:
            continue
        pair = out[r.provider].setdefault(r.book, [0, 0])
        pair[1 if r.covid else 0] += int(r.fen)
    return {p: {b: (v[0], v[1]) for b, v in books.items()} for p, books in out.items()}


def _held(rows: Iterable[Any]) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], int]]:
    """What unpaid statements already take of the deductions and prepayments."""
    ded: dict[tuple[str, str], int] = defaultdict(int)
    off: dict[tuple[str, str], int] = defaultdict(int)
    for r in rows:
        for ln in lines_of(r.lines):
            ded[(r.provider_code, ln.book)] += ln.deduction_fen
            off[(r.provider_code, ln.book)] += ln.offset_fen
    return ded, off


def prepare(uow: UnitOfWork, ctx: Context, caller: Principal, month: dt.date, *,
            provider_code: str | None = None) -> list[StatementView]:  # fmt: skip
    """Draft the month's statement of every hospital the month's settlements owe (or
    that has deductions or prepayments to recover) and that has none yet."""
    require(caller, "funds.clear")
    begin, end = month_bounds(month)
    if end >= today(ctx):
        raise InvalidRequest(f"month: {begin:%Y-%m} is not over yet (结算月份尚未结束)")
    now = ctx.now()
    terms = prepayment_terms(ctx, end)
    offset_bp = terms.offset_bp if terms is not None else 0
    with uow(write=True):
        owed = month_owed(uow, begin, provider_code)
        counts = uow.funds.settlement_counts(begin, end)
        deductions = uow.funds.balances(SUPERVISION_DEDUCTION.code)
        prepaid = open_prepayments(uow)
        live = uow.funds.statements(states=("draft", "confirmed", "paid"))
        done = {r.provider_code for r in live if r.month == begin}
        held_d, held_o = _held(r for r in live if r.state in _UNPAID)
        providers = set(owed) | {p for p, _ in deductions} | {p for p, _ in prepaid}
        if provider_code is not None:
            providers &= {provider_code}
        todo = sorted(p for p in providers - done if p)
        ids = new_ids("STM", now, len(todo))
        rows, made = [], []
        for sid, p in zip(ids, todo, strict=True):
            d = {b: f - held_d[(p, b)] for (q, b), f in deductions.items() if q == p}
            o = {b: f - held_o[(p, b)] for (q, b), f in prepaid.items() if q == p}
            lines = clearing_lines(owed.get(p, {}), deductions=d, prepaid=o, offset_bp=offset_bp)
            if not lines or not any(ln.owed_fen for ln in lines):
                continue  # nothing owed this month: nothing to recover from
            made.append(sid)
            rows.append({
                "id": sid, "provider_code": p, "month": begin, "state": "draft",
                "lines": [list(ln) for ln in lines],
                "owed_ordinary_fen": sum(ln.owed_ordinary_fen for ln in lines),
                "owed_covid_fen": sum(ln.owed_covid_fen for ln in lines),
                "deduction_fen": sum(ln.deduction_fen for ln in lines),
                "offset_fen": sum(ln.offset_fen for ln in lines),
                "net_fen": sum(ln.net_fen for ln in lines), "settlements": counts.get(p, 0),
                "prepared_by": caller.actor[:64], "prepared_at": now, "updated_at": now,
                "version": 1,
            })  # fmt: skip
        uow.funds.insert("statement", rows)
        uow.funds.insert("event", [{"entity": "statement", "entity_id": sid,
                                    "action": "prepared", "actor": caller.actor[:64],
                                    "role": caller.role[:20], "at": now, "detail": {}}
                                   for sid in made])  # fmt: skip
        uow.commit()
        return [_view(r) for r in uow.funds.statements(month=begin) if r.id in set(made)]


def _get(uow: UnitOfWork, caller: Principal, sid: str) -> Any:
    r = uow.funds.get("statement", sid, lock=True)
    if r is None:
        raise NotFound(f"statement {sid} not found")
    own(caller, r.provider_code, f"statement {sid}")
    return r


def confirm(uow: UnitOfWork, ctx: Context, caller: Principal, sid: str, *,
            ref: str = "") -> StatementView:  # fmt: skip
    """The hospital confirms its statement (or a clerk records its confirmation, ``ref``
    naming the paper or message). Refused if the books moved since it was drafted."""
    require(caller, "funds.confirm")
    now = ctx.now()
    with uow(write=True):
        r = _get(uow, caller, sid)
        if r.state != "draft":
            raise Conflict(f"statement {sid} is {r.state}, not draft")
        posted = month_owed(uow, r.month, r.provider_code).get(r.provider_code, {})
        have = {ln.book: (ln.owed_ordinary_fen, ln.owed_covid_fen) for ln in lines_of(r.lines)}
        if {b: v for b, v in have.items() if v != (0, 0)} != {
                b: v for b, v in posted.items() if v != (0, 0)}:  # fmt: skip
            raise Conflict(f"statement {sid}: the month's postings changed since it was drafted "
                           f"(结算单已过期，请作废后重新生成)")  # fmt: skip
        if not uow.funds.move("statement", sid, int(r.version), {
                "state": "confirmed", "confirmed_by": caller.actor[:64], "confirmed_at": now,
                "updated_at": now}):  # fmt: skip
            raise Conflict(f"statement {sid} was changed meanwhile: reload it")
        event(uow, caller, "statement", sid, "confirmed", now, ref=ref[:100])
        uow.commit()
        return _view(uow.funds.get("statement", sid))


def void(uow: UnitOfWork, ctx: Context, caller: Principal, sid: str,
         reason: str) -> StatementView:  # fmt: skip
    require(caller, "funds.clear")
    if not reason.strip():
        raise InvalidRequest("reason: 请填写作废理由")
    now = ctx.now()
    with uow(write=True):
        r = _get(uow, caller, sid)
        if r.state not in _UNPAID:
            raise Conflict(f"statement {sid} is {r.state}: a paid statement is corrected by a "
                           f"reversal, not voided")  # fmt: skip
        if not uow.funds.move("statement", sid, int(r.version), {"state": "void",
                                                                 "updated_at": now}):  # fmt: skip
            raise Conflict(f"statement {sid} was changed meanwhile: reload it")
        event(uow, caller, "statement", sid, "voided", now, reason=reason.strip()[:200])
        uow.commit()
        return _view(uow.funds.get("statement", sid))


@dataclass(frozen=True, slots=True)
class Batch:
    id: str
    month: dt.date
    statements: tuple[str, ...]
    net_fen: int
    booked_on: dt.date

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "month": self.month.strftime("%Y-%m"),
                "statements": list(self.statements), "net_fen": self.net_fen,
                "booked_on": self.booked_on.isoformat()}  # fmt: skip


def pay(uow: UnitOfWork, ctx: Context, caller: Principal, month: dt.date,
        statement_ids: Sequence[str] | None = None) -> Batch:  # fmt: skip
    """拨付: the month's confirmed statements (or those named) paid in one batch, each
    posted as its clearing transaction."""
    require(caller, "funds.pay")
    now, day = ctx.now(), today(ctx)
    begin = month.replace(day=1)
    with uow(write=True):
        rows = uow.funds.statements(month=begin, states=("confirmed",))
        if statement_ids is not None:
            wanted = set(statement_ids)
            rows = [r for r in rows if r.id in wanted]
            missing = wanted - {r.id for r in rows}
            if missing:
                raise Conflict(f"statements not confirmed for {begin:%Y-%m}: "
                               f"{', '.join(sorted(missing))}")  # fmt: skip
        if not rows:
            raise Conflict(f"no confirmed statement to pay for {begin:%Y-%m}")
        deductions = uow.funds.balances(SUPERVISION_DEDUCTION.code)
        prepaid = open_prepayments(uow)
        bid = new_ids("BAT", now, 1)[0]
        total = 0
        for r in rows:
            lines = lines_of(r.lines)
            for ln in lines:
                key = (r.provider_code, ln.book)
                if ln.deduction_fen > deductions.get(key, 0) or ln.offset_fen > prepaid.get(key, 0):
                    raise Conflict(
                        f"statement {r.id}: its deductions or offsets exceed what "
                        f"is open in book {ln.book}: void and prepare it again"
                    )
                deductions[key] = deductions.get(key, 0) - ln.deduction_fen
                prepaid[key] = prepaid.get(key, 0) - ln.offset_fen
            tx = clearing_tx(tx_id=f"C{r.id}"[:40], provider_code=r.provider_code, lines=lines,
                             booked_on=day,
                             narration=f"清算 {r.provider_code} {begin:%Y-%m} {bid}")  # fmt: skip
            post(uow, tx, now)
            if not uow.funds.move("statement", r.id, int(r.version), {
                    "state": "paid", "batch_id": bid, "tx_id": tx.id, "paid_on": day,
                    "updated_at": now}):  # fmt: skip
                raise Conflict(f"statement {r.id} was changed meanwhile: reload it")
            total += sum(ln.net_fen for ln in lines)
        uow.funds.insert(
            "batch",
            [
                {
                    "id": bid,
                    "month": begin,
                    "statements": len(rows),
                    "net_fen": total,
                    "booked_on": day,
                    "created_by": caller.actor[:64],
                    "created_at": now,
                }
            ],
        )
        event(uow, caller, "batch", bid, "paid", now, statements=[r.id for r in rows])
        uow.commit()
        return Batch(bid, begin, tuple(r.id for r in rows), total, day)


def statements(uow: UnitOfWork, caller: Principal, *, month: dt.date | None = None,
               provider_code: str | None = None,
               states: tuple[str, ...] = ()) -> list[StatementView]:  # fmt: skip
    require(caller, "funds.read")
    if caller.role == "hospital":
        provider_code = caller.provider_code
    with uow:
        rows = uow.funds.statements(month=month, provider_code=provider_code,
                                    states=states or None)  # fmt: skip
    return [_view(r) for r in rows]


def statement(uow: UnitOfWork, caller: Principal, sid: str) -> StatementView:
    require(caller, "funds.read")
    with uow:
        r = uow.funds.get("statement", sid)
    if r is None:
        raise NotFound(f"statement {sid} not found")
    own(caller, r.provider_code, f"statement {sid}")
    return _view(r)
