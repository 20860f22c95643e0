"""The re-entry preparation as it was before it was vectorised (commit efd139e): the
oracle the tests hold the fast code equal to — the same typed frames, stays, new
encounters, problems and resolved lines."""

# ruff: noqa
# fmt: off
from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from yibao.core.engine.model import ACCUMULATOR_FIELDS, Accumulators, Encounter
from yibao.core.errors import InvalidRequest, NotInCatalog, Problem, YibaoError
from yibao.core.registry.identity import psn_no_problem
from yibao.services.stays import booking
from yibao.services.registry import catalog
from yibao.services.access.rights import Principal
from yibao.services.encounters.context import CST, Context
from yibao.services.encounters.lifecycle import Diagnosis, covid_status_of
from yibao.services.stays.reentry.capture_file import COLUMNS, ENCOUNTER_COLUMNS, NAMES, Parsed, describe
from yibao.core.money import MAX_I64, line_amount
from yibao.services.stays.reentry.imports import _Lines, _Problems
from yibao.services.stays.settle import Stay
from yibao.store import bulk
from yibao.store.uow import UnitOfWork

_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S",
                 "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d")


# -- offline_file ------------------------------------------------------------------


def _time(name: str) -> pl.Expr:
    c = pl.col(name)
    return pl.coalesce([c.str.strptime(pl.Datetime("us"), f, strict=False) for f in _TIME_FORMATS])


def _int(name: str) -> pl.Expr:
    return pl.col(name).str.to_integer(strict=False)


def _outside(name: str, lo: int, hi: int) -> pl.Expr:
    return pl.col(name).is_not_null() & ~_int(name).is_between(lo, hi).fill_null(False)


def _checks() -> list[tuple[str, pl.Expr, str]]:
    """(column, a failing condition, reason) for the row-level checks."""
    n = pl.col
    status, filing = ("confirmed", "suspected", "none"), ("registered", "unregistered",
                                                           "not_needed")  # fmt: skip
    out = [(c.name, n(c.name).is_null(), "required") for c in COLUMNS if c.required]
    out += [(c, n(c).str.len_chars() > 30, "longer than 30 characters")
            for c in ("encounter_no", "sn", "dept", "doctor", "order_no")]  # fmt: skip
    out += [
        ("provider_code", n("provider_code").str.len_chars() > 20, "longer than 20 characters"),
        ("code", n("code").str.len_chars() > 50, "longer than 50 characters"),
        ("med_type", n("med_type").str.len_chars() > 8, "longer than 8 characters"),
        ("insured_region", ~n("insured_region").str.contains(r"^\d{6}$"), "not 6 digits"),
        ("insutype", n("insutype").str.len_chars() > 8, "longer than 8 characters"),
        ("admit_time", n("admit_time").is_not_null() & _time("admit_time").is_null(),
         "not a time YYYY-MM-DD HH:MM[:SS]"),
        ("discharge_time", n("discharge_time").is_not_null() & _time("discharge_time").is_null(),
         "not a time YYYY-MM-DD HH:MM[:SS]"),
        ("discharge_time", _time("discharge_time") < _time("admit_time"),
         "before the admission"),
        ("service_time", n("service_time").is_not_null() & _time("service_time").is_null(),
         "not a time YYYY-MM-DD HH:MM[:SS]"),
        ("covid_status", n("covid_status").is_not_null() & ~n("covid_status").is_in(status),
         "not confirmed|suspected|none"),
        ("filing", n("filing").is_not_null() & ~n("filing").is_in(filing),
         "not registered|unregistered|not_needed"),
        ("price_e6", _outside("price_e6", 0, MAX_I64),
         f"not an integer 0 … {MAX_I64} (millionths of a yuan)"),
        ("qty_e4", _outside("qty_e4", 1, MAX_I64),
         f"not an integer 1 … {MAX_I64} (ten-thousandths; refunds: enter the net quantity)"),
        ("qty_e4", (_int("price_e6") > MAX_I64 // _int("qty_e4")).fill_null(False),
         f"price_e6 × qty_e4 exceeds {MAX_I64} (a line of about 922 million yuan)"),
        ("amount_fen", n("amount_fen").is_not_null() & (_int("amount_fen").is_null() | (
            _int("amount_fen") != line_amount(_int("price_e6"), _int("qty_e4")))),
         "not price × qty (rounded half up)"),
        ("provisional_cash_fen", n("provisional_cash_fen").is_not_null()
         & ~_int("provisional_cash_fen").is_between(0, 10**13), "not an integer ≥ 0 (fen)"),
    ]  # fmt: skip
    return out


def _problems(frame: pl.DataFrame) -> pl.DataFrame:
    """Every (row, column, reason) the file breaks, in row order."""
    checks = _checks()
    flags = frame.select("row", *[cond.fill_null(False).alias(f"_{i}")
                                  for i, (_, cond, _) in enumerate(checks)])  # fmt: skip
    parts = [flags.filter(pl.col(f"_{i}")).select("row", column=pl.lit(col), reason=pl.lit(why))
             for i, (col, _, why) in enumerate(checks)]  # fmt: skip
    ids = frame.select("row", "insuree_id").drop_nulls().unique("insuree_id")
    bad_ids = [(r, "insuree_id", why) for r, v in ids.iter_rows()
               if (why := psn_no_problem(v)) is not None]  # fmt: skip
    if bad_ids:
        parts.append(pl.DataFrame(bad_ids, schema=["row", "column", "reason"], orient="row"))
    parts += _disagreements(frame)
    return pl.concat(parts, how="vertical_relaxed").sort("row", maintain_order=True)


def _disagreements(frame: pl.DataFrame) -> list[pl.DataFrame]:
    """An encounter's columns differing between its lines; a repeated ``sn`` with other
    content (an identical repeat is dropped later, not a problem). Only stays found to
    disagree (one group-by) are looked at row by row."""
    key = ["provider_code", "encounter_no"]
    cols = list(ENCOUNTER_COLUMNS[2:])
    counts = frame.group_by(key).agg(*[pl.col(c).n_unique() for c in cols], n=pl.len())
    out = []
    for col in cols:
        bad_keys = counts.filter(pl.col(col) > 1).select(key)
        if bad_keys.height:
            mine = frame.join(bad_keys, on=key, how="semi")
            bad = mine.filter(pl.col(col).ne_missing(pl.col(col).first().over(key)))
            out.append(bad.select("row", column=pl.lit(col),
                                  reason=pl.lit("differs from the stay's first line")))  # fmt: skip
    if frame.select(pl.struct(*key, "sn").is_duplicated().any()).item():
        line = [c for c in NAMES if c not in ENCOUNTER_COLUMNS]
        twin = frame.filter(pl.struct(line).n_unique().over([*key, "sn"]) > 1)
        twin = twin.filter(pl.col("row") != pl.col("row").first().over([*key, "sn"]))
        why = pl.lit("feedetl_sn repeated with other content")
        out.append(twin.select("row", column=pl.lit("sn"), reason=why))
    return out


def parse(frame: pl.DataFrame) -> Parsed:
    """Check every row; typed lines and encounters, or ``InvalidRequest`` naming each
    problem (row, column, reason: ``problems``) and nothing else done."""
    if frame.height == 0:
        raise InvalidRequest("the file has no rows")
    bad = _problems(frame)
    if bad.height:
        problems: list[Problem] = [(f"row {r}.{c}", why) for r, c, why in bad.iter_rows()]
        raise InvalidRequest(describe(bad, frame.height), problems)
    n = frame.height
    lines = frame.unique([*ENCOUNTER_COLUMNS[:2], "sn"], keep="first", maintain_order=True)
    typed = lines.with_columns(
        _time("admit_time").alias("admit_time"), _time("discharge_time").alias("discharge_time"),
        _time("service_time").alias("service_time"), _int("price_e6").alias("price_e6"),
        _int("qty_e4").alias("qty_e4"),
        _int("provisional_cash_fen").alias("provisional_cash_fen"),
        pl.col("med_type").fill_null("21"), pl.col("filing").fill_null("not_needed"),
    )  # fmt: skip
    enc = typed.group_by(ENCOUNTER_COLUMNS[:2], maintain_order=True).agg(
        pl.col("row").first(), *[pl.col(c).first() for c in ENCOUNTER_COLUMNS[2:]],
        n_lines=pl.len())  # fmt: skip
    return Parsed(typed, enc, n - lines.height)


# -- reentry -----------------------------------------------------------------------


def _utc(t: dt.datetime) -> dt.datetime:
    return t.replace(tzinfo=CST).astimezone(dt.UTC)


@functools.lru_cache(maxsize=4096)
def _diagnoses(text: str) -> tuple[Diagnosis, ...]:
    codes = [c.strip() for c in text.split(";") if c.strip()]
    return tuple(Diagnosis(c, n == 0) for n, c in enumerate(codes))


def _prepare(uow: UnitOfWork, ctx: Context, caller: Principal, enc: pl.DataFrame,
             lines: pl.DataFrame, sha: str, path: Path,
             problems: _Problems) -> tuple[list[Stay], _Lines, list[NewEncounter]]:  # fmt: skip
    """The stays to settle with their snapshots, and their lines resolved; problems
    recorded; stays of insurees not enrolled on the discharge date set aside."""
    if enc.height == 0:
        return [], _Lines(pl.DataFrame(), pl.DataFrame()), []
    enc = enc.sort("encounter_id")
    psns = sorted(set(enc["insuree_id"].to_list()))
    versions: dict[str, list[Any]] = defaultdict(list)
    for start in range(0, len(psns), 5000):
        for v in uow.insurees.where(psn_no=psns[start : start + 5000]):
            versions[v.psn_no].append(v)
    seqs = _admission_seqs(uow, enc, psns)
    acc_years = _accumulators(uow, enc)
    moved = bulk_account_moved(uow, psns)
    stays: list[Stay] = []
    deferred: list[booking.NewEncounter] = []
    kept: dict[str, int] = {}
    for idx, r in enumerate(enc.iter_rows(named=True)):
        day = r["discharge_time"].date()
        ver = next((v for v in versions.get(r["insuree_id"], ()) if v.valid_from <= day and
                    (v.valid_to is None or day <= v.valid_to)), None)  # fmt: skip
        got = _stay(uow, ctx, caller, r, idx, ver, moved, seqs, acc_years, sha, path, problems)
        if isinstance(got, Stay):
            stays.append(got)
        elif got is not None:
            deferred.append(got)
        if got is not None:
            kept[r["encounter_id"]] = idx
    engine_ids = {s.idx for s in stays}
    return stays, _resolve_lines(uow, ctx, lines, kept, engine_ids, problems), deferred


def bulk_account_moved(uow: UnitOfWork, psns: Sequence[str]) -> dict[str, int]:
    """Each insuree's account movement as the store holds it (0 if none)."""
    out: dict[str, int] = {}
    from sqlalchemy import select

    from yibao.store.service_tables import AccountBalance as B

    for start in range(0, len(psns), 5000):
        q = select(B.psn_no, B.moved_fen).where(
            bulk.among(uow.session, B.psn_no, psns[start : start + 5000]))  # fmt: skip
        out.update({p: int(m) for p, m in uow.session.execute(q)})
    return out


def _accumulators(uow: UnitOfWork, enc: pl.DataFrame) -> dict[tuple[str, int], Accumulators]:
    from sqlalchemy import select

    from yibao.store.service_tables import Accumulator as A

    keys = {(p, t.year) for p, t in enc.select("insuree_id", "discharge_time").iter_rows()}
    psns = sorted({p for p, _ in keys})
    years = sorted({y for _, y in keys})
    out: dict[tuple[str, int], Accumulators] = {}
    for start in range(0, len(psns), 5000):
        q = select(A.psn_no, A.year, *(getattr(A, f) for f in ACCUMULATOR_FIELDS)).where(
            bulk.among(uow.session, A.psn_no, psns[start : start + 5000]),
            A.year.in_(years))  # fmt: skip
        out.update({(r[0], r[1]): Accumulators(**dict(zip(ACCUMULATOR_FIELDS, r[2:])))
                    for r in uow.session.execute(q) if (r[0], r[1]) in keys})  # fmt: skip
    return out


def _admission_seqs(uow: UnitOfWork, enc: pl.DataFrame, psns: Sequence[str]) -> dict[str, int]:
    """本年第n次住院 of each stay of the file, as the service counts it when it settles:
    1 + the stays of the insuree (in the store and in the file, not cancelled) admitted
    earlier in the calendar year of its admission (ties: by id)."""
    from sqlalchemy import select

    from yibao.store.service_tables import Encounter as E

    cols = enc.select("insuree_id", "admit_time", "encounter_id")
    rows = [(p, t.replace(tzinfo=CST).astimezone(dt.UTC), e) for p, t, e in cols.iter_rows()]
    mine = {e for _, _, e in rows}
    for start in range(0, len(psns), 5000):
        q = select(E.psn_no, E.admit_time, E.id).where(
            bulk.among(uow.session, E.psn_no, psns[start : start + 5000]),
            E.status != "cancelled")  # fmt: skip
        for p, t, e in uow.session.execute(q):
            if e not in mine:
                rows.append((p, t if t.tzinfo else t.replace(tzinfo=dt.UTC), e))
    by: dict[tuple[str, int], list[tuple[dt.datetime, str]]] = defaultdict(list)
    for p, t, e in rows:
        by[(p, t.astimezone(CST).year)].append((t, e))
    out: dict[str, int] = {}
    for group in by.values():
        for n, (_, e) in enumerate(sorted(group), start=1):
            if e in mine:
                out[e] = n
    return out


def _stay(uow: UnitOfWork, ctx: Context, caller: Principal, r: dict[str, Any], idx: int,
          ver: Any, moved: dict[str, int], seqs: dict[str, int],
          acc_years: dict[tuple[str, int], Accumulators], sha: str, path: Path,
          problems: _Problems) -> Stay | booking.NewEncounter | None:  # fmt: skip
    """The stay to settle; or, its insuree not enrolled on the discharge date (``ver``
    None or not enrolled), the new encounter to defer; or None (a problem recorded)."""
    day, row = r["discharge_time"].date(), r["row"]
    try:
        prov = ctx.provider(uow, r["provider_code"], day)
    except YibaoError as exc:
        problems.add(row, "provider_code", str(exc))
        return None
    if not prov.designated:
        problems.add(row, "provider_code", f"not a designated provider (定点) on {day}")
        return None
    if caller.role == "hospital" and caller.provider_code != prov.code:
        problems.add(row, "provider_code", "another hospital's stay")
        return None
    diags = _diagnoses(r["diagnoses"])
    admit = r["admit_time"].date()
    enrolled = ver is not None and ver.enrolled
    region = ver.insured_region if ver is not None else (r["insured_region"] or prov.region)
    new = booking.NewEncounter({
        "id": r["encounter_id"], "provider_code": prov.code, "psn_no": r["insuree_id"],
        "insured_region": region, "scheme_code": r["insutype"],
        "med_type": r["med_type"], "admit_time": _utc(r["admit_time"]), "admit_date": admit,
        "discharge_time": _utc(r["discharge_time"]), "discharge_date": day,
        "diagnoses": [{"code": d.code, "main": d.main} for d in diags],
        "covid_status": r["covid_status"], "filing": r["filing"], "transfer_from": None,
        "admit_msgid": None, "source_key": r["source_key"],  # a column since DECISIONS 0095
    }, {"source": path.name[-100:], "sha256": sha, "row": row,
        "encounter_no": r["encounter_no"], "lines": r["n_lines"]})  # fmt: skip
    if not enrolled:
        return new
    ins = catalog.insuree_of(ver, day)
    try:
        policy = _select(ctx, ins.insured_region, day)
    except YibaoError as exc:
        problems.add(row, "discharge_time", str(exc))
        return None
    v = policy.overlay_on(day)
    status = r["covid_status"] or _covid_status(r["diagnoses"], diags, v)
    codes = tuple(d.code for d in diags)
    balance = ins.account_opening_fen + moved.get(ins.psn_no, 0)
    e = Encounter(r["encounter_id"], r["med_type"], admit, day, codes, status,  # type: ignore[arg-type]
                  r["filing"], seqs[r["encounter_id"]], None)  # fmt: skip
    shares = {s: v.central_share_for(s) for s in ("confirmed", "suspected")} if v else {}
    return Stay(idx, r["encounter_id"], ins.engine(balance), ins.account_opening_fen,
                prov.engine(), e, acc_years.get((ins.psn_no, day.year), Accumulators(**dict.fromkeys(ACCUMULATOR_FIELDS, 0))),
                shares, new)  # fmt: skip


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


_POLICIES: dict[tuple[int, str, dt.date], Any] = {}


def _select(ctx: Context, region: str, day: dt.date) -> Any:
    """``ctx.packs.select``, remembered per (pack set, region, day)."""
    key = (id(ctx.packs), region, day)
    got = _POLICIES.get(key)
    if got is None or got[0] is not ctx.packs:
        if len(_POLICIES) > 10_000:
            _POLICIES.clear()
        got = _POLICIES[key] = (ctx.packs, ctx.packs.select(region, day))
    return got[1]


def _resolve_lines(uow: UnitOfWork, ctx: Context, lines: pl.DataFrame, kept: dict[str, int],
                   engine_ids: set[int], problems: _Problems) -> _Lines:  # fmt: skip
    """Each line's catalog fields on its service date (the admission day when blank),
    resolved once per (provider, code, date); every unresolvable line is a problem.
    ``kept``: the stays to write (id -> idx); ``engine_ids``: the idx of those to settle."""
    idx = pl.DataFrame({"encounter_id": list(kept), "idx": list(kept.values())},
                       schema={"encounter_id": pl.String, "idx": pl.Int64})  # fmt: skip
    mine = lines.join(idx, on="encounter_id", maintain_order="left").with_columns(
        service_date=pl.coalesce(pl.col("service_time"), pl.col("admit_time")).dt.date()
    )
    pairs = mine.select("provider_code", "code", "service_date").unique()
    found: dict[tuple[str, str, dt.date], catalog.ResolvedItem] = {}
    for (prov,), group in pairs.group_by("provider_code"):
        todo = list(group.select("code", "service_date").iter_rows())
        found.update(_resolve(uow, ctx, str(prov), todo, mine, problems))
    fields = ("category", "item_class", "selfpay_bp", "price_cap_e6", "in_protocol",
              "temp_code", "catalog_region", "protocol_edition", "hospital_code")  # fmt: skip
    table = pl.DataFrame(
        [(p, c, d, it.code, *(getattr(it, f) for f in fields)) for (p, c, d), it in found.items()],
        schema={"provider_code": pl.String, "code": pl.String, "service_date": pl.Date,
                "n_code": pl.String, "category": pl.String, "item_class": pl.String,
                "selfpay_bp": pl.Int64, "price_cap_e6": pl.Int64, "in_protocol": pl.Boolean,
                "temp_code": pl.Boolean, "catalog_region": pl.String,
                "protocol_edition": pl.Int64, "hospital_code": pl.String},
        orient="row")  # fmt: skip
    full = mine.join(table, on=["provider_code", "code", "service_date"], how="left",
                     maintain_order="left")  # fmt: skip
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


def _resolve(uow: UnitOfWork, ctx: Context, prov: str, todo: list[tuple[str, dt.date]],
             mine: pl.DataFrame, problems: _Problems) -> dict[Any, Any]:  # fmt: skip
    try:
        return {(prov, c, d): it for (c, d), it in zip(todo, ctx.resolve(uow, prov, todo),
                                                       strict=True)}  # fmt: skip
    except (NotInCatalog, YibaoError):
        pass
    out: dict[tuple[str, str, dt.date], Any] = {}
    for c, d in todo:  # the slow path, only for a file with unresolvable codes
        try:
            out[(prov, c, d)] = ctx.resolve(uow, prov, [(c, d)])[0]
        except YibaoError as exc:
            bad = mine.filter((pl.col("provider_code") == prov) & (pl.col("code") == c)
                              & (pl.col("service_date") == d))  # fmt: skip
            for row in bad["row"].to_list():
                problems.add(row, "code", str(exc))
    return out
