"""Bulk booking: many settlements written into the store at once, exactly as
``encounters.settle`` writes one (issue 7; DECISIONS 0066).

For each ``Entry`` (an engine ``Settlement`` computed with the accumulators and the
account balance carried from what the store holds) ``book`` writes, inside the caller's
unit of work: the ``settlements`` row (record, accumulators and balance before and
after), one balanced ledger transaction (the postings of ``ledger.postings_for``), the
encounter's move to ``settled`` with its ``encounter_events`` row and audit entry, the
insuree-year accumulators and the personal account. A new encounter (re-entry of a stay
captured offline) is inserted first, with its fee lines, a ``reentered`` event and its
audit entry. The rows are built column-wise (``booking_rows.Columns``, DECISIONS 0058),
the same values as the service's one at a time. A later reversal through the API reads
these rows as it reads the service's own; ``yibao ledger check`` balances.

Before writing, the accumulator and account rows of every insuree in the booking are
locked (``FOR UPDATE`` on PostgreSQL; SQLite's write transaction holds the database) and
compared with the state the settlements started from: if another settlement moved them
since (an API settlement during the run), nothing is written and ``StoreMoved`` says
which insuree — settle those again from the store's state. Each insuree's entries must
come in settlement order (discharge_date, encounter_id), each starting where the one
before ended. On PostgreSQL the rows go in by ``COPY``; callers commit whole insurees
per transaction (``book_in_transactions``), so a crash leaves whole encounters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import polars as pl

from yibao.core.engine.model import Accumulators
from yibao.core.errors import Conflict
from yibao.core.privacy import mask_psn_no
from yibao.services.access.rights import Principal, require
from yibao.services.encounters.rows import (
    Booked,
    Columns,
    Entry,
    NewEncounter,
    Plan,
    make_plan,
)
from yibao.store.uow import UnitOfWork

__all__ = [
    "SETTLEABLE",
    "Booked",
    "Entry",
    "NewEncounter",
    "StoreMoved",
    "book",
    "book_chunks",
    "book_in_transactions",
    "insert_discharged",
]

SETTLEABLE = ("discharged",)
"""Statuses an existing encounter may be booked from. Not ``deferred``: its advance must
be cleared as it settles, which the deferred queue's service does (``deferred``)."""


class StoreMoved(Conflict):
    """An insuree's accumulators or account moved since the settlements were computed."""


def _check_chains(entries: Sequence[Entry]) -> None:
    """Each insuree's entries continue one another (accumulators per year, account)."""
    last_acc: dict[tuple[str, int], Accumulators] = {}
    last_bal: dict[str, int] = {}
    seen: set[str] = set()
    for e in entries:
        s, key = e.settlement, (e.insuree_id, e.discharge_date.year)
        if e.encounter_id in seen:
            raise Conflict(f"encounter {e.encounter_id} is booked twice in one booking")
        seen.add(e.encounter_id)
        if key in last_acc and last_acc[key] != s.accumulators_before:
            raise Conflict(f"encounter {e.encounter_id}: accumulators before do not continue "
                           "the insuree's previous settlement in this booking")  # fmt: skip
        if e.insuree_id in last_bal and last_bal[e.insuree_id] != s.account_balance_before_fen:
            raise Conflict(f"encounter {e.encounter_id}: account balance before does not "
                           "continue the insuree's previous settlement")  # fmt: skip
        last_acc[key], last_bal[e.insuree_id] = s.accumulators_after, s.account_balance_after_fen


def _lock_and_compare(uow: UnitOfWork, entries: Sequence[Entry], at: dt.datetime) -> None:
    """Lock what the entries move and refuse if it is not where they started."""
    first_acc: dict[tuple[str, int], Entry] = {}
    first_bal: dict[str, Entry] = {}
    for e in entries:
        first_acc.setdefault((e.insuree_id, e.discharge_date.year), e)
        first_bal.setdefault(e.insuree_id, e)
    stored = uow.hospital.lock_accumulators_of(list(first_acc), at)
    for key, e in first_acc.items():
        if stored[key] != e.settlement.accumulators_before:
            raise StoreMoved(f"insuree {mask_psn_no(key[0])}: accumulators of {key[1]} moved "
                             "since the settlements were computed; settle again")  # fmt: skip
    moved = uow.hospital.lock_accounts(list(first_bal), at)
    for psn, e in first_bal.items():
        if e.account_opening_fen + moved[psn] != e.settlement.account_balance_before_fen:
            raise StoreMoved(f"insuree {mask_psn_no(psn)}: the personal account moved since "
                             "the settlements were computed; settle again")  # fmt: skip


def _existing(uow: UnitOfWork, caller: Principal, entries: Sequence[Entry]) -> dict[str, Any]:
    """The encounters the entries settle, locked; refuses a missing, foreign, or
    unsettleable one, and a 'new' encounter that already exists."""
    rows = {r.id: r for r in uow.hospital.lock_encounters([e.encounter_id for e in entries])}
    for e in entries:
        r = rows.get(e.encounter_id)
        if e.new is not None:
            if r is not None:
                raise Conflict(f"encounter {e.encounter_id} already exists")
            if caller.role == "hospital" and caller.provider_code != e.provider_code:
                raise Conflict(f"encounter {e.encounter_id}: another hospital's stay")
            continue
        if r is None or (caller.role == "hospital" and caller.provider_code != r.provider_code):
            raise Conflict(f"encounter {e.encounter_id} not found")
        if r.status not in SETTLEABLE or r.settlement_id is not None:
            raise Conflict(f"encounter {e.encounter_id} is {r.status}: cannot book a settlement")
        if r.psn_no != e.insuree_id or r.provider_code != e.provider_code:
            raise Conflict(f"encounter {e.encounter_id}: insuree or provider differs")
    return rows


def insert_discharged(uow: UnitOfWork, caller: Principal, news: Sequence[NewEncounter], *,
                      at: dt.datetime, lines: pl.DataFrame | None = None) -> list[str]:  # fmt: skip
    """Insert new encounters as ``discharged`` (not settled: e.g. to be deferred), with
    their ``reentered`` event, audit entry and fee lines, inside the caller's unit of
    work. Returns their ids."""
    require(caller, "settlement.book")
    rows = Columns(uow.dialect == "postgresql", caller, at)
    for new in news:
        if caller.role == "hospital" and caller.provider_code != new.row["provider_code"]:
            raise Conflict(f"encounter {new.row['id']}: another hospital's stay")
        rows.reentered(new, None, "discharged", 1, None)
    ids = [new.row["id"] for new in news]
    if uow.hospital.lock_encounters(ids):
        raise Conflict("an encounter to insert already exists")
    _write(uow, Plan(rows, {}, {}, {}), lines, at)
    return ids


def book(uow: UnitOfWork, caller: Principal, entries: Sequence[Entry], *, at: dt.datetime,
         lines: pl.DataFrame | None = None) -> Booked:  # fmt: skip
    """Book ``entries`` inside the caller's open unit of work (the caller commits).

    ``lines``: the fee lines of the entries' new encounters, ``fee_lines`` columns but
    ``id``, ``uploaded_at`` and ``cancelled_at``/``cancel_msgid`` (filled here)."""
    require(caller, "settlement.book")
    if not entries:
        return Booked({}, 0, 0)
    _check_chains(entries)
    found = _existing(uow, caller, entries)
    _lock_and_compare(uow, entries, at)
    plan = make_plan(caller, entries, at, uow.dialect == "postgresql", found)
    n_lines = _write(uow, plan, lines, at)
    return Booked(plan.ids, len(plan.rows.encounters), n_lines)


def _write(uow: UnitOfWork, plan: Plan, lines: pl.DataFrame | None, at: dt.datetime) -> int:
    """Write a plan's rows and its updates through the store's one writer."""
    fee = None
    if lines is not None and lines.height:
        fee = lines.with_columns(uploaded_at=pl.lit(at, pl.Datetime("us", "UTC")),
                                 cancelled_at=pl.lit(None, pl.Datetime("us", "UTC")),
                                 cancel_msgid=pl.lit(None, pl.String))  # fmt: skip
    uow.hospital.write_booking(plan.writes(fee))
    return 0 if fee is None else fee.height


def book_in_transactions(uow: UnitOfWork, caller: Principal, entries: Sequence[Entry], *,
                         at: Callable[[], dt.datetime], per_transaction: int = 5000,
                         lines: Callable[[Sequence[str]], pl.DataFrame | None] | None = None,
                         progress: Callable[[int], None] | None = None,
                         writers: int = 1) -> Booked:  # fmt: skip
    """Book in transactions of about ``per_transaction`` encounters, never splitting an
    insuree (their entries carry state from one to the next), each committed on its own:
    a crash leaves whole insurees booked, the rest untouched (``book_chunks``)."""
    return book_chunks(uow, caller, _chunks(entries, per_transaction), at=at, lines=lines,
                       progress=progress, writers=writers)  # fmt: skip


def book_chunks(uow: UnitOfWork, caller: Principal, chunks: Iterable[Sequence[Entry]], *,
                at: Callable[[], dt.datetime],
                lines: Callable[[Sequence[str]], pl.DataFrame | None] | None = None,
                progress: Callable[[int], None] | None = None,
                writers: int = 1) -> Booked:  # fmt: skip
    """Book each chunk (whole insurees) in its own transaction, committed on its own.
    ``lines(ids)`` gives the fee lines of those new encounters; ``progress(n)`` after
    each commit. ``writers`` > 1 on PostgreSQL: while up to ``writers`` threads, each on
    its own connection, write earlier chunks, the next chunk is produced (the iterator
    may compute it) and its rows built — chunks hold disjoint insurees, so the writers
    never wait on each other's locks."""
    require(caller, "settlement.book")
    ids: dict[str, str] = {}
    counts = [0, 0]

    def fee(chunk: Sequence[str]) -> pl.DataFrame | None:
        return lines(chunk) if lines is not None else None

    def add(got: Booked, n: int) -> None:
        ids.update(got.settlement_ids)
        counts[0] += got.encounters_new
        counts[1] += got.lines
        if progress is not None:
            progress(n)

    if writers > 1 and uow.dialect == "postgresql":
        _pipelined(uow, caller, chunks, at, fee, writers, add)
    else:
        for chunk in chunks:
            with uow(write=True):
                got = book(uow, caller, chunk, at=at(),
                           lines=fee([e.encounter_id for e in chunk]))  # fmt: skip
                uow.commit()
            add(got, len(chunk))
    return Booked(ids, counts[0], counts[1])


def _pipelined(uow: UnitOfWork, caller: Principal, chunks: Iterable[Sequence[Entry]],
               at: Callable[[], dt.datetime],
               fee: Callable[[Sequence[str]], pl.DataFrame | None], writers: int,
               add: Callable[[Booked, int], None]) -> None:  # fmt: skip
    from collections import deque
    from concurrent.futures import Future, ThreadPoolExecutor

    def write(chunk: Sequence[Entry], plan: Plan | None, lines: pl.DataFrame | None,
              t: dt.datetime) -> tuple[Booked, int]:  # fmt: skip
        w = UnitOfWork(uow.engine)
        with w(write=True):
            if plan is None:  # existing encounters: their rows are read here
                got = book(w, caller, chunk, at=t, lines=lines)
            else:
                _existing(w, caller, chunk)
                _lock_and_compare(w, chunk, t)
                got = Booked(plan.ids, len(plan.rows.encounters), _write(w, plan, lines, t))
            w.commit()
        return got, len(chunk)

    pending: deque[Future[tuple[Booked, int]]] = deque()
    with ThreadPoolExecutor(max_workers=writers, thread_name_prefix="booking") as pool:
        try:
            for chunk in chunks:
                _check_chains(chunk)
                t, plan = at(), None
                if all(e.new is not None for e in chunk):
                    plan = make_plan(caller, chunk, t, True, {})
                    plan.rows.freeze()
                lines = fee([e.encounter_id for e in chunk])
                pending.append(pool.submit(write, chunk, plan, lines, t))
                while len(pending) > writers:
                    add(*pending.popleft().result())
            while pending:
                add(*pending.popleft().result())
        except BaseException:
            for f in pending:
                f.cancel()
            raise


def _chunks(entries: Sequence[Entry], size: int) -> Iterator[list[Entry]]:
    """Entries grouped so that one insuree's stay in one chunk (in the given order)."""
    by_psn: dict[str, list[Entry]] = {}
    for e in entries:
        by_psn.setdefault(e.insuree_id, []).append(e)
    chunk: list[Entry] = []
    for group in by_psn.values():
        if chunk and len(chunk) + len(group) > size:
            yield chunk
            chunk = []
        chunk += group
    if chunk:
        yield chunk
