"""The 日报's funds section (资金管理, issue 20; docs/FUNDS.md): at the end of the day,
the open prepayments (预付余额) and the subsidy the hospitals have advanced and finance
has not paid yet (财政补助待拨付), per hospital; on the day, the prepayments disbursed and
the monthly clearings paid. From the ledger (balances booked up to the day)."""

from __future__ import annotations

from collections import defaultdict

from yibao.core.ledger.accounts import ADVANCE, ADVANCE_RECEIVABLE, FISCAL_PAYABLE
from yibao.services.access.rights import Principal
from yibao.services.reports.daily import Column, Figure, ReportScope, Section, Table, register
from yibao.store.uow import UnitOfWork

__all__ = ["funds_section"]

_TITLE = "资金管理"


@register("fund_management", _TITLE, 760)
def funds_section(uow: UnitOfWork, caller: Principal, scope: ReportScope) -> Section:
    if not caller.may("funds.read"):
        return Section("fund_management", _TITLE, notes=("本角色无权查看资金管理",))
    own = caller.provider_code if caller.role == "hospital" else None
    rows: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    with uow:
        for (prov, book), fen in uow.funds.balances(ADVANCE_RECEIVABLE.code, end=scope.day).items():
            if book != ADVANCE:
                rows[prov][0] += fen
        for (prov, _), fen in uow.funds.balances(FISCAL_PAYABLE.code, end=scope.day).items():
            rows[prov][1] -= fen
        preps = uow.funds.prepayments(states=("disbursed",))
        disbursed = sum(int(p.proposed_fen or 0) for p in preps
                        if p.booked_on == scope.day and own in (None, p.provider_code))  # fmt: skip
        paid = [s for s in uow.funds.statements(states=("paid",))
                if s.paid_on == scope.day and own in (None, s.provider_code)]  # fmt: skip
    table = [(p, v[0], v[1]) for p, v in sorted(rows.items()) if any(v) and own in (None, p)]
    cols = (Column("定点医疗机构", width=16), Column("预付余额", "fen", 14),
            Column("财政补助待拨付", "fen", 16))  # fmt: skip
    return Section(
        "fund_management",
        _TITLE,
        figures=(
            Figure("预付余额", sum(r[1] for r in table), "fen"),
            Figure("财政补助待拨付", sum(r[2] for r in table), "fen"),
            Figure("当日预付拨付", disbursed, "fen"),
            Figure("当日清算拨付", sum(int(s.net_fen) for s in paid), "fen"),
        ),
        tables=(Table("资金管理", "各定点医疗机构预付余额与财政补助待拨付", cols, tuple(table)),),
    )
