"""The records of a booking (``booking``) and the rows they become: the same rows, with
the same values, as ``encounters.settle`` writes for one settlement (DECISIONS 0066)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import orjson
import polars as pl
from sqlalchemy import String, Table

from yibao.core import ledger
from yibao.core.engine.model import Accumulators, Settlement
from yibao.core.privacy import mask_psn_no
from yibao.services import records
from yibao.services.access import Principal, audit_op
from yibao.services.context import CST, new_id
from yibao.store.hospital_repo import tx_rows

__all__ = [
    "INPATIENT_CLR_TYPE",
    "Booked",
    "Entry",
    "NewEncounter",
    "Plan",
    "Rows",
    "frame",
    "make_plan",
    "reentered",
]

INPATIENT_CLR_TYPE = "21"  # as encounters.INPATIENT_CLR_TYPE (住院)


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


def _view(eid: str, status: str, version: int, setl: str | None, day: dt.date | None,
          psn: str, provider: str) -> dict[str, Any]:  # fmt: skip
    """``EncounterState.audit_view`` of the encounter (the same hash for the same state)."""
    return {"id": eid, "status": status, "version": version, "settlement_id": setl,
            "discharge_date": day, "insuree": mask_psn_no(psn), "provider": provider}  # fmt: skip


class Rows:
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
        self.frames: dict[str, pl.DataFrame] = {}

    def freeze(self) -> None:
        """Build the COPY frames now (PostgreSQL), so a writer thread only streams them."""
        from yibao.store.hospital import (
            AuditEntry,
            Encounter,
            EncounterEvent,
            JournalPosting,
            JournalTransaction,
            SettlementRow,
        )

        for model, data in ((Encounter, self.encounters), (EncounterEvent, self.events),
                            (SettlementRow, self.settlements), (JournalTransaction, self.heads),
                            (JournalPosting, self.postings), (AuditEntry, self.audit)):  # fmt: skip
            table = _t(model)
            self.frames[table.name] = frame(data, table)

    def json(self, doc: Any) -> Any:
        """A JSON column's value: text for COPY on PostgreSQL, the object on SQLite."""
        return orjson.dumps(doc, default=str).decode() if self.pg else doc

    def json_columns(self, row: dict[str, Any]) -> dict[str, Any]:
        """A ``settlements`` row with its JSON columns as ``json`` makes them."""
        for k in records.JSON_COLUMNS:
            row[k] = self.json(row[k])
        return row

    def event(self, eid: str, seq: int, kind: str, frm: str | None, to: str, at: dt.datetime,
              actor: str, msgid: str | None, detail: dict[str, Any]) -> None:  # fmt: skip
        self.events.append({"encounter_id": eid, "seq": seq, "kind": kind, "status_from": frm,
                            "status_to": to, "at": at, "actor": actor, "msgid": msgid,
                            "detail": self.json(detail)})  # fmt: skip

    def audit_entry(self, op: tuple[Any, dict[str, Any]]) -> None:
        row = dict(op[1])
        row["detail"] = self.json(row["detail"])
        self.audit.append(row)


def settlement_row(rows: Rows, e: Entry, setl_id: str, at: dt.datetime, booked: dt.date,
                   actor: str) -> dict[str, Any]:  # fmt: skip
    s = e.settlement
    return rows.json_columns(records.settlement_row(
        s, setl_id=setl_id, encounter_id=e.encounter_id, provider_code=e.provider_code,
        psn_no=e.insuree_id, year=e.discharge_date.year, booked_on=booked, settled_at=at,
        discharge_date=e.discharge_date, msgid=e.msgid, actor=actor, med_type=e.med_type,
        clr_type=INPATIENT_CLR_TYPE, central_share_bp=e.central_share_bp,
        balance_before_fen=s.account_balance_before_fen,
        balance_after_fen=s.account_balance_after_fen, explained=False))  # fmt: skip


def reentered(rows: Rows, caller: Principal, new: NewEncounter, at: dt.datetime,
               msgid: str | None, **state: Any) -> dict[str, Any]:  # fmt: skip
    """A new encounter's row (in ``state``), its ``reentered`` event (none ->
    ``discharged``, seq 1) and audit entry; returns its audit view after that event."""
    row = {"source_key": None, **new.row}
    row.update(created_at=at, updated_at=at, **state)
    row["diagnoses"] = rows.json(row["diagnoses"])
    rows.encounters.append(row)
    eid, psn, prov, day = row["id"], row["psn_no"], row["provider_code"], row["discharge_date"]
    rows.event(eid, 1, "reentered", None, "discharged", at, caller.actor, msgid, new.detail)
    v1 = _view(eid, "discharged", 1, None, day, psn, prov)
    rows.audit_entry(audit_op(caller, "encounter.reentered", "encounter", eid, before=None,
                              after=v1, at=at, msgid=msgid, detail=new.detail))  # fmt: skip
    return v1


def encounter_rows(rows: Rows, caller: Principal, e: Entry, found: Any, setl_id: str,
                    at: dt.datetime) -> None:  # fmt: skip
    """The encounter's insert (new) or move, its events and audit entries."""
    eid, psn, prov, day = e.encounter_id, e.insuree_id, e.provider_code, e.discharge_date
    detail = {"settlement_id": setl_id, "medfee_sumamt": e.settlement.setlinfo.medfee_sumamt}
    if e.new is not None:
        before = reentered(rows, caller, e.new, at, e.msgid, status="settled", version=2,
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


def frame(rows: list[dict[str, Any]], table: Table) -> pl.DataFrame:
    """Rows as a frame for COPY (PostgreSQL): JSON columns are already text."""
    cols = [c.name for c in table.columns if c.name != "id" or isinstance(c.type, String)]
    schema = {c: polars_type(table.c[c].type) for c in cols}
    if not rows:
        return pl.DataFrame(schema=schema)
    # column by column: 2-3x faster than pl.from_dicts over the rows (timestamps above all)
    return pl.DataFrame([pl.Series(c, [r.get(c) for r in rows], dtype=t, strict=False)
                         for c, t in schema.items()])  # fmt: skip


def polars_type(sql_type: Any) -> Any:
    try:
        py = sql_type.python_type
    except NotImplementedError:  # pragma: no cover - every column here has one
        py = str
    types = {bool: pl.Boolean, int: pl.Int64, dt.datetime: pl.Datetime("us", "UTC"),
             dt.date: pl.Date}  # fmt: skip
    return types.get(py, pl.String)


@dataclass(slots=True)
class Plan:
    """A booking's rows, and what it leaves: accumulators per insuree-year, account
    movements per insuree, settlement ids per encounter."""

    rows: Rows
    ids: dict[str, str]
    final: dict[tuple[str, int], Accumulators]
    deltas: dict[str, int]


def make_plan(caller: Principal, entries: Sequence[Entry], at: dt.datetime, pg: bool,
              found: dict[str, Any]) -> Plan:  # fmt: skip
    """Every row the entries become (``found``: the existing encounters' rows, by id)."""
    rows, booked = Rows(pg), at.astimezone(CST).date()
    plan = Plan(rows, {}, {}, {})
    for e in entries:
        s, setl_id = e.settlement, new_id("S", at)
        plan.ids[e.encounter_id] = setl_id
        rows.settlements.append(settlement_row(rows, e, setl_id, at, booked, caller.actor))
        tx = ledger.postings_for(s, tx_id=setl_id, provider_code=e.provider_code,
                                 booked_on=booked, accumulator_year=e.discharge_date.year,
                                 central_share_bp=e.central_share_bp, settlement_id=setl_id,
                                 clr_type=INPATIENT_CLR_TYPE)  # fmt: skip
        head, postings = tx_rows(tx, at)
        rows.heads.append(head)
        rows.postings += postings
        encounter_rows(rows, caller, e, found.get(e.encounter_id), setl_id, at)
        plan.final[(e.insuree_id, e.discharge_date.year)] = s.accumulators_after
        plan.deltas[e.insuree_id] = plan.deltas.get(e.insuree_id, 0) - s.setlinfo.acct_pay
    return plan
