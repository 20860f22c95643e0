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
from yibao.services.encounters.context import Context
from yibao.services.registry import catalog
from yibao.services.registry.filings import check_filing
from yibao.store.uow import UnitOfWork

__all__ = ["FilingDecision", "decide_filing"]


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
