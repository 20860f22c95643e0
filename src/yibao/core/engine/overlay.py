"""§3 the COVID-19 overlay: does the version in force cover this patient here?"""

from __future__ import annotations

from yibao.core.engine.model import Encounter, Provider
from yibao.core.policy.model import OverlayVersion

__all__ = ["covid_applies"]


def covid_applies(v: OverlayVersion | None, enc: Encounter, prov: Provider) -> bool:
    """§3: the overlay in force on the discharge date covers this patient here."""
    return (
        v is not None
        and enc.covid_status in v.statuses
        and not v.disease_codes.isdisjoint(enc.diagnoses)
        and (prov.covid_designated or not v.designated_only)
    )
