"""Read-side use cases: insuree lookup (1101), cumulative values (5206), daily
reconciliation with hospitals (3201 totals, 3202 detail), the audit log, and the ledger
check (`yibao ledger check`). Totals always come from the journal (DECISIONS 0034)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from yibao.core import ledger
from yibao.core.engine.model import Accumulators
from yibao.core.errors import InvalidRequest
from yibao.core.ledger.accounts import PERSONAL_ACCOUNT
from yibao.core.ledger.reconcile import (
    TOTALS_3201,
    TOTALS_3202,
    DetailDiff,
    DetailRow,
    Reconciliation,
    StatementKey,
    Totals,
    compare_details,
    detail_rows,
)
from yibao.core.policy import PackSet
from yibao.services.access.rights import Principal, own, require
from yibao.services.encounters.records import settlement_from_record
from yibao.services.encounters.validation import LENGTH, Checks
from yibao.services.filings.clearing import clearing_problems
from yibao.services.funds import fund_problems
from yibao.services.registry import catalog
from yibao.services.stays.deferred.queue import deferral_problems
from yibao.store.uow import UnitOfWork

__all__ = [
    "Cumulative",
    "InsureeView",
    "Statement",
    "audit_entries",
    "cumulative",
    "daily_totals",
    "insuree",
    "ledger_problems",
    "reconcile",
]


@dataclass(frozen=True, slots=True)
class InsureeView:
    """1101: the enrolment in force, the account balance and this year's accumulators."""

    snapshot: catalog.InsureeSnapshot
    account_balance_fen: int
    accumulators: Accumulators
    year: int


def insuree(uow: UnitOfWork, caller: Principal, psn_no: str, on: dt.date) -> InsureeView:
    """人员信息获取: ``InsureeNotImported`` when no enrolment covers ``on``."""
    require(caller, "insuree.read")
    checks = Checks()
    checks.code("psn_no", psn_no, LENGTH["insuree_id"])  # a card number may stand for it
    checks.done()
    with uow:
        snap = catalog.insuree_snapshot(uow, psn_no, on)
        moved = uow.hospital.account_moved(psn_no)
        acc = uow.hospital.accumulators(psn_no, on.year)
    return InsureeView(snap, snap.account_opening_fen + moved, acc, on.year)


@dataclass(frozen=True, slots=True)
class Cumulative:
    """5206: the year's accumulators and what each fund paid (from the ledger)."""

    insuree_id: str
    scheme: str
    year: int
    accumulators: Accumulators
    paid_by_fund: dict[str, int]


def cumulative(uow: UnitOfWork, caller: Principal, psn_no: str, year: int) -> Cumulative:
    """人员累计信息查询 for one insuree-year."""
    require(caller, "cumulative.read")
    checks = Checks()
    checks.code("psn_no", psn_no, LENGTH["insuree_id"])
    checks.integer("year", year, 1900, 9999)
    checks.done()
    with uow:
        acc = uow.hospital.accumulators(psn_no, year)
        txs = uow.hospital.transactions(psn_no=psn_no, year=year)
        found = catalog.insuree_snapshots(uow, [psn_no], dt.date(year, 12, 31))
        if psn_no not in found:
            found = catalog.insuree_snapshots(uow, [psn_no], dt.date(year, 1, 1))
    ref = txs[0].settlement if txs else None
    scheme = found[psn_no].scheme if psn_no in found else (ref.scheme if ref else "none")
    return Cumulative(psn_no, scheme, year, acc, ledger.post.paid_by_fund(txs))


@dataclass(frozen=True, slots=True)
class Statement:
    """3201/3202: our totals, the hospital's, and where they differ."""

    provider_code: str
    begin: dt.date
    end: dt.date
    scheme: str | None
    clr_type: str | None
    ours: Totals
    declared: Totals
    result: Reconciliation
    details: dict[tuple[str, bool], DetailRow]
    detail_diffs: list[DetailDiff]


def _provider_of(caller: Principal, provider_code: str | None) -> str:
    require(caller, "reconcile")
    if caller.role == "hospital":
        assert caller.provider_code is not None
        if provider_code not in (None, caller.provider_code):
            own(caller, provider_code or "", f"provider {provider_code}")
        return caller.provider_code
    if provider_code is None:
        raise InvalidRequest.of([("provider_code", "name the provider to reconcile")])
    return provider_code


def reconcile(uow: UnitOfWork, caller: Principal, *, provider_code: str | None, begin: dt.date,
              end: dt.date, declared: Totals, scheme: str | None = None,
              clr_type: str | None = None, detail: bool = False,
              declared_rows: Sequence[DetailRow] = ()) -> Statement:  # fmt: skip
    """对总账 (3201) or, with ``detail``, 对明细账 (3202): our totals for the provider's
    settlements booked ``begin..end`` (a reversal counts −1 and negates its amounts)
    compared with the hospital's; 3202 also compares settlement by settlement."""
    provider = _provider_of(caller, provider_code)
    with uow:
        txs = uow.hospital.transactions(provider_code=provider, begin=begin, end=end)
    ours = ledger.period_totals(txs, provider_code=provider, begin=begin, end=end, scheme=scheme,
                                clr_type=clr_type)  # fmt: skip
    fields = TOTALS_3202 if detail else TOTALS_3201
    result = ledger.compare_totals(ours, declared, fields=fields)
    rows = detail_rows(t for t in txs if scheme in (None, t.settlement and t.settlement.scheme))
    diffs = compare_details(rows, declared_rows) if detail else []
    return Statement(provider, begin, end, scheme, clr_type, ours, declared, result, rows, diffs)


def daily_totals(uow: UnitOfWork, caller: Principal, *, provider_code: str | None,
                 begin: dt.date, end: dt.date) -> dict[StatementKey, Totals]:  # fmt: skip
    """Our totals per (provider, scheme (fund type), clr_type, day): what 3201 checks."""
    if caller.role == "hospital":
        provider_code = caller.provider_code
    elif not caller.may("reconcile") and not caller.may("ledger.read"):
        require(caller, "reconcile")
    with uow:
        txs = uow.hospital.transactions(provider_code=provider_code, begin=begin, end=end)
    return ledger.daily_totals(txs)


def audit_entries(uow: UnitOfWork, caller: Principal, *, entity: str | None = None,
                  entity_id: str | None = None,
                  limit: int = 100) -> list[dict[str, Any]]:  # fmt: skip
    """The newest audit entries (masked detail), for auditors and admins."""
    require(caller, "audit.read")
    with uow:
        rows = uow.hospital.audit_entries(entity=entity, entity_id=entity_id, limit=limit)
    return [{"id": r.id, "at": r.at, "actor": r.actor, "role": r.role,
             "provider_code": r.provider_code, "action": r.action, "entity": r.entity,
             "entity_id": r.entity_id, "msgid": r.msgid, "before_sha256": r.before_sha256,
             "after_sha256": r.after_sha256, "detail": r.detail} for r in rows]  # fmt: skip


def ledger_problems(uow: UnitOfWork, packs: PackSet | None = None) -> list[str]:
    """Everything `yibao ledger check` proves over the stored journal: each transaction
    balances (in total and per book), the trial balance is zero, each settlement posts
    exactly its amounts and moves the accumulators as its postings imply, each reversal
    negates one settlement once, the stored accumulators equal the net movements, and
    each personal account moved by exactly the payments posted to it, and the deferred
    queue's advances and clearings agree with the books (``deferred.deferral_problems``)."""
    with uow:
        hosp = uow.hospital
        settlements: list[Any] = [*hosp.settlements(), *uow.claims.settlements()]  # + 手工报销
        txs = {t.id: t for t in hosp.transactions()}
        stored = hosp.all_accumulators()
        moved = hosp.account_movements()
    booked, problems = [], []
    for row in settlements:
        tx = txs.pop(row.id, None)
        if tx is None:
            problems.append(f"settlement {row.id}: no journal transaction")
            continue
        booked.append(ledger.Booked(settlement_from_record(row.record), tx))
    by_pack = {p.id: p for p in packs} if packs is not None else None
    problems += ledger.ledger_problems(booked, others=list(txs.values()), accumulators=stored,
                                       packs=by_pack)  # fmt: skip
    posted: dict[str, int] = {}
    for b in booked:
        for p in b.transaction.postings:
            if p.account.code == PERSONAL_ACCOUNT.code:
                posted[p.account.key] = posted.get(p.account.key, 0) + p.amount_fen
    for psn in sorted(set(posted) | set(moved)):
        if moved.get(psn, 0) != -posted.get(psn, 0):
            problems.append(f"account of {psn[:6]}…: moved {moved.get(psn, 0)} fen, the postings "
                            f"imply {-posted.get(psn, 0)}")  # fmt: skip
    return problems + deferral_problems(uow) + fund_problems(uow) + clearing_problems(uow)
