"""The deferred queue's records: a deferral, and what a queue run did."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from yibao.services.encounters import lifecycle as uc

__all__ = ["Deferral", "QueueRun"]


@dataclass(frozen=True, slots=True)
class Deferral:
    """One deferral of an encounter (a ``deferrals`` row)."""

    id: str
    encounter_id: str
    provider_code: str
    insuree_id: str
    year: int
    discharge_date: dt.date
    reason: str  # not_enrolled | offline | awaiting_transfer
    medfee_sumamt: int  # the uploaded lines' total when deferred (fen)
    advance_fen: int  # what the hospital advanced (医院垫付)
    provisional: bool  # the hospital gave the advance (else: the lines' total)
    deferred_at: dt.datetime
    actor: str
    msgid: str | None
    advance_tx_id: str
    cleared_at: dt.datetime | None = None
    settlement_id: str | None = None
    clearing_tx_id: str | None = None

    @property
    def open(self) -> bool:
        return self.cleared_at is None

    @classmethod
    def of(cls, r: Any) -> Deferral:
        return cls(r.id, r.encounter_id, r.provider_code, r.psn_no, r.year, r.discharge_date,
                   r.reason, r.medfee_sumamt, r.advance_fen, r.provisional,
                   uc.aware(r.deferred_at), r.actor, r.msgid, r.advance_tx_id,
                   uc.aware_or_none(r.cleared_at), r.settlement_id,
                   r.clearing_tx_id)  # fmt: skip


@dataclass(slots=True)
class QueueRun:
    """What a queue run did."""

    settled: list[tuple[str, str]] = field(default_factory=list)  # (encounter, settlement)
    waiting: dict[str, int] = field(default_factory=dict)  # reason -> still deferred
    failed: list[tuple[str, str]] = field(default_factory=list)  # (encounter, error)
    batch: int = 0  # of ``settled``, how many went through the one batch pass
    fallback: str | None = None  # why the batch pass was given up for one by one
