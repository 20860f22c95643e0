"""Request rules a schema cannot express; every problem is collected, then one error.

The schema (``parse``) already refused unknown keys, wrong types and enumerations and
negative amounts. Here: residents need a tier and others must not have one; regions are
6-digit codes; a stay does not end before it starts; fee serial numbers are unique; the
assistance category is one the pack or the national list knows; a line's
``price_e6 * qty_e4`` stays within 2^63 − 1 (SETTLEMENT.md §1).
"""

from __future__ import annotations

from collections.abc import Sequence

from yibao.core.engine.model import Line, SettleRequest
from yibao.core.errors import Problem
from yibao.core.money import MAX_I64
from yibao.core.policy.model import Policy

__all__ = ["KNOWN_ASSISTANCE_CATEGORIES", "product_problems", "request_problems"]

KNOWN_ASSISTANCE_CATEGORIES = frozenset({"none", "dibao", "tekun", "poverty"})
"""The enumeration of SETTLEMENT.md §2 (低保, 特困, 建档立卡); a pack may add more.
A known category the pack does not list gets no assistance (POLICY-PACKS.md)."""


def _region_ok(region: str) -> bool:
    return len(region) == 6 and region.isdigit() and region.isascii()


def request_problems(req: SettleRequest, policy: Policy) -> list[Problem]:
    """Every rule the request breaks, as (key path, message)."""
    ins, prov, enc = req.insuree, req.provider, req.encounter
    if (  # the common case, checked at once
        (ins.resident_tier is None) == (ins.scheme != "resident")
        and (
            ins.assistance_category in KNOWN_ASSISTANCE_CATEGORIES
            or ins.assistance_category in policy.assistance
        )
        and _region_ok(ins.insured_region)
        and _region_ok(prov.region)
        and enc.admit_date <= enc.discharge_date
        and enc.transfer_from != enc.id
        and len({line.sn for line in req.lines}) == len(req.lines)
    ):  # a line's price_e6 × qty_e4 is checked where it is computed (lines.settle_lines)
        return []
    problems: list[Problem] = []
    if ins.scheme == "resident" and ins.resident_tier is None:
        problems.append(("insuree.resident_tier", "a resident needs resident_tier 1 or 2"))
    if ins.scheme != "resident" and ins.resident_tier is not None:
        problems.append(("insuree.resident_tier", f"must be null for scheme {ins.scheme}"))
    if (
        ins.assistance_category not in KNOWN_ASSISTANCE_CATEGORIES
        and ins.assistance_category not in policy.assistance
    ):
        problems.append(
            ("insuree.assistance_category", f"unknown category {ins.assistance_category!r}")
        )
    for path, region in (
        ("insuree.insured_region", ins.insured_region),
        ("provider.region", prov.region),
    ):
        if not _region_ok(region):
            problems.append((path, f"{region!r} is not a 6-digit region code"))
    if enc.discharge_date < enc.admit_date:
        problems.append(
            (
                "encounter.discharge_date",
                f"{enc.discharge_date} is before admit_date {enc.admit_date}",
            )
        )
    if enc.transfer_from is not None and enc.transfer_from == enc.id:
        problems.append(("encounter.transfer_from", "an encounter cannot transfer from itself"))
    if len({line.sn for line in req.lines}) != len(req.lines):
        seen: set[str] = set()
        for i, line in enumerate(req.lines):
            if line.sn in seen:
                problems.append((f"lines.{i}.sn", f"duplicate feedetl_sn {line.sn!r}"))
            seen.add(line.sn)
    return problems + product_problems(req.lines)


def product_problems(lines: Sequence[Line]) -> list[Problem]:
    """Each line whose ``price_e6 * qty_e4`` exceeds 2^63 − 1 (SETTLEMENT.md §1)."""
    return [
        (f"lines.{i}.qty_e4", f"price_e6 × qty_e4 = {ln.price_e6 * ln.qty_e4} exceeds 2^63 − 1")
        for i, ln in enumerate(lines)
        if ln.price_e6 * ln.qty_e4 > MAX_I64
    ]
