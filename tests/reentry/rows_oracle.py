"""The oracle for ``tests/reentry/test_rows.py``: a booking's rows as the code at b56dc9b
(before DECISIONS 0058) built them — a dict per row (``records.settlement_row``,
``tx_rows(ledger.postings_for(…))``, ``audit_op``), ``frame()`` over the dicts — and
``postings_for`` as it was, objects built one by one. Kept verbatim but for the id
source (an argument here, so both sides draw the same ids)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, cast

import orjson
import polars as pl
from sqlalchemy import String, Table

from yibao.core.engine.funds import ACCOUNT, ASSISTANCE, BASIC, SERIOUS
from yibao.core.engine.model import Settlement
from yibao.core.errors import InvariantBroken
from yibao.core.ledger.accounts import (
    BENEFIT,
    CASH_COLLECTED,
    CENTRAL_RECEIVABLE,
    CENTRAL_SHARE,
    FISCAL,
    FISCAL_PAYABLE,
    FISCAL_SUBSIDY,
    HOSPITAL_PAYABLE,
    PATIENT,
    PATIENT_CASH,
    PERSONAL_ACCOUNT,
    Account,
)
from yibao.core.ledger.journal import Posting, SettlementRef, Transaction
from yibao.core.money import BP_ONE, mul_bp
from yibao.core.privacy import mask_psn_no
from yibao.services.access.rights import Principal, audit_op
from yibao.services.encounters import records
from yibao.services.encounters.context import CST
from yibao.services.encounters.rows import INPATIENT_CLR_TYPE, Entry, NewEncounter
from yibao.store.encounter_repo import tx_rows
from yibao.store.service_tables import (
    AuditEntry,
    Encounter,
    EncounterEvent,
    JournalPosting,
    JournalTransaction,
    SettlementRow,
)

# -- core/ledger/post.py ----------------------------------------------------------------


def _pair(debit: Account, credit: Account, fen: int) -> list[Posting]:
    return [Posting(debit, fen), Posting(credit, -fen)] if fen else []


def _fund_book(table: dict[str, str], scheme: str, fen: int, field: str) -> str:
    book = table.get(scheme)
    if book is None:
        raise InvariantBroken(f"{field} = {fen} for an insuree of scheme {scheme!r}")
    return book


def _payable(book: str, provider_code: str) -> Account:
    return Account(HOSPITAL_PAYABLE.code, book, provider_code)


def postings_for(s: Settlement, *, tx_id: str, provider_code: str, booked_on: dt.date,
                 accumulator_year: int, central_share_bp: int, settlement_id: str | None = None,
                 clr_type: str = "") -> Transaction:  # fmt: skip
    if not 0 <= central_share_bp <= BP_ONE:
        raise ValueError(f"central_share_bp {central_share_bp} is outside 0..{BP_ONE}")
    i, scheme, psn = s.setlinfo, s.facts.scheme, s.insuree_id
    serious = i.hifob_pay + i.hifmi_pay
    out: list[Posting] = []
    for table, fen, field in (
        (BASIC, i.hifp_pay, "hifp_pay"),
        (SERIOUS, serious, "hifob_pay + hifmi_pay"),
    ):
        if fen:
            book = _fund_book(table, scheme, fen, field)
            out += _pair(Account(BENEFIT.code, book), _payable(book, provider_code), fen)
    out += _pair(Account(BENEFIT.code, ASSISTANCE), _payable(ASSISTANCE, provider_code), i.maf_pay)
    out += _pair(Account(PERSONAL_ACCOUNT.code, ACCOUNT, psn), _payable(ACCOUNT, provider_code),
                 i.acct_pay)  # fmt: skip
    out += _pair(Account(FISCAL_SUBSIDY.code, FISCAL),
                 Account(FISCAL_PAYABLE.code, FISCAL, provider_code), i.fiscal_pay)  # fmt: skip
    out += _pair(Account(CENTRAL_RECEIVABLE.code, FISCAL), Account(CENTRAL_SHARE.code, FISCAL),
                 mul_bp(i.fiscal_pay, central_share_bp))  # fmt: skip
    out += _pair(Account(PATIENT_CASH.code, PATIENT, psn),
                 Account(CASH_COLLECTED.code, PATIENT, provider_code), i.psn_cash_pay)  # fmt: skip
    ref = SettlementRef(settlement_id if settlement_id is not None else tx_id, s.encounter_id,
                        psn, provider_code, scheme, accumulator_year, clr_type)  # fmt: skip
    return Transaction(tx_id, booked_on, "settlement", tuple(out), ref,
                       narration=f"结算 {ref.settlement_id} 就诊 {s.encounter_id}")  # fmt: skip


# -- services/stays/rows.py -----------------------------------------------------------


def _t(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


def _view(eid: str, status: str, version: int, setl: str | None, day: dt.date | None,
          psn: str, provider: str) -> dict[str, Any]:  # fmt: skip
    return {"id": eid, "status": status, "version": version, "settlement_id": setl,
            "discharge_date": day, "insuree": mask_psn_no(psn), "provider": provider}  # fmt: skip


class Rows:
    def __init__(self, pg: bool) -> None:
        self.pg = pg
        self.encounters: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.audit: list[dict[str, Any]] = []
        self.settlements: list[dict[str, Any]] = []
        self.heads: list[dict[str, Any]] = []
        self.postings: list[dict[str, Any]] = []
        self.moves: list[dict[str, Any]] = []

    def tables(self) -> list[tuple[Table, list[dict[str, Any]]]]:
        return [(_t(Encounter), self.encounters), (_t(EncounterEvent), self.events),
                (_t(SettlementRow), self.settlements), (_t(JournalTransaction), self.heads),
                (_t(JournalPosting), self.postings), (_t(AuditEntry), self.audit)]  # fmt: skip

    def json(self, doc: Any) -> Any:
        return orjson.dumps(doc, default=str).decode() if self.pg else doc

    def json_columns(self, row: dict[str, Any]) -> dict[str, Any]:
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
    cols = [c.name for c in table.columns if c.name != "id" or isinstance(c.type, String)]
    schema = {c: polars_type(table.c[c].type) for c in cols}
    if not rows:
        return pl.DataFrame(schema=schema)
    return pl.DataFrame([pl.Series(c, [r.get(c) for r in rows], dtype=t, strict=False)
                         for c, t in schema.items()])  # fmt: skip


def polars_type(sql_type: Any) -> Any:
    py = sql_type.python_type
    types = {bool: pl.Boolean, int: pl.Int64, dt.datetime: pl.Datetime("us", "UTC"),
             dt.date: pl.Date}  # fmt: skip
    return types.get(py, pl.String)


def make_rows(caller: Principal, entries: Sequence[Entry], at: dt.datetime, pg: bool,
              found: dict[str, Any],
              new_id: Callable[[str, dt.datetime], str]) -> Rows:  # fmt: skip
    """``make_plan``'s rows as they were."""
    rows, booked = Rows(pg), at.astimezone(CST).date()
    for e in entries:
        s, setl_id = e.settlement, new_id("S", at)
        rows.settlements.append(settlement_row(rows, e, setl_id, at, booked, caller.actor))
        tx = postings_for(s, tx_id=setl_id, provider_code=e.provider_code,
                          booked_on=booked, accumulator_year=e.discharge_date.year,
                          central_share_bp=e.central_share_bp, settlement_id=setl_id,
                          clr_type=INPATIENT_CLR_TYPE)  # fmt: skip
        head, postings = tx_rows(tx, at)
        rows.heads.append(head)
        rows.postings += postings
        encounter_rows(rows, caller, e, found.get(e.encounter_id), setl_id, at)
    return rows
