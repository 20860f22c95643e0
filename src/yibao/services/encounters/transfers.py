"""Transfers between hospitals (转院): the sending hospital settles first.

涪医保发〔2020〕6号 三 and 渝医保发〔2020〕3号 四（四）: a patient transferred between
hospitals is settled by the sending hospital first; the receiving hospital's stay is
entered as a transfer (its deductible is the pack's ``deductible.transfer_bp`` share,
SETTLEMENT.md §5.1).

- ``file_transfer`` (2501 转院备案): the sending hospital files the transfer of one of its
  stays to a receiving hospital (or any), for a period; the receiving hospital's
  admission (2401 or REST) of that insuree within the period links to the stay
  (``transfer_from``) without the receiving hospital having to know its id;
- ``cancel_transfer`` (2502 转院备案撤销): the filing stops linking new admissions;
- a receiving stay settles only once the sending stay is settled: before that, its
  settlement request defers it (reason ``awaiting_transfer``) and the deferred queue
  settles it after the sending stay (``services.deferred``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from yibao.core.errors import InvalidRequest, NotFound
from yibao.services.access.rights import Principal, audit, own, require
from yibao.services.encounters.context import CST, Context, new_id
from yibao.services.encounters.validation import LENGTH, Checks, provider_problem
from yibao.services.registry.filings import transfer_link_problem
from yibao.store.uow import UnitOfWork

__all__ = ["Filing", "cancel_transfer", "file_transfer"]


@dataclass(frozen=True, slots=True)
class Filing:
    """转院备案: who sends which stay where, valid when."""

    id: str
    from_provider: str
    from_encounter_id: str
    insuree_id: str
    to_provider: str | None
    transfer_date: dt.date
    valid_from: dt.date
    valid_to: dt.date | None
    reason: str | None
    out_of_area_filing: str | None = None  # 异地就医备案 it rests on (issue 18)


def file_transfer(uow: UnitOfWork, ctx: Context, caller: Principal, *, insuree_id: str,
                  to_provider: str | None = None, transfer_date: dt.date | None = None,
                  valid_from: dt.date | None = None, valid_to: dt.date | None = None,
                  reason: str | None = None, encounter_id: str | None = None,
                  msgid: str | None = None,
                  out_of_area_filing: str | None = None) -> Filing:  # fmt: skip
    """2501 转院备案 by the sending hospital: its stay ``encounter_id`` (default: the
    insuree's newest stay at the caller's hospital that is not cancelled)."""
    require(caller, "encounter.write")
    assert caller.provider_code is not None
    at = ctx.now()
    c = Checks(at)
    c.psn_no("insuree_id", insuree_id)
    c.code("to_provider", to_provider, LENGTH["provider_code"])
    c.code("encounter_id", encounter_id, LENGTH["encounter_id"])
    c.text("reason", reason, LENGTH["transfer_reason"])
    c.code("out_of_area_filing", out_of_area_filing, LENGTH["filing_id"])
    for name, value in (("transfer_date", transfer_date), ("valid_from", valid_from),
                        ("valid_to", valid_to)):  # fmt: skip
        c.day(name, value)
    c.done()
    day = transfer_date or at.astimezone(CST).date()
    start = valid_from or day
    if valid_to is not None and valid_to < start:
        raise InvalidRequest.of([("valid_to", f"{valid_to} is before {start}")])
    if to_provider == caller.provider_code:
        raise InvalidRequest.of([("to_provider", "a hospital does not transfer to itself")])
    with uow(write=True):
        if to_provider is not None and (why := provider_problem(uow, to_provider, day)):
            raise InvalidRequest.of([("to_provider", why)])
        if out_of_area_filing is not None and (
            why := transfer_link_problem(uow, out_of_area_filing, insuree_id, day)
        ):
            raise InvalidRequest.of([("out_of_area_filing", why)])
        if encounter_id is None:
            rows = uow.hospital.encounters(provider_code=caller.provider_code, psn_no=insuree_id,
                                           status=None, limit=20, offset=0)  # fmt: skip
            rows = [r for r in rows if r.status != "cancelled"]
            if not rows:
                raise NotFound("no stay of this insuree at this hospital to transfer from")
            src = rows[0]
        else:
            found = uow.hospital.encounter(encounter_id)
            if found is None or found.psn_no != insuree_id:
                raise NotFound(f"encounter {encounter_id} of this insuree not found")
            own(caller, found.provider_code, f"encounter {encounter_id}")
            if found.status == "cancelled":
                why = f"encounter {encounter_id} is cancelled: a cancelled stay transfers no one"
                raise InvalidRequest.of([("encounter_id", why)])
            src = found
        f = Filing(new_id("T", at), caller.provider_code, src.id, insuree_id, to_provider, day,
                   start, valid_to, reason, out_of_area_filing)  # fmt: skip
        uow.deferrals.insert_filing({
            "id": f.id, "from_provider": f.from_provider, "from_encounter_id": f.from_encounter_id,
            "psn_no": insuree_id, "to_provider": to_provider, "transfer_date": day,
            "valid_from": start, "valid_to": valid_to, "reason": reason or None,
            "filed_at": at, "actor": caller.actor, "msgid": msgid,
            "cancelled_at": None, "filing_id": out_of_area_filing})  # fmt: skip
        audit(uow, caller, "transfer.filed", "encounter", src.id, before=None,
              after={"filing": f.id, "to": to_provider, "on": day}, at=at, msgid=msgid)  # fmt: skip
        uow.commit()
    return f


def cancel_transfer(uow: UnitOfWork, ctx: Context, caller: Principal, filing_id: str, *,
                    insuree_id: str | None = None, msgid: str | None = None) -> bool:  # fmt: skip
    """2502 转院备案撤销: the filing links no further admission (True if it stood; a
    repeat changes nothing). ``insuree_id`` (2502's ``psn_no``), when given, must be the
    filing's insuree."""
    require(caller, "encounter.write")
    c = Checks()
    c.code("filing_id", filing_id, LENGTH["filing_id"])
    c.psn_no("insuree_id", insuree_id)
    c.done()
    at = ctx.now()
    with uow(write=True):
        row = uow.deferrals.filing(filing_id)
        if row is None or (insuree_id is not None and row.psn_no != insuree_id):
            raise NotFound(f"transfer filing {filing_id} of this insuree not found"
                           if insuree_id else f"transfer filing {filing_id} not found")  # fmt: skip
        own(caller, row.from_provider, f"transfer filing {filing_id}")
        done = uow.deferrals.cancel_filing(filing_id, at)
        if done:
            audit(uow, caller, "transfer.cancelled", "encounter", row.from_encounter_id,
                  before={"filing": filing_id}, after=None, at=at, msgid=msgid)  # fmt: skip
        uow.commit()
    return done
