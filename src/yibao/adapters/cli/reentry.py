"""``yibao deferred template`` and ``yibao deferred import``: the offline capture file
and its re-entry (docs/OFFLINE.md "Offline capture file", "Re-entry").

Thin: parse the options, call one service function, print. Polars, openpyxl and the
store load inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from yibao.adapters.cli.common import bad_input_exits, bulk_job
from yibao.adapters.cli.deferred import deferred_app
from yibao.adapters.cli.operator import OperatorOpt, Unmasked, cli_principal, unmasking


@deferred_app.command("template")
def template(
    out: Annotated[Path, typer.Argument(help="Where to write the template (.xlsx).")],
) -> None:
    """Write the Excel template of the offline capture file: sheet 费用明细 with the
    header and one example row, sheet 说明 describing each column."""
    from yibao.services.stays.reentry.capture_file import write_template

    with bad_input_exits():
        write_template(out)
    typer.echo(f"template written: {out}")


@deferred_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="The capture file: .xlsx, .csv or .parquet.")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Result file (.xlsx, .csv or .parquet); default: "
            "FILE's name + .result and FILE's suffix, beside it.",
        ),
    ] = None,
    per_transaction: Annotated[
        int,
        typer.Option(
            "--per-transaction",
            min=1,
            help="Stays per database transaction (whole insurees; default 5000).",
        ),
    ] = 5000,
    writers: Annotated[
        int,
        typer.Option(
            "--writers",
            min=1,
            max=8,
            help="PostgreSQL: transactions written in parallel, each on its own "
            "connection, while the next ones are prepared (default 2).",
        ),
    ] = 2,
    unmasked: Unmasked = False,
    operator: OperatorOpt = None,
) -> None:
    """Re-enter stays captured offline: check every row first (a bad file exits 2 naming
    row, column and reason; nothing stored), settle them all in one batch pass with the
    accumulators the store holds, book them in transactions of whole insurees, and write
    the result file (each stay's split; the difference to provisional_cash_fen; ID
    numbers masked unless --unmasked). Stays of insurees not enrolled on the discharge
    date join the deferred queue. Importing a file again changes nothing."""
    from yibao.adapters.cli.common import progress_bar
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.services.stays.reentry.imports import import_file

    result = out or file.with_name(f"{file.stem}.result{file.suffix}")
    if unmasked:
        caller = unmasking(operator, "deferred import", ["insuree_id"], str(result))
    else:
        caller = cli_principal(operator=operator)
    with bad_input_exits(), bulk_job(), progress_bar("re-entry") as progress:
        got = import_file(unit_of_work(), hospital_context(), caller, file,
                          out=result, per_transaction=per_transaction, writers=writers,
                          progress=progress, unmasked=unmasked)  # fmt: skip
    typer.echo(
        f"re-entry: {got.rows} rows, {got.stays} stays: {got.settled} settled, "
        f"{got.already} already entered, {got.deferred} deferred (not enrolled); "
        f"{got.duplicates} repeated lines dropped; result: {result}"
        f"{'' if unmasked else ' (ID numbers masked)'}"
    )
