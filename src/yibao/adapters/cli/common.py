"""What every command shares: the error contract (one stderr line, exit 2)."""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn, TypeVar

import typer

T = TypeVar("T")


_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")


def masked_text(text: str) -> str:
    """``text`` with every 18-character ID number in it masked (``500102********0016``):
    the last guard on what the CLI writes to stderr (problems from the services and the
    ledger check name insurees)."""
    from yibao.core.privacy import mask_psn_no

    return _ID_NUMBER.sub(lambda m: mask_psn_no(m.group()), text)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one line on stderr, ID numbers masked, and exit (2: bad input)."""
    sys.stderr.write(masked_text(" ".join(message.split())) + "\n")
    raise typer.Exit(code)


@contextmanager
def bad_input_exits() -> Iterator[None]:
    """Map every ``YibaoError`` to the CLI contract: one stderr line, exit 2."""
    from yibao.core.errors import YibaoError

    try:
        yield
    except YibaoError as exc:
        fail(exc.one_line())


@contextmanager
def bulk_job() -> Iterator[None]:
    """A command that builds millions of long-lived objects (re-entry, the deferred
    queue, re-settlement): what start-up built is kept out of the collector's passes,
    and the youngest generation is collected every 100,000 allocations instead of 700 —
    with the default thresholds the collector took a third of a 100,000-stay import's
    CPU, walking objects that live until the end (DECISIONS 0093)."""
    import gc

    old = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()


def read_input(path: str) -> bytes:
    """The bytes of ``path``, or of stdin when it is ``-``."""
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        fail(f"{path}: cannot read: {exc.strerror or exc}")


BEIJING = dt.timezone(dt.timedelta(hours=8), "CST")


def beijing(t: dt.datetime) -> dt.datetime:
    """``t`` in Beijing time, the zone of every business date (``booked_on``,
    ``discharge_date``): what the CLI prints. A time without a zone is UTC (SQLite
    keeps none; the store writes UTC)."""
    return (t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)).astimezone(BEIJING)


def guarded(fn: Callable[[], T]) -> T:
    with bad_input_exits():
        return fn()
    raise AssertionError("unreachable")  # pragma: no cover


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int | None], None] | None]:
    """A Rich progress bar on stderr when it is a terminal; None otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    cols = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(f"[bold]{label}", *cols, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        yield update
