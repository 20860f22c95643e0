"""The records of a booking and the rows they become (DECISIONS 0066): ``make_plan`` is
the one builder of a settlement's rows — ``encounters.settle`` books one through it (a
batch of one), ``stays.booking`` many — held column-wise (``store.writes.TableRows``,
DECISIONS 0058) and written by the store's one writer (``Plan.writes``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import polars as pl

from yibao.core import ledger
from yibao.core.engine.model import Accumulators, Settlement
from yibao.core.privacy import mask_psn_no
from yibao.services.access.rights import Principal, digest
from yibao.services.encounters import records
from yibao.services.encounters.context import CST, new_ids
from yibao.store.writes import TableRows, Writes, frame, json_value

__all__ = [
    "INPATIENT_CLR_TYPE",
    "Booked",
    "Columns",
    "Entry",
    "NewEncounter",
    "Plan",
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
    balance_before_fen: int | None = None
    """The account balance before, when the engine was not given it (the hospital's
    ``acct_used`` false: the engine saw 0); None: the settlement's."""

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


def _view(eid: str, status: str, version: int, setl: str | None, day: dt.date | None,
          psn: str, provider: str) -> dict[str, Any]:  # fmt: skip
    """``EncounterState.audit_view`` of the encounter (the same hash for the same state)."""
    return {"id": eid, "status": status, "version": version, "settlement_id": setl,
            "discharge_date": day, "insuree": mask_psn_no(psn), "provider": provider}  # fmt: skip


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
        self.encounters = TableRows("encounters", (*_NEW_ENCOUNTER, "source_key", "status",
                                    "version", "settlement_id"),
                                    {"created_at": at, "updated_at": at}, pg)  # fmt: skip
        self.events = TableRows("encounter_events", ("encounter_id", "seq", "kind", "status_from",
                                "status_to", "msgid"), {"at": at, "actor": caller.actor},
                                pg)  # fmt: skip
        self.audit = TableRows("audit_log", ("action", "entity_id", "msgid", "before_sha256",
                               "after_sha256"),
                               {"at": at, "actor": caller.actor, "role": caller.audit_role,
                                "provider_code": caller.provider_code, "entity": "encounter"},
                               pg)  # fmt: skip
        self.audit.json["detail"] = self.events.json["detail"]  # one entry per event, alike
        self.settlements = TableRows("settlements", (
            "id", "encounter_id", "provider_code", "psn_no", "year", "discharge_date", "msgid",
            "pack_id", "pack_sha256", "med_type", "central_share_bp", "medfee_sumamt",
            "fund_pay_sumamt", "fiscal_pay", "acct_pay", "psn_cash_pay", "balance_before_fen",
            "balance_after_fen"),
            {"kind": "settlement", "reverses": None, "booked_on": booked, "settled_at": at,
             "actor": caller.actor, "clr_type": INPATIENT_CLR_TYPE}, pg)  # fmt: skip
        self.heads = TableRows("journal_transactions", (
            "id", "narration", "settlement_id", "encounter_id", "psn_no", "provider_code",
            "scheme", "accumulator_year"),
            {"kind": "settlement", "booked_on": booked, "reverses": None, "recorded_at": at,
             "clr_type": INPATIENT_CLR_TYPE}, pg)  # fmt: skip
        self.postings = TableRows("journal_postings", ("tx_id", "seq", "code", "book", "key",
                                  "amount_fen"), {}, pg)  # fmt: skip
        self.moves: list[dict[str, Any]] = []
        self.frames: dict[str, pl.DataFrame] = {}
        self.at = at

    def tables(self) -> tuple[TableRows, ...]:
        """In the order they are written (foreign keys)."""
        return (self.encounters, self.events, self.settlements, self.heads, self.postings,
                self.audit)  # fmt: skip

    def freeze(self) -> None:
        """Build the COPY frames now (PostgreSQL), so a writer thread only streams them."""
        for t in self.tables():
            t.freeze()
            self.frames[t.table.name] = t.frame()

    def json(self, doc: Any) -> Any:
        """A JSON column's value for ``JsonColumn.append``: orjson's bytes on PostgreSQL,
        the object on SQLite (``writes.json_value``)."""
        return json_value(self.pg, doc)

    def settlement(self, e: Entry, setl_id: str) -> None:
        """The ``settlements`` row, its transaction's header and postings."""
        s, json, doc = e.settlement, self.json, self.settlements.json
        i, year = s.setlinfo, e.discharge_date.year
        before, after = s.account_balance_before_fen, s.account_balance_after_fen
        if e.balance_before_fen is not None:
            before, after = e.balance_before_fen, e.balance_before_fen - i.acct_pay
        self.settlements.rows.append((
            setl_id, s.encounter_id, e.provider_code, s.insuree_id, year, e.discharge_date,
            e.msgid, s.pack_id, s.pack_sha256, e.med_type, e.central_share_bp, i.medfee_sumamt,
            i.fund_pay_sumamt, i.fiscal_pay, i.acct_pay, i.psn_cash_pay,
            before, after))  # fmt: skip
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

    def writes(self, lines: pl.DataFrame | None = None, into: Writes | None = None) -> Writes:
        """The plan as the store's ``Writes`` (``into``: added to those), ``lines`` (the
        new encounters' fee lines, a frame) after the encounters."""
        rows = self.rows
        w = Writes(rows.pg, rows.at) if into is None else into
        w.put(rows.encounters)
        if lines is not None and lines.height:
            w.put(lines, "fee_lines")
        for t in rows.tables()[1:]:
            w.put(t)
        w.add_moves(rows.moves)
        w.accumulators.update(self.final)
        for psn, delta in self.deltas.items():
            w.move_account(psn, delta)
        return w


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
