"""Bulk writes for the booking of many settlements at once (issue 7, DECISIONS 0066).

Inside the unit of work's transaction, so a failure rolls everything back:

- ``insert_frame``: rows of a Polars frame into a table — ``COPY … FROM STDIN (FORMAT
  csv)`` on PostgreSQL (the frame written as CSV by Polars, one stream), ``executemany``
  on SQLite. JSON columns arrive already serialised on PostgreSQL (``orjson``, as the
  engine's ``json_serializer``) and as Python objects on SQLite (SQLAlchemy serialises).
- ``lock_accumulators`` / ``lock_accounts``: the insuree-year and account rows of a
  booking, created at zero when new, then locked (``SELECT … FOR UPDATE``, in key
  order) and returned — what a settlement locks, for many insurees in one statement.
- ``set_accumulators`` / ``move_accounts`` / ``move_encounters``: the updates, through
  a temporary table and one ``UPDATE … FROM`` on PostgreSQL.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any, cast

import polars as pl
from sqlalchemy import String, Table, any_, bindparam, func, insert, select, tuple_, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from yibao.core.engine.model import ACCUMULATOR_FIELDS, Accumulators
from yibao.store.service_tables import AccountBalance, Accumulator, Encounter
from yibao.store.statements import ACC_COLUMNS, ACC_ZERO, acc_row

__all__ = [
    "among",
    "insert_frame",
    "lock_accounts",
    "lock_accumulators",
    "lock_encounters",
    "move_accounts",
    "move_encounters",
    "prefer_lz4",
    "set_accumulators",
]

A = cast(Table, Accumulator.__table__)
B = cast(Table, AccountBalance.__table__)
E = cast(Table, Encounter.__table__)


def _pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _raw(session: Session) -> Any:
    """The psycopg connection of the session's transaction."""
    return session.connection().connection.driver_connection


def among(session: Session, column: Any, values: Sequence[Any]) -> Any:
    """``column IN values``; on PostgreSQL ``column = ANY(array)``, one parameter: an IN
    list of thousands of binds costs more to render and send than the query to run.
    Texts without a comma go as one text split by the server (``string_to_array``):
    psycopg dumps a list parameter element by element, ≈ 0.1 s of CPU per 50,000."""
    values = list(values)
    if not _pg(session):
        return column.in_(values)
    if values and all(isinstance(v, str) and v and "," not in v for v in values):
        joined = bindparam(None, ",".join(values), type_=String)
        return column == any_(func.string_to_array(joined, ","))
    return column == any_(bindparam(None, values, type_=ARRAY(column.type)))


_LZ4: dict[int, bool] = {}


def prefer_lz4(session: Session) -> None:
    """On PostgreSQL built with lz4, compress this transaction's large values (the
    settlement's record and trace) with lz4 instead of pglz: ~30 % less time to COPY
    settlements here, read back transparently (``SET LOCAL``: this transaction only)."""
    if not _pg(session):
        return
    key = id(session.get_bind())
    if key not in _LZ4:
        with _raw(session).cursor() as cur:
            cur.execute("SELECT enumvals FROM pg_settings WHERE name = "
                        "'default_toast_compression'")  # fmt: skip
            got = cur.fetchone()
        _LZ4[key] = got is not None and "lz4" in (got[0] or [])
    if _LZ4[key]:
        with _raw(session).cursor() as cur:
            cur.execute("SET LOCAL default_toast_compression = 'lz4'")


def insert_frame(session: Session, table: Table, frame: pl.DataFrame) -> None:
    """Insert every row of ``frame`` (columns named as the table's) into ``table``."""
    if frame.height == 0:
        return
    cols = frame.columns
    if _pg(session):
        buf = io.BytesIO()
        frame.write_csv(buf, include_header=False)
        names = ", ".join(f'"{c}"' for c in cols)
        with (
            _raw(session).cursor() as cur,
            cur.copy(f'COPY "{table.name}" ({names}) FROM STDIN (FORMAT csv)') as cp,
        ):
            cp.write(buf.getbuffer())
        return
    session.execute(insert(table), frame.to_dicts())


def _temp(session: Session, name: str, ddl: str, frame: pl.DataFrame) -> None:
    with _raw(session).cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {name}")
        cur.execute(f"CREATE TEMP TABLE {name} ({ddl}) ON COMMIT DROP")
    buf = io.BytesIO()
    frame.write_csv(buf, include_header=False)
    with _raw(session).cursor() as cur, cur.copy(f"COPY {name} FROM STDIN (FORMAT csv)") as cp:
        cp.write(buf.getbuffer())


def lock_encounters(session: Session, ids: Sequence[str], *, by: str = "id") -> list[Any]:
    """The encounter rows of ``ids`` that exist, locked (``FOR UPDATE``), by id; ``by``:
    the column ``ids`` hold (``source_key``: re-entered stays by their file's key)."""
    out: list[Any] = []
    col = E.c[by]
    for start in range(0, len(ids), 5000):
        q = select(E).where(among(session, col, ids[start : start + 5000])).order_by(E.c.id)
        out += list(session.execute(q.with_for_update(of=E) if _pg(session) else q))
    return out


def lock_accumulators(
    session: Session, keys: Sequence[tuple[str, int]], at: Any
) -> dict[tuple[str, int], Accumulators]:
    """Each (psn_no, year)'s accumulators, the row created at zero if new, locked."""
    if not keys:
        return {}
    keys = sorted(set(keys))
    names = ", ".join(ACCUMULATOR_FIELDS)
    if _pg(session):
        frame = pl.DataFrame({"psn_no": [k[0] for k in keys], "year": [k[1] for k in keys]})
        _temp(session, "_bk_acc_keys", "psn_no varchar(18), year smallint", frame)
        zeros = ", ".join("0" for _ in ACCUMULATOR_FIELDS)
        with _raw(session).cursor() as cur:
            cur.execute(
                f"INSERT INTO accumulators (psn_no, year, {names}, updated_at) SELECT psn_no, "
                f"year, {zeros}, %s FROM _bk_acc_keys ORDER BY psn_no, year "
                "ON CONFLICT (psn_no, year) DO NOTHING",
                (at,),
            )
            cur.execute(
                f"SELECT a.psn_no, a.year, {', '.join('a.' + f for f in ACCUMULATOR_FIELDS)} "
                "FROM accumulators a JOIN _bk_acc_keys k USING (psn_no, year) "
                "ORDER BY a.psn_no, a.year FOR UPDATE OF a"
            )
            rows = cur.fetchall()
        return {(r[0], r[1]): acc_row(r[2:]) for r in rows}
    q = sqlite.insert(A).values(psn_no=bindparam("p"), year=bindparam("y"), updated_at=at,
                                **ACC_ZERO)  # fmt: skip
    session.execute(q.on_conflict_do_nothing(), [{"p": p, "y": y} for p, y in keys])
    out: dict[tuple[str, int], Accumulators] = {}
    for start in range(0, len(keys), 400):
        part = keys[start : start + 400]
        sel = select(A.c.psn_no, A.c.year, *ACC_COLUMNS).where(
            tuple_(A.c.psn_no, A.c.year).in_(part))  # fmt: skip
        for r in session.execute(sel):
            out[(r[0], r[1])] = acc_row(r[2:])
    return out


def lock_accounts(session: Session, psn_nos: Sequence[str], at: Any) -> dict[str, int]:
    """Each insuree's account movement (``moved_fen``), the row created if new, locked."""
    if not psn_nos:
        return {}
    keys = sorted(set(psn_nos))
    if _pg(session):
        _temp(session, "_bk_acct_keys", "psn_no varchar(18)", pl.DataFrame({"psn_no": keys}))
        with _raw(session).cursor() as cur:
            cur.execute(
                "INSERT INTO account_balances (psn_no, moved_fen, updated_at) SELECT psn_no, 0, "
                "%s FROM _bk_acct_keys ORDER BY psn_no ON CONFLICT (psn_no) DO NOTHING",
                (at,),
            )
            cur.execute(
                "SELECT b.psn_no, b.moved_fen FROM account_balances b JOIN _bk_acct_keys k "
                "USING (psn_no) ORDER BY b.psn_no FOR UPDATE OF b"
            )
            return {r[0]: int(r[1]) for r in cur.fetchall()}
    q = sqlite.insert(B).values(psn_no=bindparam("p"), moved_fen=0, updated_at=at)
    session.execute(q.on_conflict_do_nothing(), [{"p": p} for p in keys])
    out: dict[str, int] = {}
    for start in range(0, len(keys), 500):
        sel = select(B.c.psn_no, B.c.moved_fen).where(B.c.psn_no.in_(keys[start : start + 500]))
        out.update({r[0]: int(r[1]) for r in session.execute(sel)})
    return out


def set_accumulators(session: Session, values: Mapping[tuple[str, int], Accumulators],
                     at: Any) -> None:  # fmt: skip
    """Set each (psn_no, year)'s accumulators (rows locked by ``lock_accumulators``)."""
    if not values:
        return
    rows = [(p, y, *(getattr(a, f) for f in ACCUMULATOR_FIELDS))
            for (p, y), a in sorted(values.items())]  # fmt: skip
    if _pg(session):
        frame = pl.DataFrame(rows, schema=["psn_no", "year", *ACCUMULATOR_FIELDS], orient="row")
        _temp(session, "_bk_acc_set", "psn_no varchar(18), year smallint, "
              + ", ".join(f"{f} bigint" for f in ACCUMULATOR_FIELDS), frame)  # fmt: skip
        sets = ", ".join(f"{f} = v.{f}" for f in ACCUMULATOR_FIELDS)
        with _raw(session).cursor() as cur:
            cur.execute(
                f"UPDATE accumulators t SET {sets}, updated_at = %s FROM _bk_acc_set v "
                "WHERE t.psn_no = v.psn_no AND t.year = v.year",
                (at,),
            )
        return
    q = update(A).where(A.c.psn_no == bindparam("k_p"), A.c.year == bindparam("k_y")).values(
        updated_at=at, **{f: bindparam(f"v_{f}") for f in ACCUMULATOR_FIELDS})  # fmt: skip
    session.execute(q, [{"k_p": r[0], "k_y": r[1],
                         **{f"v_{f}": v for f, v in zip(ACCUMULATOR_FIELDS, r[2:], strict=True)}}
                        for r in rows])  # fmt: skip


def move_accounts(session: Session, deltas: Mapping[str, int], at: Any) -> None:
    """Add each delta (payments negative) to the insuree's ``moved_fen``."""
    todo = sorted((p, d) for p, d in deltas.items() if d)
    if not todo:
        return
    if _pg(session):
        frame = pl.DataFrame(todo, schema=["psn_no", "d"], orient="row")
        _temp(session, "_bk_acct_move", "psn_no varchar(18), d bigint", frame)
        with _raw(session).cursor() as cur:
            cur.execute(
                "UPDATE account_balances t SET moved_fen = t.moved_fen + v.d, updated_at = %s "
                "FROM _bk_acct_move v WHERE t.psn_no = v.psn_no",
                (at,),
            )
        return
    q = update(B).where(B.c.psn_no == bindparam("k_p")).values(
        moved_fen=B.c.moved_fen + bindparam("d"), updated_at=at)  # fmt: skip
    session.execute(q, [{"k_p": p, "d": d} for p, d in todo])


def move_encounters(session: Session, rows: Sequence[Mapping[str, Any]], at: Any) -> None:
    """Existing encounters to their new state: ``id``, ``status``, ``version``,
    ``settlement_id`` and ``discharge_date`` per row."""
    if not rows:
        return
    if _pg(session):
        frame = pl.DataFrame(
            [(r["id"], r["status"], r["version"], r["settlement_id"], r["discharge_date"])
             for r in rows],
            schema={"id": pl.String, "status": pl.String, "version": pl.Int64,
                    "settlement_id": pl.String, "discharge_date": pl.Date},
            orient="row",
        )  # fmt: skip
        _temp(session, "_bk_enc_move", "id varchar(30), status varchar(12), version integer, "
              "settlement_id varchar(30), discharge_date date", frame)  # fmt: skip
        with _raw(session).cursor() as cur:
            cur.execute(
                "UPDATE encounters t SET status = v.status, version = v.version, "
                "settlement_id = v.settlement_id, discharge_date = v.discharge_date, "
                "updated_at = %s FROM _bk_enc_move v WHERE t.id = v.id",
                (at,),
            )
        return
    q = update(E).where(E.c.id == bindparam("k_id")).values(
        status=bindparam("status"), version=bindparam("version"),
        settlement_id=bindparam("settlement_id"), discharge_date=bindparam("discharge_date"),
        updated_at=at)  # fmt: skip
    session.execute(q, [{"k_id": r["id"], "status": r["status"], "version": r["version"],
                         "settlement_id": r["settlement_id"],
                         "discharge_date": r["discharge_date"]} for r in rows])  # fmt: skip
