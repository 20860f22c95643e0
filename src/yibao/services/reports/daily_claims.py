"""The 日报's claims section (手工报销, issue 19; docs/CLAIMS.md): claims received on the
day, in review and waiting for payment at its end, paid on the day (count and amount),
and overdue at its end — in total and by township (涪医保发〔2020〕6号 三: the townships
take the claims in, the district reviews and pays)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from yibao.services.access.rights import Principal
from yibao.services.encounters.context import CST
from yibao.services.reports.daily import Column, Figure, ReportScope, Section, Table, register
from yibao.store.uow import UnitOfWork

__all__ = ["IN_REVIEW", "WAITING_PAYMENT", "claims_section"]

IN_REVIEW = ("received", "forwarded", "reviewed", "checked", "settled", "returned")
"""At the township or the district, not yet approved (退回补正 included)."""
WAITING_PAYMENT = ("approved", "in_batch")
_TITLE = "手工报销"


@register("claims", _TITLE, 750)
def claims_section(uow: UnitOfWork, caller: Principal, scope: ReportScope) -> Section:
    if not caller.may("claim.read"):
        return Section("claims", _TITLE, notes=("本角色无权查看手工报销",))
    begin = dt.datetime.combine(scope.day, dt.time(0), CST).astimezone(dt.UTC)
    end = begin + dt.timedelta(days=1)
    town: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0])
    with uow:
        for e in uow.claims.events_between(begin, end):
            if e.kind == "receive":
                town[e.township or "—"][0] += 1
        for r in uow.claims.states_at(end):
            if r.status in IN_REVIEW:
                town[r.township or "—"][1] += 1
            elif r.status in WAITING_PAYMENT:
                town[r.township or "—"][2] += 1
        for p in uow.claims.paid_between(begin, end):
            town[p.township or "—"][3] += 1
            town[p.township or "—"][4] += int(p.amount_fen)
        for o in uow.claims.overdue(end):
            town[o.township or "—"][5] += 1
    tot = [sum(v[k] for v in town.values()) for k in range(6)]
    rows = tuple((t, *v) for t, v in sorted(town.items()))
    cols = (
        Column("乡镇"),
        Column("当日受理", "int"),
        Column("审核中", "int"),
        Column("待支付", "int"),
        Column("当日支付", "int"),
        Column("支付金额", "fen", 14),
        Column("超期", "int"),
    )
    return Section(
        "claims",
        _TITLE,
        figures=(
            Figure("当日受理", tot[0]),
            Figure("审核中", tot[1]),
            Figure("待支付", tot[2]),
            Figure("当日支付", tot[3]),
            Figure("支付金额", tot[4], "fen"),
            Figure("超期", tot[5]),
        ),
        tables=(Table(_TITLE, "手工报销（按乡镇）", cols, rows),),
        notes=("超期：当日结束时仍在办理且已超过该环节办理时限（工作日，limits.yaml）的报销申请",),
    )
