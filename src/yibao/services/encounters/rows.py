"""The records of a booking (``booking``) and the rows they become: the same rows, with
the same values, as ``encounters.settle`` writes for one settlement (DECISIONS 0066),
held column-wise and made into COPY frames without a dict per row (DECISIONS 0058)."""

from __future__ import annotations

import datetime as dt
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, cast

import orjson
import polars as pl
from sqlalchemy import JSON, String, Table

from yibao.core import ledger
from yibao.core.engine.model import Accumulators, Settlement
from yibao.core.privacy import mask_psn_no
from yibao.services.access.rights import Principal, digest
from yibao.services.encounters import records
from yibao.services.encounters.context import CST, new_ids
from yibao.store.service_tables import (
    AuditEntry,
    Encounter,
    EncounterEvent,
    JournalPosting,
    JournalTransaction,
    SettlementRow,
)

__all__ = [
    "INPATIENT_CLR_TYPE",
    "Booked",
    "Columns",
    "Entry",
    "NewEncounter",
    "Plan",
    "Rows",
    "TableRows",
    "frame",
    "make_plan",
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
    """Event and audit rows as dicts, and the JSON columns of others' rows: for the bulk
    paths that write a few rows per encounter (the deferred queue, re-settlement's
    reversals); a booking's rows are ``Columns``."""

    def __init__(self, pg: bool) -> None:
        self.pg = pg
        self.events: list[dict[str, Any]] = []
        self.audit: list[dict[str, Any]] = []

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


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_EPOCH_DAY = _EPOCH.toordinal()
_US = dt.timedelta(microseconds=1)
_UTC_US = pl.Datetime("us", "UTC")


def _series(name: str, values: Sequence[Any], dtype: Any) -> pl.Series:
    """One column for COPY, the values as ``frame`` converts them, faster: aware
    datetimes as microseconds since the epoch (exact; a datetime object costs ≈ 1.5 µs
    to convert), dates as days since it, the rest strictly typed; anything else (naive
    datetimes, None, mixed types) as ``frame`` does."""
    try:
        if dtype == _UTC_US:
            return pl.Series(name, [(t - _EPOCH) // _US for t in values], dtype=pl.Int64).cast(
                _UTC_US)  # fmt: skip
        if dtype == pl.Date and {type(d) for d in values} == {dt.date}:
            return pl.Series(name, [d.toordinal() - _EPOCH_DAY for d in values],
                             dtype=pl.Int32).cast(pl.Date)  # fmt: skip
        return pl.Series(name, values, dtype=dtype)
    except TypeError:
        return pl.Series(name, list(values), dtype=dtype, strict=False)


class JsonColumn:
    """A JSON column's values: on PostgreSQL orjson's text (``Rows.json``'s), all rows
    in one buffer (a text object kept per row cost ≈ 8 µs more a settlement record, as
    much as serialising it); on SQLite the objects (SQLAlchemy serialises them)."""

    __slots__ = ("data", "docs", "ends", "pg")

    def __init__(self, pg: bool) -> None:
        self.pg = pg
        self.docs: list[Any] = []
        self.data = bytearray()
        self.ends = array("q", [0])

    def __len__(self) -> int:
        return len(self.ends) - 1 if self.pg else len(self.docs)

    def append(self, value: Any) -> None:
        """Add ``Columns.json``'s value of a document (its bytes on PostgreSQL)."""
        if self.pg:
            self.data += value
            self.ends.append(len(self.data))
        else:
            self.docs.append(value)

    def series(self, name: str) -> pl.Series:
        """The text column (PostgreSQL), read from the buffer through Arrow."""
        import pyarrow as pa  # type: ignore[import-untyped]  # here: 0.1 s to import

        n = len(self.ends) - 1
        text = pa.LargeStringArray.from_buffers(n, pa.py_buffer(self.ends),
                                                pa.py_buffer(self.data))  # fmt: skip
        return pl.Series(name, pl.from_arrow(text), dtype=pl.String)


class TableRows:
    """New rows of one table, column-wise: a tuple of the ``names`` columns per row, a
    ``JsonColumn`` per JSON column (``json``), and ``same``: the columns with one value
    for the whole booking."""

    __slots__ = ("json", "names", "rows", "same", "table")

    def __init__(self, table: Table, names: tuple[str, ...], same: dict[str, Any],
                 pg: bool) -> None:  # fmt: skip
        self.table, self.names, self.same = table, names, same
        self.rows: list[tuple[Any, ...]] = []
        self.json = {c.name: JsonColumn(pg) for c in table.columns
                     if isinstance(c.type, JSON) and c.name not in same}  # fmt: skip

    def __len__(self) -> int:
        return len(self.rows)

    def _given(self) -> dict[str, Sequence[Any]]:
        n = len(self.rows)
        if any(len(j) != n for j in self.json.values()):
            raise ValueError(f"{self.table.name}: a JSON column has not one value per row")
        return dict(zip(self.names, zip(*self.rows, strict=True), strict=True)) if n else {}

    def dicts(self) -> list[dict[str, Any]]:
        """The rows as dicts (SQLite's executemany)."""
        given = {**self._given(), **{k: j.docs for k, j in self.json.items()}}
        keys = list(given)
        return [{**self.same, **dict(zip(keys, r, strict=True))}
                for r in zip(*given.values(), strict=True)]  # fmt: skip

    def frame(self) -> pl.DataFrame:
        """The rows as a frame for COPY (PostgreSQL): the values ``frame`` makes of
        ``dicts()``, every column of the table but a serial ``id``."""
        cols = [c for c in self.table.columns if c.name != "id" or isinstance(c.type, String)]
        n, given = len(self.rows), self._given()
        if not n:
            return pl.DataFrame(schema={c.name: polars_type(c.type) for c in cols})
        out = []
        for c in cols:
            dtype = polars_type(c.type)
            if c.name in self.json:
                out.append(self.json[c.name].series(c.name))
            elif c.name in given:
                out.append(_series(c.name, given[c.name], dtype))
            else:  # KeyError: a column left out
                out.append(_series(c.name, [self.same[c.name]], dtype).new_from_index(0, n))
        return pl.DataFrame(out)


_NEW_ENCOUNTER = ("id", "provider_code", "psn_no", "insured_region", "scheme_code", "med_type",
                  "admit_time", "admit_date", "discharge_time", "discharge_date", "covid_status",
                  "filing", "transfer_from", "admit_msgid")  # fmt: skip
"""The ``encounters`` columns a ``NewEncounter.row`` gives (and ``diagnoses``, and
``source_key`` if it has one)."""
_new_encounter = itemgetter(*_NEW_ENCOUNTER)


class Columns:
    """The rows of one booking by ``caller`` at ``at``, column-wise (``TableRows``):
    the same rows ``encounters.settle`` writes one by one (the settlement's as
    ``records.settlement_row``, the transaction's as ``tx_rows(ledger.postings_for(…))``,
    the audit entries' as ``audit_op``); existing encounters' moves as dicts."""

    def __init__(self, pg: bool, caller: Principal, at: dt.datetime) -> None:
        self.pg, self.caller = pg, caller
        booked = at.astimezone(CST).date()
        self.encounters = TableRows(_t(Encounter), (*_NEW_ENCOUNTER, "source_key", "status",
                                    "version", "settlement_id"),
                                    {"created_at": at, "updated_at": at}, pg)  # fmt: skip
        self.events = TableRows(_t(EncounterEvent), ("encounter_id", "seq", "kind", "status_from",
                                "status_to", "msgid"), {"at": at, "actor": caller.actor},
                                pg)  # fmt: skip
        self.audit = TableRows(_t(AuditEntry), ("action", "entity_id", "msgid", "before_sha256",
                               "after_sha256"),
                               {"at": at, "actor": caller.actor, "role": caller.role,
                                "provider_code": caller.provider_code, "entity": "encounter"},
                               pg)  # fmt: skip
        self.audit.json["detail"] = self.events.json["detail"]  # one entry per event, alike
        self.settlements = TableRows(_t(SettlementRow), (
            "id", "encounter_id", "provider_code", "psn_no", "year", "discharge_date", "msgid",
            "pack_id", "pack_sha256", "med_type", "central_share_bp", "medfee_sumamt",
            "fund_pay_sumamt", "fiscal_pay", "acct_pay", "psn_cash_pay", "balance_before_fen",
            "balance_after_fen"),
            {"kind": "settlement", "reverses": None, "booked_on": booked, "settled_at": at,
             "actor": caller.actor, "clr_type": INPATIENT_CLR_TYPE}, pg)  # fmt: skip
        self.heads = TableRows(_t(JournalTransaction), (
            "id", "narration", "settlement_id", "encounter_id", "psn_no", "provider_code",
            "scheme", "accumulator_year"),
            {"kind": "settlement", "booked_on": booked, "reverses": None, "recorded_at": at,
             "clr_type": INPATIENT_CLR_TYPE}, pg)  # fmt: skip
        self.postings = TableRows(_t(JournalPosting), ("tx_id", "seq", "code", "book", "key",
                                  "amount_fen"), {}, pg)  # fmt: skip
        self.moves: list[dict[str, Any]] = []
        self.frames: dict[str, pl.DataFrame] = {}

    def tables(self) -> tuple[TableRows, ...]:
        """In the order they are written (foreign keys)."""
        return (self.encounters, self.events, self.settlements, self.heads, self.postings,
                self.audit)  # fmt: skip

    def freeze(self) -> None:
        """Build the COPY frames now (PostgreSQL), so a writer thread only streams them."""
        for t in self.tables():
            self.frames[t.table.name] = t.frame()

    def json(self, doc: Any) -> Any:
        """A JSON column's value for ``JsonColumn.append``: orjson's bytes on PostgreSQL
        (the text ``Rows.json`` makes), the object on SQLite."""
        return orjson.dumps(doc, default=str) if self.pg else doc

    def settlement(self, e: Entry, setl_id: str) -> None:
        """The ``settlements`` row, its transaction's header and postings."""
        s, json, doc = e.settlement, self.json, self.settlements.json
        i, year = s.setlinfo, e.discharge_date.year
        self.settlements.rows.append((
            setl_id, s.encounter_id, e.provider_code, s.insuree_id, year, e.discharge_date,
            e.msgid, s.pack_id, s.pack_sha256, e.med_type, e.central_share_bp, i.medfee_sumamt,
            i.fund_pay_sumamt, i.fiscal_pay, i.acct_pay, i.psn_cash_pay,
            s.account_balance_before_fen, s.account_balance_after_fen))  # fmt: skip
        doc["accumulators_before"].append(json(records.acc_dict(s.accumulators_before)))
        doc["accumulators_after"].append(json(records.acc_dict(s.accumulators_after)))
        doc["record"].append(json(records.settlement_record(s)))
        legs = ledger.settlement_legs(s, provider_code=e.provider_code,
                                      central_share_bp=e.central_share_bp)  # fmt: skip
        self.heads.rows.append((setl_id, ledger.settlement_narration(setl_id, s.encounter_id)[:200],
                                setl_id, s.encounter_id, s.insuree_id, e.provider_code,
                                s.facts.scheme, year))  # fmt: skip
        self.postings.rows += [(setl_id, n, *leg) for n, leg in enumerate(legs)]

    def _event(self, row: tuple[Any, ...], audit: tuple[Any, ...], detail: Any) -> None:
        """An event and its audit entry, with the same detail (one JSON column)."""
        self.events.rows.append(row)
        self.events.json["detail"].append(detail)
        self.audit.rows.append(audit)

    def reentered(self, new: NewEncounter, msgid: str | None, status: str, version: int,
                  setl_id: str | None) -> str:  # fmt: skip
        """A new encounter's row (``status``, ``version``, ``settlement_id``), its
        ``reentered`` event (none -> ``discharged``, seq 1) and audit entry; returns the
        digest of its audit view after that event."""
        row = new.row
        self.encounters.rows.append((*_new_encounter(row), row.get("source_key"), status,
                                     version, setl_id))  # fmt: skip
        self.encounters.json["diagnoses"].append(self.json(row["diagnoses"]))
        eid = row["id"]
        v1 = digest(_view(eid, "discharged", 1, None, row["discharge_date"], row["psn_no"],
                          row["provider_code"]))  # fmt: skip
        self._event((eid, 1, "reentered", None, "discharged", msgid),
                    ("encounter.reentered", eid, msgid, None, v1),
                    self.json(new.detail))  # fmt: skip
        return v1

    def settled(self, e: Entry, found: Any, setl_id: str) -> None:
        """The encounter's insert (new) or move, its events and audit entries."""
        s = e.settlement
        eid, psn, prov, day = s.encounter_id, s.insuree_id, e.provider_code, e.discharge_date
        if e.new is not None:
            before = self.reentered(e.new, e.msgid, "settled", 2, setl_id)
            frm, version = "discharged", 2
        else:
            frm, version = found.status, found.version + 1
            before = digest(_view(eid, found.status, found.version, None, found.discharge_date,
                                  psn, prov))  # fmt: skip
            self.moves.append({"id": eid, "status": "settled", "version": version,
                               "settlement_id": setl_id,
                               "discharge_date": found.discharge_date or day})  # fmt: skip
        after = digest(_view(eid, "settled", version, setl_id, day, psn, prov))
        detail = {"settlement_id": setl_id, "medfee_sumamt": s.setlinfo.medfee_sumamt}
        self._event((eid, version, "settled", frm, "settled", e.msgid),
                    ("encounter.settled", eid, e.msgid, before, after),
                    self.json(detail))  # fmt: skip


@dataclass(slots=True)
class Plan:
    """A booking's rows, and what it leaves: accumulators per insuree-year, account
    movements per insuree, settlement ids per encounter."""

    rows: Columns
    ids: dict[str, str]
    final: dict[tuple[str, int], Accumulators]
    deltas: dict[str, int]


def make_plan(caller: Principal, entries: Sequence[Entry], at: dt.datetime, pg: bool,
              found: dict[str, Any]) -> Plan:  # fmt: skip
    """Every row the entries become (``found``: the existing encounters' rows, by id)."""
    rows = Columns(pg, caller, at)
    plan = Plan(rows, {}, {}, {})
    for e, setl_id in zip(entries, new_ids("S", at, len(entries)), strict=True):
        s = e.settlement
        eid, psn = s.encounter_id, s.insuree_id  # as e.encounter_id, e.insuree_id
        plan.ids[eid] = setl_id
        rows.settlement(e, setl_id)
        rows.settled(e, found.get(eid), setl_id)
        plan.final[(psn, e.discharge_date.year)] = s.accumulators_after
        plan.deltas[psn] = plan.deltas.get(psn, 0) - s.setlinfo.acct_pay
    return plan
