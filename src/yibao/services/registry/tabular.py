"""Registry files: read CSV/XLSX into rows of cell text, write them back.

CSV is UTF-8, with or without a byte-order mark (Excel writes one); exports write one
so that Excel opens them in the right encoding. XLSX is read with openpyxl in read-only
mode, first sheet; cells become text exactly as ``yibao.core.registry.fields``
expects (dates ISO, whole numbers without ``.0``). Row numbers are the file's own:
the header is row 1. docs/IMPORT.md.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yibao.core.errors import InvalidFile

__all__ = ["FORMATS", "Progress", "Table", "open_table", "write_table"]

FORMATS = ("csv", "xlsx")
Progress = Callable[[int, int | None], None]  # (rows done, rows in all or None)


@dataclass
class Table:
    """An open file: its header and an iterator of (row number, cells)."""

    header: list[str]
    rows: Iterator[tuple[int, list[str]]]
    total: int | None  # data rows, when cheap to know
    close: Callable[[], None]


def format_of(path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise InvalidFile(f"{path.name}: unknown file type .{suffix}; use .csv or .xlsx")
    return suffix


def open_table(path: Path) -> Table:
    """Open ``path`` (.csv or .xlsx); ``InvalidFile`` when it cannot be read."""
    fmt = format_of(path)
    try:
        return _open_csv(path) if fmt == "csv" else _open_xlsx(path)
    except OSError as exc:
        raise InvalidFile(f"{path}: cannot read: {exc.strerror or exc}") from exc


def _count_lines(path: Path) -> int:
    n = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            n += chunk.count(b"\n")
    return n


def _open_csv(path: Path) -> Table:
    total = max(0, _count_lines(path) - 1)
    fh = path.open(encoding="utf-8-sig", newline="")
    reader = csv.reader(fh)
    try:
        header = next(reader, [])
    except UnicodeDecodeError as exc:
        fh.close()
        raise InvalidFile(f"{path.name}: row 1: not UTF-8 ({exc.reason})") from exc

    def rows() -> Iterator[tuple[int, list[str]]]:
        n = 1
        try:
            for n, cells in enumerate(reader, start=2):
                yield n, cells
        except UnicodeDecodeError as exc:
            raise InvalidFile(f"{path.name}: after row {n}: not UTF-8 ({exc.reason})") from exc
        except csv.Error as exc:
            raise InvalidFile(f"{path.name}: row {n + 1}: {exc}") from exc

    return Table([h.strip() for h in header], rows(), total, fh.close)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _open_xlsx(path: Path) -> Table:
    from zipfile import BadZipFile

    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (BadZipFile, KeyError, ValueError) as exc:
        raise InvalidFile(f"{path.name}: not an .xlsx workbook ({exc})") from exc
    ws = wb.worksheets[0]
    it = ws.iter_rows(values_only=True)
    header = [_cell_text(v).strip() for v in next(it, ())]
    while header and header[-1] == "":
        header.pop()
    total = (ws.max_row - 1) if ws.max_row else None

    def rows() -> Iterator[tuple[int, list[str]]]:
        for n, values in enumerate(it, start=2):
            yield n, [_cell_text(v) for v in values]

    return Table(header, rows(), total, wb.close)


def write_table(
    path: Path,
    fmt: str,
    header: Sequence[str],
    rows: Iterable[Sequence[str | int]],
    progress: Progress | None = None,
    total: int | None = None,
) -> int:
    """Write ``header`` and ``rows`` to ``path`` as CSV (UTF-8 with BOM) or XLSX; the
    number of rows written."""
    n = 0
    if fmt == "csv":
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            for n, row in enumerate(rows, start=1):
                w.writerow(row)
                if progress and n % 10_000 == 0:
                    progress(n, total)
    else:
        import openpyxl

        wb = openpyxl.Workbook(write_only=True)
        ws = wb.create_sheet()
        ws.append(list(header))
        for n, row in enumerate(rows, start=1):
            ws.append(list(row))
            if progress and n % 10_000 == 0:
                progress(n, total)
        wb.save(path)
    if progress:
        progress(n, total)
    return n
