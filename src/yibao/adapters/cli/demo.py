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
    from yibao.core.policy import load_pack
    from yibao.examples import example_requests
    from yibao.packs import shipped_pack

    with bad_input_exits():
        policy = load_pack(pack or shipped_pack("cq-2020"))
        for path in example_requests():
            result = settle(parse_request(path.read_bytes()), policy)
            print_statement(result, title=path.stem)
