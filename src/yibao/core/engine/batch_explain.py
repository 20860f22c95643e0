"""The batch engine's settlements in full: each row of ``settle_frame(..., explain=True)``
and its ``line_results`` as the engine's ``Settlement`` — lines, facts, accumulators and
balance before and after — the same value the scalar engine returns for the stay settled
from the state the batch carried to it (DECISIONS 0092).

Every amount and every step's input is a column the batch computed with ``rules``;
what is read here from the pack (clauses, caps, the overlay version's terms) is looked up
by the row's pack and version index. Every record is built by keyword, as ``settle``
builds it. Each settlement then passes the scalar engine's invariants. Pure: frames in,
tuples out.
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
from yibao.core.errors import InvariantBroken
from yibao.core.policy.model import OverlayVersion, Policy

__all__ = ["settlements"]

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
    made = [
        LineResult(feedetl_sn=sn, det_item_fee_sumamt=amount, fulamt_ownpay_amt=own,
                   overlmt_amt=over, preselfpay_amt=pre, inscp_scp_amt=inscp, chrgitm_lv=lv,
                   rule=rule)
        for sn, amount, own, over, pre, inscp, lv, rule in zip(*cols, levels, rules,
                                                                 strict=True)
    ]  # fmt: skip
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
    return Settlement(
        pack_id=p.id,
        pack_sha256=p.sha256,
        encounter_id=eid,
        insuree_id=psn,
        covid=covid,
        overlay_clause=ov.clause if ov is not None else None,
        ratio_bp=r["r"],
        setlinfo=SetlInfo(**dict(zip(SETLINFO_FIELDS, amounts, strict=True))),
        lines=lines,
        accumulators_before=Accumulators(
            basic_entitled_fen=r["a_before"],
            basic_paid_fen=r["basic_paid_before_fen"],
            serious_base_fen=r["s_before"],
            serious_paid_fen=r["serious_paid_before_fen"],
            assistance_entitled_fen=r["m_before"],
            assistance_paid_fen=r["assistance_paid_before_fen"],
        ),
        accumulators_after=Accumulators(
            basic_entitled_fen=r["basic_entitled_after_fen"],
            basic_paid_fen=r["basic_paid_after_fen"],
            serious_base_fen=r["serious_base_after_fen"],
            serious_paid_fen=r["serious_paid_after_fen"],
            assistance_entitled_fen=r["assistance_entitled_after_fen"],
            assistance_paid_fen=r["assistance_paid_after_fen"],
        ),
        account_balance_before_fen=r["balance_before"],
        account_balance_after_fen=r["account_balance_after_fen"],
        facts=_facts(r, p, ov),
    )


def _facts(r: dict[str, Any], p: Policy, ov: OverlayVersion | None) -> Facts:
    """The row's ``Facts``, by keyword, as ``settle`` records them."""
    scheme = r["scheme"]
    insured = scheme != "none"
    tier = 1 if r["resident_tier"] == 1 else 2  # residents only (settle's scheme_key)
    table = p.serious[scheme] if insured else None
    terms = p.assistance.get(r["assistance_category"])
    covered = ov is not None and ov.protocol_in_scope
    return Facts(
        scheme=scheme,
        scheme_key=scheme if scheme != "resident" else f"resident_{tier}",
        level=r["provider_level"],
        admission_seq=r["admission_seq"],
        transfer=r["transferred"],
        line_count=r["n_lines"],
        line_clause=ov.clause if covered and ov is not None else CATALOG_CLAUSE,
        d_fen=r["d"],
        deductible_clause=p.deductible_clause,
        out_of_area=r["out_of_area"],
        referral_cut=r["cut"],
        cut_waived=r["out_of_area"] and r["waived"],
        ratio_clause=p.ratio_clause,
        basic_raw_fen=r["raw"],
        basic_cap_fen=p.basic_cap_fen[scheme] if insured else 0,
        basic_before_fen=r["a_before"],
        basic_paid_before_fen=r["basic_paid_before_fen"],
        basic_cap_clause=p.basic_cap_clause,
        serious_base_fen=r["serious_base"],
        serious_before_fen=r["s_before"],
        serious_paid_before_fen=r["serious_paid_before_fen"],
        serious_g_after_fen=r["serious_g_after_fen"],  # G(S + base): 0 up to the threshold
        serious_threshold_fen=table.threshold_fen if table else 0,
        serious_cap_fen=table.cap_fen if table else 0,
        serious_clause=table.clause if table else "",
        assistance_category=r["assistance_category"],
        assisted=terms is not None,
        assistance_base_fen=r["m_base"],
        assistance_ratio_bp=terms.ratio_bp if terms else 0,
        assistance_raw_fen=r["m_raw"],
        assistance_before_fen=r["m_before"],
        assistance_paid_before_fen=r["assistance_paid_before_fen"],
        assistance_cap_fen=terms.cap_fen if terms else 0,
        assistance_clause=p.assistance_clause,
        covid_status=r["covid_status"],
        subsidy_scope=ov.subsidy_scope if ov else None,
        fiscal_fund_code=ov.fiscal_fund_code if ov else None,
        out_of_scope_fen=r["oos"],
        account_forbidden=ov is not None and ov.account_forbidden,
        may_pay=_MAY_PAY[r["rule"]],
        account_allowed_fen=r["allowed"],
        account_clause=p.account_clause,
    )
