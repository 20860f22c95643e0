"""Re-entry after an outage (``yibao deferred import FILE``; issue 7 item 2).

1. Read the offline capture file and check every row (``offline_file``): a bad file is
   refused whole, each problem named by row, column and reason; nothing is stored.
2. Deduplicate: identical repeated lines (provider, encounter, ``feedetl_sn``) count
   once; a stay already in the store (found by its ``source_key``, derived from
   provider and the hospital's encounter number) with the same lines is already done and
   skipped — importing a file twice changes nothing — and with other lines is a
   problem. New stays take ids in settlement order (DECISIONS 0095).
3. Check the rest against the store, still before writing: the provider designated on
   the discharge date, every code in the treatment place's catalog (对码 applied), a pack
   for the insured region and date. An insuree not enrolled on the discharge date is
   not a problem: the stay is left for the deferred queue (``deferred`` in the result).
4. Settle the stays by parts of whole insurees, one batch-engine pass per part with the
   accumulators and accounts carried from the store (``reentry_settle``), and book each
   part (``booking``) in its own transaction while the next part is settled: a crash
   leaves whole stays booked; running the import again books the rest, as one
   uninterrupted run would have.
5. Write the result file: each stay's split and, where the hospital recorded what the
   patient paid (``provisional_cash_fen``), the difference; the ID numbers masked
   unless ``unmasked``.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from yibao.core.engine.model import (
    ACCUMULATOR_FIELDS,
    SETLINFO_FIELDS,
    Accumulators,
    Encounter,
)
from yibao.core.errors import InvalidRequest, NotInCatalog, Problem, YibaoError
from yibao.core.money import line_amount
from yibao.services.access.rights import Principal, require
from yibao.services.encounters.context import Context, new_id
from yibao.services.encounters.lifecycle import Diagnosis, EncounterState, covid_status_of
from yibao.services.registry import catalog
from yibao.services.stays import booking
from yibao.services.stays.booking import NewEncounter
from yibao.services.stays.deferred.queue import record_deferral
from yibao.services.stays.reentry import capture_file as offline_file
from yibao.services.stays.settle import Stay, batch_pass, settle_order
from yibao.store.uow import UnitOfWork

__all__ = ["Imported", "import_file", "source_key_of"]

_KEY_PREFIX = "F"  # a re-entered stay's source key: F + 29 hex of sha256(provider|encounter_no)


@dataclass(frozen=True, slots=True)
class Imported:
    """What an import did: stays settled now, already settled before, left deferred."""

    rows: int
    stays: int
    settled: int
    already: int
    deferred: int
    duplicates: int
    result: Path | None


def source_key_of(provider_code: str, encounter_no: str) -> str:
    """A re-entered stay's ``source_key``: the same for the same hospital and number, so a
    file imported again finds its stays (the stays re-entered before 2026-12-07 have it
    as their id too)."""
    digest = hashlib.sha256(f"{provider_code}|{encounter_no}".encode()).hexdigest()
    return _KEY_PREFIX + digest[:29]


def _with_ids(enc: pl.DataFrame, stored: dict[str, str], at: dt.datetime) -> pl.DataFrame:
    """``encounter_id`` of each stay: the store's for a stay it holds (by source key);
    for a new one, this run's prefix (F, the time, 6 random hex) and a sequence number in
    settlement order — insuree, discharge time, source key — so that each part's stays
    take consecutive ids and their rows go to the right end of every index on the
    encounter id, however many stays the store already holds (DECISIONS 0095)."""
    prefix = new_id(_KEY_PREFIX, at)[:21]
    order = enc.with_row_index("_n").sort("insuree_id", "discharge_time", "source_key")
    ids = [stored.get(k) or f"{prefix}{n:09d}"
           for n, k in enumerate(order["source_key"].to_list())]  # fmt: skip
    got = order.select("_n", encounter_id=pl.Series(ids, dtype=pl.String)).sort("_n")
    return enc.with_columns(got["encounter_id"])


def _source_keys(enc: pl.DataFrame) -> pl.Series:
    """``source_key_of`` each stay (a plain loop: sha256 has no Polars form)."""
    keys = map(source_key_of, enc.get_column("provider_code").to_list(),
               enc.get_column("encounter_no").to_list())  # fmt: skip
    return pl.Series("source_key", list(keys), dtype=pl.String)


@functools.lru_cache(maxsize=4096)
def _diagnoses(text: str) -> tuple[tuple[Diagnosis, ...], tuple[str, ...]]:
    """The diagnoses of the file's text (main first), and their codes."""
    codes = [c.strip() for c in text.split(";") if c.strip()]
    return tuple(Diagnosis(c, n == 0) for n, c in enumerate(codes)), tuple(codes)


class _Problems:
    def __init__(self) -> None:
        self.items: list[tuple[int, str, str]] = []

    def add(self, row: int, column: str, reason: str) -> None:
        self.items.append((row, column, reason))

    def raise_any(self, total: int) -> None:
        if self.items:
            frame = pl.DataFrame(sorted(self.items), schema=["row", "column", "reason"],
                                 orient="row")  # fmt: skip
            problems: list[Problem] = [(f"row {r}.{c}", why) for r, c, why in self.items]
            raise InvalidRequest(offline_file.describe(frame, total), problems)


def import_file(uow: UnitOfWork, ctx: Context, caller: Principal, path: Path, *,
                out: Path | None, per_transaction: int = 5000, writers: int = 2,
                progress: Callable[[int, int], None] | None = None,
                unmasked: bool = False) -> Imported:  # fmt: skip
    """Import the file (module docstring); ``out``: the result file (.xlsx, .csv or
    .parquet), None for none, its ID numbers masked unless ``unmasked`` (the caller has
    recorded that use: ``disclosure``). ``progress(done, total)`` after each transaction;
    ``writers``: database connections writing in parallel (PostgreSQL)."""
    require(caller, "settlement.book")
    raw = offline_file.read_file(path)
    n_rows = raw.height
    parsed = offline_file.parse(raw)
    del raw  # a 1 M-stay file is 20 M rows: hold as few copies as possible
    enc = parsed.encounters.with_columns(_source_keys(parsed.encounters)).with_row_index(
        "stay")  # fmt: skip
    duplicates = parsed.duplicates
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    problems = _Problems()
    with uow:
        found = uow.hospital.lock_encounters(enc["source_key"].to_list(), by="source_key")
        enc = _with_ids(enc, {r.source_key: r.id for r in found}, ctx.now())
        lines = parsed.lines.with_columns(enc["encounter_id"].gather(parsed.lines["stay"]))
        del parsed
        stored = {r.id: r for r in found}
        already = _already(uow, enc, lines, stored, problems)
        todo = enc.filter(~pl.col("encounter_id").is_in(list(already)))
        stays, fee_rows, deferred = _prepare(uow, ctx, caller, todo, lines, sha, path, problems)
    del lines
    problems.raise_any(n_rows)
    split: dict[str, tuple[int, ...]] = {}

    def chunks() -> Iterator[list[booking.Entry]]:
        """Per part of whole insurees, in settlement order: its batch pass and entries
        (computed while the writers book the part before)."""
        for part in _whole_insurees(sorted(stays, key=settle_order), per_transaction):
            ids = pl.Series([s.idx for s in part], dtype=pl.Int64).implode()
            settled = batch_pass(part, fee_rows.engine.filter(pl.col("encounter_id").is_in(ids)),
                                 ctx.packs)  # fmt: skip
            entries = settled.entries(settled.order())
            split.update((e.encounter_id, tuple(e.settlement.setlinfo)) for e in entries)
            yield entries

    done = [0]

    def step(n: int) -> None:
        done[0] += n
        if progress is not None:
            progress(done[0], len(stays))

    got = booking.book_chunks(
        uow, caller, chunks(), at=ctx.now,
        lines=lambda ids: fee_rows.store.filter(pl.col("encounter_id").is_in(ids)),
        progress=step, writers=writers)  # fmt: skip
    _defer(uow, ctx, caller, deferred, fee_rows.store, per_transaction)
    deferred_ids = [d.row["id"] for d in deferred]
    if out is not None:
        _write_result(uow, enc, got.settlement_ids, split, already, deferred_ids, out,
                      unmasked=unmasked)  # fmt: skip
    return Imported(n_rows, enc.height, len(got.settlement_ids), len(already),
                    len(deferred), duplicates, out)  # fmt: skip


def _whole_insurees(stays: Sequence[Stay], size: int) -> Iterator[list[Stay]]:
    """Stays in settlement order, in groups of about ``size`` that never split an insuree."""
    chunk: list[Stay] = []
    for n, s in enumerate(stays):
        if len(chunk) >= size and s.insuree.id != stays[n - 1].insuree.id:
            yield chunk
            chunk = []
        chunk.append(s)
    if chunk:
        yield chunk


def _defer(uow: UnitOfWork, ctx: Context, caller: Principal, news: Sequence[Any],
           lines: pl.DataFrame, per_transaction: int) -> None:  # fmt: skip
    """Stays of insurees not enrolled on the discharge date: recorded and deferred
    (reason not_enrolled, the lines' total advanced by the hospital) through the
    deferred queue's service, whole stays per transaction."""
    for start in range(0, len(news), per_transaction):
        part = news[start : start + per_transaction]
        ids = [n.row["id"] for n in part]
        with uow(write=True):
            mine = lines.filter(pl.col("encounter_id").is_in(ids))
            booking.insert_discharged(uow, caller, part, at=ctx.now(), lines=mine)
            for eid in ids:
                row = uow.hospital.encounter(eid, lock=True)
                record_deferral(uow, ctx, caller, EncounterState.of(row), reason="not_enrolled")
            uow.commit()


def _already(uow: UnitOfWork, enc: pl.DataFrame, lines: pl.DataFrame, stored: dict[str, Any],
             problems: _Problems) -> dict[str, str]:  # fmt: skip
    """Stays the store holds: settled with the same lines -> {id: settlement_id}; any
    other state or other lines -> a problem on the stay's first row."""
    out: dict[str, str] = {}
    if not stored:
        return out
    mine = lines.filter(pl.col("encounter_id").is_in(list(stored)))
    want: dict[str, set[tuple[str, int, int]]] = defaultdict(set)
    for eid, sn, price, qty in mine.select("encounter_id", "sn", "price_e6",
                                           "qty_e4").iter_rows():  # fmt: skip
        want[eid].add((sn, price, qty))
    first_row = dict(enc.select("encounter_id", "row").iter_rows())
    held = _stored_lines(uow, list(stored))
    for eid, r in stored.items():
        have = held.get(eid, set())
        if r.status not in ("settled", "deferred"):
            problems.add(first_row[eid], "encounter_no", f"the stay is already recorded "
                         f"({r.status}, {eid}): settle it through the service")  # fmt: skip
        elif have != want[eid]:
            problems.add(first_row[eid], "encounter_no", f"the stay was entered before "
                         f"({eid}, {r.status}) with other lines")  # fmt: skip
        else:
            out[eid] = r.settlement_id or ""
    return out


def _stored_lines(uow: UnitOfWork, ids: Sequence[str]) -> dict[str, set[tuple[str, int, int]]]:
    """The active lines (sn, price, qty) the store holds for these encounters."""
    return uow.hospital.line_keys(ids)


@dataclass(frozen=True, slots=True)
class _Lines:
    engine: pl.DataFrame  # the batch's line columns, encounter_id = the stay's idx
    store: pl.DataFrame  # ``fee_lines`` columns, encounter_id = the store id


def _prepare(uow: UnitOfWork, ctx: Context, caller: Principal, enc: pl.DataFrame,
             lines: pl.DataFrame, sha: str, path: Path,
             problems: _Problems) -> tuple[list[Stay], _Lines, list[NewEncounter]]:  # fmt: skip
    """The stays to settle with their snapshots, and their lines resolved; problems
    recorded; stays of insurees not enrolled on the discharge date set aside.

    What many stays share is looked up once per distinct key (provider × discharge
    day, insured region × day, diagnoses × overlay version); the per-stay columns are
    built in Polars, and one loop makes the objects."""
    if enc.height == 0:
        return [], _Lines(pl.DataFrame(), pl.DataFrame()), []
    enc = enc.sort("encounter_id")
    psns = enc.get_column("insuree_id").unique().sort().to_list()
    cols = enc.select(
        "encounter_id", "row", "provider_code", "encounter_no", "insuree_id",
        "insured_region", "insutype", "med_type", _utc("admit_time"),
        pl.col("admit_time").dt.date().alias("admit_date"), _utc("discharge_time"),
        pl.col("discharge_time").dt.date().alias("discharge_date"), "diagnoses",
        "covid_status", "filing", "n_lines", _admission_seqs(uow, enc, psns),
    )  # fmt: skip
    found, versions = _insurees(uow, enc, psns)
    cols = cols.hstack(found).with_columns(enc["source_key"])
    day = pl.col("discharge_date")
    providers = _providers(uow, ctx, caller, cols.select("provider_code", day).unique())
    policies = _policies(ctx, cols.filter("enrolled").select("version_region", day).unique())
    stays, deferred, kept = _stays(cols, providers, policies, _accumulators(uow, enc),
                                   uow.hospital.accounts_moved(psns), (path.name[-100:], sha),
                                   versions, problems)  # fmt: skip
    idx = pl.DataFrame({"stay": enc["stay"].gather(kept), "idx": kept},
                       schema={"stay": enc["stay"].dtype, "idx": pl.Int64})  # fmt: skip
    engine_ids = {s.idx for s in stays}
    return stays, _resolve_lines(uow, ctx, lines, idx, engine_ids, problems), deferred


def _utc(name: str) -> pl.Expr:
    """A Beijing time column as UTC (naive: ``_utc_marked`` marks it)."""
    return (pl.col(name) - pl.duration(hours=8)).alias(name)


def _utc_marked(times: pl.Series) -> list[dt.datetime]:
    """The naive UTC times as ``datetime``s marked UTC, each distinct one made once
    (stays share their times; ``replace`` costs a microsecond)."""
    naive = times.to_list()
    marked = {t: t.replace(tzinfo=dt.UTC) for t in set(naive)}
    return [marked[t] for t in naive]


def _insurees(uow: UnitOfWork, enc: pl.DataFrame,
              psns: Sequence[str]) -> tuple[pl.DataFrame, list[Any]]:  # fmt: skip
    """Each stay's enrolment version in force on its discharge date — the first by
    date, as ``Registry.where(on=…)`` finds it: ``version`` (an index into the versions
    returned; null: none), its ``enrolled`` and ``insured_region``. The snapshot itself
    is ``catalog.insuree_of``'s, made per stay by ``_stays``."""
    rows = uow.hospital.insuree_versions(psns)  # in ID number and date order
    versions = pl.DataFrame({
        "psn_no": [r.psn_no for r in rows], "valid_from": [r.valid_from for r in rows],
        "valid_to": [r.valid_to for r in rows], "enrolled": [r.enrolled for r in rows],
        "insured_region": [r.insured_region for r in rows]},
        schema=_VERSION_SCHEMA).with_row_index("version")  # fmt: skip
    day = pl.col("discharge_time").dt.date()
    stays = enc.select(pl.col("insuree_id").alias("psn_no"), day.alias("day")).with_row_index(
        "stay")  # fmt: skip
    in_force = _covers(pl.col("day"), pl.col("valid_from"), pl.col("valid_to"))
    first = stays.join(versions, on="psn_no").filter(in_force).sort("version").unique(
        "stay", keep="first")  # fmt: skip
    got = stays.join(first, on="stay", how="left").sort("stay").select(
        "version", pl.col("enrolled").fill_null(False),
        pl.col("insured_region").alias("version_region"))  # fmt: skip
    return got, rows


_VERSION_SCHEMA = {"psn_no": pl.String, "valid_from": pl.Date, "valid_to": pl.Date,
                   "enrolled": pl.Boolean, "insured_region": pl.String}  # fmt: skip


def _covers(day: pl.Expr, start: pl.Expr, end: pl.Expr) -> pl.Expr:
    """``day`` within [start, end] (start null: never; end null: open): a version in force
    (``Registry.valid_on``)."""
    return (start.is_not_null() & (start <= day) & (end.is_null() | (day <= end))).fill_null(
        False)  # fmt: skip


_STAY_COLUMNS = ("encounter_id", "row", "provider_code", "encounter_no", "insuree_id",
                 "insured_region", "insutype", "med_type", "admit_time", "admit_date",
                 "discharge_time", "discharge_date", "diagnoses", "covid_status", "filing",
                 "n_lines", "admission_seq", "version", "enrolled", "version_region",
                 "source_key")  # fmt: skip
"""``_prepare``'s columns, as ``_stays`` reads them (times in UTC)."""


def _stays(cols: pl.DataFrame, providers: dict[tuple[str, dt.date], tuple[Any, Any]],
           policies: dict[tuple[str, dt.date], Any], acc_years: dict[tuple[str, int], Accumulators],
           moved: dict[str, int], source: tuple[str, str], versions: Sequence[Any],
           problems: _Problems) -> tuple[list[Stay], list[NewEncounter], list[int]]:  # fmt: skip
    """Every stay of ``cols`` (``_STAY_COLUMNS``, in ``idx`` order): a ``Stay``; or,
    its insuree not enrolled on the discharge date, the new encounter to defer; or a
    problem (in ``idx`` order). Also the idx of the stays to write (not a problem)."""
    stays: list[Stay] = []
    deferred: list[NewEncounter] = []
    kept: list[int] = []
    name, sha = source
    values = [_utc_marked(c) if c.dtype == pl.Datetime else c.to_list()
              for c in cols.select(_STAY_COLUMNS).get_columns()]  # fmt: skip
    rows = enumerate(zip(*values, strict=True))
    for idx, (eid, row, code, no, psn, region, insutype, med_type, admit_t, admit, discharge_t,
              day, text, status, filing, n_lines, seq, version, enrolled, version_region,
              source_key) in rows:  # fmt: skip
        prov, provider = providers[code, day]
        if isinstance(prov, str):
            problems.add(row, "provider_code", prov)
            continue
        diags, codes = _diagnoses(text)
        region = version_region if version is not None else (region or prov.region)
        new = NewEncounter({
            "id": eid, "provider_code": prov.code, "psn_no": psn, "insured_region": region,
            "scheme_code": insutype, "med_type": med_type, "admit_time": admit_t,
            "admit_date": admit, "discharge_time": discharge_t, "discharge_date": day,
            "diagnoses": [{"code": d.code, "main": d.main} for d in diags],
            "covid_status": status, "filing": filing, "transfer_from": None,
            "admit_msgid": None, "source_key": source_key,
        }, {"source": name, "sha256": sha, "row": row, "encounter_no": no,
            "lines": n_lines})  # fmt: skip
        if not enrolled:  # no version in force (null), or not enrolled
            deferred.append(new)
            kept.append(idx)
            continue
        policy = policies[region, day]
        if isinstance(policy, str):
            problems.add(row, "discharge_time", policy)
            continue
        v, shares = policy
        covid = status or _covid_status(text, diags, v)
        e = Encounter(eid, med_type, admit, day, codes, covid, filing, seq, None)  # type: ignore[arg-type]
        snap = catalog.insuree_of(versions[version], day)  # the one insuree snapshot
        opening = snap.account_opening_fen
        ins = snap.engine(opening + moved.get(psn, 0))
        acc = acc_years.get((psn, day.year), _NONE_YET)
        stays.append(Stay(idx, eid, ins, opening, provider, e, acc, dict(shares), new))
        kept.append(idx)
    return stays, deferred, kept


def _providers(uow: UnitOfWork, ctx: Context, caller: Principal,
               keys: pl.DataFrame) -> dict[tuple[str, dt.date], tuple[Any, Any]]:  # fmt: skip
    """For each (provider, discharge day): the snapshot and the engine's record; or why
    its stays cannot be settled (a str, None)."""
    out: dict[tuple[str, dt.date], tuple[Any, Any]] = {}
    for code, day in keys.iter_rows():
        try:
            prov = ctx.provider(uow, code, day)
        except YibaoError as exc:
            out[code, day] = str(exc), None
            continue
        if not prov.designated:
            out[code, day] = f"not a designated provider (定点) on {day}", None
        elif caller.role == "hospital" and caller.provider_code != prov.code:
            out[code, day] = "another hospital's stay", None
        else:
            out[code, day] = prov, prov.engine()
    return out


def _policies(ctx: Context, keys: pl.DataFrame) -> dict[tuple[str, dt.date], Any]:
    """For each (insured region, discharge day): the overlay version in force and its
    central shares; or why no pack applies (a str)."""
    out: dict[tuple[str, dt.date], Any] = {}
    for region, day in keys.iter_rows():
        try:
            v = ctx.packs.select(region, day).overlay_on(day)
        except YibaoError as exc:
            out[region, day] = str(exc)
            continue
        shares = {s: v.central_share_for(s) for s in ("confirmed", "suspected")} if v else {}
        out[region, day] = v, shares
    return out


_NONE_YET = Accumulators(**dict.fromkeys(ACCUMULATOR_FIELDS, 0))


def _accumulators(uow: UnitOfWork, enc: pl.DataFrame) -> dict[tuple[str, int], Accumulators]:
    """The stored accumulators of each (insuree, discharge year) of the file."""
    pairs = enc.select("insuree_id", pl.col("discharge_time").dt.year()).unique()
    keys = set(pairs.iter_rows())
    psns = pairs.get_column("insuree_id").unique().sort().to_list()
    years = pairs.get_column("discharge_time").unique().sort().to_list()
    got = uow.hospital.accumulators_in(psns, years)
    return {k: v for k, v in got.items() if k in keys}


def _naive_utc(t: dt.datetime) -> dt.datetime:
    return t.astimezone(dt.UTC).replace(tzinfo=None) if t.tzinfo else t


def _admission_seqs(uow: UnitOfWork, enc: pl.DataFrame, psns: Sequence[str]) -> pl.Series:
    """本年第n次住院 of each stay of the file (in ``enc``'s order), as the service counts
    it when it settles: 1 + the stays of the insuree (in the store and in the file, not
    cancelled) admitted earlier in the calendar year of its admission (ties: by id)."""
    mine = enc.select(pl.col("insuree_id").alias("psn_no"), _utc("admit_time"),
                      pl.col("encounter_id").alias("id"))  # fmt: skip
    ours = set(mine.get_column("id").to_list())
    stored = [(r.psn_no, _naive_utc(r.admit_time), r.id)
              for r in uow.hospital.admissions_of(psns) if r.id not in ours]  # fmt: skip
    every = pl.concat([mine, pl.DataFrame(stored, schema=mine.schema, orient="row")])
    year = (pl.col("admit_time") + pl.duration(hours=8)).dt.year()  # Beijing time's
    counted = every.sort("admit_time", "id").select(
        "id", admission_seq=pl.int_range(1, pl.len() + 1).over("psn_no", year))  # fmt: skip
    return mine.join(counted, on="id", how="left", maintain_order="left").get_column(
        "admission_seq")  # fmt: skip


_COVID: dict[tuple[str, int], tuple[Any, str]] = {}


def _covid_status(text: str, diags: tuple[Diagnosis, ...], v: Any) -> str:
    """``covid_status_of``, remembered per (diagnoses, overlay version): a file repeats
    a few diagnosis lists over thousands of stays."""
    key = (text, id(v))
    got = _COVID.get(key)
    if got is None or got[0] is not v:
        if len(_COVID) > 10_000:
            _COVID.clear()
        got = _COVID[key] = (v, covid_status_of(diags, v))
    return got[1]


def _resolve_lines(uow: UnitOfWork, ctx: Context, lines: pl.DataFrame, idx: pl.DataFrame,
                   engine_ids: set[int], problems: _Problems) -> _Lines:  # fmt: skip
    """Each line's catalog fields on its service date (the admission day when blank),
    resolved once per (provider, code, date); every unresolvable line is a problem.
    ``idx``: the stays to write (``stay`` -> ``idx``); ``engine_ids``: the idx of those
    to settle."""
    key = ["provider_code", "code", "service_date"]
    mine = lines.with_columns(  # added, not joined: the lines' other columns are not copied
        pl.col("stay").replace_strict(idx["stay"], idx["idx"], default=None).alias("idx"),
        service_date=pl.coalesce(pl.col("service_time"), pl.col("admit_time")).dt.date(),
    ).with_row_index("pair")
    if mine["idx"].null_count():
        mine = mine.filter(pl.col("idx").is_not_null())
    mine = mine.with_columns(pl.col("pair").first().over(key))  # the pair's first line
    pairs = mine.filter(pl.col("pair").is_first_distinct()).select("pair", *key)
    found: dict[int, catalog.ResolvedItem] = {}
    for (prov,), group in pairs.group_by("provider_code", maintain_order=True):
        todo = dict(zip(group["pair"], group.select("code", "service_date").iter_rows(),
                        strict=True))  # fmt: skip
        found.update(_resolve(uow, ctx, str(prov), todo, mine, problems))
    fields = ("category", "item_class", "selfpay_bp", "price_cap_e6", "in_protocol",
              "temp_code", "catalog_region", "protocol_edition", "hospital_code")  # fmt: skip
    table = pl.DataFrame(
        [(p, it.code, *(getattr(it, f) for f in fields)) for p, it in found.items()],
        schema={"pair": pl.UInt32, "n_code": pl.String, "category": pl.String,
                "item_class": pl.String, "selfpay_bp": pl.Int64, "price_cap_e6": pl.Int64,
                "in_protocol": pl.Boolean, "temp_code": pl.Boolean, "catalog_region": pl.String,
                "protocol_edition": pl.Int64, "hospital_code": pl.String},
        orient="row")  # fmt: skip
    full = mine.join(table, on="pair", how="left", maintain_order="left")
    del mine
    engine = full.select(pl.col("idx").alias("encounter_id"), "sn", pl.col("n_code").alias("code"),
                         "category", "item_class", "selfpay_bp", "price_e6", "qty_e4",
                         "price_cap_e6", "in_protocol", "temp_code").filter(
        pl.col("encounter_id").is_in(list(engine_ids))).sort(
        "encounter_id", maintain_order=True)  # fmt: skip
    amount = line_amount(pl.col("price_e6"), pl.col("qty_e4"))
    store = full.select("encounter_id", "sn", pl.lit(None, pl.String).alias("reverses_sn"),
                        pl.col("n_code").alias("code"), "hospital_code", "category",
                        "item_class", "selfpay_bp", "price_e6", "qty_e4",
                        amount.alias("amount_fen"), "price_cap_e6", "in_protocol",
                        "temp_code", "catalog_region", "protocol_edition", "service_date",
                        pl.col("service_time").dt.replace_time_zone("Asia/Shanghai")
                        .dt.convert_time_zone("UTC"), "dept", "doctor", "order_no",
                        pl.lit(None, pl.String).alias("upload_msgid"))  # fmt: skip
    return _Lines(engine, store)


def _resolve(uow: UnitOfWork, ctx: Context, prov: str, todo: dict[int, tuple[str, dt.date]],
             mine: pl.DataFrame, problems: _Problems) -> dict[int, Any]:  # fmt: skip
    """The provider's (code, date) of each pair resolved, by pair; a problem on each
    line of a pair that does not resolve."""
    try:
        return dict(zip(todo, ctx.resolve(uow, prov, list(todo.values())), strict=True))
    except (NotInCatalog, YibaoError):
        pass
    out: dict[int, Any] = {}
    for pair, (c, d) in todo.items():  # the slow path, only for a file with unresolvable codes
        try:
            out[pair] = ctx.resolve(uow, prov, [(c, d)])[0]
        except YibaoError as exc:
            bad = mine.filter(pl.col("pair") == pair)
            for row in bad["row"].to_list():
                problems.add(row, "code", str(exc))
    return out


def _write_result(uow: UnitOfWork, enc: pl.DataFrame, new: dict[str, str],
                  split: dict[str, tuple[int, ...]], already: dict[str, str],
                  deferred: Sequence[str], out: Path, *, unmasked: bool) -> None:  # fmt: skip
    """One row per stay: status, settlement id, the 16 amounts, the difference between
    the patient's cash share and what the hospital recorded as paid (``insuree_id``
    masked unless ``unmasked``)."""
    ids = {**already, **new}
    rows: dict[str, tuple[Any, ...]] = dict(split)
    setl = sorted(v for v in already.values() if v)
    with uow:
        for r in uow.hospital.settlement_records(setl):
            rows[r.encounter_id] = tuple(r.record["setlinfo"][f] for f in SETLINFO_FIELDS)
    earlier = {e: "already_settled" if v else "already_deferred" for e, v in already.items()}
    status = {**earlier, **dict.fromkeys(new, "settled"),
              **dict.fromkeys(deferred, "deferred")}  # fmt: skip
    zero: tuple[Any, ...] = (None,) * len(SETLINFO_FIELDS)
    amounts = [rows.get(e, zero) for e in enc["encounter_id"].to_list()]
    frame = enc.select("row", "provider_code", "encounter_no", "insuree_id", "encounter_id",
                       "provisional_cash_fen").with_columns(
        status=pl.Series([status.get(e, "not_settled") for e in enc["encounter_id"]]),
        settlement_id=pl.Series([ids.get(e) for e in enc["encounter_id"]], dtype=pl.String),
    ).hstack(pl.DataFrame(amounts, schema=dict.fromkeys(SETLINFO_FIELDS, pl.Int64),
                          orient="row"))  # fmt: skip
    frame = frame.with_columns(
        difference_fen=pl.col("psn_cash_pay") - pl.col("provisional_cash_fen")
    )
    offline_file.write_result(frame, out, unmasked=unmasked)
