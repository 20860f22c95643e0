"""``yibao funds``: fund management (issue 20) — prepayments with two-person approval,
monthly statements (Excel), payment batches, subsidy claims, the central share, budgets,
and ``february``: the demo district's February 2020. Thin: parse, call one service
function, print (yuan on screen, fen in the books)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer

from yibao.adapters.cli.common import bad_input_exits, fail, read_input
from yibao.adapters.cli.operator import OperatorOpt, cli_principal

funds_app = typer.Typer(
    help="Fund management: prepayments, monthly clearing, subsidy claims, budgets.",
    no_args_is_help=True,
)
Role = Annotated[str, typer.Option("--role", help="finance, clerk, or hospital (--provider).")]
Provider = Annotated[str | None, typer.Option("--provider", help="The hospital's code.")]


def _caller(role: str, operator: str | None, provider: str | None = None):  # type: ignore[no-untyped-def]
    from yibao.services.access.rights import Principal

    p = cli_principal(role, operator)
    return Principal(p.key_id, role, provider if role == "hospital" else None)


def _fen(text: str) -> int:
    from yibao.core.money import fen_from_yuan

    with bad_input_exits():
        return fen_from_yuan(text)
    raise AssertionError  # pragma: no cover


def _yuan(fen: int | None) -> str:
    from yibao.core.money import yuan_from_fen

    return "" if fen is None else yuan_from_fen(fen)


def _echo(doc: object) -> None:
    typer.echo(json.dumps(doc, ensure_ascii=False, default=str))


@funds_app.command("apply")
def apply(
    provider: Annotated[str, typer.Option("--provider", help="The hospital's code.")],
    amount: Annotated[str, typer.Option("--amount", help="Yuan applied for.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (申请理由).")],
    patients: Annotated[int, typer.Option("--patients", help="Expected COVID patients.")] = 0,
    operator: OperatorOpt = None,
) -> None:
    """A hospital's prepayment application (预付申请), entered by a district clerk; prints
    it with the pack's baseline."""
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.services.funds import prepayment

    with bad_input_exits():
        p = prepayment.apply(
            unit_of_work(),
            hospital_context(),
            _caller("clerk", operator),
            prepayment.PrepaymentIn(provider, _fen(amount), reason, patients),
        )
    _echo(p.as_dict())


def _step(name: str, pid: str, operator: str | None, amount: str | None = None,
          reason: str | None = None) -> None:  # fmt: skip
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.services.funds import prepayment

    uow, ctx, who = unit_of_work(), hospital_context(), _caller("finance", operator)
    with bad_input_exits():
        if name == "propose":
            p = prepayment.propose(uow, ctx, who, pid, _fen(amount or ""))
        elif name == "approve":
            p = prepayment.approve(uow, ctx, who, pid)
        elif name == "reject":
            p = prepayment.reject(uow, ctx, who, pid, reason or "")
        else:
            p = prepayment.disburse(uow, ctx, who, pid)
    typer.echo(f"prepayment {p.id}: {p.state} ({_yuan(p.proposed_fen or p.applied_fen)} yuan)")


@funds_app.command("propose")
def propose(pid: str, amount: Annotated[str, typer.Option("--amount", help="Yuan.")],
            operator: OperatorOpt = None) -> None:  # fmt: skip
    """初审: finance sets the prepayment's amount."""
    _step("propose", pid, operator, amount=amount)


@funds_app.command("approve")
def approve(pid: str, operator: OperatorOpt = None) -> None:
    """复核: a second finance person approves (not the one who proposed: exit 2)."""
    _step("approve", pid, operator)


@funds_app.command("reject")
def reject(pid: str, reason: Annotated[str, typer.Option("--reason")],
           operator: OperatorOpt = None) -> None:  # fmt: skip
    """不予预付, with the reason."""
    _step("reject", pid, operator, reason=reason)


@funds_app.command("disburse")
def disburse(pid: str, operator: OperatorOpt = None) -> None:
    """拨付: post the approved prepayment."""
    _step("disburse", pid, operator)


@funds_app.command("prepayments")
def prepayments(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every prepayment: hospital, kind, state, amounts (yuan)."""
    from yibao.bootstrap import unit_of_work
    from yibao.services.funds import prepayment

    with bad_input_exits():
        got = prepayment.prepayments(unit_of_work(), _caller("finance", None))
    if as_json:
        _echo([p.as_dict() for p in got])
        return
    for p in got:
        typer.echo(f"{p.id}  {p.provider_code}  {p.kind:<7} {p.state:<9} applied "
                   f"{_yuan(p.applied_fen)}  approved {_yuan(p.proposed_fen)}")  # fmt: skip


@funds_app.command("prepare")
def prepare(month: Annotated[str, typer.Argument(help="yyyy-mm")],
            provider: Provider = None, operator: OperatorOpt = None) -> None:  # fmt: skip
    """Draft the month's statement of every hospital (or one)."""
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.services.funds import clearing, parse_month

    with bad_input_exits():
        made = clearing.prepare(unit_of_work(), hospital_context(), _caller("finance", operator),
                                parse_month(month), provider_code=provider)  # fmt: skip
    typer.echo(f"{len(made)} statements drafted for {month}")


@funds_app.command("confirm")
def confirm(sid: str, ref: Annotated[str, typer.Option("--ref", help="The hospital's paper.")],
            operator: OperatorOpt = None) -> None:  # fmt: skip
    """Record a hospital's confirmation of its statement (a district clerk)."""
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.services.funds import clearing

    with bad_input_exits():
        s = clearing.confirm(unit_of_work(), hospital_context(), _caller("clerk", operator), sid,
                             ref=ref)  # fmt: skip
    typer.echo(f"statement {s.id}: {s.state}")


@funds_app.command("pay")
def pay(month: Annotated[str, typer.Argument(help="yyyy-mm")],
        operator: OperatorOpt = None) -> None:  # fmt: skip
    """Pay the month's confirmed statements in one batch (posted)."""
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.services.funds import clearing, parse_month

    with bad_input_exits():
        b = clearing.pay(unit_of_work(), hospital_context(), _caller("finance", operator),
                         parse_month(month))  # fmt: skip
    typer.echo(f"batch {b.id}: {len(b.statements)} statements, {_yuan(b.net_fen)} yuan paid")


@funds_app.command("statements")
def statements(
    month: Annotated[str, typer.Argument(help="yyyy-mm")],
    xlsx: Annotated[Path | None, typer.Option("--xlsx", help="Write the workbook here.")] = None,
) -> None:
    """The month's statements per hospital (yuan): owed ordinary / COVID, deductions,
    prepayment offset, net; ``--xlsx`` writes them as a workbook."""
    from yibao.bootstrap import unit_of_work
    from yibao.services.funds import clearing, parse_month
    from yibao.services.funds.files import write_statements

    with bad_input_exits():
        got = clearing.statements(unit_of_work(), _caller("finance", None),
                                  month=parse_month(month))  # fmt: skip
    for s in got:
        typer.echo(f"{s.id}  {s.provider_code}  {s.state:<9} ordinary {_yuan(s.owed_ordinary_fen)}"
                   f"  covid {_yuan(s.owed_covid_fen)}  deduction {_yuan(s.deduction_fen)}"
                   f"  offset {_yuan(s.offset_fen)}  net {_yuan(s.net_fen)}")  # fmt: skip
    if xlsx is not None:
        write_statements(xlsx, got)
        typer.echo(f"wrote {xlsx}")


@funds_app.command("claim")
def claim(provider: Annotated[str, typer.Option("--provider")],
          period_end: Annotated[str, typer.Option("--until", help="yyyy-mm-dd")],
          operator: OperatorOpt = None) -> None:  # fmt: skip
    """A hospital's subsidy claim (申报) up to a day, entered by a district clerk."""
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.services.funds import subsidy

    try:
        day = dt.date.fromisoformat(period_end)
    except ValueError:
        fail(f"--until: {period_end!r} is not a date (yyyy-mm-dd)")
    with bad_input_exits():
        c = subsidy.claim(unit_of_work(), hospital_context(), _caller("clerk", operator),
                          provider, day)  # fmt: skip
    typer.echo(f"claim {c.id}: {c.items} stays, {_yuan(c.fiscal_fen)} yuan")


@funds_app.command("pay-claim")
def pay_claim(cid: str, operator: OperatorOpt = None) -> None:
    """Finance pays a subsidy claim (posted)."""
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.services.funds import subsidy

    with bad_input_exits():
        c = subsidy.pay_claim(unit_of_work(), hospital_context(), _caller("finance", operator), cid)
    typer.echo(f"claim {c.id}: {c.state}, {_yuan(c.fiscal_fen)} yuan")


@funds_app.command("budgets")
def budgets(
    path: Annotated[str, typer.Argument(help="CSV provider_code,year,target_yuan"
                                             "[,prior_paid_yuan]; - for stdin")],
    operator: OperatorOpt = None,
) -> None:  # fmt: skip
    """Import yearly targets (总额指标), all or nothing (each a new version)."""
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.services.funds import budget

    text = read_input(path).decode("utf-8-sig", errors="replace")
    with bad_input_exits():
        who = _caller("finance", operator)
        n = budget.import_budgets(unit_of_work(), hospital_context(), who, text, f"file:{path}")
    typer.echo(f"{n} budgets recorded")


@funds_app.command("february")
def february() -> None:
    """The demo district's February 2020 (after ``yibao demo load``): prepayments with
    two-person approval and a top-up, the February statements prepared, confirmed and
    paid with the prepayment offset, subsidy claims paid, the central share claimed."""
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.services.funds.february import simulate_february

    with bad_input_exits():
        f = simulate_february(unit_of_work(), hospital_context())
    for p in f.prepayments:
        typer.echo(f"prepayment {p.provider_code} {p.kind:<7} {_yuan(p.proposed_fen)} yuan "
                   f"(baseline {_yuan((p.baseline or {}).get('total_fen'))})")  # fmt: skip
    net = sum(s.net_fen for s in f.statements)
    off = sum(s.offset_fen for s in f.statements)
    covid = sum(s.owed_covid_fen for s in f.statements)
    typer.echo(f"statements 2020-02: {len(f.statements)} paid, COVID {_yuan(covid)} yuan, "
               f"offset {_yuan(off)}, net paid {_yuan(net)}")  # fmt: skip
    for c in f.claims:
        typer.echo(
            f"subsidy claim {c.provider_code}: {c.items} stays, {_yuan(c.fiscal_fen)} yuan paid"
        )
    if f.central is not None:
        typer.echo(
            f"central share to 2020-02-29: {_yuan(f.central.central_fen)} yuan of "
            f"{_yuan(f.central.fiscal_fen)} (true-up {_yuan(f.central.adjustment_fen)})"
        )
