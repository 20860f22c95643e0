"""The hospital's queries about one insuree's stays (issue 16): a settlement as it was
answered (5203 结算信息查询), the stays still open (5303 在院信息查询) and the transfer
filings (5304 转院信息查询).

A hospital sees only its own provider's stays and settlements: another's is "not
found", never "forbidden" (``access.rights.own``); transfer filings it sent, that name
it, or that name no hospital. Names and ID numbers are the caller's to mask
(``access.rights.show_*``): the records here carry them as stored.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from yibao.core.errors import InvalidRequest, NotFound
from yibao.services.access.rights import Principal, own, require
from yibao.services.encounters.lifecycle import EncounterState, Settled, aware, stored_settled
from yibao.services.encounters.validation import LENGTH, Checks
from yibao.services.registry import catalog
from yibao.store.uow import UnitOfWork

__all__ = ["OpenStay", "SettlementAnswer", "TransferRecord", "open_stays", "settlement_answer",
           "transfer_filings"]  # fmt: skip

_MAX_STAYS = 100


@dataclass(frozen=True, slots=True)
class SettlementAnswer:
    """5203: a stored settlement (or reversal) as computed, with its stay and the
    insuree's name and scheme on the discharge date (``None`` when not imported)."""

    settled: Settled
    encounter: EncounterState
    insuree_name: str | None
    scheme: str


@dataclass(frozen=True, slots=True)
class OpenStay:
    """5303: a stay still in hospital (在院: admitted, not discharged)."""

    encounter: EncounterState
    insuree_name: str | None
    provider_name: str | None


@dataclass(frozen=True, slots=True)
class TransferRecord:
    """5304: one standing transfer filing (转院备案)."""

    id: str
    insuree_id: str
    insuree_name: str | None
    scheme: str
    insured_region: str | None
    from_provider: str
    from_encounter_id: str
    to_provider: str | None
    to_provider_name: str | None
    transfer_date: dt.date
    valid_from: dt.date
    valid_to: dt.date | None
    reason: str | None
    diagnoses: tuple[str, ...]  # the sending stay's codes, the main one first
    filed_at: dt.datetime
    actor: str


def _snapshot(uow: UnitOfWork, psn_no: str, on: dt.date) -> catalog.InsureeSnapshot | None:
    try:
        return catalog.insuree_snapshot(uow, psn_no, on)
    except NotFound:  # not imported yet (先救治、后结算): no name to show
        return None


def _provider_name(uow: UnitOfWork, code: str | None, on: dt.date) -> str | None:
    if code is None:
        return None
    try:
        return catalog.provider_snapshot(uow, code, on).name
    except NotFound:
        return None


def settlement_answer(uow: UnitOfWork, caller: Principal, *, insuree_id: str,
                      settlement_id: str, encounter_id: str | None = None,
                      ) -> SettlementAnswer:  # fmt: skip
    """5203: the settlement ``settlement_id`` of ``insuree_id`` (and of the stay
    ``encounter_id`` when given) as it was computed; anything else — another insuree's,
    another stay's, another hospital's — is not found."""
    require(caller, "encounter.read")
    c = Checks()
    c.code("insuree_id", insuree_id, LENGTH["insuree_id"])
    c.code("settlement_id", settlement_id, LENGTH["settlement_id"])
    c.code("encounter_id", encounter_id, LENGTH["encounter_id"])
    c.done()
    missing = NotFound(f"settlement {settlement_id} of this insuree not found")
    with uow:
        row = uow.hospital.settlement(settlement_id)
        if row is None or row.psn_no != insuree_id:
            raise missing
        if encounter_id is not None and row.encounter_id != encounter_id:
            raise missing
        own(caller, row.provider_code, f"settlement {settlement_id} of this insuree")
        enc_row = uow.hospital.encounter(row.encounter_id)
        assert enc_row is not None  # a settlement's stay is never deleted
        enc = EncounterState.of(enc_row)
        settled = stored_settled(row)
        snap = _snapshot(uow, insuree_id, settled.discharge_date)
    return SettlementAnswer(settled, enc, snap.name if snap else None,
                            settled.settlement.facts.scheme)  # fmt: skip


def open_stays(uow: UnitOfWork, caller: Principal, insuree_id: str) -> list[OpenStay]:
    """5303: the insuree's stays in hospital (admitted, not yet discharged), newest
    first; a hospital's own only."""
    require(caller, "encounter.read")
    c = Checks()
    c.code("insuree_id", insuree_id, LENGTH["insuree_id"])
    c.done()
    provider = caller.provider_code if caller.role == "hospital" else None
    with uow:
        rows = uow.hospital.encounters(provider_code=provider, psn_no=insuree_id,
                                       status="admitted", limit=_MAX_STAYS, offset=0)  # fmt: skip
        out = []
        for r in rows:
            enc = EncounterState.of(r)
            snap = _snapshot(uow, insuree_id, enc.admit_date)
            name = _provider_name(uow, enc.provider_code, enc.admit_date)
            out.append(OpenStay(enc, snap.name if snap else None, name))
    return out


def transfer_filings(uow: UnitOfWork, caller: Principal, insuree_id: str, *,
                     begin: dt.date | None = None,
                     end: dt.date | None = None) -> list[TransferRecord]:  # fmt: skip
    """5304: the insuree's standing transfer filings whose transfer date lies in
    [``begin``, ``end``]; a hospital sees those it sent, that name it, or that name no
    hospital (any receiving hospital may admit on them)."""
    require(caller, "encounter.read")
    c = Checks()
    c.code("insuree_id", insuree_id, LENGTH["insuree_id"])
    c.done()
    if begin is not None and end is not None and end < begin:
        raise InvalidRequest.of([("end", f"{end} is before {begin}")])
    provider = caller.provider_code if caller.role == "hospital" else None
    with uow:
        rows = uow.deferrals.filings_of(insuree_id, provider_code=provider, begin=begin,
                                        end=end)  # fmt: skip
        out = []
        for r in rows:
            src = uow.hospital.encounter(r.from_encounter_id)
            assert src is not None  # a filing's stay is never deleted
            enc = EncounterState.of(src)
            snap = _snapshot(uow, insuree_id, r.transfer_date)
            codes = tuple(d.code for d in sorted(enc.diagnoses, key=lambda d: not d.main))
            out.append(TransferRecord(
                r.id, insuree_id, snap.name if snap else None,
                snap.scheme if snap else "none", snap.insured_region if snap else None,
                r.from_provider, r.from_encounter_id, r.to_provider,
                _provider_name(uow, r.to_provider, r.transfer_date), r.transfer_date,
                r.valid_from, r.valid_to, r.reason, codes, aware(r.filed_at), r.actor))  # fmt: skip
    return out
