"""``yibao gateway``: the national gateway's clients (``x-tif-paasid`` and the token
their ``x-tif-signature`` is computed with), each tied to one hospital.

Thin: parse, call one service function, print. SQLAlchemy loads inside the commands.
"""

from __future__ import annotations

import datetime as dt
import getpass
import sys
from typing import Annotated

import typer

from yibao.adapters.cli.common import bad_input_exits, beijing

gateway_app = typer.Typer(
    help="National gateway clients (x-tif-paasid): add (the token is printed once), list, revoke.",
    no_args_is_help=True,
)


@gateway_app.command("add")
def gateway_add(
    paasid: Annotated[str, typer.Argument(help="The client's x-tif-paasid (1-40 characters).")],
    provider: Annotated[
        str, typer.Option("--provider", help="The hospital it calls for (registry code).")
    ],
    by: Annotated[str | None, typer.Option("--by", help="Who adds it (recorded).")] = None,
) -> None:
    """Add a gateway client and print its token once: the client signs each request with
    sha256(timestamp + token + nonce + timestamp) (docs/NHSA.md)."""
    from yibao.bootstrap import unit_of_work
    from yibao.services.access.gateway import create_client

    with bad_input_exits():
        made = create_client(unit_of_work(), paasid, provider_code=provider,
                             by=by or getpass.getuser(), now=dt.datetime.now(dt.UTC))  # fmt: skip
    sys.stderr.write(f"gateway client {made.paasid} ({made.provider_code}): token shown once, "
                     "store it now\n")  # fmt: skip
    typer.echo(made.token)


@gateway_app.command("list")
def gateway_list() -> None:
    """List the clients (paasid, provider, created by, created, revoked: Beijing dates);
    never the token."""
    from yibao.bootstrap import unit_of_work
    from yibao.services.access.gateway import list_clients

    with bad_input_exits():
        rows = list_clients(unit_of_work())
    for r in rows:
        revoked = f"revoked {beijing(r['revoked_at']):%Y-%m-%d}" if r["revoked_at"] else "active"
        typer.echo(f"{r['paasid']}\t{r['provider_code']}\t{r['created_by']}\t"
                   f"{beijing(r['created_at']):%Y-%m-%d}\t{revoked}")  # fmt: skip


@gateway_app.command("revoke")
def gateway_revoke(
    paasid: Annotated[str, typer.Argument(help="The client's x-tif-paasid.")],
    by: Annotated[str | None, typer.Option("--by", help="Who revokes it (recorded).")] = None,
) -> None:
    """Revoke a client: its signed requests are refused from the next one on."""
    from yibao.bootstrap import unit_of_work
    from yibao.services.access.gateway import revoke_client

    with bad_input_exits():
        revoke_client(unit_of_work(), paasid, by=by or getpass.getuser(),
                      now=dt.datetime.now(dt.UTC))  # fmt: skip
    typer.echo(f"gateway client {paasid} revoked")
