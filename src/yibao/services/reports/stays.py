"""The console's reads of stays (就诊查询, issue 17): search by insuree (ID number or
name), hospital, admission dates and status; one stay with its fee lines, every
settlement and reversal with each amount's clause (its trace) and its ledger postings,
its deferrals and its history (encounter events).

ID numbers and names are shown as the caller's role allows (``rights.show_psn_no``); a
township clerk finds and opens only the stays of insurees enrolled in its township on the
admission date (``rights.in_township``: ``Forbidden`` otherwise).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from yibao.core.engine.explain import FundRow, setldetail_of
from yibao.core.errors import InvalidRequest, NotFound
from yibao.core.ledger import Transaction
from yibao.core.ledger.accounts import account_type
from yibao.core.privacy import mask_psn_no
from yibao.services.access.rights import Principal, in_township, require, show_name, show_psn_no
from yibao.services.encounters.lifecycle import StoredLine, stored_settled
from yibao.services.encounters.state import EncounterState, Settled
from yibao.services.registry import catalog
from yibao.store.service_tables import STATUSES
from yibao.store.stay_search import StaySearch
from yibao.store.uow import UnitOfWork

__all__ = ["STATUSES", "Posting", "StayFound", "StayView", "search_stays", "stay_view"]

_ID_NUMBER = re.compile(r"\d{17}[\dXx]")
_MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class StayFound:
    """One stay in a search result (the insuree as the caller may see it)."""

    encounter_id: str
    provider_code: str
    insuree_id: str
    insuree_name: str
    admit_date: dt.date
    discharge_date: dt.date | None
    status: str
    covid_status: str | None
    settlement_id: str | None


def search_stays(uow: UnitOfWork, caller: Principal, *, insuree: str = "",
                 provider_code: str = "", status: str = "",
                 admitted_from: dt.date | None = None, admitted_to: dt.date | None = None,
                 limit: int = 50, offset: int = 0) -> list[StayFound]:  # fmt: skip
    """Stays matching every filter given (empty text: no filter), newest first.
    ``insuree`` is an ID number (18 characters) or a name. ``InvalidRequest`` names
    each bad field."""
    require(caller, "encounter.read")
    insuree, provider_code, status = insuree.strip(), provider_code.strip(), status.strip()
    problems = []
    if status and status not in STATUSES:
        problems.append(("status", f"状态须为 {', '.join(STATUSES)} 之一"))
    if admitted_from and admitted_to and admitted_from > admitted_to:
        problems.append(("admitted_to", "结束日期早于开始日期"))
    if len(insuree) > 50:
        problems.append(("insuree", "最多 50 个字符"))
    if len(provider_code) > 20:
        problems.append(("provider_code", "最多 20 个字符"))
    if not 1 <= limit <= _MAX_PAGE or offset < 0:
        problems.append(("limit", f"每页 1–{_MAX_PAGE} 条"))
    if problems:
        raise InvalidRequest.of(problems)
    by_id = bool(_ID_NUMBER.fullmatch(insuree))
    township = caller.township_code if caller.role == "township_clerk" else None
    if caller.role == "hospital":
        provider_code = caller.provider_code or ""
    with uow:
        rows = StaySearch(uow.session).search(
            psn_no=insuree.upper() if by_id else None,
            name=insuree if insuree and not by_id else None,
            provider_code=provider_code or None, status=status or None,
            admitted_from=admitted_from, admitted_to=admitted_to, township=township,
            limit=limit, offset=offset)  # fmt: skip
    return [StayFound(r.id, r.provider_code, show_psn_no(caller, r.psn_no),
                      show_name(caller, r.insuree_name) if r.insuree_name else "（未导入）",
                      r.admit_date, r.discharge_date, r.status, r.covid_status,
                      r.settlement_id) for r in rows]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Posting:
    """One ledger posting, as the console shows it (the account's Chinese name; an
    insuree's account key masked as the caller's role wants)."""

    account: str
    account_name: str
    book: str
    key: str
    amount_fen: int  # debit positive, credit negative


@dataclass(frozen=True, slots=True)
class Booked:
    """A settlement or reversal with its national fund rows and its postings."""

    settled: Settled
    funds: tuple[FundRow, ...]
    postings: tuple[Posting, ...]
    booked_on: dt.date | None


@dataclass(frozen=True, slots=True)
class StayView:
    """One stay as the console shows it."""

    encounter: EncounterState
    insuree_id: str  # as the caller may see it
    insuree_name: str
    township: str | None
    provider_name: str
    lines: tuple[StoredLine, ...]
    settlements: tuple[Booked, ...]  # in the order they were booked
    events: tuple[dict[str, Any], ...]
    deferrals: tuple[dict[str, Any], ...]


def _postings(caller: Principal, tx: Transaction | None) -> tuple[Posting, ...]:
    if tx is None:
        return ()
    out = []
    for p in tx.postings:
        kind = account_type(p.account.code)
        key = show_psn_no(caller, p.account.key) if kind.keyed_by == "insuree" else p.account.key
        out.append(Posting(p.account.code, kind.name, p.account.book, key, p.amount_fen))
    return tuple(out)


def stay_view(uow: UnitOfWork, caller: Principal, encounter_id: str) -> StayView:
    """One stay: ``NotFound`` when there is none (or, for a hospital, not its own),
    ``Forbidden`` for a township clerk when the insuree is of another township."""
    require(caller, "encounter.read")
    if not encounter_id or len(encounter_id) > 30:
        raise InvalidRequest.of([("encounter_id", "不是就诊 ID")])
    with uow:
        row = uow.hospital.encounter(encounter_id)
        if row is None or (caller.role == "hospital" and row.provider_code != caller.provider_code):
            raise NotFound(f"就诊 {encounter_id} 不存在")
        enc = EncounterState.of(row)
        found = catalog.insuree_snapshots(uow, [enc.insuree_id], enc.admit_date)
        snap = found.get(enc.insuree_id)
        in_township(caller, snap.township if snap else None,
                    f"参保人 {mask_psn_no(enc.insuree_id)}")  # fmt: skip
        provider = uow.providers.where(code=enc.provider_code)
        lines = tuple(StoredLine.of(r) for r in uow.hospital.lines(encounter_id))
        stored = uow.hospital.settlements(encounter_id=encounter_id)
        txs = {t.id: t for t in uow.hospital.transactions([s.id for s in stored])} if stored else {}
        events = tuple({"seq": e.seq, "kind": e.kind, "status_from": e.status_from,
                        "status_to": e.status_to, "at": e.at, "actor": e.actor,
                        "msgid": e.msgid} for e in uow.hospital.events(encounter_id))  # fmt: skip
        deferrals = tuple({"id": d.id, "reason": d.reason, "deferred_at": d.deferred_at,
                           "advance_fen": d.advance_fen, "cleared_at": d.cleared_at,
                           "settlement_id": d.settlement_id}
                          for d in uow.deferrals.of_encounter(encounter_id))  # fmt: skip
    booked = []
    for s in stored:
        settled = stored_settled(s)
        booked.append(Booked(settled, setldetail_of(settled.settlement),
                             _postings(caller, txs.get(s.id)), s.booked_on))  # fmt: skip
    name = snap.name if snap else ""
    return StayView(enc, show_psn_no(caller, enc.insuree_id),
                    show_name(caller, name) if name else "（未导入）",
                    snap.township if snap else None,
                    provider[-1].name if provider else enc.provider_code, lines,
                    tuple(booked), events, deferrals)  # fmt: skip
