"""Choosing the pack: insured region and discharge date select exactly one (POLICY-PACKS.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

from yibao.core.errors import NoPackApplies
from yibao.core.policy.model import Policy

__all__ = ["PackSet"]


class PackSet:
    """A set of packs; ``select`` never guesses: none or several is an error."""

    def __init__(self, packs: Iterable[Policy]) -> None:
        self._packs = tuple(packs)
        self._by_id = {p.id: p for p in self._packs}

    def __iter__(self) -> Iterator[Policy]:
        return iter(self._packs)

    def __len__(self) -> int:
        return len(self._packs)

    def by_id(self, pack_id: str) -> Policy | None:
        return self._by_id.get(pack_id)

    def select(self, insured_region: str, discharge_date: dt.date) -> Policy:
        """The one pack for this insured region (参保地) and settlement date."""
        found = [p for p in self._packs if p.covers(insured_region, discharge_date)]
        if len(found) == 1:
            return found[0]
        if not found:
            raise NoPackApplies(
                f"insuree.insured_region: no policy pack covers insured region "
                f"{insured_region} on discharge date {discharge_date.isoformat()} "
                f"(loaded: {', '.join(self._describe()) or 'none'})"
            )
        ids = ", ".join(p.id for p in found)
        raise NoPackApplies(
            f"insuree.insured_region: several policy packs cover insured region "
            f"{insured_region} on {discharge_date.isoformat()}: {ids}"
        )

    def _describe(self) -> list[str]:
        return [
            f"{p.id} [{'/'.join(p.pooling_area)}] {p.valid_from}..{p.valid_to}" for p in self._packs
        ]
