"""Bulk booking: many settlements written into the store at once, exactly as
``encounters.settle`` writes one (issue 7; DECISIONS 0066).

For each ``Entry`` (an engine ``Settlement`` computed with the accumulators and the
account balance carried from what the store holds) ``book`` writes, inside the caller's
unit of work: the ``settlements`` row (record, setldetail, trace, accumulators and
balance before and after), one balanced ledger transaction (``ledger.postings_for``,
the same postings), the encounter's move to ``settled`` with its ``encounter_events``
row and audit entry, the insuree-year accumulators and the personal account. A new
encounter (re-entry of a stay captured offline) is inserted first, with its fee lines,
a ``reentered`` event and its audit entry. A later reversal through the API reads these
rows as it reads the service's own; ``yibao ledger check`` balances.

Before writing, the accumulator and account rows of every insuree in the booking are
locked (``FOR UPDATE`` on PostgreSQL; SQLite's write transaction holds the database) and
compared with the state the settlements started from: if another settlement moved them
since (an API settlement during the run), nothing is written and ``StoreMoved`` says
which insuree — settle those again from the store's state. Each insuree's entries must
come in settlement order (discharge_date, encounter_id), each starting where the one
before ended. On PostgreSQL the rows go in by ``COPY``; callers commit whole insurees
per transaction (``book_in_transactions``), so a crash leaves whole encounters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import orjson
import polars as pl
from sqlalchemy import String, Table

from yibao.core import ledger
from yibao.core.engine.model import Accumulators, Settlement
from yibao.core.errors import Conflict
from yibao.core.privacy import mask_psn_no
from yibao.services.access import Principal, audit_op, require
from yibao.services.context import CST, new_id
from yibao.services.records import settlement_record
from yibao.store import bulk
from yibao.store.hospital import (
    AuditEntry,
    Encounter,
    EncounterEvent,
    FeeLineRow,
    JournalPosting,
    JournalTransaction,
    SettlementRow,
)
from yibao.store.hospital_repo import tx_rows
from yibao.store.uow import UnitOfWork

__all__ = [
    "SETTLEABLE",
    "Booked",
    "Entry",
    "NewEncounter",
    "StoreMoved",
    "book",
    "book_in_transactions",
    "insert_discharged",
]

INPATIENT_CLR_TYPE = "21"  # as encounters.INPATIENT_CLR_TYPE (住院)
SETTLEABLE = ("discharged", "deferred")
"""Statuses an existing encounter may be booked from (``deferred``: issue 7, D1)."""


class StoreMoved(Conflict):
    """An insuree's accumulators or account moved since the settlements were computed."""


@dataclass(frozen=True, slots=True)
class NewEncounter:
    """A stay the store has not seen (re-entry): its ``encounters`` row as admission
    writes it (``status``, ``version``, ``settlement_id``, ``created_at`` and
    ``updated_at`` are filled here) and the ``reentered`` event's detail."""

    row: dict[str, Any]
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Entry:
    """One settlement to book. ``settlement`` carries accumulators and account balance
    before and after; ``account_opening_fen`` is the registry's opening balance on the
    discharge date (the balance before is opening + the account's movements)."""

    settlement: Settlement
    provider_code: str
    med_type: str
    discharge_date: dt.date
    central_share_bp: int
    account_opening_fen: int
    new: NewEncounter | None = None
    msgid: str | None = None

    @property
    def encounter_id(self) -> str:
        return self.settlement.encounter_id

    @property
    def insuree_id(self) -> str:
        return self.settlement.insuree_id


@dataclass(frozen=True, slots=True)
class Booked:
    """What ``book`` wrote: settlement ids by encounter id, and row counts."""

    settlement_ids: dict[str, str]
    encounters_new: int
    lines: int


def _t(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


def _acc(a: Accumulators) -> list[int]:
    return [a.basic_entitled_fen, a.serious_base_fen, a.assistance_entitled_fen]


def _view(eid: str, status: str, version: int, setl: str | None, day: dt.date | None,
          psn: str, provider: str) -> dict[str, Any]:  # fmt: skip
    """``EncounterState.audit_view`` of the encounter (the same hash for the same state)."""
    return {"id": eid, "status": status, "version": version, "settlement_id": setl,
            "discharge_date": day, "insuree": mask_psn_no(psn), "provider": provider}  # fmt: skip


def _check_chains(entries: Sequence[Entry]) -> None:
    """Each insuree's entries continue one another (accumulators per year, account)."""
    last_acc: dict[tuple[str, int], Accumulators] = {}
    last_bal: dict[str, int] = {}
    seen: set[str] = set()
    for e in entries:
        s, key = e.settlement, (e.insuree_id, e.discharge_date.year)
        if e.encounter_id in seen:
            raise Conflict(f"encounter {e.encounter_id} is booked twice in one booking")
        seen.add(e.encounter_id)
        if key in last_acc and last_acc[key] != s.accumulators_before:
            raise Conflict(f"encounter {e.encounter_id}: accumulators before do not continue "
                           "the insuree's previous settlement in this booking")  # fmt: skip
        if e.insuree_id in last_bal and last_bal[e.insuree_id] != s.account_balance_before_fen:
            raise Conflict(f"encounter {e.encounter_id}: account balance before does not "
                           "continue the insuree's previous settlement")  # fmt: skip
        last_acc[key], last_bal[e.insuree_id] = s.accumulators_after, s.account_balance_after_fen


def _lock_and_compare(uow: UnitOfWork, entries: Sequence[Entry], at: dt.datetime) -> None:
    """Lock what the entries move and refuse if it is not where they started."""
    first_acc: dict[tuple[str, int], Entry] = {}
    first_bal: dict[str, Entry] = {}
    for e in entries:
        first_acc.setdefault((e.insuree_id, e.discharge_date.year), e)
        first_bal.setdefault(e.insuree_id, e)
    stored = bulk.lock_accumulators(uow.session, list(first_acc), at)
    for key, e in first_acc.items():
        if stored[key] != e.settlement.accumulators_before:
            raise StoreMoved(f"insuree {mask_psn_no(key[0])}: accumulators of {key[1]} moved "
                             "since the settlements were computed; settle again")  # fmt: skip
    moved = bulk.lock_accounts(uow.session, list(first_bal), at)
    for psn, e in first_bal.items():
        if e.account_opening_fen + moved[psn] != e.settlement.account_balance_before_fen:
            raise StoreMoved(f"insuree {mask_psn_no(psn)}: the personal account moved since "
                             "the settlements were computed; settle again")  # fmt: skip


def _existing(uow: UnitOfWork, caller: Principal, entries: Sequence[Entry]) -> dict[str, Any]:
    """The encounters the entries settle, locked; refuses a missing, foreign, or
    unsettleable one, and a 'new' encounter that already exists."""
    rows = {r.id: r for r in bulk.lock_encounters(uow.session, [e.encounter_id for e in entries])}
    for e in entries:
        r = rows.get(e.encounter_id)
        if e.new is not None:
            if r is not None:
                raise Conflict(f"encounter {e.encounter_id} already exists")
            if caller.role == "hospital" and caller.provider_code != e.provider_code:
                raise Conflict(f"encounter {e.encounter_id}: another hospital's stay")
            continue
        if r is None or (caller.role == "hospital" and caller.provider_code != r.provider_code):
            raise Conflict(f"encounter {e.encounter_id} not found")
        if r.status not in SETTLEABLE or r.settlement_id is not None:
            raise Conflict(f"encounter {e.encounter_id} is {r.status}: cannot book a settlement")
        if r.psn_no != e.insuree_id or r.provider_code != e.provider_code:
            raise Conflict(f"encounter {e.encounter_id}: insuree or provider differs")
    return rows


class _Rows:
    """The rows of one booking, column-wise where they are many."""

    def __init__(self, pg: bool) -> None:
        self.pg = pg
        self.encounters: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.audit: list[dict[str, Any]] = []
        self.settlements: list[dict[str, Any]] = []
        self.heads: list[dict[str, Any]] = []
        self.postings: list[dict[str, Any]] = []
        self.moves: list[dict[str, Any]] = []

    def json(self, doc: Any) -> Any:
        """A JSON column's value: text for COPY on PostgreSQL, the object on SQLite."""
        return orjson.dumps(doc, default=str).decode() if self.pg else doc

    def event(self, eid: str, seq: int, kind: str, frm: str | None, to: str, at: dt.datetime,
              actor: str, msgid: str | None, detail: dict[str, Any]) -> None:  # fmt: skip
        self.events.append({"encounter_id": eid, "seq": seq, "kind": kind, "status_from": frm,
                            "status_to": to, "at": at, "actor": actor, "msgid": msgid,
                            "detail": self.json(detail)})  # fmt: skip

    def audit_entry(self, op: tuple[Any, dict[str, Any]]) -> None:
        row = dict(op[1])
        row["detail"] = self.json(row["detail"])
        self.audit.append(row)


def _settlement_row(rows: _Rows, e: Entry, setl_id: str, at: dt.datetime, booked: dt.date,
                    actor: str) -> dict[str, Any]:  # fmt: skip
    s, i = e.settlement, e.settlement.setlinfo
    return {
        "id": setl_id, "kind": "settlement", "reverses": None, "encounter_id": e.encounter_id,
        "provider_code": e.provider_code, "psn_no": e.insuree_id,
        "year": e.discharge_date.year, "booked_on": booked, "settled_at": at,
        "discharge_date": e.discharge_date, "msgid": e.msgid, "actor": actor,
        "pack_id": s.pack_id, "pack_sha256": s.pack_sha256, "med_type": e.med_type,
        "clr_type": INPATIENT_CLR_TYPE, "central_share_bp": e.central_share_bp,
        "medfee_sumamt": i.medfee_sumamt, "fund_pay_sumamt": i.fund_pay_sumamt,
        "fiscal_pay": i.fiscal_pay, "acct_pay": i.acct_pay, "psn_cash_pay": i.psn_cash_pay,
        "accumulators_before": rows.json(_acc(s.accumulators_before)),
        "accumulators_after": rows.json(_acc(s.accumulators_after)),
        "balance_before_fen": s.account_balance_before_fen,
        "balance_after_fen": s.account_balance_after_fen,
        "record": rows.json(settlement_record(s)),
        "setldetail": rows.json([r._asdict() for r in s.setldetail]),
        "trace": rows.json([t._asdict() for t in s.trace]),
    }  # fmt: skip


def _reentered(rows: _Rows, caller: Principal, new: NewEncounter, at: dt.datetime,
               msgid: str | None, **state: Any) -> dict[str, Any]:  # fmt: skip
    """A new encounter's row (in ``state``), its ``reentered`` event (none ->
    ``discharged``, seq 1) and audit entry; returns its audit view after that event."""
    row = dict(new.row)
    row.update(created_at=at, updated_at=at, **state)
    row["diagnoses"] = rows.json(row["diagnoses"])
    rows.encounters.append(row)
    eid, psn, prov, day = row["id"], row["psn_no"], row["provider_code"], row["discharge_date"]
    rows.event(eid, 1, "reentered", None, "discharged", at, caller.actor, msgid, new.detail)
    v1 = _view(eid, "discharged", 1, None, day, psn, prov)
    rows.audit_entry(audit_op(caller, "encounter.reentered", "encounter", eid, before=None,
                              after=v1, at=at, msgid=msgid, detail=new.detail))  # fmt: skip
    return v1


def insert_discharged(uow: UnitOfWork, caller: Principal, news: Sequence[NewEncounter], *,
                      at: dt.datetime, lines: pl.DataFrame | None = None) -> list[str]:  # fmt: skip
    """Insert new encounters as ``discharged`` (not settled: e.g. to be deferred), with
    their ``reentered`` event, audit entry and fee lines, inside the caller's unit of
    work. Returns their ids."""
    require(caller, "settlement.book")
    rows = _Rows(uow.dialect == "postgresql")
    for new in news:
        if caller.role == "hospital" and caller.provider_code != new.row["provider_code"]:
            raise Conflict(f"encounter {new.row['id']}: another hospital's stay")
        _reentered(rows, caller, new, at, None, status="discharged", version=1,
                   settlement_id=None)  # fmt: skip
    if bulk.lock_encounters(uow.session, [r["id"] for r in rows.encounters]):
        raise Conflict("an encounter to insert already exists")
    _write(uow, rows, lines, at, {}, {})
    return [r["id"] for r in rows.encounters]


def _encounter_rows(rows: _Rows, caller: Principal, e: Entry, found: Any, setl_id: str,
                    at: dt.datetime) -> None:  # fmt: skip
    """The encounter's insert (new) or move, its events and audit entries."""
    eid, psn, prov, day = e.encounter_id, e.insuree_id, e.provider_code, e.discharge_date
    detail = {"settlement_id": setl_id, "medfee_sumamt": e.settlement.setlinfo.medfee_sumamt}
    if e.new is not None:
        before = _reentered(rows, caller, e.new, at, e.msgid, status="settled", version=2,
                            settlement_id=setl_id)  # fmt: skip
        frm, version = "discharged", 2
    else:
        frm, version = found.status, found.version + 1
        before = _view(eid, found.status, found.version, None, found.discharge_date, psn, prov)
        rows.moves.append({"id": eid, "status": "settled", "version": version,
                           "settlement_id": setl_id,
                           "discharge_date": found.discharge_date or day})  # fmt: skip
    rows.event(eid, version, "settled", frm, "settled", at, caller.actor, e.msgid, detail)
    after = _view(eid, "settled", version, setl_id, day, psn, prov)
    rows.audit_entry(audit_op(caller, "encounter.settled", "encounter", eid, before=before,
                              after=after, at=at, msgid=e.msgid, detail=detail))  # fmt: skip


def book(uow: UnitOfWork, caller: Principal, entries: Sequence[Entry], *, at: dt.datetime,
         lines: pl.DataFrame | None = None) -> Booked:  # fmt: skip
    """Book ``entries`` inside the caller's open unit of work (the caller commits).

    ``lines``: the fee lines of the entries' new encounters, ``fee_lines`` columns but
    ``id``, ``uploaded_at`` and ``cancelled_at``/``cancel_msgid`` (filled here)."""
    require(caller, "settlement.book")
    if not entries:
        return Booked({}, 0, 0)
    _check_chains(entries)
    found = _existing(uow, caller, entries)
    _lock_and_compare(uow, entries, at)
    pg = uow.dialect == "postgresql"
    rows, booked = _Rows(pg), at.astimezone(CST).date()
    ids: dict[str, str] = {}
    final: dict[tuple[str, int], Accumulators] = {}
    deltas: dict[str, int] = {}
    for e in entries:
        s, setl_id = e.settlement, new_id("S", at)
        ids[e.encounter_id] = setl_id
        rows.settlements.append(_settlement_row(rows, e, setl_id, at, booked, caller.actor))
        tx = ledger.postings_for(s, tx_id=setl_id, provider_code=e.provider_code,
                                 booked_on=booked, accumulator_year=e.discharge_date.year,
                                 central_share_bp=e.central_share_bp, settlement_id=setl_id,
                                 clr_type=INPATIENT_CLR_TYPE)  # fmt: skip
        head, postings = tx_rows(tx, at)
        rows.heads.append(head)
        rows.postings += postings
        _encounter_rows(rows, caller, e, found.get(e.encounter_id), setl_id, at)
        final[(e.insuree_id, e.discharge_date.year)] = s.accumulators_after
        deltas[e.insuree_id] = deltas.get(e.insuree_id, 0) - s.setlinfo.acct_pay
    n_lines = _write(uow, rows, lines, at, final, deltas)
    return Booked(ids, len(rows.encounters), n_lines)


def _frame(rows: list[dict[str, Any]], table: Table) -> pl.DataFrame:
    """Rows as a frame for COPY (PostgreSQL): JSON columns are already text."""
    cols = [c.name for c in table.columns if c.name != "id" or isinstance(c.type, String)]
    return pl.DataFrame({c: [r.get(c) for r in rows] for c in cols},
                        schema={c: _polars_type(table.c[c].type) for c in cols})  # fmt: skip


def _polars_type(sql_type: Any) -> Any:
    try:
        py = sql_type.python_type
    except NotImplementedError:  # pragma: no cover - every column here has one
        py = str
    types = {bool: pl.Boolean, int: pl.Int64, dt.datetime: pl.Datetime("us", "UTC"),
             dt.date: pl.Date}  # fmt: skip
    return types.get(py, pl.String)


def _write(uow: UnitOfWork, rows: _Rows, lines: pl.DataFrame | None, at: dt.datetime,
           final: dict[tuple[str, int], Accumulators], deltas: dict[str, int]) -> int:  # fmt: skip
    s = uow.session

    def put(table: Table, data: list[dict[str, Any]]) -> None:
        if rows.pg:
            bulk.insert_frame(s, table, _frame(data, table))
        elif data:  # SQLite: executemany (JSON columns serialised by SQLAlchemy)
            s.execute(table.insert(), data)

    put(_t(Encounter), rows.encounters)
    n = 0
    if lines is not None and lines.height:
        fee = lines.with_columns(uploaded_at=pl.lit(at, pl.Datetime("us", "UTC")),
                                 cancelled_at=pl.lit(None, pl.Datetime("us", "UTC")),
                                 cancel_msgid=pl.lit(None, pl.String))  # fmt: skip
        bulk.insert_frame(s, _t(FeeLineRow), fee)
        n = fee.height
    for table, data in ((_t(EncounterEvent), rows.events), (_t(SettlementRow), rows.settlements),
                        (_t(JournalTransaction), rows.heads), (_t(JournalPosting), rows.postings),
                        (_t(AuditEntry), rows.audit)):  # fmt: skip
        put(table, data)
    bulk.move_encounters(s, rows.moves, at)
    bulk.set_accumulators(s, final, at)
    bulk.move_accounts(s, deltas, at)
    return n


def book_in_transactions(uow: UnitOfWork, caller: Principal, entries: Sequence[Entry], *,
                         at: Callable[[], dt.datetime], per_transaction: int = 5000,
                         lines: Callable[[Sequence[str]], pl.DataFrame | None] | None = None,
                         progress: Callable[[int], None] | None = None) -> Booked:  # fmt: skip
    """Book in transactions of about ``per_transaction`` encounters, never splitting an
    insuree (their entries carry state from one to the next), each committed on its own:
    a crash leaves whole insurees booked, the rest untouched. ``lines(ids)`` gives the
    fee lines of those new encounters. ``progress(n)`` after each commit."""
    ids: dict[str, str] = {}
    new = n_lines = 0
    for chunk in _chunks(entries, per_transaction):
        with uow(write=True):
            got = book(uow, caller, chunk, at=at(),
                       lines=lines([e.encounter_id for e in chunk]) if lines else None)  # fmt: skip
            uow.commit()
        ids.update(got.settlement_ids)
        new, n_lines = new + got.encounters_new, n_lines + got.lines
        if progress is not None:
            progress(len(chunk))
    return Booked(ids, new, n_lines)


def _chunks(entries: Sequence[Entry], size: int) -> Iterator[list[Entry]]:
    """Entries grouped so that one insuree's stay in one chunk (in the given order)."""
    by_psn: dict[str, list[Entry]] = {}
    for e in entries:
        by_psn.setdefault(e.insuree_id, []).append(e)
    chunk: list[Entry] = []
    for group in by_psn.values():
        if chunk and len(chunk) + len(group) > size:
            yield chunk
            chunk = []
        chunk += group
    if chunk:
        yield chunk
