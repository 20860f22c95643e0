"""``yibao batch settle`` and ``yibao bench gen`` through the command line: bad rows stop
the run (exit 2, one stderr line, nothing written) or go to ``--rejects``."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from yibao.adapters.cli.app import app
from yibao.packs import shipped_pack
from yibao.services.tools.batch.synth import generate

CQ = str(shipped_pack("cq-2020"))


@pytest.fixture(scope="module")
def tables() -> tuple[pl.DataFrame, pl.DataFrame]:
    return generate(300, seed=9)


def _run(tmp: Path, enc: pl.DataFrame, lines: pl.DataFrame, *extra: str) -> tuple[int, str, str]:
    enc.write_parquet(tmp / "E.parquet")
    lines.write_parquet(tmp / "L.parquet")
    args = [
        "batch",
        "settle",
        "--pack",
        CQ,
        "--encounters",
        str(tmp / "E.parquet"),
        "--lines",
        str(tmp / "L.parquet"),
        "--out",
        str(tmp / "OUT.parquet"),
        *extra,
    ]
    res = CliRunner().invoke(app, args)
    return res.exit_code, res.stdout, res.stderr


def _one(enc: pl.DataFrame, col: str, value: object, row: int = 0) -> pl.DataFrame:
    """``enc`` with ``col`` set to ``value`` on one row."""
    idx = pl.int_range(pl.len()) == row
    return enc.with_columns(pl.when(idx).then(pl.lit(value)).otherwise(pl.col(col)).alias(col))


BAD_ENCOUNTERS: list[tuple[str, Callable[[pl.DataFrame], pl.DataFrame], str]] = [
    (
        "resident-without-tier",
        lambda e: _one(_one(e, "scheme", "resident"), "resident_tier", None),
        "resident_tier",
    ),
    (
        "employee-with-tier",
        lambda e: _one(_one(e, "scheme", "employee"), "resident_tier", 1),
        "resident_tier",
    ),
    ("unknown-scheme", lambda e: _one(e, "scheme", "farmer"), "scheme"),
    ("short-region", lambda e: _one(e, "provider_region", "5001"), "provider_region"),
    ("no-pack", lambda e: _one(e, "insured_region", "110105"), "pack"),
    (
        "outside-period",
        lambda e: _one(
            _one(e, "discharge_date", dt.date(2021, 3, 1)), "admit_date", dt.date(2021, 2, 1)
        ),
        "pack",
    ),
    (
        "admit-after-discharge",
        lambda e: _one(e, "admit_date", dt.date(2020, 12, 31)),
        "discharge_date",
    ),
    (
        "unknown-assistance",
        lambda e: _one(e, "assistance_category", "veteran"),
        "assistance_category",
    ),
    ("bad-level", lambda e: _one(e, "provider_level", 4), "provider_level"),
    ("bad-status", lambda e: _one(e, "covid_status", "probable"), "covid_status"),
    (
        "self-transfer",
        lambda e: e.with_columns(
            transfer_from=pl.when(pl.int_range(pl.len()) == 0)
            .then(pl.col("encounter_id"))
            .otherwise(pl.col("transfer_from"))
        ),
        "transfer_from",
    ),
    ("duplicate-id", lambda e: _one(e, "encounter_id", e["encounter_id"][1]), "encounter_id"),
    (
        "negative-balance",
        lambda e: e.with_columns(account_balance_fen=pl.lit(-1, pl.Int64)),
        "account_balance_fen",
    ),
    (
        "negative-paid-accumulator",
        lambda e: e.with_columns(start_serious_paid_fen=pl.lit(-1, pl.Int64)),
        "start_serious_paid_fen",
    ),
]


@pytest.mark.parametrize(
    ("name", "spoil", "path"), BAD_ENCOUNTERS, ids=[b[0] for b in BAD_ENCOUNTERS]
)
def test_bad_encounter_rows_stop_the_run(
    tables: tuple[pl.DataFrame, pl.DataFrame],
    tmp_path: Path,
    name: str,
    spoil: Callable[[pl.DataFrame], pl.DataFrame],
    path: str,
) -> None:
    enc, lines = tables
    code, out, err = _run(tmp_path, spoil(enc), lines)
    assert code == 2, (out, err)
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert f"{path}:" in err
    assert not (tmp_path / "OUT.parquet").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["E.parquet", "L.parquet"] or sorted(
        p.name for p in tmp_path.iterdir()
    ) == ["E.parquet", "L.parquet"]


def _dup_sn(lines: pl.DataFrame) -> pl.DataFrame:
    first = lines["encounter_id"][0]
    return lines.with_columns(
        sn=pl.when((pl.col("encounter_id") == first) & (pl.col("sn") == "3"))
        .then(pl.lit("1"))
        .otherwise(pl.col("sn"))
    )


BAD_LINES: list[tuple[str, Callable[[pl.DataFrame], pl.DataFrame], str]] = [
    ("duplicate-sn", _dup_sn, "duplicate sn '1'"),
    ("negative-price", lambda ln: _one(ln, "price_e6", -5, row=4), "price_e6"),
    (
        "line-product-overflow",
        lambda ln: _one(_one(ln, "price_e6", 2**32, row=4), "qty_e4", 2**31, row=4),
        "qty_e4: price_e6 × qty_e4 = 4294967296 × 2147483648 exceeds 2^63 − 1",
    ),
    ("unknown-class", lambda ln: _one(ln, "item_class", "D", row=2), "item_class"),
    ("unknown-category", lambda ln: _one(ln, "category", "food", row=2), "category"),
    ("empty-code", lambda ln: _one(ln, "code", "", row=2), "code"),
    ("null-flag", lambda ln: _one(ln, "in_protocol", None, row=2), "in_protocol"),
    ("orphan-line", lambda ln: _one(ln, "encounter_id", 10**9, row=0), "no encounter row"),
]


@pytest.mark.parametrize(("name", "spoil", "text"), BAD_LINES, ids=[b[0] for b in BAD_LINES])
def test_bad_line_rows_stop_the_run(
    tables: tuple[pl.DataFrame, pl.DataFrame],
    tmp_path: Path,
    name: str,
    spoil: Callable[[pl.DataFrame], pl.DataFrame],
    text: str,
) -> None:
    enc, lines = tables
    code, out, err = _run(tmp_path, enc, spoil(lines))
    assert code == 2, (out, err)
    assert len(err.strip().splitlines()) == 1
    assert text in err
    assert not (tmp_path / "OUT.parquet").exists()


def test_rejects_hold_whole_insuree_years(
    tables: tuple[pl.DataFrame, pl.DataFrame], tmp_path: Path
) -> None:
    enc, lines = tables
    years = enc.group_by("insuree_id").len().filter(pl.col("len") >= 2)
    victim = years["insuree_id"][0]
    row = enc.with_row_index().filter(pl.col("insuree_id") == victim)["index"][0]
    spoiled = _one(enc, "filing", "maybe", row=row)
    code, out, err = _run(
        tmp_path, spoiled, _dup_sn(lines), "--rejects", str(tmp_path / "R.parquet")
    )
    assert code == 0, err
    rejects = pl.read_parquet(tmp_path / "R.parquet")
    assert rejects.columns == ["encounter_id", "insuree_id", "year", "reason"]
    dup_owner = enc.filter(pl.col("encounter_id") == lines["encounter_id"][0])["insuree_id"][0]
    want = enc.filter(pl.col("insuree_id").is_in([victim, dup_owner]))["encounter_id"]
    assert sorted(rejects["encounter_id"]) == sorted(want)
    reasons = dict(zip(rejects["encounter_id"], rejects["reason"], strict=True))
    assert "filing: maybe is not one of" in reasons[enc["encounter_id"][row]]
    assert "duplicate sn '1'" in reasons[lines["encounter_id"][0]]
    settled = pl.read_parquet(tmp_path / "OUT.parquet")
    assert settled.height == enc.height - len(want)
    assert not settled["encounter_id"].is_in(want.implode()).any()
    assert f"rejected {len(want)}" in out


def test_a_missing_or_mistyped_column_is_refused(
    tables: tuple[pl.DataFrame, pl.DataFrame], tmp_path: Path
) -> None:
    enc, lines = tables
    code, _, err = _run(tmp_path, enc, lines.with_columns(pl.col("price_e6").cast(pl.Float64)))
    assert code == 2
    assert "price_e6: expected integer column, got Float64" in err
    code, _, err = _run(tmp_path, enc.drop("start_basic_paid_fen"), lines)
    assert code == 2
    assert "start_basic_paid_fen: missing column" in err
    code, _, err = _run(tmp_path, enc.drop("filing"), lines, "--rejects", str(tmp_path / "R"))
    assert code == 2
    assert "filing: missing column" in err
    assert not (tmp_path / "OUT.parquet").exists()
    assert not (tmp_path / "R").exists()


def test_the_error_line_lists_ten(
    tables: tuple[pl.DataFrame, pl.DataFrame], tmp_path: Path
) -> None:
    enc, lines = tables
    code, _, err = _run(tmp_path, enc.with_columns(filing=pl.lit("x")), lines)
    assert code == 2
    assert err.count("filing:") == 10
    assert f"(and {enc.height - 10} more)" in err


def test_bench_gen_writes_the_contract_schema(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        app, ["bench", "gen", "--encounters", "200", "--seed", "4", "--out", str(tmp_path)]
    )
    assert res.exit_code == 0, res.stderr
    from tests.batch_oracle import E_SCHEMA, L_SCHEMA

    enc, lines = pl.read_parquet(tmp_path / "E.parquet"), pl.read_parquet(tmp_path / "L.parquet")
    assert dict(enc.schema) == E_SCHEMA
    assert dict(lines.schema) == L_SCHEMA
    assert enc.height == 200


def test_settle_does_not_import_polars() -> None:
    """``yibao settle`` starts without the batch engine's dependencies."""
    example = Path(__file__).resolve().parents[2] / "src/yibao/examples/01-confirmed-employee.json"
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "yibao", "settle", "--pack", CQ, str(example)],
        capture_output=True,
        text=True,
        check=True,
    )
    imported = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines()}
    assert not imported & {"polars", "numpy", "dask", "distributed", "pyarrow"}


def test_dask_and_partitions_from_the_command_line(
    tables: tuple[pl.DataFrame, pl.DataFrame], tmp_path: Path
) -> None:
    from distributed import LocalCluster

    enc, lines = tables
    code, _, err = _run(tmp_path, enc, lines)
    assert code == 0, err
    one = pl.read_parquet(tmp_path / "OUT.parquet")
    code, _, err = _run(tmp_path, enc, lines, "--partitions", "3")
    assert code == 0, err
    assert pl.read_parquet(tmp_path / "OUT.parquet").equals(one)
    with LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        code, _, err = _run(tmp_path, enc, lines, "--dask", cluster.scheduler_address)
    assert code == 0, err
    assert pl.read_parquet(tmp_path / "OUT.parquet").equals(one)


def test_partitions_reject_what_one_pass_rejects(
    tables: tuple[pl.DataFrame, pl.DataFrame], tmp_path: Path
) -> None:
    """Orphan lines and ids repeated across parts are found in parts too."""
    enc, lines = tables
    twin = enc.head(1).with_columns(insuree_id=pl.lit(999_999_999, pl.Int64))
    spoiled = pl.concat([enc, twin]).sort("encounter_id")  # the same id, another insuree
    orphan = _one(lines, "encounter_id", 10**9, row=5)
    results = []
    for extra in ([], ["--partitions", "3"]):
        code, _, err = _run(tmp_path, spoiled, orphan, "--rejects", str(tmp_path / "R.parquet"),
                            *extra)  # fmt: skip
        assert code == 0, err
        results.append((pl.read_parquet(tmp_path / "OUT.parquet"),
                        pl.read_parquet(tmp_path / "R.parquet")))  # fmt: skip
    (one, rej_one), (parts, rej_parts) = results
    assert parts.equals(one)
    assert rej_parts.equals(rej_one)
    assert 10**9 in rej_one["encounter_id"].to_list()
    assert "duplicate encounter_id" in " ".join(rej_one["reason"].to_list())
