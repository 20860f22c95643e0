"""``yibao supervision``: fund supervision (基金监管, issue 22, docs/SUPERVISION.md).

Thin: parse, call one service function, print. ``recent`` judges the settlements since
the last run, ``scan`` a period; ``queue`` and ``show`` read the flags; ``confirm``
(amount in yuan, posted as the hospital's deduction) and ``dismiss`` (a reason) review
them as a supervisor (the operator); ``report`` writes the workbook.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer

from yibao.adapters.cli.common import bad_input_exits, fail
from yibao.adapters.cli.operator import OperatorOpt, cli_principal

supervision_app = typer.Typer(
    help="Fund supervision: scan settlements for misuse, review the flags, report.",
    no_args_is_help=True,
)


def _date(text: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        fail(f"{option}: {text!r} is not a date YYYY-MM-DD")


def _run_line(run: object) -> str:
    r = run  # a services.supervision.flags.Run
    return (f"supervision {r.kind}: {r.stays} stays read, {r.flags_found} flags found, "  # type: ignore[attr-defined]
            f"{r.flags_new} new ({r.seconds:.2f} s)")  # type: ignore[attr-defined]  # fmt: skip


@supervision_app.command("recent")
def recent(operator: OperatorOpt = None) -> None:
    """Judge the settlements made since the last run (flags only, nobody blocked)."""
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.services.supervision import supervise_recent

    with bad_input_exits():
        run = supervise_recent(unit_of_work(), hospital_context(),
                               cli_principal("supervisor", operator))  # fmt: skip
    typer.echo(_run_line(run))


@supervision_app.command("scan")
def scan_period(
    begin: Annotated[str, typer.Option("--from", metavar="YYYY-MM-DD",
                                       help="First discharge date.")],
    end: Annotated[str, typer.Option("--to", metavar="YYYY-MM-DD",
                                     help="Last discharge date (hospital rules as of it).")],
    operator: OperatorOpt = None,
) -> None:  # fmt: skip
    """Judge every standing settlement discharged in a period by all the rules (peers and
    hospitals' 对码 included)."""
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.services.supervision import supervise_period

    b, e = _date(begin, "--from"), _date(end, "--to")
    with bad_input_exits():
        run = supervise_period(unit_of_work(), hospital_context(),
                               cli_principal("supervisor", operator), b, e)  # fmt: skip
    typer.echo(_run_line(run))


@supervision_app.command("queue")
def queue_cmd(
    state: Annotated[str, typer.Option("--state", help="open (default: open and answered), "
                                       "answered, confirmed, dismissed, or all.")] = "open",
    provider: Annotated[str | None, typer.Option("--provider", help="One hospital.")] = None,
    rule: Annotated[str | None, typer.Option("--rule", help="One rule id.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False,
) -> None:  # fmt: skip
    """The flags, newest first (amounts at risk in yuan)."""
    from yibao.bootstrap import unit_of_work
    from yibao.core.money import yuan_from_fen
    from yibao.services.supervision import queue

    states = {"open": ("open", "answered"), "all": None}.get(state, (state,))
    with bad_input_exits():
        rows = queue(unit_of_work(), cli_principal("supervisor"), state=states,
                     provider_code=provider, rule_id=rule)  # fmt: skip
    for f in rows:
        doc = {"id": f.id, "rule_id": f.rule_id, "severity": f.severity, "state": f.state,
               "encounter_id": f.encounter_id, "provider_code": f.provider_code,
               "on": f.on.isoformat(), "amount": yuan_from_fen(f.amount_fen)}  # fmt: skip
        typer.echo(json.dumps(doc, ensure_ascii=False) if as_json else
                   "\t".join(str(v if v is not None else "") for v in doc.values()))  # fmt: skip
    if not rows and not as_json:
        typer.echo("supervision queue: empty")


@supervision_app.command("show")
def show(flag_id: str) -> None:
    """One flag: its rule and clause, evidence and steps."""
    from yibao.bootstrap import unit_of_work
    from yibao.services.supervision import flag_view

    with bad_input_exits():
        v = flag_view(unit_of_work(), cli_principal("supervisor"), flag_id)
    f = v.flag
    typer.echo(f"{f.id} {f.rule_id} ({v.title}; {v.clause}) {f.state}")
    typer.echo(f"subject {f.subject} {f.subject_key} hospital {f.provider_code} on {f.on}")
    typer.echo(f"settlement {v.settlement_id or '-'}; funds paid {v.fund_paid}")
    typer.echo("evidence " + json.dumps(f.evidence, ensure_ascii=False))
    for e in v.events:
        fen = "" if e.amount_fen is None else f"{e.amount_fen} fen"
        typer.echo(f"  {e.seq} {e.kind} {e.state_from or '-'}->{e.state_to} "
                   f"{e.at:%Y-%m-%d %H:%M} {e.actor} {e.text or ''} {fen}")  # fmt: skip


@supervision_app.command("confirm")
def confirm_cmd(
    flag_id: str,
    amount: Annotated[str, typer.Option("--amount", metavar="YUAN",
                                        help="Amount to recover, yuan (0 allowed).")],
    book: Annotated[str | None, typer.Option("--book", help="Fund book (default: the fund "
                                             "that paid most of the stay).")] = None,
    note: Annotated[str | None, typer.Option("--note", help="A note.")] = None,
    operator: OperatorOpt = None,
) -> None:  # fmt: skip
    """Confirm a flag: the amount is posted as the hospital's deduction."""
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.core.money import fen_from_yuan
    from yibao.services.supervision import confirm

    try:
        fen = fen_from_yuan(amount)
    except ValueError:
        fail(f"--amount: {amount!r} is not an amount in yuan (at most two decimals)")
    with bad_input_exits():
        f = confirm(unit_of_work(), hospital_context(), cli_principal("supervisor", operator),
                    flag_id, fen, book=book, note=note)  # fmt: skip
    typer.echo(f"{f.id} confirmed: {f.recovered_fen} fen, deduction {f.deduction_tx_id or '-'}")


@supervision_app.command("dismiss")
def dismiss_cmd(
    flag_id: str,
    reason: Annotated[str, typer.Option("--reason", help="Why (required).")],
    operator: OperatorOpt = None,
) -> None:
    """Dismiss a flag with a reason."""
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.services.supervision import dismiss

    with bad_input_exits():
        f = dismiss(unit_of_work(), hospital_context(), cli_principal("supervisor", operator),
                    flag_id, reason)  # fmt: skip
    typer.echo(f"{f.id} dismissed")


@supervision_app.command("report")
def report_cmd(
    out: Annotated[Path, typer.Option("--out", metavar="F.xlsx", help="The workbook.")],
    begin: Annotated[str | None, typer.Option("--from", metavar="YYYY-MM")] = None,
    end: Annotated[str | None, typer.Option("--to", metavar="YYYY-MM")] = None,
) -> None:  # fmt: skip
    """Flags by rule, hospital and month (汇总) and every flag (疑点明细) as .xlsx."""
    from yibao.bootstrap import unit_of_work
    from yibao.services.supervision import flag_counts, queue, write_workbook

    if out.suffix.lower() != ".xlsx":
        fail(f"--out: {out.name!r} is not an .xlsx file")
    for text, opt in ((begin, "--from"), (end, "--to")):
        if text is not None and (
            len(text) != 7 or text[4] != "-" or not text.replace("-", "").isdigit()
        ):
            fail(f"{opt}: {text!r} is not a month YYYY-MM")
    caller = cli_principal("supervisor")
    uow = unit_of_work()
    with bad_input_exits():
        counts = flag_counts(uow, caller, begin=begin, end=end)
        flags = [f for f in queue(uow, caller, state=None, limit=1000)
                 if (begin or "") <= f.month <= (end or "9999-99")]  # fmt: skip
        write_workbook(out, counts, flags)
    typer.echo(f"supervision report: {sum(c.flags for c in counts)} flags -> {out}")
