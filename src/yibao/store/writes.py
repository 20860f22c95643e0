"""The one writer of the service tables' new rows and moves (issue 13: one write path per
aggregate). A settlement, a reversal, a deferral or a queue clearing — one or a hundred
thousand — is a ``Writes``: new rows per table (named by the table's NAME, held
column-wise), encounter moves, insuree-year accumulators set, account movements added,
deferrals cleared. ``write`` writes it inside the unit of work's transaction and chooses
only HOW by its size, never what:

- PostgreSQL, large (``COPY_FROM`` rows or more): ``COPY … FROM STDIN`` per table (the
  rows as one CSV stream written by Polars) and one ``UPDATE … FROM`` a temporary table
  per kind of update (``bulk``);
- PostgreSQL, small: multi-row ``INSERT … VALUES (…), (…)`` and prebuilt updates, all in
  ONE round trip (``HospitalRepo.batch``: psycopg's pipeline, parameters bound by the
  server) — what a single settlement costs;
- SQLite: ``executemany``.

JSON columns: on PostgreSQL the documents are serialised once, by orjson, when a row is
added (the COPY stream's text; the small path binds that text and casts it to ``JSON``
on the server); on SQLite they stay Python objects (SQLAlchemy serialises them).
"""

from __future__ import annotations

import datetime as dt
from array import array
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import orjson
import polars as pl
import psycopg
from sqlalchemy import JSON, String, Table, Text, bindparam, insert, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from yibao.core.engine.model import Accumulators
from yibao.core.ledger import Transaction
from yibao.store import bulk
from yibao.store.service_tables import (
    AuditEntry,
    Deferral,
    Encounter,
    EncounterEvent,
    FeeLineRow,
    JournalPosting,
    JournalTransaction,
    SettlementRow,
)
from yibao.store.statements import Op, Ops, prebuilt, tx_rows

__all__ = [
    "COPY_FROM",
    "TABLES",
    "JsonColumn",
    "TableRows",
    "Writes",
    "frame",
    "polars_type",
    "write",
]

TABLES: dict[str, Table] = {
    cast(Table, m.__table__).name: cast(Table, m.__table__)
    for m in (Encounter, FeeLineRow, EncounterEvent, SettlementRow, JournalTransaction,
              JournalPosting, AuditEntry, Deferral)
}  # fmt: skip
"""The tables ``Writes`` adds rows to, by name."""

COPY_FROM = 2000
"""From this many new rows on, PostgreSQL gets them by COPY (below: the pipelined
multi-row INSERTs, one round trip). Measured: a settlement is ≈ 16 rows; COPY and the
temporary tables of its updates cost ≈ 10 round trips, which 2,000 rows repay."""


def polars_type(sql_type: Any) -> Any:
    try:
        py = sql_type.python_type
    except NotImplementedError:  # pragma: no cover - every column here has one
        py = str
    types = {bool: pl.Boolean, int: pl.Int64, dt.datetime: pl.Datetime("us", "UTC"),
             dt.date: pl.Date}  # fmt: skip
    return types.get(py, pl.String)


def _insertable(table: Table) -> list[Any]:
    """Every column but a serial integer ``id``."""
    return [c for c in table.columns if c.name != "id" or isinstance(c.type, String)]


def frame(rows: Sequence[Mapping[str, Any]], table: Table) -> pl.DataFrame:
    """Rows (dicts; JSON columns already text) as a frame for COPY (PostgreSQL)."""
    schema = {c.name: polars_type(c.type) for c in _insertable(table)}
    if not rows:
        return pl.DataFrame(schema=schema)
    # column by column: 2-3x faster than pl.from_dicts over the rows (timestamps above all)
    return pl.DataFrame([pl.Series(c, [r.get(c) for r in rows], dtype=t, strict=False)
                         for c, t in schema.items()])  # fmt: skip


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


def json_value(pg: bool, doc: Any) -> Any:
    """A JSON column's value as ``JsonColumn.append`` takes it: orjson's bytes on
    PostgreSQL, the object on SQLite."""
    return orjson.dumps(doc, default=str) if pg else doc


class JsonColumn:
    """A JSON column's values: on PostgreSQL orjson's text, all rows in one buffer (a
    text object kept per row cost ≈ 8 µs more a settlement record, as much as serialising
    it); on SQLite the objects (SQLAlchemy serialises them)."""

    __slots__ = ("data", "docs", "ends", "pg")

    def __init__(self, pg: bool) -> None:
        self.pg = pg
        self.docs: list[Any] = []
        self.data = bytearray()
        self.ends = array("q", [0])

    def __len__(self) -> int:
        return len(self.ends) - 1 if self.pg else len(self.docs)

    def append(self, value: Any) -> None:
        """Add ``json_value``'s value of a document (its bytes on PostgreSQL)."""
        if self.pg:
            self.data += value
            self.ends.append(len(self.data))
        else:
            self.docs.append(value)

    def texts(self) -> list[str]:
        """Each row's text (PostgreSQL)."""
        d, e = self.data, self.ends
        return [d[e[k] : e[k + 1]].decode() for k in range(len(e) - 1)]

    def series(self, name: str) -> pl.Series:
        """The text column (PostgreSQL), read from the buffer through Arrow."""
        import pyarrow as pa  # type: ignore[import-untyped]  # here: 0.1 s to import

        n = len(self.ends) - 1
        text = pa.LargeStringArray.from_buffers(n, pa.py_buffer(self.ends),
                                                pa.py_buffer(self.data))  # fmt: skip
        return pl.Series(name, pl.from_arrow(text), dtype=pl.String)


class TableRows:
    """New rows of one table (by name), column-wise: a tuple of the ``names`` columns per
    row, a ``JsonColumn`` per JSON column (``json``), and ``same``: the columns with one
    value for every row. Columns given nowhere are NULL."""

    __slots__ = ("frozen", "json", "names", "pg", "rows", "same", "table")

    def __init__(self, name: str, names: tuple[str, ...], same: dict[str, Any],
                 pg: bool) -> None:  # fmt: skip
        self.table = TABLES[name]
        self.names, self.same, self.pg = names, same, pg
        self.rows: list[tuple[Any, ...]] = []
        self.json = {c.name: JsonColumn(pg) for c in self.table.columns
                     if isinstance(c.type, JSON) and c.name not in same}  # fmt: skip
        self.frozen: pl.DataFrame | None = None

    @classmethod
    def plain(cls, name: str, pg: bool) -> TableRows:
        """Rows added whole by ``add``: every column but the JSON ones (and a serial id)."""
        t = TABLES[name]
        names = tuple(c.name for c in _insertable(t) if not isinstance(c.type, JSON))
        return cls(name, names, {}, pg)

    def add(self, row: Mapping[str, Any]) -> None:
        """One row, a dict by column (JSON columns as Python values)."""
        self.rows.append(tuple(row.get(c) for c in self.names))
        for k, col in self.json.items():
            col.append(json_value(self.pg, row.get(k)))

    def __len__(self) -> int:
        return len(self.rows)

    def _given(self) -> dict[str, Sequence[Any]]:
        n = len(self.rows)
        if any(len(j) != n for j in self.json.values()):
            raise ValueError(f"{self.table.name}: a JSON column has not one value per row")
        return dict(zip(self.names, zip(*self.rows, strict=True), strict=True)) if n else {}

    def dicts(self) -> list[dict[str, Any]]:
        """The rows as dicts (SQLite's executemany; JSON columns as the objects)."""
        given = {**self._given(), **{k: j.docs for k, j in self.json.items()}}
        keys = list(given)
        return [{**self.same, **dict(zip(keys, r, strict=True))}
                for r in zip(*given.values(), strict=True)]  # fmt: skip

    def texts(self) -> list[dict[str, Any]]:
        """The rows as dicts of every insertable column, JSON columns as their text
        (PostgreSQL's multi-row INSERT)."""
        given = {**self._given(), **{k: j.texts() for k, j in self.json.items()}}
        keys = list(given)
        blank = {c.name: None for c in _insertable(self.table)}
        return [{**blank, **self.same, **dict(zip(keys, r, strict=True))}
                for r in zip(*given.values(), strict=True)]  # fmt: skip

    def freeze(self) -> None:
        """Build the COPY frame now (PostgreSQL), so a writer thread only streams it."""
        self.frozen = self.frame()

    def frame(self) -> pl.DataFrame:
        """The rows as a frame for COPY (PostgreSQL): the values ``frame`` makes of
        ``dicts()``, every column of the table but a serial ``id``."""
        if self.frozen is not None:
            return self.frozen
        cols = _insertable(self.table)
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
            elif c.name in self.same:
                out.append(_series(c.name, [self.same[c.name]], dtype).new_from_index(0, n))
            else:
                out.append(pl.Series(c.name, [None] * n, dtype=dtype))
        return pl.DataFrame(out)


class Writes:
    """What one write puts in the store, in this order: the new rows of each table (in
    the order the tables were first named: foreign keys), then the encounters' moves
    (the last move of an encounter wins), the insuree-years' accumulators, the accounts'
    movements (added) and the deferrals cleared."""

    def __init__(self, pg: bool, at: dt.datetime) -> None:
        self.pg, self.at = pg, at
        self.tables: dict[str, list[TableRows | pl.DataFrame]] = {}
        self._plain: dict[str, TableRows] = {}
        self.moves: dict[str, dict[str, Any]] = {}
        self.accumulators: dict[tuple[str, int], Accumulators] = {}
        self.accounts: dict[str, int] = {}
        self.clears: list[dict[str, Any]] = []

    def rows(self, name: str) -> TableRows:
        """The new rows of table ``name`` added whole (``TableRows.plain``)."""
        got = self._plain.get(name)
        if got is None:
            got = self._plain[name] = TableRows.plain(name, self.pg)
            self.tables.setdefault(name, []).append(got)
        return got

    def append(self, name: str, rows: Sequence[Mapping[str, Any]] | Mapping[str, Any]) -> None:
        """Add a row (a dict by column name, JSON columns as Python values) or rows."""
        t = self.rows(name)
        for r in [rows] if isinstance(rows, Mapping) else rows:
            t.add(r)

    def put(self, rows: TableRows | pl.DataFrame, name: str | None = None) -> None:
        """Add rows built column-wise (a booking's ``Columns``), or a frame of table
        ``name`` (columns named as the table's, JSON as text)."""
        key = rows.table.name if isinstance(rows, TableRows) else name
        assert key is not None
        self.tables.setdefault(key, []).append(rows)

    def transaction(self, tx: Transaction) -> None:
        """A ledger transaction: its journal header and postings (``tx_rows``)."""
        head, postings = tx_rows(tx, self.at)
        self.append("journal_transactions", head)
        self.append("journal_postings", postings)

    def move(self, encounter_id: str, *, status: str, version: int, settlement_id: str | None,
             discharge_date: dt.date | None) -> None:  # fmt: skip
        """The encounter's new state (``updated_at`` is the write's time)."""
        self.moves[encounter_id] = {"id": encounter_id, "status": status, "version": version,
                                    "settlement_id": settlement_id,
                                    "discharge_date": discharge_date}  # fmt: skip

    def add_moves(self, moves: Sequence[Mapping[str, Any]]) -> None:
        for m in moves:
            self.moves[m["id"]] = dict(m)

    def set_accumulators(self, psn_no: str, year: int, acc: Accumulators) -> None:
        self.accumulators[(psn_no, year)] = acc

    def move_account(self, psn_no: str, delta_fen: int) -> None:
        self.accounts[psn_no] = self.accounts.get(psn_no, 0) + delta_fen

    def clear_deferral(self, deferral_id: str, *, settlement_id: str,
                       clearing_tx_id: str) -> None:  # fmt: skip
        """Set the deferral's clearing columns, once (one not open fails the write)."""
        self.clears.append({"did": deferral_id, "at": self.at, "sid": settlement_id,
                            "wid": clearing_tx_id})  # fmt: skip

    def size(self) -> int:
        """New rows and updated rows."""
        return (sum(len(t) for ts in self.tables.values() for t in ts) + len(self.moves)
                + len(self.accumulators) + len(self.accounts) + len(self.clears))  # fmt: skip


# -- the statements of the small path ------------------------------------------------------

_CHUNK = 200
_INSERTS: dict[tuple[str, int], Any] = {}
_E = TABLES["encounters"]
_D = TABLES["deferrals"]
_MOVE = prebuilt(update(_E).where(_E.c.id == bindparam("k_id")).values(
    status=bindparam("status"), version=bindparam("version"),
    settlement_id=bindparam("settlement_id"), discharge_date=bindparam("discharge_date"),
    updated_at=bindparam("at")))  # fmt: skip
_CLEAR_MANY = (
    update(_D)
    .where(_D.c.id == bindparam("did"), _D.c.cleared_at.is_(None))
    .values(
        cleared_at=bindparam("at"), settlement_id=bindparam("sid"), clearing_tx_id=bindparam("wid")
    )
)
_CLEAR = prebuilt(_CLEAR_MANY.returning(_D.c.id))  # one row back per deferral cleared


def _inserts(table: Table, rows: Sequence[Mapping[str, Any]]) -> list[Op]:
    """Rows (JSON as text) as multi-row INSERTs of up to 200 rows, prebuilt per (table,
    row count): JSON columns bound as text and cast to JSON by the server."""
    out: list[Op] = []
    cols = _insertable(table)
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        key = (table.name, len(chunk))
        stmt = _INSERTS.get(key)
        if stmt is None:
            stmt = prebuilt(insert(table).values([
                {c.name: (sql_cast(bindparam(f"{c.name}_{i}", type_=Text), c.type)
                          if isinstance(c.type, JSON)
                          else bindparam(f"{c.name}_{i}", type_=c.type))
                 for c in cols} for i in range(len(chunk))]))  # fmt: skip
            _INSERTS[key] = stmt
        out.append((stmt, {f"{c.name}_{i}": r.get(c.name) for i, r in enumerate(chunk)
                           for c in cols}))  # fmt: skip
    return out


def _updates(w: Writes) -> list[Op]:
    todo: list[Op] = []
    if w.moves:
        todo.append((_MOVE, [{"k_id": m["id"], "status": m["status"], "version": m["version"],
                              "settlement_id": m["settlement_id"],
                              "discharge_date": m["discharge_date"], "at": w.at}
                             for m in w.moves.values()]))  # fmt: skip
    if w.accumulators:
        acc = sorted(w.accumulators.items())
        todo.append((Ops.set_accumulators, [{"k_psn": p, "k_year": y, "at": w.at, **a.as_dict()}
                                            for (p, y), a in acc]))  # fmt: skip
    moves = [{"k_psn": p, "delta": d, "at": w.at} for p, d in sorted(w.accounts.items()) if d]
    if moves:
        todo.append((Ops.move_account, moves))
    return todo


def write(session: Session, w: Writes,
          batch: Callable[[Sequence[Op]], list[list[Any]]]) -> None:  # fmt: skip
    """Write ``w`` inside the session's transaction (``batch``: ``HospitalRepo.batch``)."""
    pg = session.get_bind().dialect.name == "postgresql"
    if pg != w.pg:
        raise ValueError("rows built for another database")
    if pg and w.size() < COPY_FROM:
        todo: list[Op] = []
        for name, ts in w.tables.items():
            for t in ts:
                data = t.texts() if isinstance(t, TableRows) else t.to_dicts()
                todo += _inserts(TABLES[name], data)
        todo += _updates(w)
        if w.clears:
            todo.append((_CLEAR, w.clears))
        got = batch(todo)
        if w.clears and len(got[-1]) != len(w.clears):
            raise RuntimeError(f"{len(w.clears) - len(got[-1])} deferrals were not open")
        return
    if not pg:
        _write_large(session, w, pg)
        return
    try:
        _write_large(session, w, pg)
    except psycopg.Error as exc:  # COPY runs on the driver's cursor: raise as batch does
        raise DBAPIError.instance("COPY", None, exc, psycopg.Error, hide_parameters=True,
                                  dialect=session.get_bind().dialect) from exc  # fmt: skip


def _write_large(session: Session, w: Writes, pg: bool) -> None:
    """COPY and ``UPDATE … FROM`` (PostgreSQL), executemany (SQLite)."""
    if pg:
        bulk.prefer_lz4(session)
    for name, ts in w.tables.items():
        table = TABLES[name]
        for t in ts:
            if isinstance(t, pl.DataFrame):
                if pg:
                    bulk.insert_frame(session, table, t)
                elif t.height:
                    session.execute(insert(table), t.to_dicts())
            elif pg:
                bulk.insert_frame(session, table, t.frame())
            elif len(t):
                session.execute(insert(table), t.dicts())
    bulk.move_encounters(session, list(w.moves.values()), w.at)
    bulk.set_accumulators(session, w.accumulators, w.at)
    bulk.move_accounts(session, w.accounts, w.at)
    if w.clears:
        n = session.connection().execute(_CLEAR_MANY, w.clears).rowcount
        if n not in (len(w.clears), -1):
            raise RuntimeError(f"{len(w.clears) - n} deferrals were not open")
