"""Re-entry's parts settled and booked by worker processes (PostgreSQL; DECISIONS 0085).

The scalar explanation of each stay and the rows of its settlement are Python, one
core's work per process; with the parts of whole insurees handed to ``workers``
processes, each settling its part (batch pass, entries: ``reentry_settle``) and booking
it (``booking.book``) in its own transaction on its own connection, the Python of one
part runs while PostgreSQL ingests another. What is written is what one process writes:
the same rows, each part committed whole; the parent hands out at most ``workers + 1``
parts at a time (memory stays bounded) and stamps each part's time when it hands it
out. A worker dies with its parent (``PR_SET_PDEATHSIG``): a killed import leaves whole
parts committed, the rest untouched, as one process would.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

import polars as pl

from yibao.core.policy import PackSet
from yibao.services import booking
from yibao.services.access import Principal
from yibao.services.reentry_settle import Stay, batch_pass

__all__ = ["Part", "Split", "book_parts"]

Part = tuple[list[Stay], pl.DataFrame, pl.DataFrame, dt.datetime]
"""A part: its stays (whole insurees, settlement order), their engine lines and
``fee_lines`` rows, and the time its transaction records."""

Split = dict[str, tuple[int, ...]]  # each stay's setlinfo, by encounter id
Done = tuple[dict[str, str], Split, int]  # a part's settlement ids, splits, stays

_W: dict[str, Any] = {}


def _die_with_parent(parent: int) -> None:
    """Linux: SIGKILL this process when its parent dies; elsewhere nothing."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGKILL)


def _start(url: str, packs: PackSet, caller: Principal, parent: int) -> None:
    _die_with_parent(parent)
    from yibao.store.db import make_engine
    from yibao.store.uow import UnitOfWork

    _W.update(uow=UnitOfWork(make_engine(url)), packs=packs, caller=caller)


def _book(stays: list[Stay], engine_lines: pl.DataFrame, fee_lines: pl.DataFrame,
          at: dt.datetime) -> Done:  # fmt: skip
    """In a worker: settle one part and book it in one transaction; the settlement ids
    and each stay's split."""
    uow, caller = _W["uow"], _W["caller"]
    settled = batch_pass(stays, engine_lines, _W["packs"])
    entries = settled.entries(settled.order())
    with uow(write=True):
        got = booking.book(uow, caller, entries, at=at, lines=fee_lines)
        uow.commit()
    split = {e.encounter_id: tuple(e.settlement.setlinfo) for e in entries}
    return got.settlement_ids, split, len(entries)


def book_parts(url: str, packs: PackSet, caller: Principal, parts: Iterable[Part],
               workers: int,
               done: Callable[[int], None]) -> tuple[dict[str, str], Split]:  # fmt: skip
    """Settle and book each part in one of ``workers`` processes; the settlement ids
    and splits by encounter id. ``done(n)`` after each part committed. A part that
    fails raises here once the parts handed out before it are done."""
    import multiprocessing as mp

    ids: dict[str, str] = {}
    split: Split = {}

    def take(f: Future[Done]) -> None:
        got, sp, n = f.result()
        ids.update(got)
        split.update(sp)
        done(n)

    ctx = mp.get_context("spawn")  # not fork: the parent's Polars thread pool
    pending: deque[Future[Done]] = deque()
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_start,
                             initargs=(url, packs, caller, os.getpid())) as pool:  # fmt: skip
        try:
            for part in parts:
                pending.append(pool.submit(_book, *part))
                while len(pending) > workers:
                    take(pending.popleft())
            while pending:
                take(pending.popleft())
        except BaseException:
            for f in pending:
                f.cancel()
            raise
    return ids, split

