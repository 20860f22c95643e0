"""The ``yibao`` command line: settle, batch, packs, and (with the store) the service."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from yibao.adapters.cli import commands
from yibao.adapters.cli.common import bad_input_exits, fail, read_input

app = typer.Typer(
    name="yibao",
    help="yibao (医保): settle medical-insurance claims to the fen, explainably.\n\n"
    "ID numbers and names are masked in everything printed or written (but the synthetic "
    "patient of `yibao demo serve`'s curl example). --unmasked shows "
    "them in full only to an identified operator: --operator LOGIN, else $YIBAO_OPERATOR, "
    "else the OS login name (refused, exit 2, when none can be found); each use is recorded "
    "in the audit log (action personal.unmasked) with the operator, the command and what "
    "was unmasked, before anything unmasked is shown.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
pack_app = typer.Typer(help="Policy packs: validate and show.", no_args_is_help=True)
app.add_typer(pack_app, name="pack")
commands.register(app)

PackOpt = Annotated[
    list[Path],
    typer.Option(
        "--pack",
        help="Policy pack YAML file or folder of packs (repeatable); the pack is chosen "
        "by the insured region and the discharge date.",
    ),
]


@app.command()
def settle(
    request: Annotated[
        str, typer.Argument(metavar="REQUEST.json", help="Request JSON file, or - for stdin.")
    ],
    pack: PackOpt,
    no_trace: Annotated[bool, typer.Option("--no-trace", help="Leave out the trace.")] = False,
    statement: Annotated[
        bool, typer.Option("--statement", help="Print a statement (结算单, yuan) instead of JSON.")
    ] = False,
) -> None:
    """Settle one encounter and print the settlement as JSON (amounts in fen).

    Bad input exits 2 with one line on stderr naming the key path, and nothing on stdout.
    """
    from yibao.core.engine.parse import parse_request
    from yibao.core.engine.serialize import settlement_to_dict
    from yibao.core.engine.settle import settle as settle_one
    from yibao.core.policy import PackSet
    from yibao.packs.files import load_packs

    data = read_input(request)
    with bad_input_exits():
        packs = PackSet(load_packs(pack))
        req = parse_request(data)
        policy = packs.select(req.insuree.insured_region, req.encounter.discharge_date)
        result = settle_one(req, policy)
    if statement:
        from yibao.adapters.cli.statement import print_statement

        print_statement(result)
        return
    doc = settlement_to_dict(result, with_trace=not no_trace)
    sys.stdout.write(json.dumps(doc, ensure_ascii=False) + "\n")


@pack_app.command("check")
def pack_check(path: Annotated[Path, typer.Argument(help="Pack YAML file.")]) -> None:
    """Validate a pack; print its id, period, hash and overlay versions."""
    from yibao.core.policy import pack_sha256
    from yibao.core.policy.cite import uncited_clauses
    from yibao.core.policy.model import compile_policy
    from yibao.packs.files import load_spec

    with bad_input_exits():
        spec = load_spec(path)  # always validated, never taken from the pack cache
        p = compile_policy(spec, pack_sha256(spec))
    typer.echo(f"pack      {p.id}")
    typer.echo(f"title     {p.title}")
    typer.echo(f"area      {', '.join(p.pooling_area)}")
    typer.echo(f"period    {p.valid_from} .. {p.valid_to}")
    typer.echo(f"sha256    {p.sha256}")
    if not p.overlay:
        typer.echo("overlay   none")
    for v in p.overlay:
        to = v.to_date.isoformat() if v.to_date else "open"
        typer.echo(
            f"overlay   {v.from_date} .. {to}  statuses={','.join(sorted(v.statuses))} "
            f"codes={','.join(sorted(v.disease_codes))} designated_only={v.designated_only} "
            f"subsidy={v.subsidy_scope}  [{v.clause}]"
        )
        if v.central_share_bp:
            shares = ",".join(f"{k}={bp}bp" for k, bp in sorted(v.central_share_bp.items()))
            typer.echo(f"          central share {shares}  [{v.central_share_clause}]")
    for path_, clause in uncited_clauses(spec):
        typer.echo(f"warning   {path_}: clause {clause!r} cites no document in sources")
    illustrative = [k for k, c in spec.clauses() if c == "示例"]
    if illustrative:
        typer.echo(f"示例      illustrative figures (no public source): {', '.join(illustrative)}")


@pack_app.command("show")
def pack_show(
    path: Annotated[Path, typer.Argument(help="Pack YAML file.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Canonical JSON instead of YAML.")
    ] = False,
) -> None:
    """Print the parsed pack (defaults filled in) as YAML, or as canonical JSON."""
    import yaml

    from yibao.packs.files import load_spec

    with bad_input_exits():
        spec = load_spec(path)
    doc = spec.model_dump(mode="json", by_alias=True)
    if as_json:
        typer.echo(json.dumps(doc, ensure_ascii=False, sort_keys=True, indent=2))
    else:
        typer.echo(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False).rstrip())


def run() -> None:
    try:
        app()
    except BrokenPipeError:  # pragma: no cover - `yibao ... | head`
        sys.exit(1)


__all__ = ["app", "fail", "run"]
