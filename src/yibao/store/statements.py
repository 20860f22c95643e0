"""The hospital service's statements, built once: ``Ops`` (the prebuilt reads, inserts,
updates and row locks of the settlement path), multi-row ``insert_rows``, journal rows
(``tx_rows``), and how a statement is compiled once per dialect for
``HospitalRepo.batch`` (hospital_repo.py)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from typing import Any, cast

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

__all__ = ["ACC_COLUMNS", "ACC_ZERO", "ZERO_ACC", "Op", "Ops", "acc_row", "insert_rows", "tx_rows"]

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


def _has_rows(cur: Any) -> bool:
    """Whether the current result has columns, without ``cursor.description`` (which
    builds a ``Column`` object per column of every result: measurable per settlement)."""
    res = cur.pgresult
    return res is not None and res.nfields > 0


_COMPILED: dict[int, tuple[Any, str, Any]] = {}
_PREBUILT: set[int] = set()  # ids of the module's statements: only those are cached


def _compiled(stmt: Any, dialect: Any) -> tuple[str, Any]:
    """The SQL text of a statement for ``dialect``, and a function turning its
    parameters into the driver's (SQLAlchemy's bind processors applied: JSON …);
    compiled once for the prebuilt statements of ``Ops``."""
    hit = _COMPILED.get(id(stmt)) if id(stmt) in _PREBUILT else None
    if hit is None or hit[0] is not stmt:
        c = stmt.compile(dialect=dialect)
        procs = dict(c._bind_processors)

        def bind(params: Mapping[str, Any]) -> dict[str, Any]:
            got = c.construct_params(dict(params), _check=False)
            return {k: (procs[k](v) if k in procs and v is not None else v)
                    for k, v in got.items()}  # fmt: skip

        hit = (stmt, c.string, bind)
        if id(stmt) in _PREBUILT:
            _COMPILED[id(stmt)] = hit
    return hit[1], hit[2]


_PREPARED: dict[int, tuple[Any, Any, str, str, str, Any]] = {}
_DOLLAR: dict[int, Any] = {}
_NAMES = itertools.count()
_PREPARE_MAX_PARAMS = 600
"""Statements with more parameters are not prepared: each multi-row insert size would
be a statement of its own on every connection (a 20-line upload is 500)."""


def _prepared(stmt: Any, dialect: Any) -> tuple[str, str, str, Any] | None:
    """For a prebuilt statement on PostgreSQL: its name, its ``PREPARE name AS …`` (the
    statement with typed ``$n`` parameters), the head ``EXECUTE name`` of the call to
    send (``(arguments …)`` follow, as psycopg quotes them), and a function turning
    the statement's parameters into those arguments, in order. Built once per
    statement; None for statements built on the fly (those are sent as they are).
    DECISIONS 0052."""
    if id(stmt) not in _PREBUILT:
        return None
    hit = _PREPARED.get(id(stmt))
    if hit is None or hit[0] is not stmt or hit[1] is not dialect:
        dollar = _DOLLAR.get(id(dialect))
        if dollar is None:  # the engine's dialect (its JSON serializer) with $n parameters
            dollar = type(dialect)(paramstyle="numeric_dollar",
                                   json_serializer=dialect._json_serializer,
                                   json_deserializer=dialect._json_deserializer)  # fmt: skip
            _DOLLAR[id(dialect)] = dollar
        c = stmt.compile(dialect=dollar)
        procs = dict(c._bind_processors)
        order = tuple(c.positiontup or ())
        if len(order) > _PREPARE_MAX_PARAMS:  # a large multi-row insert: sent as it is
            _PREPARED[id(stmt)] = (stmt, dialect, "", "", "", None)
            return None

        def args(params: Mapping[str, Any]) -> tuple[Any, ...]:
            got = c.construct_params(dict(params), _check=False)
            return tuple((procs[k](got[k]) if k in procs and got[k] is not None else got[k])
                         for k in order)  # fmt: skip

        name = f"yibao_{next(_NAMES)}"
        call = f"EXECUTE {name}"  # then "(arguments, as psycopg quotes them)" if any
        hit = (stmt, dialect, name, f"PREPARE {name} AS {c.string}", call, args)
        _PREPARED[id(stmt)] = hit
    if hit[5] is None:
        return None
    return hit[2], hit[3], hit[4], hit[5]


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
            stmt = insert(table).values(
                [{c: bindparam(f"{c}_{i}") for c in cols} for i in range(len(chunk))])  # fmt: skip
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


def _transaction(h: Row[Any], postings: list[Posting]) -> Transaction:
    ref = None
    if h.settlement_id is not None:
        ref = SettlementRef(h.settlement_id, h.encounter_id, h.psn_no, h.provider_code,
                            h.scheme, h.accumulator_year, h.clr_type or "")  # fmt: skip
    return Transaction(h.id, h.booked_on, h.kind, tuple(postings), ref, h.reverses, h.narration)
