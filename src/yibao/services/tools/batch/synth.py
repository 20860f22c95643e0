"""Synthetic encounter and line tables in the batch contract's schema (``yibao bench gen``).

Deterministic for a seed (NumPy's PCG64), vectorised end to end: no Python loop over rows,
so a million encounters (about 21 million lines) take seconds. The tables look like a
pooling area's year (SETTLEMENT.md, the cases' README "The batch command"): employees and
both resident tiers at levels 1–3, about 75/20/5 % class A/B/C lines with some over their
price cap, prices at the wire's precision (a fifth of the catalog priced below the fen,
``price_e6``) and some fractional quantities (``qty_e4``), about 10 % confirmed COVID-19
patients (most at designated hospitals, a few without the interim code B99.900) and
some suspected ones, about 6 % out of area (some unregistered), about 4 % transfers,
assistance categories, non-zero starting accumulators, several stays per insuree-year
and a few very expensive stays so that every yearly cap is reached.

The starting paid accumulators are what the entitlements imply under ``policy`` (the
shipped cq-2020 pack by default; ``H(E)``, SETTLEMENT.md §2), except for about 3 % of
the insurees who start after a reversal: a fund paid below (2 %) or above (1 %, at times
past its cap) what their entitlement implies. Dates lie in ``year``; regions in ``area``
(the cq-2020 pack's pooling area, "50", by default). Nothing here settles anything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import polars as pl

    from yibao.core.policy import Policy

__all__ = ["CHUNK", "chunks", "generate", "write_tables"]

_DISTRICTS = (
    "0101",
    "0102",
    "0103",
    "0104",
    "0105",
    "0106",
    "0107",
    "0108",
    "0109",
    "0110",
    "0111",
    "0112",
    "0113",
    "0114",
    "0115",
    "0116",
    "0117",
    "0118",
    "0119",
    "0120",
    "0151",
    "0152",
    "0153",
    "0154",
    "0155",
    "0156",
    "0229",
    "0230",
    "0231",
    "0233",
)
_ELSEWHERE = ("510104", "420106", "110105", "440304", "330106")  # out of area (异地)
_CATEGORIES = ("drug", "service", "consumable", "bed", "other")
_DIAGNOSES: tuple[tuple[str, ...], ...] = (
    ("J18.900",),  # 0 pneumonia
    ("I21.900", "I10.x00"),  # 1
    ("K35.800",),  # 2
    ("E11.900", "I10.x00", "N18.500"),  # 3
    ("C34.900",),  # 4
    ("B99.900",),  # 5 confirmed, interim code
    ("B99.900", "U07.100x001"),  # 6 confirmed, both codes
    ("U07.100x001",),  # 7 confirmed, national code only (no B99.900)
    ("J18.900", "J96.000"),  # 8 confirmed but coded without a COVID-19 code
    ("J18.900", "Z03.800x001"),  # 9 suspected
)


def _choice(rng: np.random.Generator, n: int, p: list[float]) -> np.ndarray:
    """Indices 0..len(p)-1 with probabilities ``p`` (vectorised ``choice``)."""
    return np.searchsorted(np.cumsum(p), rng.random(n) * sum(p), side="right").astype(np.int8)


def _insurees(rng: np.random.Generator, m: int, area: str) -> dict[str, np.ndarray]:
    scheme = _choice(rng, m, [0.55, 0.40, 0.05])  # employee, resident, none (未参保)
    tier = np.where(scheme == 1, rng.integers(1, 3, m), 0)
    started = rng.random(m) < 0.3  # accumulators carried in from before the table
    basic = np.where(started, rng.integers(0, 16_000_000, m), 0)
    basic = np.where(rng.random(m) < 0.01, rng.integers(15_000_000, 25_000_000, m), basic)
    return {
        "scheme": scheme,
        "tier": tier,
        "region": rng.integers(0, len(_DISTRICTS), m),
        "assist": _choice(rng, m, [0.90, 0.05, 0.02, 0.03]),  # none dibao tekun poverty
        "balance": np.where(scheme == 0, rng.integers(0, 800_000, m), 0) * (rng.random(m) < 0.9),
        "basic": basic,
        "serious": np.where(started, rng.integers(0, 3_000_000, m), 0),
        "assistance": np.where(started & (rng.random(m) < 0.3), rng.integers(0, 2_000_000, m), 0),
        "area": np.full(m, area),
    }


def _providers(rng: np.random.Generator, p: int) -> dict[str, np.ndarray]:
    out_of_area = rng.random(p) < 0.06
    return {
        "level": _choice(rng, p, [0.3, 0.4, 0.3]) + 1,
        "designated": rng.random(p) < 0.1,
        "out": out_of_area,
        "district": rng.integers(0, len(_DISTRICTS), p),
        "elsewhere": rng.integers(0, len(_ELSEWHERE), p),
    }


def _catalog(rng: np.random.Generator, k: int) -> dict[str, np.ndarray]:
    """Items priced in millionths of a yuan: most in whole fen (x 10^4), a fifth with
    sub-fen digits (tablets at a few jiao or less among them)."""
    cls = _choice(rng, k, [0.75, 0.20, 0.05])
    price = np.exp(rng.uniform(np.log(50), np.log(300_000), k)).astype(np.int64) * 10**4
    fine = rng.random(k) < 0.2
    price = np.where(fine, np.exp(rng.uniform(np.log(2_000), np.log(3 * 10**9), k)), price)
    price = price.astype(np.int64)
    capped = rng.random(k) < 0.3
    cap = (price * rng.uniform(0.7, 1.3, k)).astype(np.int64)
    return {
        "cls": cls,
        "category": _choice(rng, k, [0.5, 0.25, 0.1, 0.1, 0.05]),
        "selfpay": np.where(
            cls == 1, np.array([500, 1000, 1500, 2000, 3000])[rng.integers(0, 5, k)], 0
        ),
        "price": price,
        "fine": fine,
        "cap": np.where(capped, cap, -1),
        "protocol": rng.random(k) < 0.1,
        "temp": rng.random(k) < 0.01,
        "code": rng.integers(10**18, 9 * 10**18, k),
    }


CHUNK = 1_000_000  # encounters generated (and held) at a time


def _rngs(seed: int, chunk: int) -> tuple[np.random.Generator, np.random.Generator]:
    """The stream shared by all chunks (providers, catalog) and the chunk's own."""
    shared = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 0])))
    own = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 1, chunk])))
    return shared, own


def generate(
    n: int, seed: int, *, year: int = 2020, area: str = "50", policy: Policy | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``n`` encounters (at most ``CHUNK``) and their lines, deterministic for ``seed``;
    the starting paid accumulators follow ``policy`` (default: the cq-2020 pack)."""
    return _chunk(n, seed, 0, n, year=year, area=area, policy=policy or _default_policy())


def chunks(
    n: int, seed: int, *, year: int = 2020, area: str = "50", policy: Policy | None = None
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """``n`` encounters in chunks of ``CHUNK``: each chunk has its own insurees (so each
    insuree-year lies in one chunk) and the next encounter ids; memory stays bounded."""
    pol = policy or _default_policy()
    for c, start in enumerate(range(0, n, CHUNK)):
        yield _chunk(min(CHUNK, n - start), seed, c, n, year=year, area=area, policy=pol)


def _default_policy() -> Policy:
    from yibao.packs import shipped_pack
    from yibao.packs.files import load_pack

    return load_pack(shipped_pack("cq-2020"))


def _chunk(
    size: int, seed: int, c: int, total: int, *, year: int, area: str, policy: Policy
) -> tuple[pl.DataFrame, pl.DataFrame]:
    import polars as pl

    shared, rng = _rngs(seed, c)
    prov, cat = _providers(shared, max(20, total // 400)), _catalog(shared, 4000)
    n, m = size, max(1, size // 3)  # about three stays per insuree-year
    ins = _insurees(rng, m, area)
    who = rng.integers(0, m, n)
    covid = _choice(rng, n, [0.87, 0.10, 0.03])  # none, confirmed, suspected
    days = 366 if year % 4 == 0 else 365
    day = rng.integers(0, days, n)
    outbreak = rng.integers(20, 130, n)  # confirmed patients: late January to early May
    day = np.where((covid > 0) & (rng.random(n) < 0.97), outbreak, day)
    stay = np.minimum(rng.geometric(0.12, n), 60)
    dx = np.where(
        covid == 1,
        _choice(rng, n, [0, 0, 0, 0, 0, 0.80, 0.10, 0.06, 0.04]),
        np.where(covid == 2, 9, _choice(rng, n, [0.4, 0.2, 0.2, 0.1, 0.1])),
    )
    designated = np.flatnonzero(prov["designated"]) if prov["designated"].any() else np.arange(1)
    any_prov = rng.integers(0, len(prov["level"]), n)
    to_designated = (covid == 1) & (rng.random(n) < 0.9)
    pv = np.where(to_designated, designated[rng.integers(0, len(designated), n)], any_prov)
    out = prov["out"][pv]
    filing = np.where(out, _choice(rng, n, [0.6, 0.4]), np.where(rng.random(n) < 0.02, 1, 2))
    counts = np.clip(5 + rng.negative_binomial(2, 2 / 18, n), 5, 60)
    expensive = rng.random(n) < 0.002
    counts = np.where(expensive, 60, counts)
    first_id = c * CHUNK + 1
    districts = pl.Series([area + d for d in _DISTRICTS])
    region = np.where(out, len(_DISTRICTS) + prov["elsewhere"][pv], prov["district"][pv])
    enc = pl.DataFrame(
        {
            "encounter_id": np.arange(first_id, first_id + n, dtype=np.int64),
            "insuree_id": (who + 100_001 + c * CHUNK).astype(np.int64),
            "scheme": pl.Series(["employee", "resident", "none"]).gather(ins["scheme"][who]),
            "resident_tier": ins["tier"][who].astype(np.int8),
            "insured_region": districts.gather(ins["region"][who]),
            "assistance_category": pl.Series(["none", "dibao", "tekun", "poverty"]).gather(
                ins["assist"][who]
            ),
            "provider_code": pl.Series(pv.astype(np.int64)),
            "provider_region": pl.concat([districts, pl.Series(_ELSEWHERE)]).gather(region),
            "provider_level": prov["level"][pv].astype(np.int8),
            "covid_designated": prov["designated"][pv],
            "discharge_day": day.astype(np.int32),
            "stay": stay.astype(np.int32),
            "dx": dx.astype(np.int8),
            "covid_status": pl.Series(["none", "confirmed", "suspected"]).gather(covid),
            "filing": pl.Series(["registered", "unregistered", "not_needed"]).gather(filing),
            "transfer": rng.random(n) < 0.06,
            "account_balance_fen": ins["balance"][who].astype(np.int64),
            "start_basic_entitled_fen": ins["basic"][who].astype(np.int64),
            "start_serious_base_fen": ins["serious"][who].astype(np.int64),
            "start_assistance_entitled_fen": ins["assistance"][who].astype(np.int64),
        }
    ).with_columns(provider_code="H50" + pl.col("provider_code").cast(pl.String).str.zfill(9))
    lines = _lines(rng, cat, counts, covid > 0, expensive, first_id)
    enc = _paid(enc, policy, _reversed(rng, m)[:, who])
    return _finish_encounters(enc, dt.date(year, 1, 1)), lines


def _reversed(rng: np.random.Generator, m: int) -> np.ndarray:
    """Per insuree and fund (rows: basic, serious, assistance): 0 paid as the
    entitlement implies, otherwise a signed offset from it (a year after a reversal)."""
    which = _choice(rng, m, [0.97, 0.02, 0.01])  # none, paid below, paid above
    fund = rng.integers(0, 3, m)
    below = -rng.integers(1, 5_000_000, m)
    above = rng.integers(1, 2_000_000, m)
    offset = np.where(which == 1, below, np.where(which == 2, above, 0))
    return np.where(np.arange(3)[:, None] == fund[None, :], offset[None, :], 0)


def _paid(enc: pl.DataFrame, policy: Policy, offset: np.ndarray) -> pl.DataFrame:
    """The starting paid accumulators: ``H`` of each starting entitlement under
    ``policy`` (SETTLEMENT.md §2), moved by ``offset`` where an insuree starts after a
    reversal (never below 0)."""
    import polars as pl

    from yibao.core.engine.batch_ops import POLARS
    from yibao.core.engine.rules import serious_entitled

    scheme = pl.col("scheme")
    basic: pl.Expr = pl.lit(0, pl.Int64)
    serious: pl.Expr = pl.lit(0, pl.Int64)
    for name in ("employee", "resident"):
        cap = policy.basic_cap_fen[name]
        basic = (
            pl.when(scheme == name)
            .then(pl.min_horizontal("start_basic_entitled_fen", pl.lit(cap)))
            .otherwise(basic)
        )
        g = serious_entitled(pl.col("start_serious_base_fen"), policy.serious[name], POLARS)
        serious = pl.when(scheme == name).then(g).otherwise(serious)
    assistance: pl.Expr = pl.lit(0, pl.Int64)
    for cat, terms in policy.assistance.items():
        h = pl.min_horizontal("start_assistance_entitled_fen", pl.lit(terms.cap_fen))
        assistance = pl.when(pl.col("assistance_category") == cat).then(h).otherwise(assistance)
    moved = [
        (h + pl.lit(pl.Series(o))).clip(0)
        for h, o in zip((basic, serious, assistance), offset, strict=True)
    ]
    return enc.with_columns(
        start_basic_paid_fen=moved[0].cast(pl.Int64),
        start_serious_paid_fen=moved[1].cast(pl.Int64),
        start_assistance_paid_fen=moved[2].cast(pl.Int64),
    )  # fmt: skip


def _lines(
    rng: np.random.Generator,
    cat: dict[str, np.ndarray],
    counts: np.ndarray,
    covid: np.ndarray,
    expensive: np.ndarray,
    first_id: int,
) -> pl.DataFrame:
    import polars as pl

    total = int(counts.sum())
    owner = np.repeat(np.arange(len(counts)), counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    k = len(cat["cls"])
    item = rng.integers(0, k, total)
    protocol_items = np.flatnonzero(cat["protocol"] | cat["temp"])
    use_protocol = covid[owner] & (rng.random(total) < 0.3)
    item = np.where(use_protocol, protocol_items[rng.integers(0, len(protocol_items), total)], item)
    price = (cat["price"][item] * rng.uniform(0.9, 1.1, total)).astype(np.int64)
    price = np.where(cat["fine"][item], price, price // 10**4 * 10**4)  # whole fen stay so
    big = expensive[owner] & (rng.random(total) < 0.5)
    price = np.where(big, price * 200 + 10**10, price)
    # ten-thousandths: half a box to ten, and some fractions (a third, two thirds, …)
    qty = np.array([5000, 10000, 10000, 20000, 30000, 50000, 100000, 3333, 6667, 12500])[
        _choice(rng, total, [0.11, 0.22, 0.22, 0.11, 0.11, 0.11, 0.07, 0.02, 0.02, 0.01])
    ]
    cap = cat["cap"][item]
    codes = ("X" + pl.Series("code", cat["code"]).cast(pl.String)).gather(item)
    return pl.DataFrame(
        {
            "encounter_id": (owner + first_id).astype(np.int64),
            "sn": pl.Series("sn", np.arange(total) - starts + 1).cast(pl.String),
            "code": codes,
            "category": pl.Series(_CATEGORIES).gather(cat["category"][item]),
            "item_class": pl.Series(["A", "B", "C"]).gather(cat["cls"][item]),
            "selfpay_bp": cat["selfpay"][item].astype(np.int32),
            "price_e6": price,
            "qty_e4": qty.astype(np.int64),
            "price_cap_e6": pl.Series("cap", cap.astype(np.int64)).clip(-1).replace(-1, None),
            "in_protocol": cat["protocol"][item],
            "temp_code": cat["temp"][item],
        }
    )


def _finish_encounters(enc: pl.DataFrame, jan1: dt.date) -> pl.DataFrame:
    """Dates, diagnoses, the admission count and transfers, which need the row order."""
    import polars as pl

    dx = pl.Series("dx", [list(d) for d in _DIAGNOSES], dtype=pl.List(pl.String))
    discharge = pl.lit(jan1) + pl.duration(days=pl.col("discharge_day"))
    order = ["insuree_id", "discharge_date", "encounter_id"]
    return (
        enc.with_columns(dx.gather(enc["dx"]).alias("diagnoses"))
        .with_columns(
            discharge_date=discharge,
            admit_date=discharge - pl.duration(days=pl.col("stay")),
            resident_tier=pl.when(pl.col("scheme") == "resident").then(pl.col("resident_tier")),
        )
        .sort(order)
        .with_columns(
            admission_seq=pl.int_range(1, pl.len() + 1, dtype=pl.Int16).over("insuree_id"),
            previous=pl.col("encounter_id").shift(1).over("insuree_id"),
        )
        .with_columns(
            transfer_from=pl.when(pl.col("transfer")).then(pl.col("previous")),
            med_type=pl.lit("21"),
        )
        .sort("encounter_id")
        .select(
            "encounter_id",
            "insuree_id",
            "scheme",
            "resident_tier",
            "insured_region",
            "assistance_category",
            "provider_code",
            "provider_region",
            "provider_level",
            "covid_designated",
            "med_type",
            "admit_date",
            "discharge_date",
            "diagnoses",
            "covid_status",
            "filing",
            "admission_seq",
            "transfer_from",
            "account_balance_fen",
            "start_basic_entitled_fen",
            "start_serious_base_fen",
            "start_assistance_entitled_fen",
            "start_basic_paid_fen",
            "start_serious_paid_fen",
            "start_assistance_paid_fen",
        )
    )


def write_tables(
    n: int, seed: int, out: Path, *, policy: Policy | None = None
) -> tuple[Path, Path]:
    """Generate ``n`` encounters chunk by chunk into ``out/E.parquet`` and
    ``out/L.parquet`` (LZ4-compressed Parquet); returns their paths."""
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    out.mkdir(parents=True, exist_ok=True)
    paths = out / "E.parquet", out / "L.parquet"
    writers: list[pq.ParquetWriter] = []
    try:
        for tables in chunks(n, seed, policy=policy):
            arrow = [t.to_arrow() for t in tables]
            if not writers:
                writers = [
                    pq.ParquetWriter(p, a.schema, compression="lz4")
                    for p, a in zip(paths, arrow, strict=True)
                ]
            for w, a in zip(writers, arrow, strict=True):
                w.write_table(a, row_group_size=256 * 1024)
    finally:
        for w in writers:
            w.close()
    return paths
