"""``yibao report``: the daily report (日报, issue 17) as a workbook and a text summary.

Thin: parse the date, call the service, write the file. ID numbers are masked in the
workbook unless ``--unmasked`` (an identified operator, recorded in the audit log first).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from yibao.adapters.cli.common import bad_input_exits, fail
from yibao.adapters.cli.operator import OperatorOpt, Unmasked, cli_principal, unmasking

report_app = typer.Typer(help="Reports: the daily report (日报).", no_args_is_help=True)


def _date(text: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text) if len(text) == 10 else _bad(text, option)
    except ValueError:
        return _bad(text, option)


def _bad(text: str, option: str) -> dt.date:
    fail(f"{option}: {text!r} is not a date YYYY-MM-DD")


@report_app.command("daily")
def daily(
    date: Annotated[str, typer.Option("--date", metavar="YYYY-MM-DD",
                                      help="The business day (Beijing time).")],
    out: Annotated[Path, typer.Option("--out", metavar="F.xlsx",
                                      help="The workbook to write (.xlsx).")],
    text: Annotated[bool, typer.Option("--text", help="Also print the text summary "
                                       "(每日联系) on stdout.")] = False,
    since: Annotated[str | None, typer.Option("--since", metavar="YYYY-MM-DD",
                                              help="First day of the cumulative figures and "
                                              "the trend (default: the COVID-19 overlay's "
                                              "first day in the packs).")] = None,
    unmasked: Unmasked = False,
    operator: OperatorOpt = None,
) -> None:  # fmt: skip
    """The daily report for one day: patients (confirmed, suspected), amounts by fund
    for the day and since the epidemic's start (from the ledger), hospitals' advances and
    the deferred queue, transfers waiting, the day's settlements, the trend. Writes the
    workbook (汇总, 医院, 延迟结算, 待转院, 当日结算, 趋势); --text prints the summary."""
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.services.reports.daily import daily_report
    from yibao.services.reports.daily_files import daily_text, write_daily_workbook

    day = _date(date, "--date")
    first = _date(since, "--since") if since is not None else None
    if out.suffix.lower() != ".xlsx":
        fail(f"--out: {out.name!r} is not an .xlsx file")
    if unmasked:
        caller = unmasking(operator, "report daily", ["psn_no"], str(out))
    else:
        caller = cli_principal(operator=operator)
    with bad_input_exits():
        report = daily_report(unit_of_work(), hospital_context(), caller, day, since=first,
                              unmasked=unmasked)  # fmt: skip
    try:
        write_daily_workbook(report, out)
    except OSError as exc:
        fail(f"--out: cannot write {out}: {exc.strerror or exc}")
    if text:
        typer.echo(daily_text(report), nl=False)
    f = report.funds
    typer.echo(f"daily report {day.isoformat()}: {f.settlements} settlements, "
               f"{f.reversals} reversals; written to {out}"
               f"{'' if unmasked else ' (ID numbers masked)'}", err=text)  # fmt: skip
