"""Paths the golden cases do not reach: broken invariants, fund rows, serialisation."""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.golden.casefile import PUBLIC, load_case
from yibao.core.engine import request_from_mapping, settle, settlement_to_dict
from yibao.core.engine.funds import chrgitm_lv
from yibao.core.engine.invariants import CHECKS, broken_invariants
from yibao.core.engine.model import SetlInfo
from yibao.core.errors import InvariantBroken
from yibao.core.policy import PackSet, parse_pack
from yibao.packs.files import load_pack

settle_module = importlib.import_module("yibao.core.engine.settle")
PACK_PATH = PUBLIC / "packs" / "example-2020.yaml"
PACK = load_pack(PACK_PATH)


def _case(name: str) -> Any:
    return settle(request_from_mapping(load_case(PUBLIC / f"{name}.yaml")["request"]), PACK)


def test_every_named_check_reports_a_broken_settlement() -> None:
    good = _case("employee-classes-a-b-c")
    assert broken_invariants(good, one_stop=False) == []
    i = good.setlinfo
    past_cap = dataclasses.replace(
        good.accumulators_after, serious_paid_fen=good.facts.serious_cap_fen + 1
    )
    bad = good._replace(
        setlinfo=i._replace(inscp_scp_amt=i.inscp_scp_amt + 1, fund_pay_sumamt=-1, acct_pay=10**12),
        lines=good.lines[1:],
        accumulators_after=past_cap,
    )
    problems = broken_invariants(bad, one_stop=True)
    names = {check.__name__ for check in CHECKS if check(bad)}
    assert names == {"parts_add_up", "payers_add_up", "funds_add_up", "lines_add_up",
                     "non_negative", "account_within_balance", "caps_hold"}  # fmt: skip
    assert "serious fund paid" in " ".join(problems)
    assert len(problems) >= len(names)


def test_one_stop_is_checked() -> None:
    good = _case("employee-classes-a-b-c")
    assert good.setlinfo.psn_cash_pay > 0
    assert broken_invariants(good, one_stop=True) == [
        f"one-stop settlement left psn_cash_pay {good.setlinfo.psn_cash_pay}"
    ]


def test_settle_refuses_a_broken_result(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settle_module, "broken_invariants", lambda s, one_stop: ["boom"])
    with pytest.raises(InvariantBroken, match="boom"):
        _case("employee-classes-a-b-c")


def test_fund_rows_by_scheme_and_assistance() -> None:
    s = _case("covid-resident-dibao-all-funds")
    codes = [r.fund_pay_type for r in s.setldetail]
    assert codes == ["390100", "390200", "610100"]
    assert [r.fund_payamt for r in s.setldetail] == [
        s.setlinfo.hifp_pay, s.setlinfo.hifmi_pay, s.setlinfo.maf_pay]  # fmt: skip
    assert all(r.crt_payb_lmt_amt is not None and r.crt_payb_lmt_amt >= 0 for r in s.setldetail)
    assert [r.fund_pay_type for r in _case("employee-classes-a-b-c").setldetail] == [
        "310100", "330100"]  # fmt: skip
    assert _case("uninsured-no-covid-pays-all").setldetail == ()


def test_a_local_fiscal_fund_code_adds_a_row() -> None:
    doc = yaml.safe_load(PACK_PATH.read_text(encoding="utf-8"))
    doc["covid_overlay"][0]["fiscal_fund_code"] = "990101"
    pack = parse_pack(yaml.safe_dump(doc, allow_unicode=True))
    req = request_from_mapping(
        load_case(PUBLIC / "covid-confirmed-designated-employee.yaml")["request"]
    )
    s = settle(req, pack)
    row = s.setldetail[-1]
    assert (row.fund_pay_type, row.fund_payamt) == ("990101", s.setlinfo.fiscal_pay)


def test_trace_has_one_entry_per_amount_with_a_clause() -> None:
    for name in ("covid-confirmed-designated-employee", "assistance-tekun-includes-out-of-scope",
                 "uninsured-dibao-assistance", "account-inscope-small-balance"):  # fmt: skip
        s = _case(name)
        fields = [t.field for t in s.trace]
        assert sorted(fields) == sorted(SetlInfo._fields), name
        assert all(t.clause for t in s.trace)
        by = {t.field: t.amount for t in s.trace}
        assert by == s.setlinfo._asdict()


def test_serialisation_without_trace() -> None:
    doc = settlement_to_dict(_case("employee-classes-a-b-c"), with_trace=False)
    assert "trace" not in doc
    assert doc["unit"] == "fen"


def test_negated_setlinfo() -> None:
    i = _case("employee-classes-a-b-c").setlinfo
    assert [a + b for a, b in zip(i, i.negated(), strict=True)] == [0] * 16


def test_chrgitm_lv() -> None:
    assert [chrgitm_lv(c) for c in "ABC"] == ["01", "02", "03"]


def test_request_from_mapping_refuses_objects() -> None:
    doc = load_case(PUBLIC / "employee-classes-a-b-c.yaml")["request"]
    doc["encounter"]["admit_date"] = dt.date(2020, 3, 2)
    assert request_from_mapping(doc).encounter.admit_date == dt.date(2020, 3, 2)
    doc["encounter"]["admit_date"] = object()
    with pytest.raises(TypeError):
        request_from_mapping(doc)


def test_packset_basics() -> None:
    ps = PackSet([PACK])
    assert len(ps) == 1
    assert list(ps) == [PACK]
    assert ps.by_id("cq-2020-example") is PACK
    assert ps.by_id("nope") is None


def test_scheme_key() -> None:
    assert settle_module.scheme_key("resident", 2) == "resident_2"
    assert settle_module.scheme_key("employee", None) == "employee"


def test_an_encounter_is_frozen() -> None:
    req = request_from_mapping(load_case(PUBLIC / "employee-classes-a-b-c.yaml")["request"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        req.encounter.id = "x"  # type: ignore[misc]


def test_core_public_names_are_pinned() -> None:
    import yibao.core.engine as engine
    import yibao.core.policy as policy

    assert sorted(engine.__all__) == sorted([
        "Accumulators", "Encounter", "Insuree", "Line", "LineResult", "Provider", "SetlInfo",
        "SettleRequest", "Settlement", "Trace", "parse_request", "request_from_mapping",
        "settle", "settlement_to_dict"])  # fmt: skip
    assert sorted(policy.__all__) == sorted(
        [
            "OverlayVersion",
            "PackSet",
            "Policy",
            "SeriousTable",
            "pack_sha256",
            "parse_pack",
            "parse_spec",
        ]
    )  # fmt: skip  (reading files and the cache: yibao.packs, not the core)
    assert all(getattr(policy, name) is not None for name in policy.__all__)
    with pytest.raises(AttributeError):
        _ = policy.no_such_name  # type: ignore[attr-defined]


def test_settle_does_not_import_heavy_modules(tmp_path: Path) -> None:
    """`yibao settle` stays import-light: no Polars, SQLAlchemy, FastAPI or Dask."""
    import json
    import subprocess
    import sys

    case = load_case(PUBLIC / "employee-classes-a-b-c.yaml")
    req = tmp_path / "r.json"
    req.write_text(json.dumps(case["request"]))
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "yibao", "settle", "--pack", str(PACK_PATH),
         str(req)], capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    imported = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines()}
    assert not imported & {"polars", "sqlalchemy", "fastapi", "dask", "numpy", "pandas"}


def test_accumulators_by_name_follow_the_declared_fields() -> None:
    from yibao.core.engine.model import ACCUMULATOR_FIELDS, Accumulators

    values = dict(zip(ACCUMULATOR_FIELDS, range(1, 7), strict=True))
    acc = Accumulators(**values)
    assert acc.as_dict() == values
    assert tuple(acc.as_dict()) == ACCUMULATOR_FIELDS
    assert acc.minus(Accumulators(**dict.fromkeys(ACCUMULATOR_FIELDS, 1))).as_dict() == {
        f: v - 1 for f, v in values.items()
    }


def test_both_engines_run_the_steps_in_the_declared_order() -> None:
    """rules.WATERFALL is the one declaration: the scalar engine has a step for each name,
    the batch waterfall for each but the overlay and the lines (passes of their own)."""
    import importlib

    from yibao.core.engine import batch_waterfall, rules

    scalar = importlib.import_module("yibao.core.engine.settle")
    assert tuple(scalar.STEPS) == rules.WATERFALL
    assert tuple(batch_waterfall.STEPS) == rules.WATERFALL[2:]
