"""The hospital service's statements, built once: ``Ops`` (the prebuilt reads, inserts,
updates and row locks of the settlement path), multi-row ``insert_rows``, journal rows
(``tx_rows``), and how a statement is compiled once per dialect for
``HospitalRepo.batch`` (encounter_repo.py), by SQLAlchemy's public API only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, cast

from sqlalchemy import Row, String, Table, and_, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from yibao.core.engine.model import ACCUMULATOR_FIELDS, Accumulators
from yibao.core.ledger import Posting, SettlementRef, Transaction
from yibao.store.registry_tables import Insuree
from yibao.store.service_tables import (
    AccountBalance,
    Accumulator,
    ApiKey,
    AuditEntry,
    Compensation,
    Encounter,
    EncounterEvent,
    FeeLineRow,
    JournalPosting,
    JournalTransaction,
    RequestRecord,
    SettlementRow,
)

__all__ = ["ACC_COLUMNS", "ACC_ZERO", "ZERO_ACC", "Compiled", "Op", "Ops", "acc_row", "compiled",
           "has_rows", "insert_rows", "prebuilt", "transaction_of", "tx_rows"]  # fmt: skip

Op = tuple[Any, Mapping[str, Any] | Sequence[Mapping[str, Any]]]
"""A statement and its parameters (a list of them: executemany)."""


def _t(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


E, L, S = _t(Encounter), _t(FeeLineRow), _t(SettlementRow)
A, B = _t(Accumulator), _t(AccountBalance)
ACC_COLUMNS = tuple(A.c[f] for f in ACCUMULATOR_FIELDS)
"""The ``accumulators`` columns, named and ordered as ``ACCUMULATOR_FIELDS``."""
ACC_ZERO = dict.fromkeys(ACCUMULATOR_FIELDS, 0)
ZERO_ACC = Accumulators(**ACC_ZERO)


def acc_row(row: Sequence[Any]) -> Accumulators:
    """``Accumulators`` from the values of ``ACC_COLUMNS``, in that order."""
    return Accumulators(**dict(zip(ACCUMULATOR_FIELDS, row, strict=True)))


JT, JP = _t(JournalTransaction), _t(JournalPosting)
AU, K = _t(AuditEntry), _t(ApiKey)
RQ, CP, EV = _t(RequestRecord), _t(Compensation), _t(EncounterEvent)


def has_rows(cur: Any) -> bool:
    """Whether the current result has columns, without ``cursor.description`` (which
    builds a ``Column`` object per column of every result: measurable per settlement)."""
    res = cur.pgresult
    return res is not None and res.nfields > 0


class Compiled(NamedTuple):
    """A statement compiled for a dialect by SQLAlchemy's public API: its SQL text and
    ``bind(params)``, the driver's parameters (each bind's type processor applied: a
    JSON value serialised as SQLAlchemy would)."""

    sql: str
    bind: Callable[[Mapping[str, Any]], dict[str, Any]]


_COMPILED: dict[tuple[int, str], tuple[Any, Compiled]] = {}
_PREBUILT: set[int] = set()  # ids of the module's statements: only those are cached


def compiled(stmt: Any, dialect: Any) -> Compiled:
    """``stmt`` compiled for ``dialect`` (once for the prebuilt statements of ``Ops``
    and ``insert_rows``): ``stmt.compile``, ``construct_params`` and each bound type's
    ``bind_processor`` — no private SQLAlchemy API."""
    key = (id(stmt), dialect.name)
    hit = _COMPILED.get(key) if id(stmt) in _PREBUILT else None
    if hit is not None and hit[0] is stmt:
        return hit[1]
    c = stmt.compile(dialect=dialect)
    procs: dict[str, Callable[[Any], Any]] = {}
    for name, bp in c.binds.items():
        proc = bp.type.bind_processor(dialect)
        if proc is not None:
            procs[name] = proc

    def bind(params: Mapping[str, Any]) -> dict[str, Any]:
        got = c.construct_params(dict(params))
        return {k: (procs[k](v) if v is not None and k in procs else v)
                for k, v in got.items()}  # fmt: skip

    out = Compiled(c.string, bind)
    if id(stmt) in _PREBUILT:
        _COMPILED[key] = (stmt, out)
    return out


def prebuilt(stmt: Any) -> Any:
    """Mark a module-level statement as built once: ``compiled`` caches its compilation."""
    _PREBUILT.add(id(stmt))
    return stmt


def _p(name: str) -> Any:
    return bindparam(name)


def _insert(table: Table) -> Any:
    """INSERT of every column but a generated integer ``id``, binds named as columns."""
    cols = [c.name for c in table.columns if c.name != "id" or isinstance(c.type, String)]
    return insert(table).values({name: bindparam(name) for name in cols})


_ENC = select(E).where(E.c.id == _p("eid"))
_I = _t(Insuree)
_E2 = E.alias("e2")
_EARLIER = (select(func.count()).select_from(_E2).where(
    _E2.c.psn_no == E.c.psn_no,
    func.extract("year", _E2.c.admit_date) == func.extract("year", E.c.admit_date),
    _E2.c.status != "cancelled", _E2.c.id != E.c.id,
    (_E2.c.admit_time < E.c.admit_time) | and_(_E2.c.admit_time == E.c.admit_time,
                                               _E2.c.id < E.c.id),
).scalar_subquery())  # fmt: skip


class Ops:
    """Prebuilt statements of the hot paths (compiled once per dialect), for ``batch``."""

    encounter_to_settle = select(E, _EARLIER.label("earlier")).where(E.c.id == _p("eid"))
    encounter_to_settle_locked = encounter_to_settle.with_for_update(of=E)
    encounter_locked = _ENC.with_for_update(of=E)
    active_lines = (select(L).where(L.c.encounter_id == _p("eid"), L.c.cancelled_at.is_(None))
                    .order_by(L.c.id))  # fmt: skip
    insert_encounter = _insert(E)
    insert_settlement = _insert(S)
    insert_tx = _insert(JT)
    insert_posting = _insert(JP)
    insert_event = _insert(EV)
    insert_audit = _insert(AU)
    insert_lines = _insert(L)
    insuree_on = select(_I).where(
        _I.c.psn_no == _p("psn"), _I.c.superseded_by.is_(None), _I.c.valid_from <= _p("on"),
        _I.c.valid_to.is_(None) | (_I.c.valid_to >= _p("on")),
    )  # fmt: skip
    set_accumulators = update(A).where(A.c.psn_no == _p("k_psn"), A.c.year == _p("k_year")).values(
        updated_at=_p("at"), **{f: _p(f) for f in ACCUMULATOR_FIELDS})  # fmt: skip
    move_account = update(B).where(B.c.psn_no == _p("k_psn")).values(
        moved_fen=B.c.moved_fen + _p("delta"), updated_at=_p("at"))  # fmt: skip
    move_encounter = update(E).where(E.c.id == _p("eid")).values(
        status=_p("status"), version=_p("version"), updated_at=_p("at"),
        settlement_id=_p("settlement_id"), discharge_date=_p("discharge_date"),
        discharge_time=_p("discharge_time"))  # fmt: skip
    move_encounter_status = update(E).where(E.c.id == _p("eid")).values(
        status=_p("status"), version=_p("version"), updated_at=_p("at"))  # fmt: skip

    @staticmethod
    def lock_accumulators(pg: bool) -> Any:
        return _LOCKS["acc", pg]

    @staticmethod
    def lock_account(pg: bool) -> Any:
        return _LOCKS["acct", pg]


def _lock_statements() -> dict[tuple[str, bool], Any]:
    out: dict[tuple[str, bool], Any] = {}
    for pg, mod in ((True, postgresql), (False, sqlite)):
        q = mod.insert(A).values(psn_no=_p("psn"), year=_p("year"), updated_at=_p("at"),
                                 **ACC_ZERO)  # fmt: skip
        q = q.on_conflict_do_update(index_elements=[A.c.psn_no, A.c.year],
                                    set_={"updated_at": q.excluded.updated_at})  # fmt: skip
        out["acc", pg] = q.returning(*ACC_COLUMNS)
        b = mod.insert(B).values(psn_no=_p("psn"), moved_fen=0, updated_at=_p("at"))
        b = b.on_conflict_do_update(index_elements=[B.c.psn_no],
                                    set_={"updated_at": b.excluded.updated_at})  # fmt: skip
        out["acct", pg] = b.returning(B.c.moved_fen)
    return out


_LOCKS = _lock_statements()
_PREBUILT.update(id(v) for v in (*vars(Ops).values(), *_LOCKS.values()))


_MANY: dict[tuple[str, int], Any] = {}
_CHUNK = 200


def insert_rows(table: Table, rows: Sequence[Mapping[str, Any]]) -> list[Op]:
    """Rows as multi-row ``INSERT … VALUES (…), (…)`` statements of up to 200 rows: one
    statement each instead of one per row (psycopg sends an executemany's rows one by
    one, each costing its Python overhead). Prebuilt per (table, row count)."""
    out: list[Op] = []
    cols = [c.name for c in table.columns if c.name != "id" or isinstance(c.type, String)]
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        key = (table.name, len(chunk))
        stmt = _MANY.get(key)
        if stmt is None:
            # each bind typed as its column: SQLAlchemy types only the first row's binds
            # of a multi-row VALUES by the column (a JSON value of the second row would
            # go to the driver unserialised)
            stmt = insert(table).values(
                [{c: bindparam(f"{c}_{i}", type_=table.c[c].type) for c in cols}
                 for i in range(len(chunk))])  # fmt: skip
            _MANY[key] = stmt
            _PREBUILT.add(id(stmt))
        out.append((stmt, {f"{c}_{i}": r[c] for i, r in enumerate(chunk) for c in cols}))
    return out


def tx_rows(tx: Transaction, at: dt.datetime) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A transaction as its journal header row and posting rows."""
    ref = tx.settlement
    head = {
        "id": tx.id, "kind": tx.kind, "booked_on": tx.booked_on, "reverses": tx.reverses,
        "narration": tx.narration[:200], "recorded_at": at,
        "settlement_id": ref.settlement_id if ref else None,
        "encounter_id": ref.encounter_id if ref else None,
        "psn_no": ref.insuree_id if ref else None,
        "provider_code": ref.provider_code if ref else None,
        "scheme": ref.scheme if ref else None,
        "accumulator_year": ref.accumulator_year if ref else None,
        "clr_type": ref.clr_type if ref else None,
    }  # fmt: skip
    rows = [{"tx_id": tx.id, "seq": n, "code": p.account.code, "book": p.account.book,
             "key": p.account.key, "amount_fen": p.amount_fen}
            for n, p in enumerate(tx.postings)]  # fmt: skip
    return head, rows


def transaction_of(h: Row[Any], postings: list[Posting]) -> Transaction:
    ref = None
    if h.settlement_id is not None:
        ref = SettlementRef(h.settlement_id, h.encounter_id, h.psn_no, h.provider_code,
                            h.scheme, h.accumulator_year, h.clr_type or "")  # fmt: skip
    return Transaction(h.id, h.booked_on, h.kind, tuple(postings), ref, h.reverses, h.narration)
