"""Hypothesis strategies: random valid packs and settlement requests."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from hypothesis import strategies as st

from yibao.core.engine.model import (
    Accumulators,
    Encounter,
    Insuree,
    Line,
    Provider,
    SettleRequest,
)
from yibao.core.engine.rules import SCALAR, serious_entitled
from yibao.core.policy.load import pack_sha256
from yibao.core.policy.model import Policy, compile_policy
from yibao.core.policy.schema import PackSpec

YEAR_START, YEAR_END = dt.date(2020, 1, 1), dt.date(2020, 12, 31)
CATEGORIES = ("dibao", "tekun", "poverty")
COVID_CODES = ("B99.900", "U07.100x001", "Z03.800x001")

bp = st.integers(0, 10000)


@st.composite
def by_level(draw: st.DrawFn, values: st.SearchStrategy[int]) -> dict[int, int]:
    return {lv: draw(values) for lv in (1, 2, 3)}


@st.composite
def serious_spec(draw: st.DrawFn) -> dict[str, Any]:
    threshold = draw(st.integers(0, 3_000_000))
    cuts = sorted(draw(st.sets(st.integers(1, 20_000_000), max_size=3)))
    uptos = [threshold + c for c in cuts]
    bands = [{"upto_fen": u, "ratio_bp": draw(bp)} for u in uptos]
    bands.append({"upto_fen": None, "ratio_bp": draw(bp)})
    return {
        "clause": "示例",
        "threshold_fen": threshold,
        "bands": bands,
        "cap_fen": draw(st.integers(0, 60_000_000)),
    }


@st.composite
def overlay_versions(draw: st.DrawFn) -> list[dict[str, Any]]:
    n = draw(st.integers(0, 3))
    starts = sorted(draw(st.sets(st.integers(0, 360), min_size=n, max_size=n)))
    out = []
    for i, s in enumerate(starts):
        start = YEAR_START + dt.timedelta(days=s)
        end = (YEAR_START + dt.timedelta(days=starts[i + 1] - 1)) if i + 1 < n else None
        out.append(
            {
                "from": start,
                "to": end,
                "clause": f"示例 overlay {i}",
                "statuses": draw(
                    st.sampled_from([["confirmed"], ["confirmed", "suspected"], ["suspected"]])
                ),
                "disease_codes": draw(
                    st.lists(st.sampled_from(COVID_CODES), min_size=1, max_size=3, unique=True)
                ),
                "designated_only": draw(st.booleans()),
                "waive_referral_cut": draw(st.booleans()),
                "protocol_in_scope": draw(st.booleans()),
                "subsidy_scope": draw(st.sampled_from(["all", "inscope"])),
                "account_forbidden": draw(st.booleans()),
            }
        )
    return out


@st.composite
def pack_docs(draw: st.DrawFn) -> dict[str, Any]:
    fen = st.integers(0, 200_000)
    cats = draw(st.lists(st.sampled_from(CATEGORIES), unique=True))
    return {
        "pack": "prop-2020",
        "title": "property pack",
        "pooling_area": ["50"],
        "valid_from": YEAR_START,
        "valid_to": YEAR_END,
        "sources": {},
        "deductible": {
            "clause": "示例",
            "first_admission_fen": {
                k: draw(by_level(fen)) for k in ("employee", "resident_1", "resident_2")
            },
            "later_admission_bp": draw(bp),
            "transfer_bp": draw(bp),
        },
        "ratio": {
            "clause": "示例",
            "bp": {k: draw(by_level(bp)) for k in ("employee", "resident_1", "resident_2")},
            "unregistered_referral_cut_bp": draw(bp),
        },
        "basic_cap": {
            "clause": "示例",
            "fen": {
                "employee": draw(st.integers(0, 30_000_000)),
                "resident": draw(st.integers(0, 30_000_000)),
            },
        },
        "serious": {"employee": draw(serious_spec()), "resident": draw(serious_spec())},
        "assistance": {
            "clause": "示例",
            "categories": {
                c: {
                    "ratio_bp": draw(bp),
                    "cap_fen": draw(st.integers(0, 10_000_000)),
                    "include_out_of_scope": draw(st.booleans()),
                }
                for c in cats
            },
        },
        "account": {
            "clause": "示例",
            "may_pay": {
                "employee": draw(st.sampled_from(["all", "inscope", "none"])),
                "resident": draw(st.sampled_from(["all", "inscope", "none"])),
            },
        },
        "covid_overlay": draw(overlay_versions()),
    }


def policy_of(doc: dict[str, Any]) -> Policy:
    spec = PackSpec.model_validate(doc)
    return compile_policy(spec, pack_sha256(spec))


policies = pack_docs().map(policy_of)


# Prices in millionths of a yuan: sub-fen ones (a 0.0583-yuan tablet), whole-fen ones
# (the old contract's, x 10^4) and large ones; quantities in ten-thousandths: fractional
# (0.3333 of a box) and whole. Every product stays far inside 2^63 - 1.
prices_e6 = st.one_of(
    st.integers(0, 1_000_000),
    st.integers(0, 2_000_000).map(lambda fen: fen * 10**4),
    st.integers(0, 20_000_000_000),
)
quantities_e4 = st.one_of(
    st.integers(0, 500_000), st.sampled_from([3333, 5000, 10000, 25000, 6667])
)


@st.composite
def lines(draw: st.DrawFn, min_size: int = 0, max_size: int = 8) -> tuple[Line, ...]:
    n = draw(st.integers(min_size, max_size))
    out = []
    for i in range(n):
        out.append(
            Line(
                sn=str(i + 1),
                code=f"X{i:05d}",
                category=draw(st.sampled_from(["drug", "service", "consumable", "bed", "other"])),
                item_class=draw(st.sampled_from(["A", "B", "C"])),
                selfpay_bp=draw(bp),
                price_e6=draw(prices_e6),
                qty_e4=draw(quantities_e4),
                price_cap_e6=draw(st.one_of(st.none(), prices_e6)),
                in_protocol=draw(st.booleans()),
                temp_code=draw(st.booleans()),
            )
        )
    return tuple(out)


# What a fund has paid: nothing yet, a little, or anything up to past every cap the
# packs draw (basic 30M, serious 60M, assistance 10M): after a reversal the paid
# accumulators may lie below or above what the entitlement implies (SETTLEMENT.md §6).
paid_fen = st.one_of(st.just(0), st.integers(0, 200_000), st.integers(0, 70_000_000))


@st.composite
def accumulators(draw: st.DrawFn) -> Accumulators:
    """Six accumulators: the entitlements, and paid ones off what they imply."""
    return Accumulators(
        basic_entitled_fen=draw(st.integers(0, 30_000_000)),
        basic_paid_fen=draw(paid_fen),
        serious_base_fen=draw(st.integers(0, 30_000_000)),
        serious_paid_fen=draw(paid_fen),
        assistance_entitled_fen=draw(st.integers(0, 10_000_000)),
        assistance_paid_fen=draw(paid_fen),
    )


def paid_as_entitled(req: SettleRequest, policy: Policy) -> SettleRequest:
    """``req`` with each paid accumulator what its entitlement implies under ``policy``
    (``H(E)``, SETTLEMENT.md §2): a year without reversals."""
    acc, scheme = req.accumulators, req.insuree.scheme
    basic = serious = 0
    if scheme != "none":
        basic = min(acc.basic_entitled_fen, policy.basic_cap_fen[scheme])
        serious = serious_entitled(acc.serious_base_fen, policy.serious[scheme], SCALAR)
    terms = policy.assistance.get(req.insuree.assistance_category)
    assistance = min(acc.assistance_entitled_fen, terms.cap_fen) if terms else 0
    paid = dataclasses.replace(
        acc, basic_paid_fen=basic, serious_paid_fen=serious, assistance_paid_fen=assistance
    )
    return dataclasses.replace(req, accumulators=paid)


@st.composite
def requests(
    draw: st.DrawFn, *, scheme: str | None = None, discharge: dt.date | None = None
) -> SettleRequest:
    s = scheme or draw(st.sampled_from(["employee", "resident", "none"]))
    day = discharge or draw(st.dates(YEAR_START, YEAR_END))
    cat = draw(st.sampled_from(("none", *CATEGORIES)))
    diagnoses = draw(st.lists(st.sampled_from((*COVID_CODES, "J18.900")), max_size=3, unique=True))
    return SettleRequest(
        insuree=Insuree(
            id="500102198001011234",
            scheme=s,  # type: ignore[arg-type]
            resident_tier=draw(st.sampled_from([1, 2])) if s == "resident" else None,
            insured_region="500102",
            assistance_category=cat,
            account_balance_fen=draw(st.integers(0, 500_000)),
            enrolled=True,
        ),
        provider=Provider(
            code="H1",
            region=draw(st.sampled_from(["500102", "500230", "510104", "420106"])),
            level=draw(st.sampled_from([1, 2, 3])),
            covid_designated=draw(st.booleans()),
        ),
        encounter=Encounter(
            id=draw(st.text("ABCDEF0123456789", min_size=1, max_size=8)),
            med_type="21",
            admit_date=day - dt.timedelta(days=draw(st.integers(0, 30))),
            discharge_date=day,
            diagnoses=tuple(diagnoses),
            covid_status=draw(st.sampled_from(["confirmed", "suspected", "none"])),
            filing=draw(st.sampled_from(["registered", "unregistered", "not_needed"])),
            admission_seq=draw(st.integers(1, 4)),
            transfer_from=draw(st.one_of(st.none(), st.just("PREV"))),
        ),
        lines=draw(lines()),
        accumulators=draw(accumulators()),
    )
