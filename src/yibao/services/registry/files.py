"""Import a registry file all-or-nothing; export a registry (snapshot or every version).

Import (docs/IMPORT.md): every row is read and checked before anything is kept; bad
rows are reported by row, column and reason (the first ``max_problems``), and the file
is refused whole. A good file is merged by the versioning rule (``yibao.store.versioned``):
unchanged rows write nothing, a changed row becomes a new version and closes the old
one, and the change set records who imported which file, when. Re-importing the same
file changes nothing.

Export writes the same columns back, personal data masked unless ``unmasked`` (the
CLI's ``--unmasked``; the API will allow it by role only).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from yibao.core.errors import InvalidFile, Problem
from yibao.core.privacy import mask
from yibao.core.registry import Kind, kind_named
from yibao.core.registry.fields import value_text
from yibao.services.registry.tabular import Progress, format_of, open_table, write_table
from yibao.store.uow import UnitOfWork

__all__ = ["Imported", "export_file", "import_file", "import_rows", "stage_and_merge"]

MAX_PROBLEMS = 20


@dataclass(frozen=True, slots=True)
class Imported:
    """What an import did. ``change_set`` is None when nothing changed."""

    kind: str
    source: str
    rows: int
    inserted: int  # new versions: new rows and changed rows
    superseded: int  # old versions closed by changed rows
    change_set: int | None

    @property
    def unchanged(self) -> int:
        return self.rows - self.inserted


def _positions(kind: Kind, header: Sequence[str], source: str) -> list[int | None]:
    """Where each of the kind's columns is in the file (None: absent, all empty)."""
    by_name = {c.name: c.name for c in kind.columns} | {c.label: c.name for c in kind.columns}
    found: dict[str, int] = {}
    problems: list[Problem] = []
    for i, head in enumerate(header):
        name = by_name.get(head)
        if name is None:
            problems.append((f"row 1, column {i + 1}", f"unknown column {head!r}"))
        elif name in found:
            problems.append((f"row 1, column {i + 1}", f"column {name} appears twice"))
        else:
            found[name] = i
    problems += [
        ("row 1", f"required column {c.name} ({c.label}) is missing")
        for c in kind.columns
        if c.required and c.name not in found
    ]
    if problems:
        raise _refused(source, problems, 1, f"columns: {', '.join(kind.names)}")
    return [found.get(c.name) for c in kind.columns]


def _refused(source: str, problems: list[Problem], bad_rows: int, hint: str = "") -> InvalidFile:
    path, reason = problems[0]
    rows = "1 row" if bad_rows == 1 else f"{bad_rows} rows"
    more = f"; {hint}" if hint else ""
    return InvalidFile(
        f"{source}: {rows} refused, nothing imported; {path}: {reason}{more}",
        problems,
        bad_rows,
    )


def import_file(
    uow: UnitOfWork,
    kind: str,
    path: Path,
    *,
    actor: str,
    now: dt.datetime | None = None,
    max_problems: int = MAX_PROBLEMS,
    progress: Progress | None = None,
) -> Imported:
    """Import the registry file ``path`` (.csv or .xlsx) into ``kind``, all or nothing."""
    k = kind_named(kind)
    format_of(path)
    sha = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                sha.update(chunk)
    except OSError as exc:
        raise InvalidFile(f"{path}: cannot read: {exc.strerror or exc}") from exc
    table = open_table(path)
    try:
        return import_rows(
            uow,
            k,
            table.header,
            table.rows,
            source=path.name,
            sha256=sha.hexdigest(),
            actor=actor,
            now=now,
            max_problems=max_problems,
            progress=progress,
            total=table.total,
        )
    finally:
        table.close()


def import_rows(
    uow: UnitOfWork,
    kind: Kind,
    header: Sequence[str],
    rows: Iterable[tuple[int, Sequence[str]]],
    *,
    source: str,
    actor: str,
    sha256: str | None = None,
    now: dt.datetime | None = None,
    max_problems: int = MAX_PROBLEMS,
    progress: Progress | None = None,
    total: int | None = None,
) -> Imported:
    """Import rows of cell text (``header`` names the columns): one transaction."""
    with uow:
        done = stage_and_merge(
            uow,
            kind,
            header,
            rows,
            source=source,
            actor=actor,
            sha256=sha256,
            now=now,
            max_problems=max_problems,
            progress=progress,
            total=total,
        )
        uow.commit()
    return done


def stage_and_merge(
    uow: UnitOfWork,
    kind: Kind,
    header: Sequence[str],
    rows: Iterable[tuple[int, Sequence[str]]],
    *,
    source: str,
    actor: str,
    sha256: str | None,
    now: dt.datetime | None,
    max_problems: int,
    progress: Progress | None,
    total: int | None,
) -> Imported:
    """The import inside an open unit of work, which the caller commits."""
    positions = _positions(kind, header, source)
    reg = uow.registry(kind.name)
    problems: list[Problem] = []
    bad_rows = count = 0
    with reg.stage() as stage:
        for row_no, cells in rows:
            ordered = _ordered(cells, positions)
            if ordered is None:
                continue  # an empty line
            count += 1
            values, found = kind.parse_row(ordered)
            if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
                found.append(("", f"{len(cells)} cells, the header has {len(header)}"))
            if found:
                bad_rows += 1
                if len(problems) < max_problems:  # count them all, keep the first few
                    problems += [(_where(row_no, col), why) for col, why in found]
            elif not bad_rows:
                stage.add(row_no, values)
            if progress is not None and count % 20_000 == 0:
                progress(count, total)
    if progress is not None:
        progress(count, total)
    if bad_rows:
        raise _refused(source, problems[:max_problems], bad_rows)
    staged = reg.staged_problems(max_problems)
    if staged:
        found_rows = len({r for r, _, _ in staged})
        raise _refused(source, [(_where(r, c), why) for r, c, why in staged], found_rows)
    return _merge(uow, kind, source, sha256, actor, now, count)


def _merge(
    uow: UnitOfWork,
    kind: Kind,
    source: str,
    sha256: str | None,
    actor: str,
    now: dt.datetime | None,
    count: int,
) -> Imported:
    at = now or dt.datetime.now(dt.UTC)
    cs = uow.open_change_set(kind.name, source, sha256, actor, at)
    merged = uow.registry(kind.name).merge_staged(cs.id)
    if merged.inserted == 0 and merged.superseded == 0:
        uow.drop_change_set(cs)
        return Imported(kind.name, source, count, 0, 0, None)
    cs.rows_read, cs.rows_inserted, cs.rows_superseded = count, merged.inserted, merged.superseded
    uow.session.flush()
    return Imported(kind.name, source, count, merged.inserted, merged.superseded, cs.id)


def _where(row_no: int, column: str) -> str:
    return f"row {row_no}, {column}" if column else f"row {row_no}"


def _ordered(cells: Sequence[str], positions: Sequence[int | None]) -> list[str] | None:
    """The cells in the kind's column order, stripped; None for an empty line."""
    n = len(cells)
    out = [cells[i].strip() if i is not None and i < n else "" for i in positions]
    if not any(out) and not any(c.strip() for c in cells):
        return None
    return out


def export_rows(
    uow: UnitOfWork, kind: Kind, as_of: dt.date | None, unmasked: bool
) -> Iterator[list[str | int]]:
    """The registry's rows as cells: every current version, or those valid on
    ``as_of``; personal columns masked unless ``unmasked``."""
    personal = [(i, c.personal) for i, c in enumerate(kind.columns) if c.personal and not unmasked]
    for row in uow.registry(kind.name).rows(as_of):
        cells: list[str | int] = [
            v if isinstance(v, int) and not isinstance(v, bool) else value_text(v) for v in row
        ]
        for i, how in personal:
            cells[i] = mask(how, str(cells[i]))
        yield cells


def export_file(
    uow: UnitOfWork,
    kind: str,
    path: Path,
    *,
    fmt: str | None = None,
    as_of: dt.date | None = None,
    unmasked: bool = False,
    progress: Progress | None = None,
) -> int:
    """Write the registry ``kind`` to ``path`` (csv or xlsx); the number of rows."""
    k = kind_named(kind)
    fmt = fmt or format_of(path)
    with uow:
        total = uow.registry(k.name).count_current() if progress else None
        return write_table(
            path, fmt, k.names, export_rows(uow, k, as_of, unmasked), progress, total
        )
