"""``yibao deferred``: the deferred queue (先救治、后结算, docs/OFFLINE.md).

``status`` and ``settle`` live here; the offline-capture commands (``template``,
``import``) are added to ``deferred_app`` by their own module. Thin: parse, call one
service function, print.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from yibao.adapters.cli.common import bad_input_exits, beijing, bulk_job, masked_text
from yibao.adapters.cli.operator import cli_principal

if TYPE_CHECKING:
    pass

deferred_app = typer.Typer(
    help="The deferred queue (treat first, settle later): status, settle.",
    no_args_is_help=True,
)


@deferred_app.command("status")
def status(
    provider: Annotated[
        str | None, typer.Option("--provider", help="One hospital's code only.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
) -> None:
    """Open deferrals per hospital and reason: count, oldest (age in days and
    discharge date), amounts advanced by the hospitals (yuan). Times in Beijing time."""
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.core.money import yuan_from_fen
    from yibao.services.stays.deferred.queue import queue_status

    caller = cli_principal()
    with bad_input_exits():
        st = queue_status(unit_of_work(), hospital_context(), caller, provider_code=provider)
    if as_json:
        rows = [{"provider_code": r.provider_code, "reason": r.reason, "count": r.count,
                 "oldest_deferred_at": beijing(r.oldest_deferred_at).isoformat(),
                 "oldest_discharge_date": r.oldest_discharge_date.isoformat(),
                 "oldest_age_days": r.oldest_age_days, "advance_fen": r.advance_fen,
                 "medfee_sumamt": r.medfee_sumamt} for r in st.rows]  # fmt: skip
        doc = {"as_of": beijing(st.as_of).isoformat(), "count": st.count,
               "advance_fen": st.advance_fen, "rows": rows}  # fmt: skip
        typer.echo(json.dumps(doc, ensure_ascii=False))
        return
    if not st.rows:
        typer.echo("deferred queue: empty")
        return
    from rich.console import Console
    from rich.table import Table

    title = f"deferred queue as of {beijing(st.as_of):%Y-%m-%d %H:%M} (Beijing time)"
    t = Table("hospital", "reason", "count", "oldest (days)", "oldest discharge",
              "advanced (yuan)", title=title)  # fmt: skip
    for r in st.rows:
        t.add_row(r.provider_code, r.reason, str(r.count), str(r.oldest_age_days),
                  r.oldest_discharge_date.isoformat(), yuan_from_fen(r.advance_fen))  # fmt: skip
    t.add_row("total", "", str(st.count), "", "", yuan_from_fen(st.advance_fen))
    Console(width=120).print(t)


@deferred_app.command("settle")
def settle(
    provider: Annotated[
        str | None, typer.Option("--provider", help="One hospital's queue only.")
    ] = None,
    insuree: Annotated[
        list[str] | None, typer.Option("--insuree", help="These insurees only (repeatable).")
    ] = None,
) -> None:
    """Settle what is ready in the queue: per insuree-year in (discharge date,
    encounter id) order, clearing each hospital advance. Exit 1 if a group failed."""
    from yibao.adapters.cli.common import progress_bar
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.services.stays.deferred.queue import settle_ready

    caller = cli_principal()
    with bad_input_exits(), bulk_job(), progress_bar("deferred queue") as progress:
        run = settle_ready(unit_of_work(), hospital_context(), caller, provider_code=provider,
                           insuree_ids=insuree or None, progress=progress)  # fmt: skip
    waiting = ", ".join(f"{k} {v}" for k, v in sorted(run.waiting.items())) or "none"
    typer.echo(f"deferred queue: {len(run.settled)} settled ({run.batch} in one batch pass); "
               f"still waiting: {waiting}")  # fmt: skip
    if run.fallback:
        sys.stderr.write(masked_text(f"batch pass given up, settled one by one: {run.fallback}")
                         + "\n")  # fmt: skip
    for enc, why in run.failed:
        sys.stderr.write(masked_text(f"failed: insuree-year of encounter {enc}: {why}") + "\n")
    if run.failed:
        raise typer.Exit(1)
