"""The batch engine's settlements in full: each row of ``settle_frame(..., explain=True)``
and its ``line_results`` as the engine's ``Settlement`` — lines, facts, accumulators and
balance before and after — the same value the scalar engine returns for the stay settled
from the state the batch carried to it (DECISIONS 0092).

Every amount and every step's input is a column the batch computed with ``rules``;
what is read here from the pack (clauses, caps, the overlay version's terms) is looked up
by the row's pack and version index, and G(x) of §5.4 before the stay is the shared
``rules.serious_entitled``. Each settlement then passes the scalar engine's invariants.
Pure: frames in, tuples out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from yibao.core.engine.batch_policy import PolicyExprs
from yibao.core.engine.invariants import broken_invariants
from yibao.core.engine.lines import (
    CATALOG_CLAUSE,
    RULE_CLASS_A,
    RULE_CLASS_B,
    RULE_COVERED,
    RULE_OWN_PAY,
)
from yibao.core.engine.model import (
    SETLINFO_FIELDS,
    Accumulators,
    Facts,
    LineResult,
    SetlInfo,
    Settlement,
)
from yibao.core.engine.rules import SCALAR, serious_entitled
from yibao.core.errors import InvariantBroken

__all__ = ["settlements"]

_new = tuple.__new__
_MAY_PAY = ("none", "inscope", "all")  # batch_policy's account rule codes
_LEVELS = ("01", "02", "03")  # chrgitm_lv 甲 乙 丙 (by item class, covered or not)
_LEVEL_CODE = {"A": 0, "B": 1, "C": 2}
_RULES = (RULE_CLASS_A, RULE_CLASS_B, RULE_OWN_PAY, RULE_COVERED)  # by _lines' rule code


def _lines(results: pl.DataFrame) -> dict[int, tuple[LineResult, ...]]:
    """Each encounter's ``LineResult``s in the lines' order (``results``: ``line_results``
    sorted by encounter_id, the lines' order kept within). ``chrgitm_lv`` and the rule
    are the same few strings on every line: one object each, not one per line."""
    cls = pl.col("item_class")
    code = pl.when(pl.col("covered")).then(3).when(cls == "C").then(2).when(cls == "B").then(1)
    frame = results.select(
        "encounter_id", "sn", "det_item_fee_sumamt", "fulamt_ownpay_amt", "overlmt_amt",
        "preselfpay_amt", "inscp_scp_amt",
        lv=cls.replace_strict(_LEVEL_CODE, default=0, return_dtype=pl.Int8),
        rule=code.otherwise(0).cast(pl.Int8),
    )  # fmt: skip
    cols = [frame[c].to_list() for c in frame.columns[1:7]]
    levels = [_LEVELS[x] for x in frame["lv"].to_list()]
    rules = [_RULES[x] for x in frame["rule"].to_list()]
    made = [_new(LineResult, t) for t in zip(*cols, levels, rules, strict=True)]
    out: dict[int, tuple[LineResult, ...]] = {}
    at = 0
    runs = frame["encounter_id"].rle().struct.unnest()
    for eid, n in runs.select("value", "len").iter_rows():
        out[eid] = tuple(made[at : at + n])
        at += n
    return out


def settlements(
    settled: pl.DataFrame,
    results: pl.DataFrame,
    px: PolicyExprs,
    encounter_ids: Sequence[str],
    insuree_ids: Sequence[str],
) -> list[Settlement]:
    """The ``Settlement`` of every row of ``settled`` (``settle_frame`` with ``explain``),
    in its order; ``results``: ``line_results`` of their lines, sorted by encounter_id;
    ``encounter_ids``/``insuree_ids``: each row's ids as the store names them."""
    if not results["encounter_id"].is_sorted():
        results = results.sort("encounter_id", maintain_order=True)
    by_stay = _lines(results)
    names = settled.columns
    at = {n: i for i, n in enumerate(names)}
    setl = [at[f] for f in SETLINFO_FIELDS]
    out: list[Settlement] = []
    for row, eid, psn in zip(settled.iter_rows(), encounter_ids, insuree_ids, strict=True):
        r = dict(zip(names, row, strict=True))
        s = _settlement(r, [row[i] for i in setl], by_stay.get(r["encounter_id"], ()), px,
                        eid, psn)  # fmt: skip
        broken = broken_invariants(s, one_stop=s.facts.subsidy_scope == "all")
        if broken:
            raise InvariantBroken(f"encounter {eid}: " + "; ".join(broken))
        out.append(s)
    return out


def _settlement(r: dict[str, Any], amounts: list[int], lines: tuple[LineResult, ...],
                px: PolicyExprs, eid: str, psn: str) -> Settlement:  # fmt: skip
    """One row as the scalar engine's ``Settlement`` (``settle.settle`` builds the same)."""
    p = px.packs[r["pack"]]
    covid = r["covid"]
    v = px.versions[r["v"]][1] if r["v"] >= 0 else None
    ov = v if covid else None
    scheme = r["scheme"]
    insured = scheme != "none"
    tier = r["resident_tier"]
    k = scheme if scheme != "resident" else ("resident_1" if tier == 1 else "resident_2")
    table = p.serious[scheme] if insured else None
    g_before = 0
    if table is not None and r["s_after"] > table.threshold_fen:  # as settle: G only above
        g_before = serious_entitled(r["s_before"], table, SCALAR)
    terms = p.assistance.get(r["assistance_category"])
    covered = ov is not None and ov.protocol_in_scope
    forbidden = ov is not None and ov.account_forbidden
    facts = _new(Facts, (
        scheme, k, r["provider_level"], r["admission_seq"], r["transferred"], r["n_lines"],
        ov.clause if covered and ov is not None else CATALOG_CLAUSE,
        r["d"], p.deductible_clause, r["out_of_area"], r["cut"],
        r["out_of_area"] and r["waived"], p.ratio_clause,
        r["raw"], p.basic_cap_fen[scheme] if insured else 0, r["a_before"], p.basic_cap_clause,
        r["serious_base"], r["s_before"], g_before,
        table.threshold_fen if table else 0, table.cap_fen if table else 0,
        table.clause if table else "",
        r["assistance_category"], terms is not None, r["m_base"],
        terms.ratio_bp if terms else 0, r["m_raw"], r["m_before"],
        terms.cap_fen if terms else 0, p.assistance_clause,
        r["covid_status"], ov.subsidy_scope if ov else None,
        ov.fiscal_fund_code if ov else None, r["oos"], forbidden, _MAY_PAY[r["rule"]],
        r["allowed"], p.account_clause,
    ))  # fmt: skip
    return _new(Settlement, (
        p.id, p.sha256, eid, psn, covid, ov.clause if ov is not None else None, r["r"],
        _new(SetlInfo, amounts), lines,
        Accumulators(r["a_before"], r["s_before"], r["m_before"]),
        Accumulators(r["basic_entitled_after_fen"], r["serious_base_after_fen"],
                     r["assistance_entitled_after_fen"]),
        r["balance_before"], r["account_balance_after_fen"], facts,
    ))  # fmt: skip
