"""The filing registry as settlement reads it (issue 18): is a stay out of area and, if
so, is it covered by an approved filing (异地就医备案) on the admission date? Below
``encounters`` so that admission can ask; the workflow that writes filings is
``services/filings``.

A stay is in area when the provider's region lies in the pooling area of the pack that
covers the insuree's region on the day (the engine's own test, SETTLEMENT.md §5 step 2):
then no filing is needed. Out of area, a filing covers the stay when it is approved (not
revoked), valid on the day, its destination region contains the provider's region (a
province ``420000`` or city ``420100`` contains its counties) and it names the provider
or no provider at all. An insuree not in our registry (insured elsewhere, inbound) is
filed — or not — with the insured region: our registry cannot judge, and says so."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from yibao.core.policy.resolve import PackSet
from yibao.store.uow import UnitOfWork

__all__ = ["FilingCheck", "check_filing", "region_contains", "transfer_link_problem"]

Status = Literal["registered", "unregistered", "not_needed"]


@dataclass(frozen=True, slots=True)
class FilingCheck:
    """What the registry says of a stay: ``status`` (None: the registry cannot judge,
    the insuree is not ours) and the filing that covers it."""

    status: Status | None
    filing_id: str | None
    why: str


def region_contains(area: str, region: str) -> bool:
    """Does the administrative unit ``area`` (trailing ``00`` pairs = the whole province
    or city) contain ``region``?"""
    prefix = area
    while prefix.endswith("00") and len(prefix) > 2:
        prefix = prefix[:-2]
    return region.startswith(prefix)


def check_filing(uow: UnitOfWork, packs: PackSet, *, psn_no: str, insured_region: str,
                 provider_code: str, provider_region: str, day: dt.date,
                 ours: bool) -> FilingCheck:  # fmt: skip
    """The registry's answer for a stay admitted on ``day`` (``ours``: the insuree's
    enrolment is in our registry)."""
    if not ours:
        return FilingCheck(None, None, f"参保地 {insured_region} 不在本统筹区，备案由参保地办理")
    pools = [p for p in packs if p.covers(insured_region, day)]
    if any(p.in_area(provider_region) for p in pools):
        return FilingCheck("not_needed", None, f"就医地 {provider_region} 在统筹区内，无需备案")
    with uow:
        found = uow.filings.approved_on(psn_no, day)
    for f in found:
        if region_contains(f.dest_region, provider_region) and (
            not f.dest_providers or provider_code in f.dest_providers
        ):
            return FilingCheck("registered", f.id, f"备案 {f.id} 覆盖 {day} 在 {provider_region}")
    return FilingCheck("unregistered", None, f"{day} 无覆盖就医地 {provider_region} 的已核准备案")


def transfer_link_problem(uow: UnitOfWork, filing_id: str, psn_no: str,
                          day: dt.date) -> str | None:  # fmt: skip
    """Why a 2501 transfer filing may not name the out-of-area filing ``filing_id``, or
    None: it must be this insuree's, approved (not revoked) and valid on ``day``."""
    with uow:
        f = uow.filings.get(filing_id)
    if f is None or f.psn_no != psn_no:
        return f"异地就医备案 {filing_id} of this insuree not found"
    if f.state != "approved":
        return f"异地就医备案 {filing_id} is {f.state}, not approved"
    if day < f.valid_from or (f.valid_to is not None and day > f.valid_to):
        return f"异地就医备案 {filing_id} is not valid on {day}"
    return None
