"""3202 对明细账 from the detail file it names: read the hospital's uploaded file (9101),
compare it settlement by settlement with the journal, and store the result file the
hospital downloads (9102).

The detail file (DOMAIN.md §1.8): a ZIP holding one TXT (a bare TXT is read too), one
settlement per line, the columns ``setl_id, mdtrt_id, psn_no, medfee_sumamt,
fund_pay_sumamt, acct_pay, refd_setl_flag`` in that order, TAB- or comma-separated,
UTF-8 (with or without BOM) or GBK, ``null`` or nothing for an empty cell. A first
line naming the columns (one of them ``setl_id``) is read as a header and then the columns may
come in any order. Amounts are yuan with at most two decimals, read exactly.

A bad file is refused whole (nothing stored), every problem naming its row and column.
The totals are always the journal's (DECISIONS 0034: ``reads.reconcile``).
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from yibao.core.errors import InvalidRequest, NotFound, Problem
from yibao.core.ledger.reconcile import DetailRow, Totals
from yibao.core.money import MAX_I64, scaled_int
from yibao.services.access.rights import Principal
from yibao.services.encounters.validation import code_problem
from yibao.services.registry.downloads import StoredFile, store_file
from yibao.services.reports.files import download_file
from yibao.services.reports.reads import Statement, reconcile
from yibao.store.uow import UnitOfWork

__all__ = [
    "DETAIL_COLUMNS",
    "DetailStatement",
    "ResultRender",
    "read_detail_file",
    "reconcile_detail_file",
]

DETAIL_COLUMNS = ("setl_id", "mdtrt_id", "psn_no", "medfee_sumamt", "fund_pay_sumamt",
                  "acct_pay", "refd_setl_flag")  # fmt: skip
"""The detail file's columns, in the platform's order."""

_REQUIRED = frozenset({"setl_id", "mdtrt_id", "psn_no", "medfee_sumamt", "fund_pay_sumamt"})
_MAX_PROBLEMS = 20
_MAX_TEXT = 64 * 1024 * 1024  # a ZIP member larger than this once inflated is refused
_FILE = "file_qury_no"  # the problems' path: the adapter names it input.data.file_qury_no


def _problem(row: int, col: int | None, name: str | None, why: str) -> Problem:
    where = f"row {row}" + (f" column {col} ({name})" if col is not None else "")
    return (_FILE, f"{where}: {why}")


def _text_of(content: bytes) -> str:
    data = content
    if content[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as z:
                members = [m for m in z.infolist() if not m.is_dir()]
                if len(members) > 1:
                    members = [m for m in members if m.filename.lower().endswith(".txt")]
                if len(members) != 1:
                    raise InvalidRequest.of([(_FILE, "the ZIP must hold exactly one TXT file "
                                                     f"({len(members)} found)")])  # fmt: skip
                if members[0].file_size > _MAX_TEXT:
                    raise InvalidRequest.of([(_FILE, f"{members[0].filename} inflates to "
                                                     f"{members[0].file_size} bytes; at most "
                                                     f"{_MAX_TEXT} are read")])  # fmt: skip
                data = z.read(members[0])
        except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError) as exc:
            raise InvalidRequest.of([(_FILE, f"the ZIP cannot be read: {exc}")]) from None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidRequest.of([(_FILE, "the file is neither UTF-8 nor GBK text")])


def _cell(cells: list[str], at: int | None) -> str | None:
    if at is None or at >= len(cells):
        return None
    text = cells[at].strip().strip('"').strip()
    return None if text == "" or text.lower() == "null" else text


def _fen(text: str) -> int:
    got = scaled_int(text, 2)
    if not -MAX_I64 - 1 <= got <= MAX_I64:
        raise ValueError(f"{text} yuan is beyond 64 bits in fen")
    return got


def read_detail_file(content: bytes) -> tuple[DetailRow, ...]:
    """The settlements of a 3202 detail file, or ``InvalidRequest`` naming each bad row
    and column (path ``file_qury_no``)."""
    lines = [ln.rstrip("\r") for ln in _text_of(content).split("\n")]
    numbered = [(i, ln) for i, ln in enumerate(lines, 1) if ln.strip()]
    if not numbered:
        raise InvalidRequest.of([(_FILE, "the file has no rows")])
    first = numbered[0][1]
    sep = "\t" if "\t" in first else ("," if "," in first else "\t")
    head = [c.strip().strip('"').strip().lower().lstrip("\ufeff") for c in first.split(sep)]
    if "setl_id" in head:  # a header line: the columns by name, in any order
        missing = sorted(_REQUIRED - set(head))
        if missing:
            lacks = f"the header lacks {', '.join(missing)}"
            raise InvalidRequest.of([_problem(numbered[0][0], None, None, lacks)])
        at: Mapping[str, int | None] = {n: (head.index(n) if n in head else None)
                                        for n in DETAIL_COLUMNS}  # fmt: skip
        numbered = numbered[1:]
    else:
        at = {n: i for i, n in enumerate(DETAIL_COLUMNS)}
    need = max(i for n, i in at.items() if n in _REQUIRED and i is not None) + 1
    problems: list[Problem] = []
    rows: list[DetailRow] = []
    seen: dict[tuple[str, bool], int] = {}
    for row_no, line in numbered:
        if len(problems) >= _MAX_PROBLEMS:
            break
        cells = line.split(sep)
        if len(cells) < need:  # a short row
            problems.append(_problem(row_no, None, None, f"{len(cells)} columns, at least "
                                                         f"{need} expected"))  # fmt: skip
            continue
        got: dict[str, object] = {}
        before = len(problems)
        for name in DETAIL_COLUMNS:
            i = at[name]
            text = _cell(cells, i)
            col = None if i is None else i + 1
            if text is None:
                if name in _REQUIRED:
                    problems.append(_problem(row_no, col, name, "is required"))
                got[name] = None
            elif name in ("setl_id", "mdtrt_id", "psn_no"):
                if (why := code_problem(text, 30)) is not None:
                    problems.append(_problem(row_no, col, name, why))
                got[name] = text
            elif name == "refd_setl_flag":
                if text not in ("0", "1"):
                    problems.append(_problem(row_no, col, name, f"{text!r} is not 0 or 1"))
                got[name] = text == "1"
            else:
                try:
                    got[name] = _fen(text)
                except ValueError as exc:
                    problems.append(_problem(row_no, col, name, f"{exc} (yuan, 2 decimals)"))
        if len(problems) > before:
            continue
        refund = bool(got["refd_setl_flag"])
        key = (str(got["setl_id"]), refund)
        if key in seen:
            again = f"{key[0]} is listed again (first on row {seen[key]})"
            problems.append(_problem(row_no, (at["setl_id"] or 0) + 1, "setl_id", again))
            continue
        seen[key] = row_no
        fen = {n: int(v) if isinstance(v, int) else 0 for n, v in got.items()}
        rows.append(DetailRow(key[0], str(got["mdtrt_id"]), str(got["psn_no"]), refund,
                              fen["medfee_sumamt"], fen["fund_pay_sumamt"],
                              fen["acct_pay"]))  # fmt: skip
    if problems:
        raise InvalidRequest.of(problems)
    return tuple(rows)


ResultRender = Callable[
    [Statement, tuple[DetailRow, ...], Mapping[tuple[str, bool], str | None]], tuple[str, bytes]
]
"""The adapter's writer of the result file: (statement, the file's rows, msgid per
(setl_id, refund)) → (file name, bytes). The file is in the platform's format, so the
envelope writes it."""


@dataclass(frozen=True, slots=True)
class DetailStatement:
    """3202 with a detail file: the statement, how many rows the file held, and the
    stored result file."""

    statement: Statement
    file_rows: int
    result: StoredFile


def reconcile_detail_file(uow: UnitOfWork, caller: Principal, *, provider_code: str | None,
                          file_qury_no: str, begin: dt.date, end: dt.date, declared: Totals,
                          scheme: str | None, clr_type: str | None, render: ResultRender,
                          now: dt.datetime) -> DetailStatement:  # fmt: skip
    """对明细账: the hospital's detail file (its own upload) against the journal's
    settlements booked ``begin..end``; the totals compared as 3202 does, and every
    settlement on one side only or with other amounts listed in the result file."""
    got = download_file(uow, caller, file_qury_no)
    if got.file.kind != "upload" or got.file.provider_code is None:
        raise NotFound(f"file {file_qury_no} not found")  # a bureau file is no detail file
    if provider_code is not None and got.file.provider_code != provider_code:
        raise NotFound(f"file {file_qury_no} not found")
    rows = read_detail_file(got.content)
    st = reconcile(uow, caller, provider_code=provider_code or got.file.provider_code,
                   begin=begin, end=end, declared=declared, scheme=scheme, clr_type=clr_type,
                   detail=True, declared_rows=rows)  # fmt: skip
    with uow(write=True):
        msgids: dict[tuple[str, bool], str | None] = {}
        for s in uow.hospital.statement_rows(st.provider_code, begin, end):
            reversal = s.kind == "reversal"
            msgids[(s.reverses if reversal else s.id, reversal)] = s.msgid
        filename, content = render(st, rows, msgids)
        stored = store_file(uow, prefix="R", owner=st.provider_code, kind="result",
                            filename=filename, content=content, actor=caller.actor,
                            now=now)  # fmt: skip
        uow.commit()
    return DetailStatement(st, len(rows), stored)
