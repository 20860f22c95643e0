"""A year of the demo district's settled stays with misuse injected (issue 22), in the
scan's tables (``scan.Tables``): the supervision rules' test bed and benchmark.

The district is the demo's (examples/demo-district.yaml: its hospitals, their levels and
which are 定点救治, the 诊疗方案 editions and their dates); the stays are synthetic,
deterministic for a seed and vectorised (NumPy's PCG64: a million stays in seconds).
The clean year is coherent on purpose — each insuree's stays follow one another, a bed
line per day, each service once a day, every line inside its stay, COVID-19 stays coded
and at designated hospitals that mapped every protocol item, protocol items only once
listed, settlements within days of discharge unless deferred — so that a flag on a clean
stay is a false flag of the rule (the share is reported per rule).

``inject`` then plants each kind of misuse in its own disjoint set of stays (or one
hospital) and returns the truth: ``(rule_id, subject_key)`` of every planted case.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from yibao.services.supervision.scan import Tables

__all__ = ["Generated", "generate_year", "measure"]

DISTRICT = Path(__file__).resolve().parents[2] / "examples" / "demo-district.yaml"
_DX = ("J18.900", "I10.x00", "I25.100", "I63.900", "E11.900", "K35.800", "S72.000",
       "C34.900", "N18.900", "O80.900", "J44.900")  # fmt: skip
_BASE_LOS = np.array([8, 6, 9, 12, 8, 5, 14, 16, 10, 3, 9])
_DAY_COST = np.array([900, 700, 1500, 1200, 800, 2500, 2200, 3000, 1300, 1600, 1000]) * 100
_LEVEL_COST = np.array([0.7, 1.0, 1.4])
_COVID_DX = (["B99.900"], ["U07.100x001", "B99.900"])
_SUSPECT_DX = ["J18.900", "Z03.800x001"]
_SERVICES, _DRUGS = 3000, 2000


@dataclass(frozen=True, slots=True)
class Generated:
    tables: Tables
    injected: pl.DataFrame  # rule_id, subject_key
    as_of: dt.date  # the year's last day: hospital rules are judged on it


def _district() -> dict[str, Any]:
    import yaml

    doc: dict[str, Any] = yaml.safe_load(DISTRICT.read_text(encoding="utf-8"))
    return doc


def _providers(d: dict[str, Any]) -> pl.DataFrame:
    specs = list(d["providers"]) + [d["township_provider"]] * len(d["townships"])
    return pl.DataFrame({
        "provider_code": [f"H{p.get('region', d['region'])}{i:05d}" for i, p in
                          enumerate(specs, start=1)],
        "provider_level": pl.Series([p["level"] for p in specs], dtype=pl.Int8),
        "designated": [bool(p.get("covid_designated_from")) for p in specs],
    })  # fmt: skip


def _protocol(d: dict[str, Any]) -> pl.DataFrame:
    """One row per edition and listed code (an edition relists what came before)."""
    rows: list[tuple[str, dt.date]] = []
    listed: list[str] = []
    for ed in d["protocol"]:
        listed += [f"P{ed['edition']:02d}{i:02d}" for i in range(len(ed["add"]))]
        rows += [(code, ed["from"]) for code in listed]
    return pl.DataFrame(rows, schema={"code": pl.String, "valid_from": pl.Date},
                        orient="row").with_columns(valid_to=pl.lit(None, pl.Date))  # fmt: skip


def generate_year(n: int, seed: int, *, year: int = 2020, inject_share: float = 0.002,
                  ) -> Generated:  # fmt: skip
    """``n`` settled stays of ``year`` in the demo district with misuse injected into
    about ``inject_share`` of them per rule (at least 3 each)."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 22])))
    d = _district()
    prov, proto = _providers(d), _protocol(d)
    stays, history = _stays(rng, n, year, prov)
    lines = _lines(rng, stays, proto)
    mappings = _mappings(prov, proto)
    tables = Tables(stays, lines, proto, mappings, dx_history=history)
    k = max(3, int(n * inject_share))
    tables, truth, used = _inject(rng, tables, prov, k, year)
    tables, sold_above = _filed(rng, _priced(tables), used, k)
    truth = pl.concat([truth, sold_above])
    return Generated(tables, truth, dt.date(year, 12, 31))


def _filed(rng: np.random.Generator, t: Tables, used: set[int],
           k: int) -> tuple[Tables, pl.DataFrame]:  # fmt: skip
    """Protocol drugs bought by emergency procurement: filed at the price sold (零差率),
    except one line of each of ``k`` COVID-19 stays sold a quarter above it."""
    eid = pl.col("encounter_id")
    proto = t.lines.filter(pl.col("code").str.starts_with("P"))
    covid = t.stays.filter(pl.col("covid_status") == "confirmed").select("encounter_id")
    pool = proto.join(covid, on="encounter_id", how="semi")["encounter_id"].unique().to_numpy()
    ids = _pick(rng, pool, used, k)
    first = proto.filter(eid.is_in(pl.Series(ids, dtype=pl.Int64))).group_by("encounter_id").agg(
        pl.col("sn").first(), above=pl.lit(True))  # fmt: skip
    filed = proto.join(first, on=["encounter_id", "sn"], how="left").select(
        "encounter_id", "sn", filed_e6=pl.when("above").then(pl.col("price_e6") * 4 // 5)
        .otherwise("price_e6"))  # fmt: skip
    truth = pl.DataFrame({"rule_id": "above_filed_price", "subject_key": [str(i) for i in ids]},
                         schema={"rule_id": pl.String, "subject_key": pl.String})  # fmt: skip
    return Tables(t.stays, t.lines, t.protocol, t.mappings, filed, t.dx_history), truth


def _stays(rng: np.random.Generator, n: int, year: int,
           prov: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:  # fmt: skip
    m = max(1, n // 2)
    who = np.sort(rng.integers(0, m, n))
    first = np.r_[True, who[1:] != who[:-1]]
    last = np.r_[who[1:] != who[:-1], True]
    kind = np.searchsorted([0.87, 0.97, 1.0], rng.random(n), side="right")  # none covid susp
    dx = rng.integers(0, len(_DX), n)
    los = np.maximum(1, np.rint(_BASE_LOS[dx] * rng.lognormal(0, 0.35, n))).astype(np.int64)
    los = np.where(kind == 2, rng.integers(2, 14, n), np.where(kind == 1, rng.integers(7, 30, n),
                                                                los))  # fmt: skip
    gap = rng.integers(5, 40, n)
    step = los + gap
    # each insuree's stays one after another from a start day: a cumulative sum per insuree
    csum = np.cumsum(step)
    group_start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    before = csum - step - (csum[group_start] - step[group_start])
    start = rng.integers(0, 300, m)[who]
    covid_start = rng.integers(23, 110, n)  # late January to April
    admit_day = np.where(kind > 0, covid_start, start + before)
    levels = prov["provider_level"].to_numpy()
    designated = np.flatnonzero(prov["designated"].to_numpy())
    anyp = rng.integers(0, prov.height, n)
    pv = np.where(kind > 0, designated[rng.integers(0, len(designated), n)], anyp)
    # a COVID stay (at its own dates) must not overlap the insuree's others: its own insuree
    who = np.where(kind > 0, m + np.arange(n), who)
    jan1 = np.datetime64(f"{year}-01-01")
    admit = jan1 + admit_day.astype("timedelta64[D]")
    discharge = admit + los.astype("timedelta64[D]")
    deferred = rng.random(n) < 0.01
    settle_after = np.where(deferred, rng.integers(31, 90, n), rng.integers(0, 4, n))
    dx_list = [[_DX[i]] + (["I10.x00"] if i != 1 and r < 0.2 else [])
               for i, r in zip(dx, rng.random(n), strict=True)]  # fmt: skip
    covid_dx = rng.integers(0, 2, n)
    dx_list = [(_COVID_DX[c] if k == 1 else _SUSPECT_DX if k == 2 else x)
               for k, c, x in zip(kind, covid_dx, dx_list, strict=True)]  # fmt: skip
    stays = pl.DataFrame({
        "encounter_id": np.arange(1, n + 1, dtype=np.int64),
        "insuree_id": (who + 100_001).astype(np.int64),
        "provider_code": prov["provider_code"].gather(pv),
        "provider_level": levels[pv],
        "admit_date": admit, "discharge_date": discharge,
        "diagnoses": pl.Series(dx_list, dtype=pl.List(pl.String)),
        "covid_status": pl.Series(["none", "confirmed", "suspected"]).gather(kind),
        "covid": (kind == 1) | ((kind == 2) & (rng.random(n) < 0.5)),
        "settled_on": discharge + settle_after.astype("timedelta64[D]"),
        "deferral_reason": pl.Series(deferred).replace_strict({True: "offline", False: None},
                                                              return_dtype=pl.String),
        "last_of_insuree": last & (kind == 0),
        "dx_index": dx.astype(np.int8),
    }).with_columns(pl.col("admit_date", "discharge_date", "settled_on").cast(pl.Date))  # fmt: skip
    # the diagnosis history of COVID-19 and suspected stays: at admission, or a 2403 change
    # while in hospital (never on the discharge day)
    cov = stays.filter(pl.col("covid_status") != "none").with_columns(
        changed=pl.lit(pl.Series(rng.random(n) < 0.2)).gather(pl.col("encounter_id") - 1)
    )
    los_c = (cov["discharge_date"] - cov["admit_date"]).dt.total_days().to_numpy()
    shift = np.where(
        cov["changed"].to_numpy() & (los_c >= 2),
        1 + (rng.random(cov.height) * np.maximum(los_c - 1, 1)).astype(np.int64),
        0,
    )
    at_admit = cov.select("encounter_id", on=pl.col("admit_date"),
                          diagnoses=pl.when(pl.lit(pl.Series(shift > 0)))
                          .then(pl.lit(["J18.900"], pl.List(pl.String)))
                          .otherwise(pl.col("diagnoses")))  # fmt: skip
    moved = pl.Series(shift[shift > 0])
    changes = cov.filter(pl.lit(pl.Series(shift > 0))).select(
        "encounter_id", diagnoses=pl.col("diagnoses"),
        on=pl.col("admit_date") + pl.duration(days=pl.lit(moved)))  # fmt: skip
    history = pl.concat([at_admit, changes.select(at_admit.columns)])
    return stays, history.sort("encounter_id", "on")


def _lines(rng: np.random.Generator, stays: pl.DataFrame, proto: pl.DataFrame) -> pl.DataFrame:
    """A bed line per day, a few services (each once a day) and drugs inside the stay;
    COVID-19 stays also protocol items listed on their day."""
    n = stays.height
    los = (stays["discharge_date"] - stays["admit_date"]).dt.total_days().to_numpy()
    level = stays["provider_level"].to_numpy().astype(np.int64)
    eid = stays["encounter_id"].to_numpy()
    admit = stays["admit_date"].to_numpy().astype("datetime64[D]")
    covid = (stays["covid_status"] != "none").to_numpy()
    # beds: one per day of the stay (admission day to the day before discharge)
    bed_owner = np.repeat(np.arange(n), los)
    bed_day = np.arange(len(bed_owner)) - np.repeat(np.cumsum(los) - los, los)
    # services and drugs: k per stay on days inside the stay
    k = rng.integers(3, 10, n)
    owner = np.repeat(np.arange(n), k)
    j = np.arange(len(owner)) - np.repeat(np.cumsum(k) - k, k)
    day = (rng.random(len(owner)) * (los[owner] + 1)).astype(np.int64)
    is_service = rng.random(len(owner)) < 0.5
    offset = rng.integers(0, _SERVICES, n)[owner]
    code_ix = np.where(is_service, (offset + j) % _SERVICES, rng.integers(0, _DRUGS, len(owner)))
    dcost = (_DAY_COST[stays["dx_index"].to_numpy()] * _LEVEL_COST[level - 1]).astype(np.int64)
    other_fen = (dcost[owner] * rng.lognormal(0, 0.5, len(owner)) / 3).astype(np.int64) + 100
    # protocol items on COVID-19 stays: those listed on the line's day
    pdates = proto.group_by("code").agg(pl.col("valid_from").min()).sort("valid_from", "code")
    pcodes, pfrom = (
        pdates["code"].to_numpy(),
        pdates["valid_from"].to_numpy().astype("datetime64[D]"),
    )
    p_owner = np.repeat(np.flatnonzero(covid), 4)
    p_day = (rng.random(len(p_owner)) * (los[p_owner] + 1)).astype(np.int64)
    p_date = admit[p_owner] + p_day.astype("timedelta64[D]")
    listed = np.searchsorted(pfrom, p_date, side="right")
    keep = listed > 0
    p_owner, p_date = p_owner[keep], p_date[keep]
    p_code = pcodes[(rng.random(len(p_owner)) * listed[keep]).astype(np.int64)]
    bed_date = admit[bed_owner] + bed_day.astype("timedelta64[D]")
    other_code = pl.Series(np.where(is_service, "S", "D")) + pl.Series(code_ix).cast(pl.String)
    frames = [
        pl.DataFrame({"owner": bed_owner, "code": [f"BED{lv}" for lv in level[bed_owner]],
                      "category": "bed", "date": bed_date,
                      "amount_fen": (dcost[bed_owner] // 4).astype(np.int64)}),
        pl.DataFrame({"owner": owner, "code": other_code,
                      "category": pl.Series(np.where(is_service, "service", "drug")),
                      "date": admit[owner] + day.astype("timedelta64[D]"),
                      "amount_fen": other_fen}),
        pl.DataFrame({"owner": p_owner, "code": p_code, "category": "other", "date": p_date,
                      "amount_fen": rng.integers(2_000, 80_000, len(p_owner))}),
    ]  # fmt: skip
    out = pl.concat([f.with_columns(pl.col("date").cast(pl.Date), pl.col("owner").cast(pl.Int64))
                     for f in frames]).sort("owner", "date")  # fmt: skip
    return out.select(
        encounter_id=pl.lit(pl.Series(eid)).gather(pl.col("owner")),
        sn=(pl.int_range(pl.len()).over("owner") + 1).cast(pl.String),
        code="code", category="category", service_date="date", amount_fen="amount_fen",
    )  # fmt: skip


def _mappings(prov: pl.DataFrame, proto: pl.DataFrame) -> pl.DataFrame:
    """Every designated hospital maps every protocol item from its first edition."""
    first = proto.group_by("code").agg(pl.col("valid_from").min())
    hosp = prov.filter("designated").select("provider_code")
    return hosp.join(first, how="cross").with_columns(valid_to=pl.lit(None, pl.Date))


def _priced(t: Tables) -> Tables:
    """Prices from amounts (one unit each), and each stay's totals from its lines: the
    funds pay 70 % (fiscal the rest under the overlay), integer fen."""
    lines = t.lines.with_columns(price_e6=pl.col("amount_fen") * 10_000)
    total = lines.group_by("encounter_id").agg(medfee_sumamt=pl.col("amount_fen").sum())
    stays = t.stays.drop("medfee_sumamt", strict=False).join(total, on="encounter_id", how="left")
    stays = stays.with_columns(pl.col("medfee_sumamt").fill_null(0)).with_columns(
        fund_pay_sumamt=pl.col("medfee_sumamt") * 7 // 10,
    ).with_columns(
        fiscal_pay=pl.when("covid").then(pl.col("medfee_sumamt") - pl.col("fund_pay_sumamt"))
        .otherwise(0),
    )  # fmt: skip
    return Tables(stays, lines, t.protocol, t.mappings, t.filed_prices, t.dx_history)


def _pick(rng: np.random.Generator, pool: np.ndarray, used: set[int], k: int) -> np.ndarray:
    free = pool[~np.isin(pool, np.fromiter(used, dtype=np.int64, count=len(used)))]
    chosen = rng.choice(free, size=min(k, len(free)), replace=False) if len(free) else free
    used.update(int(e) for e in chosen)
    return np.sort(chosen)


def _inject(rng: np.random.Generator, t: Tables, prov: pl.DataFrame, k: int,
            year: int) -> tuple[Tables, pl.DataFrame, set[int]]:  # fmt: skip
    s, lines, hist, maps = t.stays, t.lines, t.dx_history, t.mappings
    assert hist is not None
    used: set[int] = set()
    truth: list[tuple[str, str]] = []
    eid = pl.col("encounter_id")
    designated = prov.filter("designated")["provider_code"]
    los = (pl.col("discharge_date") - pl.col("admit_date")).dt.total_days()
    plain = s.filter(pl.col("covid_status") == "none")
    at_designated = plain.filter(pl.col("provider_code").is_in(designated))

    def mark(rule: str, ids: np.ndarray) -> pl.Expr:
        truth.extend((rule, str(i)) for i in ids)
        return eid.is_in(pl.Series(ids, dtype=pl.Int64))

    # 1. the overlay on a stay with no COVID-19 code and no COVID status
    ids = _pick(rng, at_designated["encounter_id"].to_numpy(), used, k)
    s = s.with_columns(covid=pl.col("covid") | mark("covid_without_diagnosis", ids))
    # 2. a COVID-19 code first recorded on the discharge day (2403 at the end)
    ids = _pick(rng, at_designated.filter(los >= 3)["encounter_id"].to_numpy(), used, k)
    hit = mark("covid_diagnosis_at_discharge", ids)
    s = s.with_columns(
        covid=pl.col("covid") | hit,
        covid_status=pl.when(hit).then(pl.lit("confirmed")).otherwise("covid_status"),
        diagnoses=pl.when(hit).then(pl.col("diagnoses").list.concat(pl.lit(["B99.900"])))
        .otherwise("diagnoses"),
    )  # fmt: skip
    changed = s.filter(hit)
    hist = pl.concat(
        [
            hist,
            changed.select(
                "encounter_id", on="admit_date", diagnoses=pl.col("diagnoses").list.head(1)
            ),
            changed.select("encounter_id", on="discharge_date", diagnoses="diagnoses"),
        ]
    )
    # 3. still 疑似 at settlement after a long stay, settled under the overlay
    ids = _pick(rng, at_designated.filter(los > 14)["encounter_id"].to_numpy(), used, k)
    hit = mark("suspected_kept", ids)
    s = s.with_columns(
        covid=pl.col("covid") | hit,
        covid_status=pl.when(hit).then(pl.lit("suspected")).otherwise("covid_status"),
        diagnoses=pl.when(hit).then(pl.lit(_SUSPECT_DX)).otherwise("diagnoses"),
    )
    # 4. an item of the 6th edition billed before that edition: COVID stays admitted earlier
    late = t.protocol.group_by("code").agg(pl.col("valid_from").min()).sort("valid_from")[-1]
    code, listed_on = late["code"][0], late["valid_from"][0]
    pool = s.filter((pl.col("covid_status") == "confirmed") & pl.col("covid")
                    & (pl.col("admit_date") < listed_on) & ~eid.is_in(list(used)))  # fmt: skip
    ids = _pick(rng, pool["encounter_id"].to_numpy(), used, k)
    mark("protocol_outside_edition", ids)
    extra = s.filter(eid.is_in(pl.Series(ids, dtype=pl.Int64))).select(
        "encounter_id", sn=pl.lit("X1"), code=pl.lit(code), category=pl.lit("other"),
        service_date="admit_date", amount_fen=pl.lit(50_000, pl.Int64))  # fmt: skip
    # 5. the same bed twice on one day
    ids = _pick(rng, plain["encounter_id"].to_numpy(), used, k)
    mark("duplicate_same_day", ids)
    dup = lines.filter(eid.is_in(pl.Series(ids, dtype=pl.Int64)) & (pl.col("category") == "bed"))
    dup = dup.group_by("encounter_id").first().with_columns(sn=pl.lit("X2"))
    # 6. a second stay at another hospital inside one of the insuree's stays
    ids = _pick(rng, plain.filter(los >= 2)["encounter_id"].to_numpy(), used, k)
    host = s.filter(eid.is_in(pl.Series(ids, dtype=pl.Int64)))
    n0 = int(s["encounter_id"].max()) + 1  # type: ignore[arg-type]
    other_prov = prov["provider_code"].gather(
        (pl.Series(rng.integers(1, prov.height, host.height)) +
         host["provider_code"].replace_strict(prov["provider_code"], pl.Series(range(prov.height))))
        % prov.height)  # fmt: skip
    twin = host.with_columns(
        encounter_id=pl.int_range(n0, n0 + host.height, dtype=pl.Int64),
        provider_code=other_prov,
        covid=pl.lit(False),
        deferral_reason=pl.lit(None, pl.String),
        discharge_date=pl.col("admit_date") + pl.duration(days=los // 2 + 1),
    ).with_columns(settled_on=pl.col("discharge_date"), last_of_insuree=pl.lit(False))
    twin_ids = twin["encounter_id"].to_numpy()
    mark("overlapping_stays", np.concatenate([ids, twin_ids]))
    used.update(int(i) for i in twin_ids)
    twin_lines = twin.select("encounter_id", "admit_date", days=los).with_columns(
        d=pl.int_ranges(0, pl.col("days"))).explode("d").select(
        "encounter_id", sn=(pl.col("d") + 1).cast(pl.String), code=pl.lit("BED2"),
        category=pl.lit("bed"), service_date=pl.col("admit_date") + pl.duration(days="d"),
        amount_fen=pl.lit(30_000, pl.Int64))  # fmt: skip
    # 7. a fee dated two days after discharge
    ids = _pick(rng, plain["encounter_id"].to_numpy(), used, k)
    mark("fee_outside_stay", ids)
    moved = (lines.filter(eid.is_in(pl.Series(ids, dtype=pl.Int64))
                          & (pl.col("category") != "bed"))
             .group_by("encounter_id").first().select("encounter_id", "sn"))  # fmt: skip
    # 8. a stay ten times as long as its peers' (the insuree's last: nothing after it)
    ids = _pick(rng, plain.filter("last_of_insuree")["encounter_id"].to_numpy(), used, k)
    hit = mark("peer_outlier_stay_days", ids)
    s = s.with_columns(
        discharge_date=pl.when(hit)
        .then(pl.col("admit_date") + pl.duration(days=150))
        .otherwise("discharge_date"),
    ).with_columns(settled_on=pl.when(hit).then("discharge_date").otherwise("settled_on"))
    # 9. a stay costing fifty times its peers' (one very expensive drug line)
    ids = _pick(rng, plain["encounter_id"].to_numpy(), used, k)
    mark("peer_outlier_cost", ids)
    per = lines.group_by("encounter_id").agg(pl.col("amount_fen").sum())
    costly = per.filter(eid.is_in(pl.Series(ids, dtype=pl.Int64))).join(
        s.select("encounter_id", "admit_date"), on="encounter_id").select(
        "encounter_id", sn=pl.lit("X9"), code=pl.lit("D99999"), category=pl.lit("drug"),
        service_date="admit_date", amount_fen=pl.col("amount_fen") * 60)  # fmt: skip
    # 10. settled 60 days after discharge, never deferred
    ids = _pick(rng, plain.filter(pl.col("deferral_reason").is_null())["encounter_id"].to_numpy(),
                used, k)  # fmt: skip
    hit = mark("late_settlement", ids)
    s = s.with_columns(settled_on=pl.when(hit).then(pl.col("discharge_date") + pl.duration(days=60))
                       .otherwise("settled_on"))  # fmt: skip
    # 11. one designated hospital that never mapped an item of the first edition
    victim = designated[int(rng.integers(0, len(designated)))]
    first_code = t.protocol.sort("valid_from", "code")["code"][0]
    maps = maps.filter(~((pl.col("provider_code") == victim) & (pl.col("code") == first_code)))
    truth.append(("mapping_incomplete", f"{victim}@{year}-12"))

    out = moved.join(s.select("encounter_id", "discharge_date"), on="encounter_id").select(
        "encounter_id", "sn", moved_to=pl.col("discharge_date") + pl.duration(days=2)
    )
    lines = (
        lines.join(out, on=["encounter_id", "sn"], how="left")
        .with_columns(service_date=pl.coalesce("moved_to", "service_date"))
        .drop("moved_to")
    )
    lines = pl.concat([lines, extra, dup, twin_lines, costly], how="vertical_relaxed")
    s = pl.concat([s, twin], how="vertical_relaxed").drop("last_of_insuree", "dx_index")
    injected = pl.DataFrame(truth, schema={"rule_id": pl.String, "subject_key": pl.String},
                            orient="row")  # fmt: skip
    return Tables(s, lines, t.protocol, maps, None, hist), injected, used


def measure(flags: pl.DataFrame, gen: Generated) -> pl.DataFrame:
    """Per rule: cases injected, found, missed, and flags on clean subjects (stays or
    hospitals planted with no misuse at all) with their share of the clean subjects."""
    truth = gen.injected
    got = flags.select("rule_id", "subject_key", "subject")
    planted = truth.select("subject_key").unique()
    clean_stays = (
        gen.tables.stays.height
        - truth.filter(pl.col("rule_id") != "mapping_incomplete")["subject_key"].n_unique()
    )
    found = truth.join(got, on=["rule_id", "subject_key"], how="semi").group_by("rule_id").len()
    false = got.join(planted, on="subject_key", how="anti")
    hospitals = gen.tables.stays["provider_code"].n_unique()
    counts = false.group_by("rule_id", "subject").len()
    rules = pl.concat([truth.select("rule_id"), got.select("rule_id")]).unique()
    return (
        rules.join(truth.group_by("rule_id").len("injected"), on="rule_id", how="left")
        .join(found.rename({"len": "found"}), on="rule_id", how="left")
        .join(counts.rename({"len": "false_flags"}), on="rule_id", how="left")
        .with_columns(pl.col("injected", "found", "false_flags").fill_null(0))
        .with_columns(
            clean=pl.when(pl.col("rule_id") == "mapping_incomplete")
            .then(hospitals - 1)
            .otherwise(clean_stays)
        )
        .with_columns(
            missed=pl.col("injected") - pl.col("found"),
            false_share_bp=pl.col("false_flags") * 10_000 // pl.col("clean"),
        )
        .select("rule_id", "injected", "found", "missed", "false_flags", "clean", "false_share_bp")
        .sort("rule_id")
    )
