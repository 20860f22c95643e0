"""Changes to a stay before it is settled (issue 16): 2403 入院信息变更 and 2405 出院撤销.

- ``change_admission`` (2403): the stay's diagnoses (and medical type) as the hospital
  now codes them. A suspected patient (疑似, Z03.800x001 secondary) confirmed mid-stay
  (B99.900 or U07.100x00n main) changes which overlay applies at settlement: the COVID
  status is derived from the diagnoses again (``state.covid_status_of``, DECISIONS
  0043), so any status given at admission is dropped. The change is an
  ``encounter_events`` row (kind ``admission_changed``, the diagnoses and medical type
  before and after in its detail) and an audit entry; the stay's row holds the current
  state. Only an open stay (admitted or discharged) changes: a settled one is reversed
  first (2305), a cancelled or deferred one is refused.
- ``cancel_discharge`` (2405): a discharged stay back to admitted (the same move as a
  2601 冲正 of its 2402, ``lifecycle.undo_discharge``); a settled stay is reversed first.

Both are one transaction under the encounter's lock; a repeat of the same message is
the caller's idempotency (the envelope's msgid, REST's Idempotency-Key).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from yibao.core.errors import Conflict, InvalidRequest
from yibao.services.access.rights import Principal, require
from yibao.services.encounters.context import Context
from yibao.services.encounters.lifecycle import undo_discharge
from yibao.services.encounters.state import (
    OPEN,
    Diagnosis,
    EncounterState,
    business_day,
    load_encounter,
    record_change,
)
from yibao.services.encounters.validation import (
    LENGTH,
    Checks,
    diagnosis_checks,
    med_type_problem,
    unknown_diseases,
)
from yibao.store.uow import UnitOfWork

__all__ = ["AdmissionChange", "cancel_discharge", "change_admission"]


@dataclass(frozen=True, slots=True)
class AdmissionChange:
    """2403 in our words: what is given replaces what the stay holds (``None``: kept)."""

    diagnoses: tuple[Diagnosis, ...] | None = None
    med_type: str | None = None
    admit_time: dt.datetime | None = None  # must fall on the admission's day (aware)


def _diag_view(ds: tuple[Diagnosis, ...]) -> list[dict[str, Any]]:
    return [{"code": d.code, "main": d.main} for d in ds]


def change_admission(uow: UnitOfWork, ctx: Context, caller: Principal, encounter_id: str,
                     change: AdmissionChange, *, msgid: str | None) -> EncounterState:  # fmt: skip
    """2403 入院信息变更: the stay's diagnoses and medical type replaced; the COVID status
    derived from the new diagnoses at settlement. A change that changes nothing records
    nothing and answers the stay as it stands."""
    require(caller, "encounter.write")
    c = Checks(ctx.now())
    c.code("encounter_id", encounter_id, LENGTH["encounter_id"])
    if change.med_type is not None:
        c.add("med_type", med_type_problem(change.med_type))
    c.time("admit_time", change.admit_time)
    if change.diagnoses is not None:
        diagnosis_checks(c, change.diagnoses)
        if not change.diagnoses:
            c.add("diagnoses", "at least one diagnosis is required to change them")
    c.done()
    at = ctx.now()
    with uow(write=True):
        enc = load_encounter(uow, caller, encounter_id, lock=True)
        if enc.status not in OPEN:
            hint = " (reverse its settlement first: 2305)" if enc.status == "settled" else ""
            raise Conflict(f"encounter {enc.id} is {enc.status}: cannot change its admission"
                           f" (入院信息变更){hint}")  # fmt: skip
        if change.admit_time is not None and business_day(change.admit_time) != enc.admit_date:
            raise InvalidRequest.of([("admit_time", f"{business_day(change.admit_time)} is not "
                                      f"the admission's day {enc.admit_date}: the admission "
                                      "date does not change (cancel with 2404 and admit "
                                      "again)")])  # fmt: skip
        values: dict[str, Any] = {}
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        if change.diagnoses is not None and change.diagnoses != enc.diagnoses:
            pairs = [(f"diagnoses.{i}.code", d.code) for i, d in enumerate(change.diagnoses)]
            if problems := unknown_diseases(uow, pairs, enc.admit_date, at):
                raise InvalidRequest.of(problems)
            values["diagnoses"] = _diag_view(change.diagnoses)
            values["covid_status"] = None  # derived from the diagnoses at settlement
            before["diagnoses"] = _diag_view(enc.diagnoses)
            after["diagnoses"] = values["diagnoses"]
            before["covid_status"] = enc.covid_status
        if change.med_type is not None and change.med_type != enc.med_type:
            values["med_type"] = change.med_type
            before["med_type"], after["med_type"] = enc.med_type, change.med_type
        if not values:
            return enc
        state = record_change(uow, caller, enc, "admission_changed", enc.status, at, msgid,
                              {"before": before, "after": after}, **values)  # fmt: skip
        uow.commit()
    return replace(state, med_type=values.get("med_type", enc.med_type),
                   covid_status=None if "diagnoses" in values else enc.covid_status)  # fmt: skip


def cancel_discharge(uow: UnitOfWork, ctx: Context, caller: Principal, encounter_id: str, *,
                     msgid: str | None) -> EncounterState:  # fmt: skip
    """2405 出院撤销: a discharged stay back in hospital (admitted, no discharge date);
    refused for a settled stay (reverse it first: 2305) and any stay not discharged."""
    require(caller, "encounter.write")
    c = Checks()
    c.code("encounter_id", encounter_id, LENGTH["encounter_id"])
    c.done()
    with uow(write=True):
        enc = load_encounter(uow, caller, encounter_id, lock=True)
        if enc.status == "settled":
            raise Conflict(f"encounter {enc.id} is settled: cannot cancel its discharge "
                           "(出院撤销; reverse its settlement first: 2305)")  # fmt: skip
        if enc.status != "discharged":
            raise Conflict(f"encounter {enc.id} is {enc.status}, not discharged: no discharge "
                           "to cancel (出院撤销)")  # fmt: skip
        state = undo_discharge(uow, ctx, caller, enc, msgid)
        uow.commit()
    return state
