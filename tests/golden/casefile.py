"""Reading golden case files (the format of tests/golden/public/CONTRACT.md) and comparing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml

from yibao.core.engine.model import SETLINFO_FIELDS

HERE = Path(__file__).resolve().parent
PUBLIC = HERE / "public"
OURS = HERE / "ours"
SETLINFO = SETLINFO_FIELDS
LINE = (
    "det_item_fee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_amt",
    "preselfpay_amt",
    "inscp_scp_amt",
)
TRACED = ("act_pay_dedc", "hifp_pay", "hifmi_pay", "hifob_pay", "maf_pay", "fiscal_pay", "acct_pay")


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_jsonable(v) for v in x]
    if isinstance(x, dt.date):
        return x.isoformat()
    return x


def case_files() -> list[Path]:
    return sorted(PUBLIC.glob("*.yaml")) + sorted(OURS.glob("*.yaml"))


def load_case(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["request"] = _jsonable(doc["request"])
    doc["pack_path"] = (path.parent / doc["pack"]).resolve()
    return doc


def differences(expect: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """What differs between an expected settlement and a settlement document."""
    d: list[str] = []
    if got["covid"] is not expect["covid"]:
        d.append(f"covid {got['covid']} != {expect['covid']}")
    for f in SETLINFO:
        if got["setlinfo"][f] != expect["setlinfo"][f]:
            d.append(f"setlinfo.{f}: {got['setlinfo'][f]} != {expect['setlinfo'][f]}")
    by_sn = {x["feedetl_sn"]: x for x in got["lines"]}
    assert len(by_sn) == len(got["lines"])
    for ex in expect["lines"]:
        for f in LINE:
            if by_sn[ex["feedetl_sn"]][f] != ex[f]:
                d.append(f"line {ex['feedetl_sn']}.{f}: {by_sn[ex['feedetl_sn']][f]} != {ex[f]}")
    for f, v in expect["accumulators_after"].items():
        if got["accumulators_after"][f] != v:
            d.append(f"accumulators_after.{f}: {got['accumulators_after'][f]} != {v}")
    if got["account_balance_after_fen"] != expect["account_balance_after_fen"]:
        d.append("account_balance_after_fen")
    clauses = {t["field"]: t["clause"] for t in got["trace"] if t["clause"].strip()}
    d += [f"trace: no clause for {f}" for f in TRACED if expect["setlinfo"][f] and f not in clauses]
    return d
