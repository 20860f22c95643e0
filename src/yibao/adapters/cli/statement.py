"""A settlement statement (结算单) for people: amounts in yuan, each with its clause."""

from __future__ import annotations

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table

from yibao.core.engine.model import Settlement
from yibao.core.money import yuan_from_fen

LABELS = {
    "medfee_sumamt": "医疗费总额",
    "fulamt_ownpay_amt": "全自费金额",
    "overlmt_selfpay": "超限价自费",
    "preselfpay_amt": "先行自付金额",
    "inscp_scp_amt": "符合政策范围金额",
    "act_pay_dedc": "实际支付起付线",
    "hifp_pay": "统筹基金支出",
    "pool_selfpay_amt": "统筹段个人自付",
    "hifmi_pay": "居民大病保险",
    "hifob_pay": "职工大额医疗补助",
    "maf_pay": "医疗救助",
    "fund_pay_sumamt": "基金支付总额",
    "psn_part_amt": "个人负担总金额",
    "fiscal_pay": "新冠财政补助",
    "acct_pay": "个人账户支出",
    "psn_cash_pay": "个人现金支出",
}


def statement(s: Settlement, title: str = "") -> Panel:
    """The settlement as a Rich panel: amounts, then where each came from."""
    amounts = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    amounts.add_column("项目")
    amounts.add_column("field", style="dim")
    amounts.add_column("元", justify="right")
    for field, value in s.setlinfo._asdict().items():
        style = "bold" if field in ("fund_pay_sumamt", "psn_cash_pay", "fiscal_pay") else ""
        amounts.add_row(LABELS[field], field, yuan_from_fen(value), style=style)
    why = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    why.add_column("amount")
    why.add_column("元", justify="right")
    why.add_column("rule")
    why.add_column("clause", style="cyan")
    for t in s.trace:
        why.add_row(t.field, yuan_from_fen(t.amount), t.rule, t.clause)
    head = (
        f"encounter {s.encounter_id} · pack {s.pack_id} ({s.pack_sha256[:12]}) · "
        f"{'新冠政策适用 ' + (s.overlay_clause or '') if s.covid else '新冠政策不适用'}"
    )
    acc = s.accumulators_after
    tail = (
        f"账户余额 {yuan_from_fen(s.account_balance_before_fen)} → "
        f"{yuan_from_fen(s.account_balance_after_fen)} 元 · 年度累计(后): 统筹应付 "
        f"{yuan_from_fen(acc.basic_entitled_fen)} 已付 {yuan_from_fen(acc.basic_paid_fen)}"
        f" · 大病基数 {yuan_from_fen(acc.serious_base_fen)} 已付 "
        f"{yuan_from_fen(acc.serious_paid_fen)} · 救助应付 "
        f"{yuan_from_fen(acc.assistance_entitled_fen)} 已付 "
        f"{yuan_from_fen(acc.assistance_paid_fen)}"
    )
    return Panel(Group(head, amounts, why, tail), title=title or "结算单", expand=False)


def print_statement(s: Settlement, title: str = "", console: Console | None = None) -> None:
    (console or Console()).print(statement(s, title))
