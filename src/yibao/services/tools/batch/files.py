"""Batch settlement of Parquet tables (``yibao batch settle``): read, settle, write.

The pure engine is ``yibao.core.engine.batch``; this module owns the files. Three modes
give the same table (sorted by encounter_id):

- one pass: the lines stream through ``line_totals``; the encounters are read whole;
- ``partitions=N``: the insurees are split by a hash of ``insuree_id`` and each part is
  read with a filter (encounters by hash, lines by their encounter ids), settled and
  written to a part file; memory is bounded by the largest part;
- ``client`` (a ``distributed.Client``): the same parts run as Dask tasks on the
  cluster; the input, the part files and the output must be reachable from every worker.

Nothing is written to ``out`` unless every row settles, or ``rejects`` is given (then the
rejected insuree-years go there with their reasons, and the rest to ``out``). Part files
live in a temporary folder beside ``out`` and are removed.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from yibao.core.engine.batch import (
    REJECT_COLUMNS,
    covered,
    line_order,
    line_reasons,
    line_runs,
    line_totals,
    settle_frame,
    suspects,
)
from yibao.core.engine.batch_policy import PolicyExprs
from yibao.core.errors import InvalidRequest, YibaoError
from yibao.core.policy.model import Policy

if TYPE_CHECKING:
    from distributed import Client
    from polars._typing import PolarsDataType

__all__ = ["BatchRejected", "Summary", "settle_tables"]

_INT, _STR, _BOOL, _DATE, _STRS = "integer", "string", "boolean", "date", "list of strings"
ENCOUNTER_COLUMNS = {
    "encounter_id": _INT,
    "insuree_id": _INT,
    "scheme": _STR,
    "resident_tier": _INT,
    "insured_region": _STR,
    "assistance_category": _STR,
    "provider_code": _STR,
    "provider_region": _STR,
    "provider_level": _INT,
    "covid_designated": _BOOL,
    "med_type": _STR,
    "admit_date": _DATE,
    "discharge_date": _DATE,
    "diagnoses": _STRS,
    "covid_status": _STR,
    "filing": _STR,
    "admission_seq": _INT,
    "transfer_from": _INT,
    "account_balance_fen": _INT,
    "start_basic_entitled_fen": _INT,
    "start_serious_base_fen": _INT,
    "start_assistance_entitled_fen": _INT,
    "start_basic_paid_fen": _INT,
    "start_serious_paid_fen": _INT,
    "start_assistance_paid_fen": _INT,
}
LINE_COLUMNS = {
    "encounter_id": _INT,
    "sn": _STR,
    "code": _STR,
    "category": _STR,
    "item_class": _STR,
    "selfpay_bp": _INT,
    "price_e6": _INT,
    "qty_e4": _INT,
    "price_cap_e6": _INT,
    "in_protocol": _BOOL,
    "temp_code": _BOOL,
}
_HASH_SEED = 20200123  # partitions: a fixed seed, so a run is repeatable
_SHOWN = 10


class BatchRejected(YibaoError):
    """Some rows are invalid and no rejects file was asked for: nothing is written."""

    code, status, title = "invalid-rows", 422, "Invalid rows"


@dataclass(frozen=True, slots=True)
class Summary:
    settled: int
    rejected: int


def _family(dtype: PolarsDataType) -> str:
    """The kind of a Parquet column as the contract names it (integer, string, …)."""
    if dtype.is_integer():
        return _INT
    if dtype == pl.String or isinstance(dtype, pl.Enum | pl.Categorical):
        return _STR
    if isinstance(dtype, pl.List) and _family(dtype.inner) == _STR:
        return _STRS
    if dtype == pl.Boolean:
        return _BOOL
    return _DATE if dtype == pl.Date else str(dtype)


def _scan(path: Path, columns: dict[str, str]) -> pl.LazyFrame:
    """The columns the engine reads, in their canonical types; a missing column or a
    column of the wrong kind (a float for fen, an integer for a bool) is refused."""
    try:
        lf = pl.scan_parquet(path)
        schema = lf.collect_schema()
    except (OSError, pl.exceptions.PolarsError) as exc:
        detail = " ".join(str(exc).split())[:200]
        raise InvalidRequest(f"{path}: cannot read Parquet: {detail}") from None
    casts = []
    for name, family in columns.items():
        if name not in schema:
            raise InvalidRequest(f"{path.name}: {name}: missing column")
        got = _family(schema[name])
        if got != family:
            raise InvalidRequest(f"{path.name}: {name}: expected {family} column, got {got}")
        targets: dict[str, pl.DataType] = {_INT: pl.Int64(), _STR: pl.String(),
                                           _STRS: pl.List(pl.String)}  # fmt: skip
        target = targets.get(family)
        col = pl.col(name)
        casts.append(col.cast(target, strict=False) if target and schema[name] != target else col)
    return lf.select(casts)


def _part(n: int, i: int) -> pl.Expr:
    return pl.col("insuree_id").hash(_HASH_SEED) % n == i


def _settle_part(
    packs: Sequence[Policy], e_path: Path, l_path: Path, n: int, i: int, dups: pl.Series
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Settle the insurees of part ``i`` of ``n`` (the whole table when ``n`` is 1).
    Returns the settled rows, the rejects and the part's line counts per encounter."""
    px = PolicyExprs.of(packs)
    enc_lf, lines_lf = _scan(e_path, ENCOUNTER_COLUMNS), _scan(l_path, LINE_COLUMNS)
    if n > 1:
        enc = enc_lf.filter(_part(n, i)).collect()
        lines_lf = lines_lf.filter(pl.col("encounter_id").is_in(enc["encounter_id"].implode()))
    else:
        enc = enc_lf.collect()
    cover = covered(enc.lazy(), px).collect(engine="in-memory")["encounter_id"]
    totals = line_totals(lines_lf, cover).collect(engine="streaming")
    order = line_order(lines_lf).collect(engine="streaming")
    runs = order.head(0).select("encounter_id")
    if order["unsorted"].any():  # stays may be split: compare the runs' starts
        runs = line_runs(lines_lf).collect(engine="streaming")
    bad = suspects(totals, order, runs)
    if bad.len():
        picked = lines_lf.filter(pl.col("encounter_id").is_in(bad.implode()))
        bad_lines = line_reasons(picked).collect()
    else:
        bad_lines = pl.DataFrame(schema={"encounter_id": pl.Int64, "reason": pl.String})
    # A duplicate id whose twin fell into another part: refuse both, as one pass would.
    seen = enc.filter(
        pl.col("encounter_id").is_in(dups.implode()) & ~pl.col("encounter_id").is_duplicated()
    )["encounter_id"]
    if seen.len():
        twin = pl.DataFrame({"encounter_id": seen.unique()}).with_columns(
            reason=pl.format("encounter_id: duplicate encounter_id {}", pl.col("encounter_id"))
        )
        bad_lines = (
            pl.concat([bad_lines, twin])
            .group_by("encounter_id")
            .agg(pl.col("reason").str.join("; "))
        )
    settled, rejects = settle_frame(enc, totals, bad_lines, px)
    return settled, rejects, totals.select("encounter_id", "n_lines")


def _run_part(args: tuple[Any, ...]) -> tuple[int, pl.DataFrame, int, pl.DataFrame]:
    """One part, written to its file: the unit of work of the partitioned and Dask modes.
    Returns the settled count, the rejects, and the lines the part read (those of a
    repeated id apart, which may have been read by two parts)."""
    packs, e_path, l_path, n, i, dups, bounds, part_dir = args
    settled, rejects, counts = _settle_part(packs, e_path, l_path, n, i, dups)
    # One file per range of encounter ids, so the output is assembled range by range.
    cuts = [0, *settled["encounter_id"].search_sorted(bounds).to_list(), settled.height]
    for r, (lo, hi) in enumerate(itertools.pairwise(cuts)):
        if hi > lo:
            path = Path(part_dir) / f"range-{r:05d}-part-{i:05d}.parquet"
            settled.slice(lo, hi - lo).write_parquet(path, compression="lz4")
    twice = counts["encounter_id"].is_in(dups.implode())
    return (
        settled.height,
        rejects,
        int(counts.filter(~twice)["n_lines"].sum()),
        counts.filter(twice),
    )


def settle_tables(
    packs: Sequence[Policy],
    encounters: Path,
    lines: Path,
    out: Path,
    *,
    rejects: Path | None = None,
    partitions: int = 1,
    client: Client | None = None,
) -> Summary:
    """Settle the encounter and line tables into ``out`` (and ``rejects``)."""
    if partitions < 1:
        raise InvalidRequest(f"--partitions: {partitions} must be at least 1")
    if partitions == 1 and client is None:
        empty = pl.Series([], dtype=pl.Int64)
        settled, bad, _ = _settle_part(packs, encounters, lines, 1, 0, empty)
        _refuse_or_write_rejects(bad, rejects)
        _write_atomic(settled, out)
        return Summary(settled.height, bad.height)
    return _settle_parts(packs, encounters, lines, out, rejects, partitions, client)


def _settle_parts(
    packs: Sequence[Policy],
    encounters: Path,
    lines: Path,
    out: Path,
    rejects: Path | None,
    n: int,
    client: Client | None,
) -> Summary:
    ids = _scan(encounters, {"encounter_id": _INT}).collect()["encounter_id"]
    if not ids.is_sorted():
        ids = ids.sort()
    dups = ids.filter(ids == ids.shift(1)).unique()  # a repeated id sits next to its twin
    step = max(1, ids.len() // n)
    bounds = ids.drop_nulls().gather_every(step, offset=step).slice(0, n - 1)
    del ids
    out.parent.mkdir(parents=True, exist_ok=True)
    part_dir = Path(tempfile.mkdtemp(prefix=f".{out.name}.parts-", dir=out.parent))
    try:
        jobs = [
            (tuple(packs), encounters.resolve(), lines.resolve(), n, i, dups, bounds, part_dir)
            for i in range(n)
        ]
        if client is None:
            results = [_run_part(job) for job in jobs]
        else:
            futures = client.map(_run_part, jobs, pure=False)
            results = client.gather(futures)  # type: ignore[no-untyped-call]
        counts = sum(r[0] for r in results)
        bad = pl.concat([r[1] for r in results]).sort("encounter_id", nulls_last=True)
        bad = bad.unique(maintain_order=True)
        twice = pl.concat([r[3] for r in results]).unique("encounter_id")
        read = sum(r[2] for r in results) + int(twice["n_lines"].sum())
        total = pl.scan_parquet(lines).select(pl.len()).collect().item()
        if read != total:  # some lines have no encounter: find them (a streamed anti-join)
            orphans = _orphan_lines(encounters, lines)
            bad = pl.concat([bad, orphans]).sort("encounter_id", nulls_last=True)
        _refuse_or_write_rejects(bad, rejects)
        _merge_parts(part_dir, n, out)
        return Summary(counts, bad.height)
    finally:
        shutil.rmtree(part_dir, ignore_errors=True)


def _orphan_lines(encounters: Path, lines: Path) -> pl.DataFrame:
    """Lines whose encounter is missing: no part holds them, so they are found here."""
    ids = _scan(encounters, {"encounter_id": _INT}).select("encounter_id")
    found = (
        _scan(lines, {"encounter_id": _INT})
        .join(ids, on="encounter_id", how="anti")
        .select("encounter_id")
        .unique()
        .collect(engine="streaming")
    )
    return found.select(
        "encounter_id",
        insuree_id=pl.lit(None, pl.Int64),
        year=pl.lit(None, pl.Int32),
        reason=pl.lit("lines: no encounter row has this encounter_id"),
    )


def _merge_parts(part_dir: Path, n: int, out: Path) -> None:
    """The parts' files assembled into OUT one range of encounter ids at a time (each
    range holds about 1/n of the rows), so memory stays bounded (DECISIONS 0024)."""
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    tmp = out.with_name(f".{out.name}.tmp")
    writer = pq.ParquetWriter(tmp, pl.DataFrame(schema=_out_schema()).to_arrow().schema,
                              compression="none")  # fmt: skip
    try:
        for r in range(n):
            files = sorted(part_dir.glob(f"range-{r:05d}-part-*.parquet"))
            if files:
                chunk = pl.read_parquet(files).sort("encounter_id")
                writer.write_table(chunk.to_arrow())
    finally:
        writer.close()
    os.replace(tmp, out)


def _out_schema() -> dict[str, pl.DataType]:
    from yibao.core.engine.batch import OUT_COLUMNS

    return {c: (pl.Boolean() if c == "covid" else pl.Int64()) for c in OUT_COLUMNS}


def _refuse_or_write_rejects(bad: pl.DataFrame, rejects: Path | None) -> None:
    """No rejects file: any invalid row stops the run. Otherwise write them there."""
    if rejects is None:
        if bad.height:
            raise BatchRejected(_describe(bad))
        return
    _write_atomic(bad.select(list(REJECT_COLUMNS)), rejects)


def _describe(bad: pl.DataFrame) -> str:
    """One line: the first ten offending encounter ids with their reasons."""
    own = bad.filter(~pl.col("reason").str.starts_with("insuree-year rejected"))
    shown = [
        f"encounter {eid}: {why}"
        for eid, why in own.head(_SHOWN).select("encounter_id", "reason").iter_rows()
    ]
    more = f" (and {own.height - _SHOWN} more)" if own.height > _SHOWN else ""
    return f"{own.height} invalid encounter rows, nothing written: " + " | ".join(shown) + more


def _write_atomic(frame: pl.DataFrame, path: Path) -> None:
    """Write beside ``path`` and rename, so a failed run leaves no partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    frame.write_parquet(tmp, compression="uncompressed")  # DECISIONS 0026: fastest to write
    os.replace(tmp, path)
