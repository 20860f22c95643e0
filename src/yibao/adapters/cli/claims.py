"""``yibao claims``: manual claims (手工报销, docs/CLAIMS.md) — the list and the overdue
list, a claim's statement (结算单), a payment batch, the bank's file out and its return
file in. Thin: parse, call one service function, print. ID numbers and names masked
unless ``--unmasked`` (an identified operator, recorded in the audit log first); the
bank file carries full account numbers (the bank pays on them), its writing audited."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from yibao.adapters.cli.common import bad_input_exits, beijing, fail
from yibao.adapters.cli.operator import OperatorOpt, Unmasked, cli_principal, unmasking

if TYPE_CHECKING:
    from yibao.services.claims import ClaimView

claims_app = typer.Typer(
    help="Manual claims (手工报销): list, overdue, statement, batch, bank-file, bank-return.",
    no_args_is_help=True,
)

OutOpt = Annotated[Path, typer.Option("--out", "-o", help="The file to write.")]


def _rows(views: list[ClaimView], unmasked: bool, as_json: bool) -> None:
    from yibao.core.privacy import mask_psn_no

    if as_json:
        docs = [
            {
                "id": v.id,
                "status": v.status,
                "township": v.township,
                "psn_no": v.psn_no if unmasked else mask_psn_no(v.psn_no),
                "provider_code": v.provider_code,
                "admit_date": v.admit_date.isoformat(),
                "discharge_date": v.discharge_date.isoformat(),
                "step": v.step,
                "due_at": beijing(v.due_at).isoformat() if v.due_at else None,
                "paused_days_left": v.paused_days_left,
                "overdue": v.overdue,
            }
            for v in views
        ]
        typer.echo(json.dumps(docs, ensure_ascii=False))
        return
    if not views:
        typer.echo("claims: none")
        return
    from rich.console import Console
    from rich.table import Table

    t = Table("claim", "status", "township", "insuree", "provider", "stay", "step", "due",
              title=f"{len(views)} claims (Beijing time)")  # fmt: skip
    for v in views:
        due = (
            f"{beijing(v.due_at):%Y-%m-%d %H:%M}{' OVERDUE' if v.overdue else ''}"
            if v.due_at
            else (f"paused, {v.paused_days_left} days left" if v.status == "returned" else "—")
        )
        t.add_row(v.id, v.status_name, v.township or "", v.psn_no if unmasked else
                  mask_psn_no(v.psn_no), v.provider_code, f"{v.admit_date}…{v.discharge_date}",
                  v.step or "—", due)  # fmt: skip
    Console(width=160).print(t)


@claims_app.command("list")
def list_(
    status: Annotated[str | None, typer.Option("--status", help="One status only.")] = None,
    overdue: Annotated[
        bool, typer.Option("--overdue", help="Only claims past their step's limit.")
    ] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000)] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
    unmasked: Unmasked = False,
    operator: OperatorOpt = None,
) -> None:
    """Claims newest first (or the overdue ones, oldest due first): status, township,
    insuree, provider, stay, the step it waits for and its due time."""
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.services import claims

    caller = cli_principal(operator=operator)
    if unmasked:
        caller = unmasking(operator, "claims list", ["psn_no"], "stdout")
    with bad_input_exits():
        if overdue:
            views = claims.overdue(unit_of_work(), hospital_context(), caller)
            views = [v for v in views if status is None or v.status == status][:limit]
        else:
            views = claims.list_claims(
                unit_of_work(), hospital_context(), caller, status=status, limit=limit
            )
    _rows(views, unmasked, as_json)


@claims_app.command("overdue")
def overdue(
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
) -> None:
    """Claims past their step's time limit (working days, limits.yaml), oldest due
    first. Exit 1 when there is any."""
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.services import claims

    with bad_input_exits():
        views = claims.overdue(unit_of_work(), hospital_context(), cli_principal())
    _rows(views, False, as_json)
    if views:
        raise typer.Exit(1)


@claims_app.command("statement")
def statement(
    claim_id: Annotated[str, typer.Argument(help="The claim's id (CL…).")],
    out: OutOpt,
    unmasked: Unmasked = False,
    operator: OperatorOpt = None,
) -> None:
    """Write a settled claim's statement (结算单), each amount with its clause: .html
    (printable) or .xlsx by the file's suffix. Names and ID numbers masked unless
    --unmasked; the account number always masked."""
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.services import claims

    suffix = out.suffix.lower()
    if suffix not in (".html", ".xlsx"):
        fail(f"--out {out.name}: use .html or .xlsx")
    caller = cli_principal(operator=operator)
    if unmasked:
        caller = unmasking(operator, "claims statement", ["psn_no", "name"], str(out))
    with bad_input_exits():
        if suffix == ".html":
            text = claims.statement_html(
                unit_of_work(), hospital_context(), caller, claim_id, masked=not unmasked
            )
            out.write_text(text, encoding="utf-8")
        else:
            claims.write_statement_xlsx(unit_of_work(), caller, claim_id, out, masked=not unmasked)
    typer.echo(f"statement of {claim_id}: {out}")


@claims_app.command("batch")
def batch(
    claim: Annotated[
        list[str] | None, typer.Option("--claim", help="These approved claims (repeatable).")
    ] = None,
) -> None:
    """Gather the approved claims (or --claim ones) into a payment batch (支付批次):
    prints its id, lines and total (yuan)."""
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.core.money import yuan_from_fen
    from yibao.services import claims

    with bad_input_exits():
        b = claims.make_batch(unit_of_work(), hospital_context(), cli_principal(), claim or None)
    typer.echo(f"payment batch {b.id}: {len(b.lines)} lines, {yuan_from_fen(b.total_fen)} yuan")


@claims_app.command("bank-file")
def bank_file(
    batch_id: Annotated[str, typer.Argument(help="The payment batch's id (PB…).")],
    out: OutOpt,
    operator: OperatorOpt = None,
) -> None:
    """Write a batch's bank payment file (.xlsx or .csv by the suffix): one row per
    line with the payee's FULL account number (the bank pays on it) — the writing is
    recorded in the audit log as a disclosure."""
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.services import claims

    with bad_input_exits():
        n = claims.write_bank_file(
            unit_of_work(), hospital_context(), cli_principal(operator=operator), batch_id, out
        )
    typer.echo(f"bank file of {batch_id}: {n} lines -> {out}")


@claims_app.command("bank-return")
def bank_return(
    batch_id: Annotated[str, typer.Argument(help="The payment batch's id (PB…).")],
    file: Annotated[Path, typer.Argument(help="The bank's return file (.csv or .xlsx).")],
) -> None:
    """Read the bank's return file (回盘: 序号, 报销单号, 金额（元）, 结果, 银行流水号,
    失败原因): each line paid or failed; a failed claim goes back to the queue for the
    next batch. Reading it twice changes nothing. Exit 1 if any line failed."""
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.services import claims

    if not file.is_file():
        fail(f"{file}: no such file")
    with bad_input_exits():
        b = claims.apply_return(unit_of_work(), hospital_context(), cli_principal(), batch_id, file)
    counts = {s: sum(1 for ln in b.lines if ln.status == s) for s in ("paid", "failed", "queued")}
    typer.echo(f"batch {b.id}: {counts['paid']} paid, {counts['failed']} failed "
               f"(re-queued), {counts['queued']} awaiting the bank")  # fmt: skip
    for ln in b.lines:
        if ln.status == "failed":
            typer.echo(f"failed: line {ln.seq} claim {ln.claim_id}: {ln.failure or ''}", err=True)
    if counts["failed"]:
        raise typer.Exit(1)
