"""Paper filings a township collected, imported from a CSV/XLSX sheet all-or-nothing
(issue 18): every row is checked before anything is written and every bad row is named;
a good file becomes filings taken in and forwarded (报送) to the district at once, each
with its source row. The same file (by sha256) is not imported twice.

Columns (header row, Chinese or English names): 类别 kind, 人员编号 psn_no, 就医地
dest_region, 定点医院 dest_providers (``;``-separated, may be empty), 开始日期 valid_from,
结束日期 valid_to (may be empty), 新冠 covid (是/否, true/false), 申请时间 submitted_at
(ISO date-time with zone, may be empty)."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

from yibao.core.errors import Conflict, InsureeNotImported, InvalidFile
from yibao.core.privacy import mask_psn_no
from yibao.services.access.rights import Principal, audit, require
from yibao.services.encounters.context import Context
from yibao.services.filings.workflow import FilingIn, check_filing_in, new_filing
from yibao.services.registry import catalog
from yibao.services.registry.tabular import open_table
from yibao.store.uow import UnitOfWork

__all__ = ["COLUMNS", "Imported", "import_filings"]

COLUMNS = {  # header (Chinese or English) -> field
    "类别": "kind", "kind": "kind", "人员编号": "psn_no", "psn_no": "psn_no",
    "就医地": "dest_region", "dest_region": "dest_region",
    "定点医院": "dest_providers", "dest_providers": "dest_providers",
    "开始日期": "valid_from", "valid_from": "valid_from", "结束日期": "valid_to",
    "valid_to": "valid_to", "新冠": "covid", "covid": "covid",
    "申请时间": "submitted_at", "submitted_at": "submitted_at",
}  # fmt: skip
_REQUIRED = ("kind", "psn_no", "dest_region", "valid_from")
_YES, _NO = ("是", "true", "1", "y", "yes"), ("否", "false", "0", "n", "no", "")
_MAX_PROBLEMS = 200


@dataclass(frozen=True, slots=True)
class Imported:
    source: str
    sha256: str
    filings: list[str]


def _parse(n: int, cells: dict[str, str]) -> tuple[FilingIn | None, list[tuple[str, str]]]:
    bad: list[tuple[str, str]] = []

    def day(name: str) -> dt.date | None:
        v = cells.get(name, "").strip()
        if not v:
            return None
        try:
            return dt.date.fromisoformat(v[:10])
        except ValueError:
            bad.append((f"row {n}, {name}", f"{v!r} is not a date (YYYY-MM-DD)"))
            return None

    for name in _REQUIRED:
        if not cells.get(name, "").strip():
            bad.append((f"row {n}, {name}", "is required"))
    covid_text = cells.get("covid", "").strip().lower()
    if covid_text not in _YES + _NO:
        bad.append((f"row {n}, covid", f"{covid_text!r} is not 是/否"))
    submitted = None
    if text := cells.get("submitted_at", "").strip():
        try:
            submitted = dt.datetime.fromisoformat(text)
        except ValueError:
            bad.append((f"row {n}, submitted_at", f"{text!r} is not a date and time"))
    valid_from, valid_to = day("valid_from"), day("valid_to")
    if bad or valid_from is None:
        return None, bad
    providers = tuple(p.strip() for p in cells.get("dest_providers", "").split(";") if p.strip())
    return FilingIn(cells["kind"].strip(), cells["psn_no"].strip(), cells["dest_region"].strip(),
                    valid_from, valid_to, providers, covid_text in _YES, submitted), []  # fmt: skip


def import_filings(uow: UnitOfWork, ctx: Context, caller: Principal, path: Path) -> Imported:
    """Import ``path`` whole or not at all (``InvalidFile`` naming every bad row)."""
    require(caller, "filing.intake")
    raw = path.read_bytes()
    sha = hashlib.sha256(raw).hexdigest()
    table = open_table(path)
    try:
        fields = [COLUMNS.get(h.strip().lstrip("\ufeff")) for h in table.header]
        if missing := [c for c in _REQUIRED if c not in fields]:
            raise InvalidFile(f"{path.name}: missing column(s) {', '.join(missing)}",
                              [("row 1", f"missing column {c}") for c in missing])  # fmt: skip
        rows = [(n, {f: c for f, c in zip(fields, cells, strict=False) if f})
                for n, cells in table.rows]  # fmt: skip
    finally:
        table.close()
    problems: list[tuple[str, str]] = []
    parsed: list[tuple[int, FilingIn]] = []
    for n, cells in rows:
        cmd, bad = _parse(n, cells)
        if cmd is not None:
            bad += [(f"row {n}, {p}", why) for p, why in check_filing_in(ctx, cmd)]
        problems += bad
        if cmd is not None and not bad:
            parsed.append((n, cmd))
    with uow(write=True):
        if uow.filings.find(source_prefix=f"{sha[:16]}:", limit=1):
            raise Conflict(f"{path.name} (sha256 {sha[:16]}…) was imported before")
        todo = []
        for n, cmd in parsed:
            try:
                ins = catalog.insuree_snapshot(uow, cmd.insuree_id, cmd.valid_from)
            except InsureeNotImported:
                problems.append((f"row {n}, psn_no", f"{mask_psn_no(cmd.insuree_id)} has no "
                                 f"enrolment on {cmd.valid_from}"))  # fmt: skip
                continue
            if caller.role == "township_clerk" and ins.township != caller.township_code:
                problems.append((f"row {n}, psn_no", f"{mask_psn_no(cmd.insuree_id)} 不属于本乡镇"))
                continue
            todo.append((n, cmd, ins))
        if problems:
            rows_bad = len({p.split(",")[0] for p, _ in problems})
            raise InvalidFile(f"{path.name}: {rows_bad} row(s) with problems; nothing imported",
                              problems[:_MAX_PROBLEMS], rows_bad)  # fmt: skip
        made, events = [], []
        for n, cmd, ins in todo:
            row, evs = new_filing(ctx, caller, cmd, ins, channel="import", forwarded=True,
                                  source=f"{sha[:16]}:{path.name[-60:]}:{n}")  # fmt: skip
            made.append(row)
            events += evs
        uow.filings.insert(made, events)
        audit(uow, caller, "filing.imported", "filing_file", sha[:40], before=None,
              after={"filings": [r["id"] for r in made]}, at=ctx.now(),
              detail={"file": path.name[-100:], "rows": len(made)})  # fmt: skip
        uow.commit()
    return Imported(path.name, sha, [r["id"] for r in made])
