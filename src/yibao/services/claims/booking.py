"""A claim settled by the same engine as an online stay (yibao.core.engine ``settle``
with the insured place's pack, the filing status and the COVID-19 overlay), booked like
one: the insuree-year's accumulators locked and moved, one balanced journal transaction
— the funds owing the insuree (``insuree_payable``) instead of a hospital — and a
reversal only ever as a posted reversal."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from yibao.core import engine, ledger
from yibao.core.engine.model import Accumulators, Line, Settlement
from yibao.core.errors import Conflict, NotFound
from yibao.core.policy.model import OverlayVersion, Policy
from yibao.services.access.rights import Principal
from yibao.services.claims.intake import duplicates
from yibao.services.claims.model import load, may, move
from yibao.services.encounters.context import CST, Context, new_id
from yibao.services.registry import catalog
from yibao.store.settlement_record import acc_dict, settlement_from_record, settlement_record
from yibao.store.uow import UnitOfWork

__all__ = ["CLR_TYPE", "Computed", "compute", "filing_status", "reverse", "settle"]

CLR_TYPE = "claim"
"""The journal's clr_type of a claim's transactions (not a hospital's 3201 statement)."""


@dataclass(frozen=True, slots=True)
class Computed:
    settlement: Settlement
    policy: Policy
    central_share_bp: int
    year: int
    filing: str
    insuree_name: str


def filing_status(policy: Policy, row: Any) -> str:
    """异地备案 for the engine: ``not_needed`` in the pooling area; out of area
    ``unregistered`` — a manual claim is the path of the insuree who did not file
    (渝医保发〔2020〕3号 四（二）); the filing registry (issue 18) is not consulted yet."""
    return "not_needed" if policy.in_area(row.provider_region) else "unregistered"


def _covid_status(row: Any, v: OverlayVersion | None) -> str:
    """As the claim says, else from its diagnoses: a main diagnosis among the overlay's
    disease codes is confirmed, a secondary one suspected (DECISIONS 0043)."""
    if row.covid_status:
        return str(row.covid_status)
    if v is None:
        return "none"
    codes = v.disease_codes
    if any(d.get("main") and d.get("code") in codes for d in row.diagnoses):
        return "confirmed"
    return "suspected" if any(d.get("code") in codes for d in row.diagnoses) else "none"


def _lines(rows: Sequence[Any]) -> tuple[Line, ...]:
    unknown = [r.sn for r in rows if r.status == "unknown"]
    if unknown:
        raise Conflict(f"费用明细 {', '.join(unknown[:10])} 尚未归类（对码）：请初审人员先归类")
    if not rows:
        raise Conflict("报销申请没有费用明细")
    return tuple(
        Line(
            sn=r.sn,
            code=r.code,
            category=r.category,
            item_class=r.item_class,
            selfpay_bp=r.selfpay_bp,
            price_e6=r.price_e6,
            qty_e4=r.qty_e4,
            price_cap_e6=r.price_cap_e6,
            in_protocol=r.in_protocol,
            temp_code=r.temp_code,
        )
        for r in rows
    )


def _admission_seq(uow: UnitOfWork, row: Any, year: int) -> int:
    """本年第n次住院: the insuree's stays of the year discharged before this one —
    online (settled) and claimed (standing) — plus one."""
    online = sum(
        1
        for e in uow.hospital.encounters_of([row.psn_no])
        if e.status == "settled"
        and e.discharge_date is not None
        and e.discharge_date.year == year
        and e.discharge_date < row.discharge_date
    )
    return online + uow.claims.standing_count(row.psn_no, year, row.discharge_date) + 1


def compute(uow: UnitOfWork, ctx: Context, row: Any, acc: Accumulators) -> Computed:
    """The engine's settlement of the claim against ``acc`` (nothing written)."""
    day = row.discharge_date
    ins = catalog.insuree_snapshot(uow, row.psn_no, day)
    policy = ctx.packs.select(ins.insured_region, day)
    # a provider outside the registry: designated (定点救治) when the claim states a
    # confirmed case — confirmed patients were treated at the designated hospitals of
    # wherever they were, and the reviewer checks the diagnosis proof (docs/CLAIMS.md)
    covid_designated = row.covid_status == "confirmed"
    if row.networked:
        covid_designated = ctx.provider(uow, row.provider_code, day).covid_designated
    v = policy.overlay_on(day)
    filing = filing_status(policy, row)
    diagnoses = tuple(d["code"] for d in sorted(row.diagnoses, key=lambda d: not d.get("main")))
    enc = engine.Encounter(
        row.id,
        row.med_type,
        row.admit_date,
        day,
        diagnoses,
        _covid_status(row, v),  # type: ignore[arg-type]
        filing,  # type: ignore[arg-type]
        _admission_seq(uow, row, day.year),
        None,
    )
    prov = engine.Provider(
        row.provider_code, row.provider_region, row.provider_level, covid_designated
    )
    req = engine.SettleRequest(ins.engine(0), prov, enc, _lines(uow.claims.lines(row.id)), acc)
    s = engine.settle(req, policy)
    share = v.central_share_for(s.facts.covid_status) if s.covid and v is not None else 0
    return Computed(s, policy, share, day.year, filing, ins.name)


def preview(uow: UnitOfWork, ctx: Context, caller: Principal, claim_id: str) -> Computed:
    """The settlement as it would be now (for the reviewer, beside the fee list)."""
    may(caller, "claim.read")
    with uow:
        row = load(uow, caller, claim_id)
        acc = uow.hospital.accumulators(row.psn_no, row.discharge_date.year)
        return compute(uow, ctx, row, acc)


def payable_of(s: Settlement) -> int:
    """What the claim pays the insuree: every fund and the fiscal subsidy."""
    i = s.setlinfo
    return i.fund_pay_sumamt + i.fiscal_pay + i.acct_pay


def settle(uow: UnitOfWork, ctx: Context, caller: Principal, claim_id: str) -> str:
    """结算 (after 复核): duplicates checked again, the accumulators locked (THE lock of
    online settlement), the engine run, the settlement and its balanced transaction
    booked, the accumulators moved; the claim waits for approval. The settlement id."""
    may(caller, "claim.review")
    at = ctx.now()
    with uow(write=True):
        row = load(uow, caller, claim_id, lock=True)
        if row.status != "checked":
            raise Conflict(f"claim {claim_id} is {row.status}: only a claim after 复核 is settled")
        invoices = [(i.code, i.number) for i in uow.claims.invoices(claim_id)]
        dup = duplicates(
            uow,
            claim_id,
            row.psn_no,
            row.provider_code,
            row.admit_date,
            row.discharge_date,
            invoices,
        )
        if dup:
            raise Conflict("不能重复报销：" + "；".join(dup))
        year = row.discharge_date.year
        acc = uow.hospital.lock_accumulators(row.psn_no, year, at)
        c = compute(uow, ctx, row, acc)
        s = c.settlement
        setl_id, booked = new_id("CS", at), at.astimezone(CST).date()
        tx = ledger.postings_for(
            s,
            tx_id=setl_id,
            provider_code=row.provider_code,
            booked_on=booked,
            accumulator_year=year,
            central_share_bp=c.central_share_bp,
            settlement_id=setl_id,
            clr_type=CLR_TYPE,
            payable_to="insuree",
        )
        uow.claims.insert_settlement(
            _row(s, setl_id, "settlement", None, row, year, booked, at, caller, c.central_share_bp)
        )
        uow.hospital.insert_transaction(tx, at)
        uow.hospital.set_accumulators(row.psn_no, year, s.accumulators_after, at)
        i = s.setlinfo
        move(
            uow,
            caller,
            row,
            "settled",
            "settle",
            at,
            allowed_from=("checked",),
            values={"settlement_id": setl_id},
            detail={
                "settlement_id": setl_id,
                "medfee_sumamt": i.medfee_sumamt,
                "payable_fen": payable_of(s),
                "filing": c.filing,
                "pack": c.policy.id,
            },
        )
        uow.commit()
    return setl_id


def _row(
    s: Settlement,
    setl_id: str,
    kind: str,
    reverses: str | None,
    claim: Any,
    year: int,
    booked: dt.date,
    at: dt.datetime,
    caller: Principal,
    share: int,
) -> dict[str, Any]:
    sign, i = (-1 if kind == "reversal" else 1), s.setlinfo
    return {
        "id": setl_id,
        "kind": kind,
        "reverses": reverses,
        "claim_id": claim.id,
        "psn_no": claim.psn_no,
        "year": year,
        "booked_on": booked,
        "settled_at": at,
        "actor": caller.actor,
        "pack_id": s.pack_id,
        "pack_sha256": s.pack_sha256,
        "central_share_bp": share,
        "medfee_sumamt": sign * i.medfee_sumamt,
        "fund_pay_sumamt": sign * i.fund_pay_sumamt,
        "fiscal_pay": sign * i.fiscal_pay,
        "psn_cash_pay": sign * i.psn_cash_pay,
        "payable_fen": sign * payable_of(s),
        "record": settlement_record(s),
    }


def stored_settlement(uow: UnitOfWork, settlement_id: str) -> Settlement:
    got = uow.claims.settlement(settlement_id)
    if got is None:
        raise NotFound(f"claim settlement {settlement_id} not found")
    return settlement_from_record(got.record)


def reverse(uow: UnitOfWork, ctx: Context, caller: Principal, claim_id: str, reason: str) -> str:
    """结算撤销 of a claim not yet in a payment batch: the exact negation posted, the
    settlement's contributions taken out of the accumulators; the claim goes back to
    复核 done (``checked``) to be corrected and settled again. The reversal's id."""
    may(caller, "claim.review")
    if not reason.strip():
        raise Conflict("撤销须说明原因")
    at = ctx.now()
    with uow(write=True):
        row = load(uow, caller, claim_id, lock=True)
        if row.status not in ("settled", "approved") or row.settlement_id is None:
            raise Conflict(
                f"claim {claim_id} is {row.status}: only a settled claim not yet in "
                "a payment batch is reversed"
            )
        orig = uow.claims.settlement(row.settlement_id)
        assert orig is not None
        s = settlement_from_record(orig.record)
        year = orig.year
        now_acc = uow.hospital.lock_accumulators(row.psn_no, year, at)
        back = now_acc.minus(s.accumulators_after.minus(s.accumulators_before))
        rev_id, booked = new_id("CR", at), at.astimezone(CST).date()
        tx = uow.hospital.transactions([orig.id])[0]
        uow.claims.insert_settlement(
            _row(
                s, rev_id, "reversal", orig.id, row, year, booked, at, caller, orig.central_share_bp
            )
        )
        uow.hospital.insert_transaction(ledger.reversal_of(tx, booked_on=booked, tx_id=rev_id), at)
        uow.hospital.set_accumulators(row.psn_no, year, back, at)
        move(
            uow,
            caller,
            row,
            "checked",
            "reverse",
            at,
            allowed_from=("settled", "approved"),
            values={"settlement_id": None},
            detail={
                "reversal_id": rev_id,
                "reverses": orig.id,
                "reason": reason[:200],
                "accumulators_back": acc_dict(back),
            },
        )
        uow.commit()
    return rev_id
