"""异地就医备案 at admission (issue 18): the service decides ``filing`` from the filing
registry (``registry.filings``) on the admission date and the stay's region; what the
hospital claimed is kept in the stay's history, and a difference is flagged — a
``filing_corrected`` encounter event and an audit entry — never silently trusted.

For an insuree not in our registry (insured elsewhere) the registry cannot judge and the
hospital's claim stands (its filing is the insured place's; DECISIONS, adr-f1)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from yibao.core.errors import InsureeNotImported
from yibao.core.registry.regions import is_region
from yibao.services.encounters.context import Context
from yibao.services.encounters.validation import region_problem
from yibao.services.registry import catalog
from yibao.services.registry.filings import check_filing
from yibao.store.uow import UnitOfWork

__all__ = ["FilingDecision", "decide_filing", "inbound_region_problem"]


PROVINCES = frozenset({
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65", "71", "81", "82",
})  # fmt: skip
"""The provinces of GB/T 2260 (a region code's first two digits): an inbound patient's
insured region must lie in one."""


@dataclass(frozen=True, slots=True)
class FilingDecision:
    filing: str  # what the stay is settled with
    claimed: str  # what the hospital said
    filing_id: str | None
    why: str

    @property
    def corrected(self) -> bool:
        return self.filing != self.claimed

    def detail(self) -> dict[str, Any]:
        return {"claimed": self.claimed, "decided": self.filing, "filing_id": self.filing_id,
                "why": self.why}  # fmt: skip


def decide_filing(uow: UnitOfWork, ctx: Context, *, psn_no: str, insured_region: str,
                  provider: catalog.ProviderSnapshot, claimed: str,
                  day: dt.date) -> FilingDecision:  # fmt: skip
    """The registry's ``filing`` for a stay admitted on ``day`` (the claim when it cannot
    judge)."""
    try:
        catalog.insuree_snapshot(uow, psn_no, day)
        ours = True
    except InsureeNotImported:
        ours = False
    check = check_filing(uow, ctx.packs, psn_no=psn_no, insured_region=insured_region,
                         provider_code=provider.code, provider_region=provider.region, day=day,
                         ours=ours)  # fmt: skip
    return FilingDecision(check.status or claimed, claimed, check.filing_id, check.why)


def inbound_region_problem(uow: UnitOfWork, ctx: Context, region: str, covid_status: str | None,
                           diagnoses: tuple[str, ...]) -> str | None:  # fmt: skip
    """Why an insuree with no enrolment here cannot be admitted on ``region`` (参保地,
    insuplc_admdvs), or None. Inside our own pooling area the registry's check stands
    (``region_problem``). Outside it (insured elsewhere, inbound): admitted when a loaded
    pack covers the region (参保地政策), and a confirmed or suspected patient is never
    refused — with no pack the stay is deferred ``no_pack`` and settled once one is
    loaded (国家医保局 2020-02-20: 无论是本地的还是异地的患者都实行先救治后结算)."""
    why = region_problem(uow, ctx.packs, region)
    if why is None or not is_region(region) or region[:2] not in PROVINCES:
        return why
    known = catalog.known_regions(uow)
    ours = [p for p in ctx.packs if any(p.in_area(k) for k in known)]
    if any(p.in_area(region) for p in ours):
        return why
    if any(p.in_area(region) for p in ctx.packs):
        return None
    codes = {c for p in ctx.packs for v in p.overlay for c in v.disease_codes}
    if covid_status in ("confirmed", "suspected") or codes.intersection(diagnoses):
        return None
    return why
