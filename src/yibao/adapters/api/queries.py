"""The REST resources under ``/v1`` that answer questions: the insuree (1101) and
their cumulative values (5206), daily totals and reconciliation (3201/3202), the audit
log and the ledger check. Thin adapters over ``yibao.services`` (docs/API.md); ID
numbers and names are masked unless the caller's role may see them.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from yibao.adapters.api.deps import Caller, Ctx, Uow, send
from yibao.adapters.api.render import acc_doc
from yibao.adapters.api.schemas import (
    ERRORS,
    ReconciliationIn,
    clean_params,
)
from yibao.core.ledger.reconcile import DetailRow, Totals
from yibao.services.access.rights import require, show_name, show_psn_no
from yibao.services.encounters.context import CST
from yibao.services.reports import reads as reports

router = APIRouter(prefix="/v1", dependencies=[Depends(clean_params)])


# -- insurees --------------------------------------------------------------------------------


@router.get(
    "/insurees/{psn_no}",
    tags=["insurees"],
    responses=ERRORS,
    summary="1101 人员信息获取: enrolment, account balance, this year's accumulators",
)
def get_insuree(
    psn_no: str, uow: Uow, caller: Caller, ctx: Ctx, on: dt.date | None = None
) -> Response:
    day = on or ctx.now().astimezone(CST).date()
    v = reports.insuree(uow, caller, psn_no, day)
    s = v.snapshot
    return send(
        200,
        {
            "insuree_id": show_psn_no(caller, s.psn_no),
            "name": show_name(caller, s.name),
            "scheme": s.scheme,
            "resident_tier": s.resident_tier,
            "insured_region": s.insured_region,
            "assistance_category": s.assistance_category,
            "enrolled": s.enrolled,
            "valid_from": s.valid_from,
            "valid_to": s.valid_to,
            "account_balance_fen": v.account_balance_fen,
            "year": v.year,
            "accumulators": acc_doc(v.accumulators),
            "on": day,
        },
    )


@router.get(
    "/insurees/{psn_no}/cumulative",
    tags=["insurees"],
    responses=ERRORS,
    summary="5206 人员累计信息查询: accumulators and what each fund paid",
)
def get_cumulative(
    psn_no: str, uow: Uow, caller: Caller, year: Annotated[int, Query(ge=2000, le=2100)]
) -> Response:
    c = reports.cumulative(uow, caller, psn_no, year)
    return send(
        200,
        {
            "insuree_id": show_psn_no(caller, c.insuree_id),
            "scheme": c.scheme,
            "year": c.year,
            "accumulators": acc_doc(c.accumulators),
            "paid_by_fund_fen": c.paid_by_fund,
        },
    )


def _totals(t: Totals) -> dict[str, int]:
    return t._asdict()


@router.get(
    "/reconciliation",
    tags=["reconciliation"],
    responses=ERRORS,
    summary="Our daily totals per provider, fund type (scheme), clr_type and day",
)
def get_daily_totals(
    uow: Uow, caller: Caller, begin: dt.date, end: dt.date, provider_code: str | None = None
) -> Response:
    got = reports.daily_totals(uow, caller, provider_code=provider_code, begin=begin, end=end)
    rows = [
        {
            "provider_code": k.provider_code,
            "scheme": k.scheme,
            "clr_type": k.clr_type,
            "day": k.day,
            **_totals(t),
        }
        for k, t in sorted(got.items())
    ]
    return send(200, {"begin": begin, "end": end, "totals": rows})


@router.post(
    "/reconciliation",
    tags=["reconciliation"],
    responses=ERRORS,
    summary="3201 对总账 / 3202 对明细账: compare the hospital's totals with ours",
)
def post_reconciliation(body: ReconciliationIn, uow: Uow, caller: Caller) -> Response:
    d = body.declared
    declared = Totals(
        d.medfee_sumamt, d.fund_pay_sumamt, d.acct_pay, d.psn_cash_pay, d.settlement_count
    )
    rows = [
        DetailRow(
            r.settlement_id,
            r.encounter_id,
            r.insuree_id,
            r.refund,
            r.medfee_sumamt,
            r.fund_pay_sumamt,
            r.acct_pay,
        )
        for r in body.detail or []
    ]
    st = reports.reconcile(
        uow,
        caller,
        provider_code=body.provider_code,
        begin=body.begin,
        end=body.end,
        declared=declared,
        scheme=body.scheme,
        clr_type=body.clr_type,
        detail=body.detail is not None,
        declared_rows=rows,
    )
    return send(
        200,
        {
            "provider_code": st.provider_code,
            "begin": st.begin,
            "end": st.end,
            "balanced": st.result.balanced,
            "ours": _totals(st.ours),
            "declared": _totals(st.declared),
            "differences": [d._asdict() for d in st.result.differences],
            "detail": None
            if body.detail is None
            else [
                {
                    "settlement_id": x.settlement_id,
                    "refund": x.refund,
                    "status": x.status,
                    "differences": [d._asdict() for d in x.differences],
                }
                for x in st.detail_diffs
            ],
        },
    )


@router.get(
    "/audit",
    tags=["audit"],
    responses=ERRORS,
    summary="The audit log, newest first (auditors, admins)",
)
def get_audit(
    uow: Uow,
    caller: Caller,
    entity: str | None = None,
    entity_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    return send(
        200,
        {
            "entries": reports.audit_entries(
                uow, caller, entity=entity, entity_id=entity_id, limit=limit
            )
        },
    )


@router.get(
    "/ledger/check",
    tags=["ledger"],
    responses=ERRORS,
    summary="What `yibao ledger check` proves: trial balance, settlements, accumulators",
)
def ledger_check(uow: Uow, ctx: Ctx, caller: Caller) -> Response:
    require(caller, "ledger.read")
    problems = reports.ledger_problems(uow, ctx.packs)
    return send(200, {"ok": not problems, "problems": problems})
