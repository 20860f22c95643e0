"""新冠患者个人负担财政补助: the hospital advances the patient's share (垫付), claims it
from finance (申报, the provincial notice 二（一）: 由救治医院先行垫付并向财政部门申报结算补助),
finance pays; central finance's 60 % (财社〔2020〕2号 一) is claimed with its rounding
true-up.

Each settlement posts ``fiscal_pay`` to ``fiscal_payable : hospital`` (the advance) and
its central share to ``central_receivable``. ``claim`` lists the hospital's settlement
and reversal transactions not claimed yet (each is claimed once: the item's key is the
transaction); ``pay_claim`` posts ``ledger.funds.subsidy_payment_tx``;
``central_claim`` posts ``ledger.funds.central_true_up`` so that the receivable is
exactly each overlay share of the subsidy booked up to the period's end.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from yibao.core.errors import Conflict, InvalidRequest, NotFound
from yibao.core.ledger.accounts import CENTRAL_RECEIVABLE, FISCAL_PAYABLE, FISCAL_SUBSIDY
from yibao.core.ledger.funds import central_due, central_true_up, subsidy_payment_tx
from yibao.services.access.rights import Principal, own, require
from yibao.services.encounters.context import Context, new_id
from yibao.services.funds.common import event, post, today
from yibao.store.uow import UnitOfWork

__all__ = [
    "CentralView",
    "ClaimView",
    "central_claim",
    "central_claims",
    "claim",
    "claims",
    "pay_claim",
]


@dataclass(frozen=True, slots=True)
class ClaimView:
    id: str
    provider_code: str
    period_end: dt.date
    state: str
    fiscal_fen: int
    items: int
    claimed_by: str
    paid_by: str | None
    tx_id: str | None
    stays: tuple[tuple[str, str | None, dt.date, int], ...] = ()  # tx, encounter, day, fen

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "provider_code": self.provider_code,
                "period_end": self.period_end.isoformat(), "state": self.state,
                "state_name": {"claimed": "已申报", "paid": "已拨付"}[self.state],
                "fiscal_fen": self.fiscal_fen, "items": self.items,
                "claimed_by": self.claimed_by, "paid_by": self.paid_by, "tx_id": self.tx_id,
                "stays": [{"tx_id": t, "encounter_id": e, "booked_on": d.isoformat(),
                           "fiscal_fen": f} for t, e, d, f in self.stays]}  # fmt: skip


def _view(r: Any, items: list[Any] | None = None) -> ClaimView:
    stays = tuple((i.tx_id, i.encounter_id, i.booked_on, int(i.fiscal_fen)) for i in items or ())
    return ClaimView(r.id, r.provider_code, r.period_end, r.state, int(r.fiscal_fen),
                     int(r.items), r.claimed_by, r.paid_by, r.tx_id, stays)  # fmt: skip


def claim(uow: UnitOfWork, ctx: Context, caller: Principal, provider_code: str,
          period_end: dt.date) -> ClaimView:  # fmt: skip
    """申报: every settlement (and reversal) of the hospital booked up to ``period_end``
    with a fiscal subsidy not claimed yet, and their total."""
    require(caller, "funds.apply")
    own(caller, provider_code, "provider")
    if period_end >= today(ctx):
        raise InvalidRequest(f"period_end: {period_end} is not over yet (申报截止日须早于今天)")
    now = ctx.now()
    with uow(write=True):
        items = [r for r in uow.funds.unclaimed_fiscal(provider_code, period_end,
                                                       FISCAL_PAYABLE.code) if r.fen]  # fmt: skip
        if not items:
            raise Conflict(f"provider {provider_code}: no fiscal subsidy to claim up to "
                           f"{period_end} (无可申报的财政补助)")  # fmt: skip
        cid = new_id("SUB", now)
        total = sum(int(r.fen) for r in items)
        uow.funds.insert("claim", [{"id": cid, "provider_code": provider_code,
                                    "period_end": period_end, "state": "claimed",
                                    "fiscal_fen": total, "items": len(items),
                                    "claimed_by": caller.actor[:64], "claimed_at": now,
                                    "version": 1}])  # fmt: skip
        uow.funds.insert("item", [{"tx_id": r.tx_id, "claim_id": cid,
                                   "encounter_id": r.encounter_id, "booked_on": r.booked_on,
                                   "fiscal_fen": int(r.fen)} for r in items])  # fmt: skip
        event(uow, caller, "claim", cid, "claimed", now, fiscal_fen=total, items=len(items))
        uow.commit()
        return _view(uow.funds.get("claim", cid), uow.funds.claim_items(cid))


def pay_claim(uow: UnitOfWork, ctx: Context, caller: Principal, cid: str) -> ClaimView:
    """Finance pays the claim: the hospital's advance (``fiscal_payable``) discharged."""
    require(caller, "funds.pay")
    now, day = ctx.now(), today(ctx)
    with uow(write=True):
        r = uow.funds.get("claim", cid, lock=True)
        if r is None:
            raise NotFound(f"claim {cid} not found")
        if r.state != "claimed":
            raise Conflict(f"claim {cid} is {r.state}, not claimed")
        tx = subsidy_payment_tx(tx_id=f"S{cid}"[:40], provider_code=r.provider_code,
                                fen=int(r.fiscal_fen), booked_on=day,
                                narration=f"财政补助拨付 {r.provider_code} {cid}")  # fmt: skip
        post(uow, tx, now)
        if not uow.funds.move("claim", cid, int(r.version), {"state": "paid", "tx_id": tx.id,
                                                             "paid_by": caller.actor[:64],
                                                             "paid_at": now}):  # fmt: skip
            raise Conflict(f"claim {cid} was changed meanwhile: reload it")
        event(uow, caller, "claim", cid, "paid", now, tx_id=tx.id)
        uow.commit()
        return _view(uow.funds.get("claim", cid), uow.funds.claim_items(cid))


def claims(uow: UnitOfWork, caller: Principal, *, provider_code: str | None = None,
           with_items: bool = False) -> list[ClaimView]:  # fmt: skip
    require(caller, "funds.read")
    if caller.role == "hospital":
        provider_code = caller.provider_code
    with uow:
        rows = uow.funds.claims(provider_code=provider_code)
        return [_view(r, uow.funds.claim_items(r.id) if with_items else None) for r in rows]


@dataclass(frozen=True, slots=True)
class CentralView:
    id: str
    period_end: dt.date
    fiscal_fen: int  # the fiscal subsidy booked up to period_end
    central_fen: int  # central finance's share of it
    adjustment_tx_id: str | None
    adjustment_fen: int

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "period_end": self.period_end.isoformat(),
                "fiscal_fen": self.fiscal_fen, "central_fen": self.central_fen,
                "adjustment_tx_id": self.adjustment_tx_id,
                "adjustment_fen": self.adjustment_fen}  # fmt: skip


def central_claim(uow: UnitOfWork, ctx: Context, caller: Principal,
                  period_end: dt.date) -> CentralView:  # fmt: skip
    """中央财政补助申请 up to ``period_end``: the receivable trued up to each overlay
    share of the subsidy booked (the true-up posted when the rounding drifted)."""
    require(caller, "funds.pay")
    if period_end >= today(ctx):
        raise InvalidRequest(f"period_end: {period_end} is not over yet")
    now = ctx.now()
    with uow(write=True):
        if any(c.period_end >= period_end for c in uow.funds.central_claims()):
            raise Conflict(f"a central claim up to {period_end} or later exists")
        by_share, adjusted = uow.funds.fiscal_by_share(period_end, FISCAL_SUBSIDY.code,
                                                       CENTRAL_RECEIVABLE.code)  # fmt: skip
        zid = new_id("CEN", now)
        tx = central_true_up(by_share, adjusted, tx_id=f"Z{zid}"[:40], booked_on=today(ctx))
        if tx is not None:
            post(uow, tx, now)
        fiscal = sum(f for f, _ in by_share.values())
        row: dict[str, Any] = {"id": zid, "period_end": period_end, "fiscal_fen": fiscal,
               "central_fen": central_due(by_share),
               "adjustment_tx_id": tx.id if tx is not None else None,
               "created_by": caller.actor[:64], "created_at": now}  # fmt: skip
        uow.funds.insert("central", [row])
        event(uow, caller, "central", zid, "claimed", now, central_fen=row["central_fen"])
        uow.commit()
    return CentralView(zid, period_end, fiscal, int(row["central_fen"]), row["adjustment_tx_id"],
                       tx.postings[0].amount_fen if tx is not None else 0)  # fmt: skip


def central_claims(uow: UnitOfWork, caller: Principal) -> list[CentralView]:
    require(caller, "funds.read")
    with uow:
        rows = uow.funds.central_claims()
    return [CentralView(r.id, r.period_end, int(r.fiscal_fen), int(r.central_fen),
                        r.adjustment_tx_id, 0) for r in rows]  # fmt: skip
