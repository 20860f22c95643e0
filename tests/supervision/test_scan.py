"""The supervision scan on a generated year with misuse injected: every planted case is
flagged; the flags on clean stays stay rare (docs/SUPERVISION.md reports the shares)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from yibao.core.errors import PackError
from yibao.core.supervision import parse_rules
from yibao.services.supervision.flags import RULES_DIR
from yibao.services.supervision.generate import Generated, generate_year, measure
from yibao.services.supervision.scan import PERIOD_KINDS, scan

RULES_FILE = RULES_DIR / "supervision-2020.yaml"
RULES = parse_rules(RULES_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def year() -> Generated:
    return generate_year(6000, seed=11)


def test_every_injected_case_is_flagged(year: Generated) -> None:
    flags = scan(year.tables, RULES, as_of=year.as_of)
    report = measure(flags, year)
    kinds = {r.id for r in RULES.versions[0].rules}
    assert set(report["rule_id"]) == kinds  # every rule planted and found
    assert report["missed"].sum() == 0, report
    assert (report["found"] == report["injected"]).all()
    # clean stays: peers may raise a rare false flag, the other rules none
    exact = report.filter(~pl.col("rule_id").str.starts_with("peer_outlier"))
    assert exact["false_flags"].sum() == 0, exact
    assert (report["false_share_bp"] < 50).all()  # under 0.5 %


def test_flags_carry_amounts_and_evidence(year: Generated) -> None:
    flags = scan(year.tables, RULES, as_of=year.as_of)
    dup = flags.filter(pl.col("rule_id") == "duplicate_same_day")
    assert (dup["amount_fen"] > 0).all()
    ev = dup["evidence"].str.json_decode()
    assert (ev.struct.field("line_count") >= 1).all()
    hosp = flags.filter(pl.col("subject") == "hospital")
    assert hosp.height == 1
    assert hosp["encounter_id"].null_count() == 1
    assert "P0100" in hosp["evidence"][0]


def test_focus_and_kinds_limit_the_flags(year: Generated) -> None:
    some = year.injected.filter(pl.col("rule_id") == "overlapping_stays")["subject_key"][:2]
    kinds = {r.kind for r in RULES.versions[0].rules} - PERIOD_KINDS
    flags = scan(year.tables, RULES, as_of=year.as_of, focus=list(some), kinds=kinds)
    assert set(flags["subject_key"]) == set(some)
    assert not flags["kind"].is_in(list(PERIOD_KINDS)).any()


def test_a_version_applies_to_its_discharge_dates(year: Generated) -> None:
    text = RULES_FILE.read_text(encoding="utf-8")
    later = parse_rules(text.replace("valid_from: 2020-01-01", "valid_from: 2020-06-01"))
    flags = scan(year.tables, later, as_of=year.as_of)
    stays = flags.filter(pl.col("subject") == "stay")
    assert (stays["on"] >= dt.date(2020, 6, 1)).all()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("severity: high", "severity: urgent"), "versions.0.rules.0"),
        (("max_days: 30", "max_days: 30.5"), "max_days"),
        (("grace_days: 0", "grace_days: 0\n        colour: red"), "unknown key"),
        (("id: late_settlement", "id: fee_outside_stay"), "appears twice"),
    ],
)
def test_bad_rule_sets_are_refused_naming_the_key(edit: tuple[str, str], message: str) -> None:
    text = RULES_FILE.read_text(encoding="utf-8")
    with pytest.raises(PackError, match=message):
        parse_rules(text.replace(*edit), "x.yaml")
