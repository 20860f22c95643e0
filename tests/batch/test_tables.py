"""Whole tables: a generated year against the scalar engine, the three modes against each
other, and the public golden cases settled as one batch."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.batch_oracle import differences, requests_of, scalar_settle, to_tables
from tests.golden.casefile import PUBLIC, SETLINFO, case_files, load_case
from yibao.core.engine import request_from_mapping
from yibao.core.engine.batch import OUT_COLUMNS
from yibao.packs import shipped_pack
from yibao.packs.files import load_pack
from yibao.services.tools.batch.files import settle_tables
from yibao.services.tools.batch.synth import generate

CQ = shipped_pack("cq-2020")


@pytest.fixture(scope="module")
def year() -> tuple[pl.DataFrame, pl.DataFrame]:
    return generate(20_000, seed=2020)


@pytest.fixture(scope="module")
def scalar_year(year: tuple[pl.DataFrame, pl.DataFrame]) -> pl.DataFrame:
    return scalar_settle(*year, [load_pack(CQ)])


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    enc, lines = generate(3_000, seed=11)
    folder = tmp_path_factory.mktemp("tables")
    enc.write_parquet(folder / "E.parquet")
    lines.write_parquet(folder / "L.parquet")
    return folder / "E.parquet", folder / "L.parquet"


def test_generated_year_equals_the_scalar_engine(
    year: tuple[pl.DataFrame, pl.DataFrame], scalar_year: pl.DataFrame, tmp_path: Path
) -> None:
    """20,000 encounters (~420,000 lines), every field of every encounter."""
    enc, lines = year
    enc.write_parquet(tmp_path / "E.parquet")
    lines.write_parquet(tmp_path / "L.parquet")
    pack = load_pack(CQ)
    settle_tables([pack], tmp_path / "E.parquet", tmp_path / "L.parquet", tmp_path / "O.parquet")
    got = pl.read_parquet(tmp_path / "O.parquet")
    assert got.columns == list(OUT_COLUMNS)
    assert differences(got, scalar_year) == []


def test_generated_year_reaches_every_cap(
    year: tuple[pl.DataFrame, pl.DataFrame], scalar_year: pl.DataFrame
) -> None:
    """The generator is realistic enough to exercise every branch (issue 4)."""
    enc, lines = year
    pack = load_pack(CQ)
    out = scalar_year.join(enc, on="encounter_id")
    caps = {s: pack.basic_cap_fen[s] for s in ("employee", "resident")}
    basic = out.filter(
        pl.col("basic_entitled_after_fen") >= pl.col("scheme").replace_strict(caps, default=10**15)
    )
    assert basic.height > 0
    serious_cap = out.filter(pl.col("serious_base_after_fen") > 60_000_000)
    assert serious_cap.height > 0
    assert out.filter(pl.col("maf_pay") > 0).height > 0
    dibao = out.filter(pl.col("assistance_category") == "dibao")
    assert (dibao["assistance_entitled_after_fen"] > pack.assistance["dibao"].cap_fen).any()
    assert out.filter(pl.col("acct_pay") > 0, pl.col("account_balance_after_fen") == 0).height
    assert out.filter(pl.col("fiscal_pay") > 0).height > 0
    assert out.filter(pl.col("acct_pay") > 0).height > 0
    assert out.filter(pl.col("overlmt_selfpay") > 0).height > 0
    assert 0.08 < out["covid"].mean() < 0.12  # type: ignore[operator]
    per = lines.group_by("encounter_id").len()["len"]
    assert per.min() >= 5
    assert per.max() <= 60
    assert 19 < per.mean() < 23
    shares = lines["item_class"].value_counts(normalize=True).sort("item_class")["proportion"]
    assert abs(shares[0] - 0.75) < 0.04
    assert abs(shares[1] - 0.2) < 0.04
    assert 0.04 < out["provider_region"].str.starts_with("50").not_().mean() < 0.08  # type: ignore[operator]
    assert out["transfer_from"].is_not_null().mean() > 0.02  # type: ignore[operator]
    # contract v2: sub-fen prices and fractional quantities (the wire's pric, cnt) …
    assert 0.1 < (lines["price_e6"] % 10**4 != 0).mean() < 0.3  # type: ignore[operator]
    assert (lines["price_e6"] < 10**6).any()  # below one yuan
    assert (lines["qty_e4"] % 5000 != 0).mean() > 0.02  # type: ignore[operator]
    # … years that start after a reversal, paid below and above what the entitlement implies
    firsts = out.sort("insuree_id", "discharge_date", "encounter_id").group_by(
        "insuree_id", maintain_order=True).first()  # fmt: skip
    implied = pl.min_horizontal("start_basic_entitled_fen",
                                pl.col("scheme").replace_strict(caps, default=0))  # fmt: skip
    basic_off = firsts.filter(pl.col("scheme") != "none", pl.col("start_basic_paid_fen") != implied)
    assert (basic_off["start_basic_paid_fen"] < basic_off.select(implied).to_series()).any()
    assert (basic_off["start_basic_paid_fen"] > basic_off.select(implied).to_series()).any()
    # … and every fund reaching its cap in the paid form
    assert out.filter(pl.col("basic_paid_after_fen") == pl.col("scheme").replace_strict(
        caps, default=-1)).height  # fmt: skip
    assert (out["serious_paid_after_fen"] == pack.serious["resident"].cap_fen).any()
    assert (dibao["assistance_paid_after_fen"] == pack.assistance["dibao"].cap_fen).any()


def test_generation_is_deterministic() -> None:
    a, b = generate(500, seed=3), generate(500, seed=3)
    assert a[0].equals(b[0])
    assert a[1].equals(b[1])
    assert not generate(500, seed=4)[1].equals(a[1])


def test_partitions_and_dask_equal_one_pass(files: tuple[Path, Path], tmp_path: Path) -> None:
    from distributed import Client, LocalCluster

    e, ln = files
    pack = [load_pack(CQ)]
    settle_tables(pack, e, ln, tmp_path / "one.parquet")
    settle_tables(pack, e, ln, tmp_path / "parts.parquet", partitions=3)
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        settle_tables(pack, e, ln, tmp_path / "dask.parquet", partitions=4, client=client)
    one = pl.read_parquet(tmp_path / "one.parquet")
    assert one.height == 3_000
    assert pl.read_parquet(tmp_path / "parts.parquet").equals(one)
    assert pl.read_parquet(tmp_path / "dask.parquet").equals(one)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def _case_rows() -> dict[Path, list[tuple[int, dict[str, Any]]]]:
    """Non-error golden cases grouped by pack; each case is its own insuree."""
    groups: dict[Path, list[tuple[int, dict[str, Any]]]] = {}
    for i, path in enumerate(case_files()):
        case = load_case(path)
        if not case["expect"].get("error"):
            groups.setdefault(case["pack_path"], []).append((i + 1, case))
    return groups


@pytest.mark.parametrize("pack_path", sorted(_case_rows()), ids=lambda p: p.name)
def test_golden_cases_as_one_batch(pack_path: Path, tmp_path: Path) -> None:
    cases = _case_rows()[pack_path]
    rows = [(i, i, request_from_mapping(c["request"])) for i, c in cases]
    enc, lines = to_tables(rows)
    assert len(requests_of(enc, lines)) == len(cases)
    enc.write_parquet(tmp_path / "E.parquet")
    lines.write_parquet(tmp_path / "L.parquet")
    settle_tables(
        [load_pack(pack_path)],
        tmp_path / "E.parquet",
        tmp_path / "L.parquet",
        tmp_path / "O.parquet",
    )
    got = {r["encounter_id"]: r for r in pl.read_parquet(tmp_path / "O.parquet").to_dicts()}
    problems = []
    for i, case in cases:
        want, row = case["expect"], got[i]
        acc = want["accumulators_after"]
        expected = {
            "covid": want["covid"],
            **{f: want["setlinfo"][f] for f in SETLINFO},
            **{f"{k.removesuffix('_fen')}_after_fen": v for k, v in acc.items()},
            "account_balance_after_fen": want["account_balance_after_fen"],
        }
        problems += [
            f"{case['case']}: {k} {row[k]} != {v}" for k, v in expected.items() if row[k] != v
        ]
    assert problems == []
    if pack_path.parent == PUBLIC / "packs":
        assert len(cases) >= 35


def test_zero_line_encounter_and_year_boundary(tmp_path: Path) -> None:
    """A stay with no lines settles to zeros; a new calendar year starts afresh."""
    enc, lines = generate(40, seed=5)
    enc = enc.with_columns(insuree_id=pl.lit(7, pl.Int64))
    lines = lines.filter(pl.col("encounter_id") != enc["encounter_id"][0])
    nxt = enc.head(3).with_columns(
        encounter_id=pl.col("encounter_id") + 1000,
        discharge_date=pl.lit(dt.date(2021, 1, 5)),
        admit_date=pl.lit(dt.date(2021, 1, 1)),
    )
    both = pl.concat([enc, nxt])
    cq = load_pack(CQ)
    two = [
        cq,
        dataclasses.replace(
            cq, id="cq-2021", valid_from=dt.date(2021, 1, 1), valid_to=dt.date(2021, 12, 31)
        ),
    ]
    from tests.property.test_batch import batch_settle

    got = batch_settle(both, lines, two)
    assert differences(got, scalar_settle(both, lines, two)) == []
    assert got.filter(pl.col("encounter_id") == enc["encounter_id"][0])["medfee_sumamt"][0] == 0


@pytest.mark.slow
def test_a_larger_year_in_all_modes_equals_the_scalar_engine(tmp_path: Path) -> None:
    """200,000 encounters (~4.2M lines): one pass, 7 parts and the scalar engine agree."""
    enc, lines = generate(200_000, seed=77)
    enc.write_parquet(tmp_path / "E.parquet")
    lines.write_parquet(tmp_path / "L.parquet")
    pack = [load_pack(CQ)]
    e, ln = tmp_path / "E.parquet", tmp_path / "L.parquet"
    settle_tables(pack, e, ln, tmp_path / "one.parquet")
    settle_tables(pack, e, ln, tmp_path / "parts.parquet", partitions=7)
    one = pl.read_parquet(tmp_path / "one.parquet")
    assert pl.read_parquet(tmp_path / "parts.parquet").equals(one)
    assert differences(one, scalar_settle(enc, lines, pack)) == []


def test_row_order_of_the_tables_does_not_matter() -> None:
    """Shuffled encounter and line rows settle to the same table (slower, still exact)."""
    from tests.property.test_batch import batch_settle

    enc, lines = generate(2_000, seed=13)
    pack = [load_pack(CQ)]
    want = batch_settle(enc, lines, pack)
    got = batch_settle(enc.sample(fraction=1, shuffle=True, seed=1),
                       lines.sample(fraction=1, shuffle=True, seed=2), pack)  # fmt: skip
    assert got.equals(want)
