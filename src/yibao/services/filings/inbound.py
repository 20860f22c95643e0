"""Patients insured elsewhere (异地就医, inbound; issue 18).

A confirmed or suspected patient insured in another region is admitted on the
certificate number and the insured region (``insuplc_admdvs``; ``encounters.admit``) and
treated first. To settle, the stay needs the insured place's enrolment facts (险种,
档次, as the national platform's 1101 returns them) and a pack for the insured region
(参保地政策, ``yibao pack list``). ``enrol_inbound`` records those facts in our insurees
registry as one audited change set (source ``inbound <region>``), never for a region of
our own pooling area (those come by the registry import). Until both are there the stay
waits in the deferred queue (``not_enrolled`` / ``no_pack``) and the queue settles it.
"""

from __future__ import annotations

import datetime as dt

from yibao.core.errors import InvalidRequest
from yibao.core.registry import KINDS
from yibao.core.registry.regions import is_region
from yibao.services.access.rights import Principal, require
from yibao.services.encounters.context import Context
from yibao.services.registry import catalog
from yibao.services.registry.files import Imported, import_rows
from yibao.store.uow import UnitOfWork

__all__ = ["enrol_inbound"]


def enrol_inbound(uow: UnitOfWork, ctx: Context, caller: Principal, *, psn_no: str, name: str,
                  scheme: str, insured_region: str, valid_from: dt.date,
                  resident_tier: int | None = None) -> Imported:  # fmt: skip
    """Record an inbound patient's enrolment as the insured place gives it."""
    require(caller, "filing.intake")
    if not is_region(insured_region):
        raise InvalidRequest.of([("insured_region", "is not a 6-digit administrative region "
                                  "code (行政区划代码)")])  # fmt: skip
    with uow:
        known = catalog.known_regions(uow)
    ours = [p for p in ctx.packs if any(p.in_area(k) for k in known)]
    if any(p.in_area(insured_region) for p in ours):
        raise InvalidRequest.of([("insured_region", f"{insured_region} is in our own pooling "
                                  "area: import its enrolment with the registry")])  # fmt: skip
    kind = KINDS["insurees"]
    cells = {"psn_no": psn_no, "name": name, "scheme": scheme,
             "resident_tier": "" if resident_tier is None else str(resident_tier),
             "insured_region": insured_region, "assistance_category": "none",
             "account_opening_fen": "0", "enrolled": "true",
             "valid_from": valid_from.isoformat()}  # fmt: skip
    row = [cells.get(c, "") for c in kind.names]
    return import_rows(uow, kind, kind.names, [(2, row)], source=f"inbound {insured_region}",
                       actor=caller.actor, now=ctx.now())  # fmt: skip
