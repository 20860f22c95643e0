"""The hospital service's repository: SQLAlchemy Core on the unit of work's session.

Few round trips on the hot path: one statement per read, ``executemany`` for fee lines
and postings, ``INSERT … ON CONFLICT DO NOTHING`` then ``SELECT … FOR UPDATE`` for the
rows a settlement locks (``FOR UPDATE`` is rendered on PostgreSQL only; SQLite's write
transaction, begun IMMEDIATE, already holds the database's one write lock). The
prebuilt statements (``Ops``) and their compilation are in hospital_ops.py.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple, cast

import psycopg
from psycopg.rows import namedtuple_row
from sqlalchemy import Engine, Row, Table, and_, bindparam, case, func, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from yibao.core.engine.model import Accumulators
from yibao.core.ledger import Account, Posting, Transaction
from yibao.store import bulk, resettle_repo
from yibao.store.registry_tables import Insuree
from yibao.store.service_tables import Deferral, TransferFiling
from yibao.store.settlement_record import Stored
from yibao.store.statements import (
    ACC_COLUMNS,
    AU,
    CP,
    EV,
    JP,
    JT,
    RQ,
    ZERO_ACC,
    A,
    B,
    E,
    K,
    L,
    Op,
    Ops,
    S,
    acc_row,
    compiled,
    has_rows,
    insert_rows,
    transaction_of,
    tx_rows,
)
from yibao.store.writes import Writes, write

INS = cast(Table, Insuree.__table__)

LOCK_ONE_BY_ONE = 64
"""Up to this many rows, locks are taken one statement a row in one round trip; above,
through a temporary table of the keys (≈ 5 round trips, whatever the count)."""

__all__ = [
    "LOCK_ONE_BY_ONE",
    "HospitalRepo",
    "KeyState",
    "Op",
    "Ops",
    "insert_rows",
    "key_state",
    "tx_rows",
]


def _stored(row: Row[Any] | None) -> Stored | None:
    """A settlements row with its trace rebuilt from the record (DECISIONS 0084)."""
    return None if row is None else Stored(row)


class KeyState(NamedTuple):
    """What the API checks of a key on each request."""

    secret_sha256: str
    role: str
    provider_code: str | None
    revoked: bool


_KEY_STATE = select(K.c.secret_sha256, K.c.role, K.c.provider_code, K.c.revoked_at).where(
    K.c.key_id == bindparam("key_id")
)
_KEY_SQL: dict[str, tuple[str, bool]] = {}


def key_state(engine: Engine, key_id: str) -> KeyState | None:
    """One key's row, read on a pooled connection outside any unit of work: one indexed
    read (``api_keys.key_id`` is unique) in one round trip — on PostgreSQL in autocommit,
    so without ``BEGIN`` and ``ROLLBACK`` around it. The API runs it on every request:
    a revoked key is refused from the next request on, by every worker. A lost
    connection is invalidated and raised as SQLAlchemy's ``DBAPIError`` (the API's 503)."""
    dialect = engine.dialect
    if dialect.name not in _KEY_SQL:
        c = _KEY_STATE.compile(dialect=dialect)
        _KEY_SQL[dialect.name] = (c.string, bool(c.positional))
    sql, positional = _KEY_SQL[dialect.name]
    args: Any = (key_id,) if positional else {"key_id": key_id}
    fairy = engine.raw_connection()
    driver: Any = fairy.driver_connection
    pg = dialect.name == "postgresql"
    try:
        if pg:
            driver.autocommit = True
        cur = driver.cursor()
        try:
            cur.execute(sql, args)
            row = cur.fetchone()
        finally:
            cur.close()
        if pg:
            driver.autocommit = False
    except dialect.loaded_dbapi.Error as exc:
        lost = dialect.is_disconnect(exc, driver, None)
        fairy.invalidate(exc)  # its state is unknown: never handed out again
        raise DBAPIError.instance(sql, None, exc, dialect.loaded_dbapi.Error,
                                  hide_parameters=True, connection_invalidated=lost,
                                  dialect=dialect) from exc  # fmt: skip
    finally:
        fairy.close()
    if row is None:
        return None
    return KeyState(str(row[0]), str(row[1]), row[2], row[3] is not None)


class HospitalRepo:
    """Reads and writes of the service tables inside one unit of work."""

    def __init__(self, session: Session) -> None:
        self.s = session
        self.pg = session.get_bind().dialect.name == "postgresql"

    def batch(self, todo: Sequence[Op]) -> list[list[Any]]:
        """Run statements in order and return each one's rows. On PostgreSQL they go in
        ONE round trip: psycopg's pipeline mode sends every statement (the parameters
        bound by the server, never inlined into the SQL text) and reads the results
        after one sync; psycopg prepares a statement on a connection once it has run a
        few times. On SQLite one by one. A failure raises SQLAlchemy's ``DBAPIError``
        (its parameters hidden: they hold ID numbers) and the unit of work rolls back,
        as for any statement (DECISIONS 0048, 0101)."""
        if not self.pg:
            out = []
            for stmt, params in todo:
                result = self.s.execute(stmt, params if isinstance(params, Sequence)
                                        else dict(params))  # fmt: skip
                rows = getattr(result, "returns_rows", True)  # ORM results of selects: rows
                out.append(list(result) if rows else [])
            return out
        conn = self.s.connection()
        raw: Any = conn.connection.driver_connection
        cursors: list[list[Any]] = []
        sql = ""
        try:
            with raw.pipeline():
                for stmt, params in todo:
                    many = params if isinstance(params, Sequence) else [params]
                    c = compiled(stmt, conn.dialect)
                    sql = c.sql
                    curs = []
                    for p in many:
                        cur = raw.cursor(row_factory=namedtuple_row)
                        cur.execute(c.sql, c.bind(p))
                        curs.append(cur)
                    cursors.append(curs)
        except psycopg.Error as exc:  # as SQLAlchemy would raise it (IntegrityError …)
            raise DBAPIError.instance(
                sql[:2000], None, exc, psycopg.Error, hide_parameters=True, dialect=conn.dialect
            ) from exc
        return [[row for cur in curs if has_rows(cur) for row in cur.fetchall()]
                for curs in cursors]  # fmt: skip

    def writes(self, at: dt.datetime) -> Writes:
        """An empty ``Writes`` at ``at`` for this database (filled by the services)."""
        return Writes(self.pg, at)

    def write_booking(self, writes: Writes) -> None:
        """Write new rows and moves (a settlement, a reversal, a deferral: one or many)
        through the store's one writer (``writes.write``: COPY for large batches on
        PostgreSQL, the pipelined multi-row INSERTs of ``batch`` for small ones)."""
        write(self.s, writes, self.batch)

    # -- encounters -------------------------------------------------------------------

    def encounter_with_lines(self, encounter_id: str, *,
                             lock: bool) -> tuple[Row[Any] | None, list[Row[Any]]]:  # fmt: skip
        """The encounter (locked) with ``earlier`` (``encounter_to_settle``) and its
        active fee lines, in one round trip: what a settlement reads first."""
        first = Ops.encounter_to_settle_locked if lock else Ops.encounter_to_settle
        found, rows = self.batch([(first, {"eid": encounter_id}),
                                  (Ops.active_lines, {"eid": encounter_id})])  # fmt: skip
        return (found[0] if found else None), rows

    def insuree_on(self, psn_no: str, on: dt.date) -> Row[Any] | None:
        """The insuree's registry version valid on ``on`` (the current version), if any."""
        (found,) = self.batch([(Ops.insuree_on, {"psn": psn_no, "on": on})])
        return found[0] if found else None

    # -- reads in bulk (re-entry, the queue, re-settlement) --------------------------------

    def line_keys(self, encounter_ids: Sequence[str]) -> dict[str, set[tuple[str, int, int]]]:
        """The active lines (sn, price_e6, qty_e4) of each of these encounters."""
        out: dict[str, set[tuple[str, int, int]]] = defaultdict(set)
        for start in range(0, len(encounter_ids), 5000):
            part = encounter_ids[start : start + 5000]
            q = select(L.c.encounter_id, L.c.sn, L.c.price_e6, L.c.qty_e4).where(
                bulk.among(self.s, L.c.encounter_id, part), L.c.cancelled_at.is_(None)
            )
            for eid, sn, price, qty in self.s.execute(q):
                out[eid].add((sn, price, qty))
        return out

    def accumulators_in(self, psn_nos: Sequence[str],
                        years: Sequence[int]) -> dict[tuple[str, int], Accumulators]:  # fmt: skip
        """The stored accumulators of these insurees in these years (rows that exist)."""
        out: dict[tuple[str, int], Accumulators] = {}
        for start in range(0, len(psn_nos), 5000):
            part = psn_nos[start : start + 5000]
            q = select(A.c.psn_no, A.c.year, *ACC_COLUMNS).where(
                bulk.among(self.s, A.c.psn_no, part), A.c.year.in_(list(years))
            )
            out.update({(r[0], r[1]): acc_row(r[2:]) for r in self.s.execute(q)})
        return out

    def admissions_of(self, psn_nos: Sequence[str]) -> list[Row[Any]]:
        """(psn_no, admit_time, id) of these insurees' stays not cancelled."""
        out: list[Row[Any]] = []
        for start in range(0, len(psn_nos), 5000):
            part = psn_nos[start : start + 5000]
            q = select(E.c.psn_no, E.c.admit_time, E.c.id).where(
                bulk.among(self.s, E.c.psn_no, part), E.c.status != "cancelled"
            )
            out += self.s.execute(q)
        return out

    def settlement_records(self, settlement_ids: Sequence[str]) -> list[Row[Any]]:
        """(encounter_id, record) of these settlements."""
        out: list[Row[Any]] = []
        for start in range(0, len(settlement_ids), 5000):
            part = settlement_ids[start : start + 5000]
            q = select(S.c.encounter_id, S.c.record).where(bulk.among(self.s, S.c.id, part))
            out += self.s.execute(q)
        return out

    def insuree_versions(self, psn_nos: Sequence[str]) -> list[Row[Any]]:
        """The current enrolment versions of these insurees, in (ID number, valid_from)
        order, 5,000 insurees a query."""
        out: list[Row[Any]] = []
        for start in range(0, len(psn_nos), 5000):
            part = psn_nos[start : start + 5000]
            q = (select(INS).where(INS.c.superseded_by.is_(None),
                                   bulk.among(self.s, INS.c.psn_no, part))
                 .order_by(INS.c.psn_no, INS.c.valid_from))  # fmt: skip
            out += self.s.execute(q)
        return out

    def insuree_and_locks(self, psn_no: str, on: dt.date, year: int, at: dt.datetime, *,
                          lock: bool) -> tuple[Row[Any] | None, Accumulators, int]:  # fmt: skip
        """What a settlement reads second, in one round trip: the insuree's version valid
        on ``on``, the insuree-year's accumulators and the account movement — with
        ``lock``, both rows created if new and locked (the lock statements of
        ``lock_accumulators_of`` and ``lock_accounts``), in that order."""
        if not lock:
            return (self.insuree_on(psn_no, on), self.accumulators(psn_no, year),
                    self.account_moved(psn_no))  # fmt: skip
        found, acc, moved = self.batch([
            (Ops.insuree_on, {"psn": psn_no, "on": on}),
            (Ops.lock_accumulators(self.pg), {"psn": psn_no, "year": year, "at": at}),
            (Ops.lock_account(self.pg), {"psn": psn_no, "at": at})])  # fmt: skip
        return (found[0] if found else None), acc_row(acc[0]), int(moved[0][0])

    def encounter(self, encounter_id: str, *, lock: bool = False) -> Row[Any] | None:
        q = select(E).where(E.c.id == encounter_id)
        return self.s.execute(q.with_for_update(of=E) if lock else q).first()

    def encounter_to_settle(self, encounter_id: str, *, lock: bool) -> Row[Any] | None:
        """The encounter (locked) with ``earlier``: how many stays of the same insuree,
        not cancelled, were admitted before it in the calendar year of its admission
        (本年第n次住院 = earlier + 1). One statement."""
        e2 = E.alias("e2")
        year = func.extract("year", E.c.admit_date)
        earlier = (select(func.count()).select_from(e2).where(
            e2.c.psn_no == E.c.psn_no, func.extract("year", e2.c.admit_date) == year,
            e2.c.status != "cancelled", e2.c.id != E.c.id,
            (e2.c.admit_time < E.c.admit_time) | and_(e2.c.admit_time == E.c.admit_time,
                                                      e2.c.id < E.c.id),
        ).scalar_subquery())  # fmt: skip
        q = select(E, earlier.label("earlier")).where(E.c.id == encounter_id)
        return self.s.execute(q.with_for_update(of=E) if lock else q).first()

    def encounters(self, *, provider_code: str | None, psn_no: str | None,
                   status: str | None, limit: int, offset: int) -> list[Row[Any]]:  # fmt: skip
        q = select(E).order_by(E.c.admit_time.desc(), E.c.id).limit(limit).offset(offset)
        for col, value in ((E.c.provider_code, provider_code), (E.c.psn_no, psn_no),
                           (E.c.status, status)):  # fmt: skip
            if value is not None:
                q = q.where(col == value)
        return list(self.s.execute(q))

    def insert_encounter(self, values: Mapping[str, Any]) -> None:
        self.s.execute(insert(E), [dict(values)])

    def update_encounter(self, encounter_id: str, values: Mapping[str, Any]) -> None:
        self.s.execute(update(E).where(E.c.id == encounter_id).values(**values))

    def add_event(self, values: Mapping[str, Any]) -> None:
        self.s.execute(insert(EV), [dict(values)])

    def events(self, encounter_id: str) -> list[Row[Any]]:
        q = select(EV).where(EV.c.encounter_id == encounter_id).order_by(EV.c.seq)
        return list(self.s.execute(q))

    def event_by_msgid(
        self, encounter_ids: Sequence[str], msgid: str, kind: str
    ) -> Row[Any] | None:
        q = select(EV).where(EV.c.msgid == msgid, EV.c.kind == kind,
                             EV.c.encounter_id.in_(encounter_ids))  # fmt: skip
        return self.s.execute(q).first()

    def encounters_with_upload(self, provider_code: str, msgid: str) -> list[str]:
        """The provider's encounters that have lines uploaded under ``msgid``."""
        q = (select(L.c.encounter_id).distinct().join(E, E.c.id == L.c.encounter_id)
             .where(L.c.upload_msgid == msgid, E.c.provider_code == provider_code))  # fmt: skip
        return [str(r[0]) for r in self.s.execute(q)]

    def encounters_with_cancel(self, provider_code: str, msgid: str) -> list[str]:
        """The provider's encounters whose fee lines ``msgid`` cancelled (2302)."""
        q = (select(EV.c.encounter_id).distinct().join(E, E.c.id == EV.c.encounter_id)
             .where(EV.c.msgid == msgid, EV.c.kind == "fees_cancelled",
                    E.c.provider_code == provider_code))  # fmt: skip
        return [str(r[0]) for r in self.s.execute(q)]

    def lines_by_cancel_msgid(self, encounter_id: str, msgid: str) -> list[Row[Any]]:
        q = (select(L).where(L.c.encounter_id == encounter_id, L.c.cancel_msgid == msgid)
             .order_by(L.c.id))  # fmt: skip
        return list(self.s.execute(q))

    def encounter_discharged_by(self, provider_code: str, msgid: str) -> str | None:
        """The provider's encounter that ``msgid`` discharged, if any."""
        q = (select(EV.c.encounter_id).join(E, E.c.id == EV.c.encounter_id)
             .where(EV.c.msgid == msgid, EV.c.kind == "discharged",
                    E.c.provider_code == provider_code))  # fmt: skip
        found = self.s.execute(q).first()
        return None if found is None else str(found[0])

    def encounter_by_admit_msgid(self, provider_code: str, msgid: str) -> Row[Any] | None:
        q = select(E).where(E.c.provider_code == provider_code, E.c.admit_msgid == msgid)
        return self.s.execute(q).first()

    def lock_encounters(self, ids: Sequence[str], *, by: str = "id") -> list[Row[Any]]:
        """The encounter rows of ``ids`` that exist, locked, by id (``bulk.lock_encounters``;
        ``by``: the column ``ids`` hold, e.g. ``source_key``)."""
        return bulk.lock_encounters(self.s, ids, by=by)

    def encounters_of(self, psn_nos: Sequence[str]) -> list[Row[Any]]:
        """Every encounter of these insurees."""
        return resettle_repo.encounters_of(self.s, psn_nos)

    # -- fee lines ----------------------------------------------------------------------

    def active_lines_of(self, encounter_ids: Sequence[str]) -> dict[str, list[Row[Any]]]:
        """The active fee lines of each stay, in upload order."""
        return resettle_repo.active_lines_of(self.s, encounter_ids)

    def line_totals(self, encounter_ids: Sequence[str]) -> dict[str, int]:
        """The active fee lines' total (fen) of each stay that has some."""
        out: dict[str, int] = {}
        for start in range(0, len(encounter_ids), 5000):
            part = list(encounter_ids[start : start + 5000])
            q = (select(L.c.encounter_id, func.sum(L.c.amount_fen))
                 .where(bulk.among(self.s, L.c.encounter_id, part), L.c.cancelled_at.is_(None))
                 .group_by(L.c.encounter_id))  # fmt: skip
            out.update({e: int(t) for e, t in self.s.execute(q)})
        return out

    def active_lines(self, encounter_id: str) -> list[Row[Any]]:
        q = (select(L).where(L.c.encounter_id == encounter_id, L.c.cancelled_at.is_(None))
             .order_by(L.c.id))  # fmt: skip
        return list(self.s.execute(q))

    def lines(self, encounter_id: str) -> list[Row[Any]]:
        q = select(L).where(L.c.encounter_id == encounter_id).order_by(L.c.id)
        return list(self.s.execute(q))

    def insert_lines(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            self.batch(insert_rows(L, rows))

    def cancel_lines(self, encounter_id: str, sns: Sequence[str] | None, at: dt.datetime,
                     msgid: str | None) -> int:  # fmt: skip
        q = update(L).where(L.c.encounter_id == encounter_id, L.c.cancelled_at.is_(None))
        if sns is not None:
            q = q.where(L.c.sn.in_(sns))
        result = self.s.execute(q.values(cancelled_at=at, cancel_msgid=msgid))
        return int(getattr(result, "rowcount", 0))

    def lines_by_upload_msgid(self, encounter_ids: Sequence[str], msgid: str) -> list[Row[Any]]:
        q = select(L).where(L.c.upload_msgid == msgid, L.c.encounter_id.in_(encounter_ids))
        return list(self.s.execute(q))

    # -- accumulators and accounts ---------------------------------------------------

    def lock_accumulators(self, psn_no: str, year: int, at: dt.datetime) -> Accumulators:
        """The insuree-year's accumulators, the row created at zero if new, locked until
        commit (``lock_accumulators_of`` of one key)."""
        return self.lock_accumulators_of([(psn_no, year)], at)[(psn_no, year)]

    def lock_accumulators_of(self, keys: Sequence[tuple[str, int]],
                             at: dt.datetime) -> dict[tuple[str, int], Accumulators]:  # fmt: skip
        """Each (psn_no, year)'s accumulators, the row created at zero if new, locked until
        commit, in key order — THE accumulator lock, for one settlement or a booking: up
        to ``LOCK_ONE_BY_ONE`` keys one ``INSERT … ON CONFLICT DO UPDATE … RETURNING``
        each (``Ops.lock_accumulators``: it locks the row it touches on PostgreSQL, as
        ``FOR UPDATE`` would), all in one round trip; more through a temporary table of
        the keys (``bulk.lock_accumulators``)."""
        keys = sorted(set(keys))
        if len(keys) > LOCK_ONE_BY_ONE:
            return bulk.lock_accumulators(self.s, keys, at)
        stmt = Ops.lock_accumulators(self.pg)
        got = self.batch([(stmt, {"psn": p, "year": y, "at": at}) for p, y in keys])
        return {k: acc_row(rows[0]) for k, rows in zip(keys, got, strict=True)}

    def accumulators(self, psn_no: str, year: int, *, lock: bool = False) -> Accumulators:
        q = select(*ACC_COLUMNS).where(A.c.psn_no == psn_no, A.c.year == year)
        row = self.s.execute(q.with_for_update() if lock else q).first()
        return ZERO_ACC if row is None else acc_row(row)

    def set_accumulators(self, psn_no: str, year: int, acc: Accumulators,
                         at: dt.datetime) -> None:  # fmt: skip
        self.s.execute(update(A).where(A.c.psn_no == psn_no, A.c.year == year)
                       .values(updated_at=at, **acc.as_dict()))  # fmt: skip

    def all_accumulators(self) -> dict[tuple[str, int], Accumulators]:
        q = select(A.c.psn_no, A.c.year, *ACC_COLUMNS)
        return {(r[0], r[1]): acc_row(r[2:]) for r in self.s.execute(q)}

    def years_of(self, psn_no: str) -> list[tuple[int, Accumulators]]:
        q = select(A.c.year, *ACC_COLUMNS).where(A.c.psn_no == psn_no).order_by(A.c.year)
        return [(r[0], acc_row(r[1:])) for r in self.s.execute(q)]

    def accumulators_of(self, keys: Sequence[tuple[str, int]]
                        ) -> dict[tuple[str, int], Accumulators]:  # fmt: skip
        """The stored accumulators of each (psn_no, year) that has a row."""
        return resettle_repo.accumulators_of(self.s, keys)

    def standing_settlements(self, *, begin: dt.date | None = None,
                             end: dt.date | None = None,
                             psn_nos: Sequence[str] | None = None) -> list[Row[Any]]:  # fmt: skip
        """Settlements that stand, with their encounter's ``insured_region``
        (``resettle_repo.standing_settlements``)."""
        return resettle_repo.standing_settlements(self.s, begin=begin, end=end, psn_nos=psn_nos)

    def lock_account(self, psn_no: str, at: dt.datetime) -> int:
        """The net movement of the insuree's personal account, locked until commit
        (``lock_accounts`` of one insuree)."""
        return self.lock_accounts([psn_no], at)[psn_no]

    def lock_accounts(self, psn_nos: Sequence[str], at: dt.datetime) -> dict[str, int]:
        """Each insuree's account movement, the row created if new, locked until commit,
        in order — as ``lock_accumulators_of`` (``Ops.lock_account`` one by one in one
        round trip, or ``bulk.lock_accounts``)."""
        keys = sorted(set(psn_nos))
        if len(keys) > LOCK_ONE_BY_ONE:
            return bulk.lock_accounts(self.s, keys, at)
        stmt = Ops.lock_account(self.pg)
        got = self.batch([(stmt, {"psn": p, "at": at}) for p in keys])
        return {k: int(rows[0][0]) for k, rows in zip(keys, got, strict=True)}

    def account_moved(self, psn_no: str, *, lock: bool = False) -> int:
        q = select(B.c.moved_fen).where(B.c.psn_no == psn_no)
        got = self.s.execute(q.with_for_update() if lock else q).scalar()
        return int(got or 0)

    def accounts_moved(self, psns: Sequence[str]) -> dict[str, int]:
        """Each of ``psns``' account movement as stored (an insuree without one: absent),
        read 5,000 at a time."""
        out: dict[str, int] = {}
        for start in range(0, len(psns), 5000):
            q = select(B.c.psn_no, B.c.moved_fen).where(
                bulk.among(self.s, B.c.psn_no, psns[start : start + 5000])
            )
            out.update({p: int(m) for p, m in self.s.execute(q)})
        return out

    def account_movements(self) -> dict[str, int]:
        """Every insuree's net account movement (for the ledger check)."""
        return {r[0]: int(r[1]) for r in self.s.execute(select(B.c.psn_no, B.c.moved_fen))}

    def move_account(self, psn_no: str, delta_fen: int, at: dt.datetime) -> None:
        if delta_fen:
            self.s.execute(update(B).where(B.c.psn_no == psn_no)
                           .values(moved_fen=B.c.moved_fen + delta_fen, updated_at=at))  # fmt: skip

    # -- settlements ---------------------------------------------------------------------

    def insert_settlement(self, values: Mapping[str, Any]) -> None:
        self.s.execute(insert(S), [dict(values)])

    def settlement(self, settlement_id: str) -> Stored | None:
        return _stored(self.s.execute(select(S).where(S.c.id == settlement_id)).first())

    def settlements(
        self, *, encounter_id: str | None = None, kinds: Iterable[str] = ("settlement", "reversal")
    ) -> list[Stored]:
        q = select(S).where(S.c.kind.in_(list(kinds))).order_by(S.c.settled_at, S.c.id)
        if encounter_id is not None:
            q = q.where(S.c.encounter_id == encounter_id)
        return [Stored(r) for r in self.s.execute(q)]

    def settlement_by_msgid(self, provider_code: str, msgid: str) -> Stored | None:
        q = select(S).where(S.c.provider_code == provider_code, S.c.msgid == msgid,
                            S.c.kind == "settlement")  # fmt: skip
        return _stored(self.s.execute(q).first())

    def reversal_by_msgid(self, provider_code: str, msgid: str) -> Stored | None:
        q = select(S).where(S.c.provider_code == provider_code, S.c.msgid == msgid,
                            S.c.kind == "reversal")  # fmt: skip
        return _stored(self.s.execute(q).first())

    def reversal_of(self, settlement_id: str) -> Stored | None:
        return _stored(self.s.execute(select(S).where(S.c.reverses == settlement_id)).first())

    def statement_rows(self, provider_code: str, begin: dt.date, end: dt.date) -> list[Stored]:
        q = select(S).where(S.c.provider_code == provider_code, S.c.booked_on >= begin,
                            S.c.booked_on <= end).order_by(S.c.id)  # fmt: skip
        return [Stored(r) for r in self.s.execute(q)]

    # -- journal ---------------------------------------------------------------------------

    def insert_transaction(self, tx: Transaction, at: dt.datetime) -> None:
        head, rows = tx_rows(tx, at)
        self.batch([(Ops.insert_tx, head), *insert_rows(JP, rows)])

    def transactions(
        self,
        ids: Sequence[str] | None = None,
        *,
        provider_code: str | None = None,
        begin: dt.date | None = None,
        end: dt.date | None = None,
        psn_no: str | None = None,
        year: int | None = None,
    ) -> list[Transaction]:
        """Stored transactions rebuilt, in recording order, filtered as asked."""
        q = select(JT).order_by(JT.c.recorded_at, JT.c.id)
        for col, value in ((JT.c.provider_code, provider_code), (JT.c.psn_no, psn_no),
                           (JT.c.accumulator_year, year)):  # fmt: skip
            if value is not None:
                q = q.where(col == value)
        if ids is not None:
            q = q.where(JT.c.id.in_(list(ids)))
        if begin is not None:
            q = q.where(JT.c.booked_on >= begin)
        if end is not None:
            q = q.where(JT.c.booked_on <= end)
        heads = list(self.s.execute(q))
        if not heads:
            return []
        postings: dict[str, list[Posting]] = {h.id: [] for h in heads}
        pq = select(JP.c.tx_id, JP.c.code, JP.c.book, JP.c.key, JP.c.amount_fen).order_by(
            JP.c.tx_id, JP.c.seq
        )
        if ids is not None or len(heads) < 500:
            pq = pq.where(JP.c.tx_id.in_(list(postings)))
        for r in self.s.execute(pq):
            if r.tx_id in postings:
                postings[r.tx_id].append(Posting(Account(r.code, r.book, r.key), r.amount_fen))
        return [transaction_of(h, postings[h.id]) for h in heads]

    # -- audit, keys, requests, compensations --------------------------------------------

    def audit(self, values: Mapping[str, Any]) -> None:
        self.s.execute(insert(AU), [dict(values)])

    def audit_entries(self, *, entity: str | None, entity_id: str | None,
                      limit: int) -> list[Row[Any]]:  # fmt: skip
        q = select(AU).order_by(AU.c.id.desc()).limit(limit)
        if entity is not None:
            q = q.where(AU.c.entity == entity)
        if entity_id is not None:
            q = q.where(AU.c.entity_id == entity_id)
        return list(self.s.execute(q))

    def insert_key(self, values: Mapping[str, Any]) -> None:
        self.s.execute(insert(K), [dict(values)])

    def key(self, key_id: str) -> Row[Any] | None:
        return self.s.execute(select(K).where(K.c.key_id == key_id)).first()

    def api_keys(self) -> list[Row[Any]]:
        return list(self.s.execute(select(K).order_by(K.c.id)))

    def revoke_key(self, key_id: str, at: dt.datetime) -> int:
        q = update(K).where(K.c.key_id == key_id, K.c.revoked_at.is_(None)).values(revoked_at=at)
        return int(getattr(self.s.execute(q), "rowcount", 0))

    def request(self, principal: str, key: str) -> Row[Any] | None:
        q = select(RQ).where(RQ.c.principal == principal, RQ.c.key == key)
        return self.s.execute(q).first()

    def insert_request(self, values: Mapping[str, Any]) -> None:
        self.s.execute(insert(RQ), [dict(values)])

    def compensation(self, principal: str, msgid: str) -> Row[Any] | None:
        q = select(CP).where(CP.c.principal == principal, CP.c.msgid == msgid)
        return self.s.execute(q).first()

    def insert_compensation(self, values: Mapping[str, Any]) -> None:
        self.s.execute(insert(CP), [dict(values)])

    def counts(self) -> dict[str, int]:
        """Rows per service table (tests: nothing persisted on a refused request)."""
        tables = (E, EV, L, S, A, B, JT, JP, AU, RQ, CP)
        return {t.name: int(self.s.execute(select(func.count()).select_from(t)).scalar_one())
                for t in tables}  # fmt: skip

    # -- the daily report (日报, issue 17): aggregate reads ------------------------------
    # Kept together at the end of the class; used by services/reports/daily.py only.

    def journal_sums(self, end: dt.date, codes: Sequence[str]) -> list[Row[Any]]:
        """Sums of the postings to ``codes`` booked up to ``end``, per (booked_on, kind,
        provider, code, book): the provider is the transaction's (settlements,
        reversals), else the posting's key (advances and clearings are keyed by the
        hospital). Columns: booked_on, kind, provider, code, book, fen."""
        provider = func.coalesce(JT.c.provider_code, JP.c.key).label("provider")
        q = (select(JT.c.booked_on, JT.c.kind, provider, JP.c.code, JP.c.book,
                    func.sum(JP.c.amount_fen).label("fen"))
             .join(JP, JP.c.tx_id == JT.c.id)
             .where(JT.c.booked_on <= end, JP.c.code.in_(list(codes)))
             .group_by(JT.c.booked_on, JT.c.kind, provider, JP.c.code, JP.c.book))  # fmt: skip
        return list(self.s.execute(q))

    def journal_counts(self, begin: dt.date, end: dt.date) -> list[Row[Any]]:
        """Settlement and reversal transactions per (booked_on, kind, provider_code)
        booked ``begin..end``. Columns: booked_on, kind, provider_code, n."""
        q = (select(JT.c.booked_on, JT.c.kind, JT.c.provider_code, func.count().label("n"))
             .where(JT.c.booked_on >= begin, JT.c.booked_on <= end,
                    JT.c.kind.in_(["settlement", "reversal"]))
             .group_by(JT.c.booked_on, JT.c.kind, JT.c.provider_code))  # fmt: skip
        return list(self.s.execute(q))

    def day_settlement_sums(self, day: dt.date,
                            columns: Mapping[str, tuple[str, Sequence[str] | None]],
                            ) -> list[Row[Any]]:  # fmt: skip
        """One row per settlement or reversal booked on ``day``, in (recorded_at, id)
        order: its head (tx_id, kind, recorded_at, settlement_id, encounter_id, psn_no,
        provider_code) and, for each ``name: (code, books)`` of ``columns``, the sum of
        its postings to that code (in those books; None: any book) as column ``name``."""
        sums = [func.coalesce(func.sum(case((and_(JP.c.code == code, JP.c.book.in_(list(books)))
                                             if books is not None else (JP.c.code == code),
                                             JP.c.amount_fen), else_=0)), 0).label(name)
                for name, (code, books) in columns.items()]  # fmt: skip
        head = (JT.c.id, JT.c.kind, JT.c.recorded_at, JT.c.settlement_id, JT.c.encounter_id,
                JT.c.psn_no, JT.c.provider_code)  # fmt: skip
        q = (select(JT.c.id.label("tx_id"), *head[1:], *sums)
             .join(JP, JP.c.tx_id == JT.c.id)
             .where(JT.c.booked_on == day, JT.c.kind.in_(["settlement", "reversal"]))
             .group_by(*head).order_by(JT.c.recorded_at, JT.c.id))  # fmt: skip
        return list(self.s.execute(q))

    _STAY_COLUMNS = ("id", "provider_code", "psn_no", "admit_date", "discharge_date", "status",
                     "covid_status", "diagnoses", "transfer_from")  # fmt: skip

    def stays_between(self, begin: dt.date, end: dt.date,
                      also: Sequence[str] = ()) -> list[Row[Any]]:  # fmt: skip
        """Stays not cancelled that were in hospital some day of ``begin..end``
        (admitted by ``end``, not discharged before ``begin``), and the stays ``also``
        names. Columns: ``_STAY_COLUMNS``."""
        cols = [E.c[c] for c in self._STAY_COLUMNS]
        q = select(*cols).where(E.c.status != "cancelled", E.c.admit_date <= end,
                                E.c.discharge_date.is_(None)
                                | (E.c.discharge_date >= begin))  # fmt: skip
        out = list(self.s.execute(q))
        seen = {r.id for r in out}
        missing = sorted(set(also) - seen)
        for start in range(0, len(missing), 5000):
            part = missing[start : start + 5000]
            out += list(self.s.execute(select(*cols).where(bulk.among(self.s, E.c.id, part))))
        return out

    def deferrals_open_on(self, day: dt.date) -> list[Row[Any]]:
        """Deferrals whose advance is booked by ``day`` and not cleared by then (the
        queue as it stood at the end of ``day``, by the journal's business dates).
        Columns: id, encounter_id, provider_code, reason, discharge_date, deferred_at,
        advance_fen, medfee_sumamt, advanced_on."""
        d = cast(Table, Deferral.__table__)
        adv, clr = JT.alias("adv"), JT.alias("clr")
        q = (select(d.c.id, d.c.encounter_id, d.c.provider_code, d.c.reason,
                    d.c.discharge_date, d.c.deferred_at, d.c.advance_fen, d.c.medfee_sumamt,
                    adv.c.booked_on.label("advanced_on"))
             .join(adv, adv.c.id == d.c.advance_tx_id)
             .outerjoin(clr, clr.c.id == d.c.clearing_tx_id)
             .where(adv.c.booked_on <= day, clr.c.id.is_(None) | (clr.c.booked_on > day))
             .order_by(d.c.provider_code, d.c.reason, d.c.deferred_at, d.c.id))  # fmt: skip
        return list(self.s.execute(q))

    def transfers_waiting_on(self, day: dt.date) -> list[Row[Any]]:
        """Transfer filings (转院备案) standing at the end of ``day`` (filed for a date by
        then, not cancelled by then, valid on it) whose receiving stay is not admitted
        by then. Columns: id, from_provider, from_encounter_id, psn_no, to_provider,
        transfer_date, valid_to."""
        t = cast(Table, TransferFiling.__table__)
        e2 = E.alias("recv")
        received = (select(e2.c.id).where(e2.c.transfer_from == t.c.from_encounter_id,
                                          e2.c.status != "cancelled", e2.c.admit_date <= day)
                    .exists())  # fmt: skip
        q = (select(t.c.id, t.c.from_provider, t.c.from_encounter_id, t.c.psn_no,
                    t.c.to_provider, t.c.transfer_date, t.c.valid_to)
             .where(t.c.transfer_date <= day, t.c.valid_from <= day,
                    t.c.valid_to.is_(None) | (t.c.valid_to >= day),
                    t.c.cancelled_at.is_(None), ~received)
             .order_by(t.c.transfer_date, t.c.id))  # fmt: skip
        return list(self.s.execute(q))
