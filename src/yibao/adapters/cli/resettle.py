"""``yibao resettle``: bulk re-settlement under a corrected pack (issue 7 item 4)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from yibao.adapters.cli.common import bad_input_exits, bulk_job
from yibao.adapters.cli.operator import OperatorOpt, Unmasked, unmasking


def resettle(
    pack: Annotated[Path, typer.Option("--pack", help="The corrected pack (YAML).")],
    begin: Annotated[
        dt.datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First discharge date.")
    ],
    end: Annotated[
        dt.datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="Last discharge date.")
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Recompute and report only; book nothing.")
    ] = False,
    out: Annotated[
        Path, typer.Option("--out", help="Folder for the differences (Excel and Parquet).")
    ] = Path("resettle-out"),
    per_transaction: Annotated[
        int,
        typer.Option(
            "--per-transaction",
            min=1,
            help="Stays per database transaction (whole insurees; default 2000). A run "
            "stopped midway leaves whole insurees re-settled; run it again to finish.",
        ),
    ] = 2000,
    unmasked: Unmasked = False,
    operator: OperatorOpt = None,
) -> None:
    """Recompute the standing settlements of stays discharged FROM..TO (and the later
    ones of the same insurees) under PACK with the batch engine, write the differences
    per stay, insuree and fund (ID numbers masked unless --unmasked), and — unless
    --dry-run — reverse and re-settle those that differ, with their ledger entries. Run
    again, it changes nothing."""
    from yibao.adapters.cli.common import progress_bar
    from yibao.adapters.cli.operator import cli_principal
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.packs.files import load_pack
    from yibao.services.stays.resettle.report import write_report
    from yibao.services.stays.resettle.run import resettle as run_resettle

    if unmasked:
        caller = unmasking(operator, "resettle", ["insuree_id"], str(out))
    else:
        caller = cli_principal(operator=operator)
    with bad_input_exits(), bulk_job(), progress_bar("re-settle") as progress:
        policy = load_pack(pack)
        done = run_resettle(unit_of_work(), hospital_context(), caller, pack=policy,
                            begin=begin.date(), end=end.date(), dry_run=dry_run,
                            progress=progress, per_transaction=per_transaction)  # fmt: skip
    paths = write_report(done, out, unmasked=unmasked)
    verb = "would re-settle" if dry_run else "re-settled"
    typer.echo(f"resettle {policy.id} {begin:%Y-%m-%d}..{end:%Y-%m-%d}: {done.considered} "
               f"recomputed, {len(done.changes)} differ, {verb} "
               f"{len(done.changes) if dry_run else len(done.booked)}, "
               f"{len(done.skipped)} skipped")  # fmt: skip
    typer.echo(f"differences: {', '.join(str(p) for p in paths)}")
