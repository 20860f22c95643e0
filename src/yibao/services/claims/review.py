"""The district's path: 初审 (first review, unknown fee lines classified), 复核 (second
review by ANOTHER person: four eyes), 审批 (approval, again not the first reviewer),
退回补正 (returned for correction: the clock pauses and the claim says what is missing;
补正 resumes it) and 不予报销 (rejected)."""

from __future__ import annotations

from yibao.core.errors import Conflict, Forbidden, InvalidRequest, NotFound
from yibao.services.access.rights import Principal
from yibao.services.claims import limits
from yibao.services.claims.intake import in_region
from yibao.services.claims.model import load, may, move
from yibao.services.encounters.context import Context
from yibao.services.registry import catalog
from yibao.store.uow import UnitOfWork

__all__ = [
    "approve",
    "classify",
    "first_review",
    "reject",
    "resubmit",
    "return_for_correction",
    "second_review",
]

_RETURNABLE = ("received", "forwarded", "reviewed", "checked")


def first_review(
    uow: UnitOfWork, ctx: Context, caller: Principal, claim_id: str, note: str = ""
) -> None:
    """初审 passed: every fee line must be mapped or classified."""
    may(caller, "claim.review")
    at = ctx.now()
    with uow(write=True):
        row = load(uow, caller, claim_id, lock=True)
        unknown = [ln.sn for ln in uow.claims.lines(claim_id) if ln.status == "unknown"]
        if unknown:
            raise Conflict(f"费用明细 {', '.join(unknown[:10])} 尚未归类，初审不能通过")
        move(
            uow,
            caller,
            row,
            "reviewed",
            "first_review",
            at,
            allowed_from=("forwarded",),
            values={"first_reviewer": caller.actor},
            detail={"note": note[:200]},
        )
        uow.commit()


def second_review(
    uow: UnitOfWork, ctx: Context, caller: Principal, claim_id: str, note: str = ""
) -> None:
    """复核 passed, by someone other than the first reviewer (four eyes)."""
    may(caller, "claim.review")
    at = ctx.now()
    with uow(write=True):
        row = load(uow, caller, claim_id, lock=True)
        if row.first_reviewer == caller.actor:
            raise Forbidden(f"复核须由初审以外的人员办理（初审：{row.first_reviewer}）")
        move(
            uow,
            caller,
            row,
            "checked",
            "second_review",
            at,
            allowed_from=("reviewed",),
            values={"second_reviewer": caller.actor},
            detail={"note": note[:200]},
        )
        uow.commit()


def approve(uow: UnitOfWork, ctx: Context, caller: Principal, claim_id: str) -> None:
    """审批 of a settled claim: not by its first reviewer (four eyes); it then waits for a
    payment batch."""
    may(caller, "claim.review")
    at = ctx.now()
    with uow(write=True):
        row = load(uow, caller, claim_id, lock=True)
        if row.first_reviewer == caller.actor:
            raise Forbidden(f"审批须由初审以外的人员办理（初审：{row.first_reviewer}）")
        move(
            uow,
            caller,
            row,
            "approved",
            "approve",
            at,
            allowed_from=("settled",),
            detail={"settlement_id": row.settlement_id},
        )
        uow.commit()


def return_for_correction(
    uow: UnitOfWork, ctx: Context, caller: Principal, claim_id: str, missing: str
) -> None:
    """退回补正: the claim goes back to the counter saying what is missing; its step's
    clock pauses with the working days it had left."""
    may(caller, "claim.review")
    if not missing.strip():
        raise InvalidRequest.of([("missing", "退回补正须写明需补正的材料或信息")])
    at = ctx.now()
    with uow(write=True):
        row = load(uow, caller, claim_id, lock=True)
        due = row.due_at
        if due is not None and due.tzinfo is None:
            due = due.replace(tzinfo=at.tzinfo)
        left = limits.paused_left(due, at) if due is not None else 0
        move(
            uow,
            caller,
            row,
            "returned",
            "return",
            at,
            allowed_from=_RETURNABLE,
            values={
                "returned_from": row.status,
                "missing": missing.strip()[:500],
                "due_at": None,
                "clock_left": left,
            },
            detail={"missing": missing.strip()[:200], "days_left": left},
        )
        uow.commit()


def resubmit(
    uow: UnitOfWork, ctx: Context, caller: Principal, claim_id: str, note: str = ""
) -> None:
    """补正 done: the claim goes back to the step it was returned from and its clock
    resumes with the days it had left (the time spent returned does not count)."""
    may(caller, "claim.intake")
    at = ctx.now()
    with uow(write=True):
        row = load(uow, caller, claim_id, lock=True)
        back = row.returned_from or "received"
        left = row.clock_left or 0
        move(
            uow,
            caller,
            row,
            back,
            "resubmit",
            at,
            allowed_from=("returned",),
            values={
                "returned_from": None,
                "missing": None,
                "due_at": limits.resumed_due(left, at),
                "clock_left": None,
            },
            detail={"note": note[:200], "days_left": left},
        )
        uow.commit()


def reject(uow: UnitOfWork, ctx: Context, caller: Principal, claim_id: str, reason: str) -> None:
    """不予报销 (with the reason); its invoices stay recorded, so they cannot be claimed
    again by another claim."""
    may(caller, "claim.review")
    if not reason.strip():
        raise InvalidRequest.of([("reason", "不予报销须说明理由")])
    at = ctx.now()
    with uow(write=True):
        row = load(uow, caller, claim_id, lock=True)
        move(
            uow,
            caller,
            row,
            "rejected",
            "reject",
            at,
            allowed_from=_RETURNABLE,
            values={"missing": reason.strip()[:500]},
            detail={"reason": reason.strip()[:200]},
        )
        uow.commit()


def classify(
    uow: UnitOfWork, ctx: Context, caller: Principal, claim_id: str, sn: str, *, code: str | None
) -> None:
    """The reviewer classifies an unknown fee line: to a national code in the treatment
    place's catalog, or (``code=None``) as outside the insurance (自费: class C)."""
    may(caller, "claim.review")
    at = ctx.now()
    with uow(write=True):
        row = load(uow, caller, claim_id, lock=True)
        if row.status != "forwarded":
            raise Conflict(f"claim {claim_id} is {row.status}: lines are classified in 初审")
        line = next((ln for ln in uow.claims.lines(claim_id) if ln.sn == sn), None)
        if line is None:
            raise NotFound(f"fee line {sn} of claim {claim_id} not found")
        if code is None:
            values = {
                "code": line.item_code,
                "category": "other",
                "item_class": "C",
                "selfpay_bp": 0,
                "price_cap_e6": None,
                "in_protocol": False,
                "temp_code": False,
            }
        else:
            got = (
                catalog.resolve_line(uow, row.provider_code, code, line.service_date)
                if row.networked
                else in_region(uow, row.provider_region, code, line.service_date)
            )
            if isinstance(got, str):
                raise InvalidRequest.of([("code", got)])
            values = {
                "code": got.code,
                "category": got.category,
                "item_class": got.item_class,
                "selfpay_bp": got.selfpay_bp,
                "price_cap_e6": got.price_cap_e6,
                "in_protocol": got.in_protocol,
                "temp_code": got.temp_code,
            }
        how = f"{code}" if code else "自费（丙类）"
        uow.claims.update_line(
            claim_id,
            sn,
            values | {"status": "classified", "note": f"{caller.actor} 归类为 {how}"[:200]},
        )
        seq = row.version + 1
        uow.claims.update_claim(claim_id, {"version": seq, "updated_at": at})
        uow.claims.add_event(
            {
                "claim_id": claim_id,
                "seq": seq,
                "kind": "classify",
                "status_from": row.status,
                "status_to": row.status,
                "at": at,
                "actor": caller.actor,
                "detail": {"sn": sn, "code": code},
            }
        )
        uow.commit()
