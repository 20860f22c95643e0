"""The versioning rule, once for every registry: stage, check, merge, read as of a date.

An import streams its rows into a staging table (PostgreSQL: ``COPY``; SQLite:
``executemany`` in large batches), checks them against each other and against the
current versions with a few set-based queries, then merges in two statements:

1. close (``superseded_by = change set``) each current version whose (key, valid_from)
   is staged with different content (any column ``IS DISTINCT FROM`` the staged one);
2. insert every staged row that has no current version with its (key, valid_from).

Unchanged rows write nothing, so a re-import changes nothing. All of it runs in the
caller's transaction (the unit of work), so a refused file leaves no trace.
docs/STORE.md, "Versioning".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from types import TracebackType
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Date,
    Integer,
    MetaData,
    Row,
    Table,
    and_,
    bindparam,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from yibao.core.privacy import mask
from yibao.core.registry import Kind
from yibao.core.registry.fields import Value
from yibao.store.registry_tables import ChangeSet, Versioned, model_for

__all__ = ["Merged", "Registry", "Stage"]

_SQLITE_BATCH = 50_000
_WHERE: dict[tuple[Any, ...], Any] = {}  # Registry.where's statements, by shape
_FAR = dt.date(9999, 12, 31)


@dataclass(frozen=True, slots=True)
class Merged:
    """What a merge wrote: new versions inserted, old versions closed."""

    inserted: int
    superseded: int


class Stage:
    """Rows on their way in: ``add(row_no, values)``, values in the kind's column order."""

    def __init__(self, registry: Registry) -> None:
        self._reg = registry
        self._names = [*registry.kind.names, "row_no"]
        self._dates = [i for i, c in enumerate(registry._cols()) if isinstance(c.type, Date)]
        self._pg = registry.dialect == "postgresql"
        self._buf: list[tuple[Any, ...]] = []
        self._copy: Any = None
        self._copy_cm: Any = None
        self._cursor: Any = None
        self.count = 0

    def __enter__(self) -> Stage:
        table = self._reg.staging_table
        conn = self._reg.session.connection()
        table.drop(conn, checkfirst=True)
        table.create(conn)
        if self._pg:
            raw = conn.connection.driver_connection
            assert raw is not None
            self._cursor = raw.cursor()
            cols = ", ".join(self._names)
            self._copy_cm = self._cursor.copy(f"COPY {table.name} ({cols}) FROM STDIN")
            self._copy = self._copy_cm.__enter__()
        return self

    def add(self, row_no: int, values: Sequence[Value]) -> None:
        self.count += 1
        if self._pg:
            self._copy.write_row((*values, row_no))
            return
        row = [*values, row_no]
        for i in self._dates:  # SQLite keeps dates as ISO text, as SQLAlchemy writes them
            day = row[i]
            if isinstance(day, dt.date):
                row[i] = day.isoformat()
        self._buf.append(tuple(row))
        if len(self._buf) >= _SQLITE_BATCH:
            self._flush()

    def _flush(self) -> None:
        if not self._buf:
            return
        marks = ", ".join("?" * len(self._names))
        table, cols = self._reg.staging_table.name, ", ".join(self._names)
        sql = f"INSERT INTO {table} ({cols}) VALUES ({marks})"
        self._reg.session.connection().exec_driver_sql(sql, self._buf)
        self._buf.clear()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._pg:
            self._copy_cm.__exit__(exc_type, exc, tb)
            self._cursor.close()
        elif exc_type is None:
            self._flush()


class Registry:
    """The versions of one registry (``kind``) in the unit of work's session."""

    def __init__(self, session: Session, kind: Kind) -> None:
        self.session = session
        self.kind = kind
        self.model: type[Versioned] = model_for(kind.name)
        self.table: Table = self.model.__table__  # type: ignore[attr-defined]
        self.dialect = session.get_bind().dialect.name

    @cached_property
    def staging_table(self) -> Table:
        """The temporary table an import streams into (built when first needed)."""
        cols = [Column(c.name, c.type, nullable=True) for c in self._cols()]
        return Table(
            f"stage_{self.table.name}",
            MetaData(),
            *cols,
            Column("row_no", Integer, nullable=False),
            prefixes=["TEMPORARY"],
            postgresql_on_commit="DROP",
        )

    # -- reading -------------------------------------------------------------------

    def _cols(self) -> list[Column[Any]]:
        return [self.table.c[n] for n in self.kind.names]

    def current(self) -> ColumnElement[bool]:
        return self.table.c.superseded_by.is_(None)

    def valid_on(self, on: dt.date | ColumnElement[Any]) -> ColumnElement[bool]:
        c = self.table.c
        return and_(c.valid_from <= on, or_(c.valid_to.is_(None), c.valid_to >= on))

    def where(
        self,
        *conds: ColumnElement[bool],
        on: dt.date | None = None,
        **key: str | int | Sequence[str] | Sequence[int],
    ) -> list[Row[Any]]:
        """Current versions matching ``key`` (a value, or a list for ``IN``), valid on
        ``on`` when given, in key and date order. Without extra ``conds`` the statement
        is built once per shape and reused (resolution runs it per settlement)."""
        shape = tuple((n, isinstance(v, str | int)) for n, v in key.items())
        params: dict[str, Any] = {
            n: v if isinstance(v, str | int) else list(v) for n, v in key.items()
        }
        if on is not None:
            params["on"] = on
        if conds:
            return list(self.session.execute(self._where(shape, on is not None, conds), params))
        cache_key = (self.kind.name, shape, on is not None)
        q = _WHERE.get(cache_key)
        if q is None:
            q = _WHERE[cache_key] = self._where(shape, on is not None, ())
        return list(self.session.execute(q, params))

    def _where(self, shape: tuple[tuple[str, bool], ...], dated: bool, conds: Sequence[Any]) -> Any:
        c = self.table.c
        q = select(*self._cols()).where(self.current(), *conds)
        for name, one in shape:
            param: Any = bindparam(name, expanding=not one)
            q = q.where(c[name] == param if one else c[name].in_(param))
        if dated:
            q = q.where(self.valid_on(bindparam("on", type_=Date)))
        return q.order_by(*(c[k] for k in self.kind.key), c.valid_from)

    def rows(self, on: dt.date | None = None) -> Iterator[Row[Any]]:
        """Every current version (valid on ``on`` when given), in key and date order:
        what an export writes. Streams."""
        c = self.table.c
        q = select(*self._cols()).where(self.current())
        if on is not None:
            q = q.where(self.valid_on(on))
        q = q.order_by(*(c[k] for k in self.kind.key), c.valid_from)
        yield from self.session.execute(q.execution_options(yield_per=10_000))

    def history(self, **key: str | int) -> list[Row[Any]]:
        """Every version of one key, closed ones too, with who recorded it and when and
        the change set that closed it: the audit view."""
        c, cs = self.table.c, ChangeSet.__table__.c
        q = (
            select(
                *self._cols(),
                c.superseded_by,
                cs.id.label("change_set"),
                cs.actor,
                cs.recorded_at,
                cs.source,
            )
            .join_from(self.table, ChangeSet.__table__, cs.id == c.change_set_id)
            .where(*(c[k] == v for k, v in key.items()))
            .order_by(c.valid_from, c.id)
        )
        return list(self.session.execute(q))

    def distinct(self, *names: str) -> list[Row[Any]]:
        """The distinct values of ``names`` over current versions (e.g. editions)."""
        cache_key = (self.kind.name, "distinct", names)
        q = _WHERE.get(cache_key)
        if q is None:
            cols = [self.table.c[n] for n in names]
            q = _WHERE[cache_key] = select(*cols).where(self.current()).distinct().order_by(*cols)
        return list(self.session.execute(q))

    def count_current(self) -> int:
        q = select(func.count()).select_from(self.table).where(self.current())
        return int(self.session.execute(q).scalar_one())

    # -- writing -------------------------------------------------------------------

    def stage(self) -> Stage:
        """Open the staging table; on PostgreSQL also lock the registry against other
        writers (readers go on) until the transaction ends."""
        if self.dialect == "postgresql":
            self.session.execute(text(f"LOCK TABLE {self.table.name} IN SHARE ROW EXCLUSIVE MODE"))
        return Stage(self)

    def index_staging(self) -> None:
        """Prepare the staged rows for the checks and the merge: SQLite joins through an
        index; PostgreSQL hashes and sorts better without one, given fresh statistics."""
        s = self.staging_table
        conn = self.session.connection()
        if self.dialect == "postgresql":
            conn.exec_driver_sql(f"ANALYZE {s.name}")
            return
        keys = ", ".join([*self.kind.key, "valid_from"])
        conn.exec_driver_sql(f"CREATE INDEX ix_{s.name} ON {s.name} ({keys})")

    def _same_version(self, a: Any, b: Any) -> ColumnElement[bool]:
        return and_(*(a.c[k] == b.c[k] for k in (*self.kind.key, "valid_from")))

    def staged_problems(self, limit: int) -> list[tuple[int, str, str]]:
        """Problems between staged rows and with the stored versions, as
        (row_no, column, reason), first rows first; stops at the first kind found."""
        self.index_staging()
        for check in (
            self._duplicates,
            self._uniform,
            self._overlaps_in_file,
            self._overlaps_stored,
            self._references,
        ):
            found = check(limit)
            if found:
                return sorted(found)[:limit]
        return []

    def _key_text(self, row: Any) -> str:
        """The row's key for a message, personal parts masked."""
        return ", ".join(
            f"{k} {mask(self.kind.column(k).personal, str(getattr(row, k)))}" for k in self.kind.key
        )

    def _duplicates(self, limit: int) -> list[tuple[int, str, str]]:
        s = self.staging_table
        keys = [s.c[k] for k in self.kind.key]
        q = (
            select(*keys, s.c.valid_from, func.min(s.c.row_no), func.max(s.c.row_no))
            .group_by(*keys, s.c.valid_from)
            .having(func.count() > 1)
            .limit(limit)
        )
        return [
            (r[-1], "valid_from", f"{self._key_text(r)} from {r.valid_from} is also row {r[-2]}")
            for r in self.session.execute(q)
        ]

    def _uniform(self, limit: int) -> list[tuple[int, str, str]]:
        if self.kind.uniform is None:
            return []
        group, cols = self.kind.uniform
        s = self.staging_table
        out: list[tuple[int, str, str]] = []
        for col in cols:
            first = (
                select(s.c[group], func.min(s.c.row_no).label("first"))
                .group_by(s.c[group])
                .subquery()
            )
            ref = s.alias("ref")
            q = (
                select(s.c.row_no, s.c[group], first.c.first)
                .join(first, first.c[group] == s.c[group])
                .join(ref, ref.c.row_no == first.c.first)
                .where(s.c[col] != ref.c[col])
                .order_by(s.c.row_no)
                .limit(limit)
            )
            out += [
                (r.row_no, col, f"differs from row {r.first} of {group} {r[1]}: one per {group}")
                for r in self.session.execute(q)
            ]
        return out

    def _overlaps_in_file(self, limit: int) -> list[tuple[int, str, str]]:
        s = self.staging_table
        part = [s.c[k] for k in self.kind.key]
        order = s.c.valid_from
        inner = select(
            s.c.row_no,
            s.c.valid_from,
            func.lag(s.c.row_no).over(partition_by=part, order_by=order).label("prev_row"),
            func.lag(s.c.valid_to).over(partition_by=part, order_by=order).label("prev_to"),
            *part,
        ).subquery()
        q = (
            select(inner)
            .where(inner.c.prev_row.is_not(None))
            .where(or_(inner.c.prev_to.is_(None), inner.c.prev_to >= inner.c.valid_from))
            .limit(limit)
        )
        return [
            (r.row_no, "valid_from", f"{self._key_text(r)}: period overlaps row {r.prev_row}")
            for r in self.session.execute(q)
        ]

    def _overlaps_stored(self, limit: int) -> list[tuple[int, str, str]]:
        """A staged row against the current versions of its key at another valid_from
        that the file does not restate (restated ones are checked in the file)."""
        s, t = self.staging_table, self.table
        restated = exists().where(self._same_version(s.alias("restated"), t))
        q = (
            select(s.c.row_no, t.c.valid_from, t.c.valid_to, *(s.c[k] for k in self.kind.key))
            .join(t, and_(*(t.c[k] == s.c[k] for k in self.kind.key)))
            .where(self.current(), t.c.valid_from != s.c.valid_from, ~restated)
            .where(s.c.valid_from <= func.coalesce(t.c.valid_to, literal(_FAR)))
            .where(t.c.valid_from <= func.coalesce(s.c.valid_to, literal(_FAR)))
            .order_by(s.c.row_no)
            .limit(limit)
        )
        return [
            (
                r.row_no,
                "valid_from",
                f"{self._key_text(r)}: period overlaps the stored version from {r.valid_from} "
                f"to {r.valid_to or 'open'}; close that one (valid_to) in the same file",
            )
            for r in self.session.execute(q)
        ]

    def _references(self, limit: int) -> list[tuple[int, str, str]]:
        from yibao.core.registry import kind_named

        s = self.staging_table
        out: list[tuple[int, str, str]] = []
        for col, kind, target_col in self.kind.references:
            target = model_for(kind).__table__  # type: ignore[attr-defined]
            q = (
                select(s.c.row_no, s.c[col])
                .where(
                    ~exists().where(
                        target.c[target_col] == s.c[col], target.c.superseded_by.is_(None)
                    )
                )
                .order_by(s.c.row_no)
                .limit(limit)
            )
            title = kind_named(kind).title
            out += [(r[0], col, f"{r[1]} is not in {title}") for r in self.session.execute(q)]
        return out

    def merge_staged(self, change_set_id: int) -> Merged:
        """Close changed versions, insert new ones; unchanged rows write nothing."""
        s, t = self.staging_table, self.table
        differs = or_(*(s.c[n].is_distinct_from(t.c[n]) for n in self.kind.names))
        changed = exists().where(self._same_version(s, t), differs)
        closed = _rowcount(
            self.session.execute(
                update(t).where(self.current(), changed).values(superseded_by=change_set_id)
            )
        )
        have = exists().where(self._same_version(t, s), self.current())
        names = list(self.kind.names)
        rows = select(*(s.c[n] for n in names), literal(change_set_id)).where(~have)
        added = _rowcount(
            self.session.execute(
                insert(t).from_select([*names, "change_set_id"], rows),
                execution_options={"preserve_rowcount": True},
            )
        )
        self.staging_table.drop(self.session.connection())
        return Merged(inserted=added, superseded=closed)

    def drop_staging(self) -> None:
        self.staging_table.drop(self.session.connection(), checkfirst=True)


def _rowcount(result: Any) -> int:
    """Rows a DML statement touched (a ``CursorResult``'s ``rowcount``)."""
    n = result.rowcount
    if not isinstance(n, int) or n < 0:
        raise RuntimeError("the driver did not report how many rows were written")
    return n
