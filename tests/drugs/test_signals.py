"""The signals over a seeded synthetic month: every injected event is found, and no
more than 5 % of the signals are false (issue 21, "Done when")."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from yibao.core.errors import PackError
from yibao.services.drugs.rules import load_rules, monitoring_rules
from yibao.services.drugs.signals import ORDER_SCHEMA, SIGNAL_SCHEMA, Frames, scan
from yibao.services.drugs.synth import generate

START, END = dt.date(2020, 2, 1), dt.date(2020, 2, 29)
PROVIDERS = [f"H500102{i:05d}" for i in range(30)]
DRUGS = [f"XJ05AX{i:03d}A001010100{i:05d}" for i in range(12)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_injected_events_are_found_and_few_signals_are_false(seed: int) -> None:
    synth = generate(PROVIDERS, DRUGS, START, END, seed)
    found = scan(synth.frames, monitoring_rules(START), START, END)
    explained = synth.explains(found)
    keys = [
        (r["kind"], r["code"], r["provider"], r["supplier"]) for r in found.iter_rows(named=True)
    ]
    for event in synth.events:
        hits = {k for k, ok in zip(keys, explained, strict=True) if ok and k in event.expect}
        assert any(k[0] == event.primary for k in hits), (event.name, event.primary)
    false = int((~explained).sum())
    assert found.height > 0
    assert false * 100 <= found.height * 5, found.filter(~explained)


def test_a_quiet_month_raises_almost_nothing() -> None:
    synth = generate(PROVIDERS, DRUGS, START, END, 7, inject=False)
    found = scan(synth.frames, monitoring_rules(START), START, END)
    assert found.height <= 2, found


def test_each_signal_carries_its_evidence_and_integer_values() -> None:
    synth = generate(PROVIDERS, DRUGS, START, END, 1)
    found = scan(synth.frames, monitoring_rules(START), START, END)
    assert found.schema == pl.Schema(SIGNAL_SCHEMA)
    for s in found.iter_rows(named=True):
        days = [e["day"] for e in s["evidence"]]
        assert days == sorted(days)
        assert s["first_day"] in days
        assert s["last_day"] in days
        assert min(days) >= s["first_day"] - dt.timedelta(days=14)
    spike = found.filter(pl.col("kind") == "price").row(0, named=True)
    assert spike["value"] * 10_000 > spike["reference"] * 12_000  # > 20 % above the baseline


def test_no_data_no_signals() -> None:
    assert scan(
        Frames.of(pl.DataFrame(schema=ORDER_SCHEMA)), monitoring_rules(START), START, END
    ).is_empty()


def test_a_rules_file_with_a_bad_key_names_it(tmp_path: object) -> None:
    from pathlib import Path

    good = monitoring_rules(START)
    text = (Path(__file__).parents[2] / "src/yibao/packs/drugs/cq-2020.yaml").read_text("utf-8")
    bad = Path(str(tmp_path)) / "bad.yaml"
    bad.write_text(text.replace("min_rate_bp: 8000", "min_rate_bp: 80000"), "utf-8")
    with pytest.raises(PackError, match=r"signals\.delivery\.min_rate_bp"):
        load_rules(bad)
    assert good.clause("listed") == good.signals.price.clause
