"""``yibao demo``: the bundled examples and the demo district."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from yibao.adapters.cli.common import bad_input_exits

demo_app = typer.Typer(help="Demonstrations on bundled data.", no_args_is_help=True)


@demo_app.command("statements")
def statements(
    pack: Annotated[
        Path | None, typer.Option("--pack", help="Pack to use (default: the shipped cq-2020).")
    ] = None,
) -> None:
    """Settle the bundled example encounters and print their statements (结算单)."""
    from yibao.adapters.cli.statement import print_statement
    from yibao.core.engine import parse_request, settle
    from yibao.examples import example_requests
    from yibao.packs import shipped_pack
    from yibao.packs.files import load_pack

    with bad_input_exits():
        policy = load_pack(pack or shipped_pack("cq-2020"))
        for path in example_requests():
            result = settle(parse_request(path.read_bytes()), policy)
            print_statement(result, title=path.stem)


@demo_app.command("load")
def load(
    insurees: Annotated[
        int | None,
        typer.Option(
            "--insurees", min=0, help="How many insurees (default: the district's 50,000)."
        ),
    ] = None,
    scale: Annotated[
        float,
        typer.Option(
            "--epidemic-scale",
            min=0.0,
            max=10.0,
            help="Size of the simulated epidemic (1: the district's; 0: none).",
        ),
    ] = 1.0,
) -> None:
    """Load the synthetic 涪陵-like district into the database (YIBAO_DATABASE_URL),
    migrating it first: townships, providers, catalog, protocol editions, 临时新增编码,
    disease codes, 对码 and insurees; then the district lives through a simulated epidemic
    (2020-01-21 … 2020-03-15: stays settled, deferred, transferred, reversed, through the
    services with a simulated clock). Running it again changes nothing."""
    from yibao.bootstrap import settings, unit_of_work
    from yibao.services.tools.demo.district import load_demo
    from yibao.store import migrate

    with bad_input_exits():
        migrate.upgrade(settings().database_url)
        done = load_demo(unit_of_work(), insurees=insurees)
    for d in done:
        state = f"change set {d.change_set}" if d.change_set else "unchanged"
        typer.echo(f"{d.kind:<10}{d.rows:>7} rows  {d.inserted:>7} new versions  ({state})")
    _epidemic(insurees, scale)


def _epidemic(insurees: int | None, scale: float) -> None:
    """The simulated epidemic of 2020-01-21 … 2020-03-15, through the services."""
    from yibao.adapters.cli.common import progress_bar
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.services.tools.demo.epidemic import live_through_epidemic

    if scale == 0:
        return
    with bad_input_exits(), progress_bar("epidemic") as progress:
        e = live_through_epidemic(unit_of_work(), hospital_context(), insurees=insurees,
                                  scale=scale, progress=progress)  # fmt: skip
    if e.skipped:
        typer.echo("epidemic  already lived through (unchanged)")
        return
    waiting = ", ".join(f"{k} {v}" for k, v in sorted(e.deferred.items())) or "none"
    typer.echo(f"epidemic  {e.stays} stays: {e.settled} settled by the hospitals, "
               f"{e.queue_settled} by the queue, deferred {waiting}; {e.transfers} transfers, "
               f"{e.reversals} reversals, {e.reentered} entered after an outage")  # fmt: skip
    for why in e.refused[:5]:
        typer.echo(f"  refused: {why}", err=True)


@demo_app.command("serve")
def serve(
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1.")] = 8000,
    key_file: Annotated[
        Path, typer.Option("--key-file", help="Where the demo hospital's key is kept.")
    ] = Path(".yibao-demo-key"),
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the key and the example; do not serve.")
    ] = False,
) -> None:
    """Serve the API and the console for the demo district on 127.0.0.1: create (or
    reuse) a key for the demo 定点救治医院 and a console user of every role, print the
    docs URL, the key, the console URL with the sign-ins, and a curl example that settles
    a confirmed COVID-19 patient who pays nothing (渝医保发〔2020〕3号 二（一）). Ctrl-C stops."""
    import datetime as dt

    from yibao.adapters.api.demo import curl_text, steps
    from yibao.bootstrap import unit_of_work
    from yibao.services.access.users import demo_users
    from yibao.services.tools.demo.hospital import demo_case, demo_key

    with bad_input_exits():
        uow = unit_of_work()
        case = demo_case(uow)
        key, created = demo_key(uow, key_file, now=dt.datetime.now(dt.UTC))
        people = demo_users(uow, now=dt.datetime.now(dt.UTC))
    base = f"http://127.0.0.1:{port}"
    typer.echo(f"docs     {base}/docs")
    state = "new" if created else "reused"
    typer.echo(f"key      {key}   ({state}, hospital {case.provider_code}; saved in {key_file})")
    typer.echo(f"console  {base}/console/   sign in as (password {people[0].password}):")
    for u in people:
        town = f" {u.township_code}" if u.township_code else ""
        typer.echo(f"         {u.login:<22}{u.role}{town}")
    typer.echo("\n# admission -> fee upload -> settlement (psn_cash_pay 0):")
    typer.echo(curl_text(base, key, steps(case.insuree_id, case.lines)))
    if dry_run:
        return
    import uvicorn

    typer.echo(f"\nserving on {base} (Ctrl-C to stop)")
    uvicorn.run("yibao.adapters.api.asgi:app", host="127.0.0.1", port=port, log_level="warning")
