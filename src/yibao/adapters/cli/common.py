"""What every command shares: the error contract (one stderr line, exit 2)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn, TypeVar

import typer

T = TypeVar("T")


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one line on stderr and exit (2: bad input)."""
    sys.stderr.write(" ".join(message.split()) + "\n")
    raise typer.Exit(code)


@contextmanager
def bad_input_exits() -> Iterator[None]:
    """Map every ``YibaoError`` to the CLI contract: one stderr line, exit 2."""
    from yibao.core.errors import YibaoError

    try:
        yield
    except YibaoError as exc:
        fail(exc.one_line())


def read_input(path: str) -> bytes:
    """The bytes of ``path``, or of stdin when it is ``-``."""
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        fail(f"{path}: cannot read: {exc.strerror or exc}")


def guarded(fn: Callable[[], T]) -> T:
    with bad_input_exits():
        return fn()
    raise AssertionError("unreachable")  # pragma: no cover
