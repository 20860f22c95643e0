"""``yibao keys``, ``yibao ledger``, ``yibao serve``: the hospital settlement service.

Thin: parse, call one service function, print. FastAPI, uvicorn and SQLAlchemy load
inside the commands only.
"""

from __future__ import annotations

import datetime as dt
import getpass
import sys
from typing import Annotated

import typer

from yibao.adapters.cli.common import bad_input_exits, beijing, masked_text

keys_app = typer.Typer(
    help="API keys: create (the key is printed once), list, revoke.", no_args_is_help=True
)
ledger_app = typer.Typer(help="The double-entry ledger of settlements.", no_args_is_help=True)


@keys_app.command("create")
def keys_create(
    role: Annotated[
        str, typer.Option("--role", help="hospital, clerk, finance, auditor or admin.")
    ],
    provider: Annotated[
        str | None, typer.Option("--provider", help="The hospital's code (role hospital).")
    ] = None,
    label: Annotated[str, typer.Option("--label", help="What the key is for.")] = "",
    by: Annotated[str | None, typer.Option("--by", help="Who creates it (recorded).")] = None,
) -> None:
    """Create an API key and print it once (only its hash is stored)."""
    from yibao.bootstrap import unit_of_work
    from yibao.services.access.rights import create_key

    with bad_input_exits():
        made = create_key(
            unit_of_work(),
            role=role,
            provider_code=provider,
            label=label or role,
            by=by or getpass.getuser(),
            now=dt.datetime.now(dt.UTC),
        )
    sys.stderr.write(
        f"key {made.key_id} ({made.role}"
        f"{' ' + made.provider_code if made.provider_code else ''}): "
        "shown once, store it now\n"
    )
    typer.echo(made.key)


@keys_app.command("list")
def keys_list() -> None:
    """List the keys (id, role, provider, label, created, revoked: Beijing dates); never
    the secret."""
    from yibao.bootstrap import unit_of_work
    from yibao.services.access.rights import list_keys

    with bad_input_exits():
        rows = list_keys(unit_of_work())
    for r in rows:
        revoked = f"revoked {beijing(r['revoked_at']):%Y-%m-%d}" if r["revoked_at"] else "active"
        typer.echo(
            f"{r['key_id']}\t{r['role']}\t{r['provider_code'] or '-'}\t{r['label']}\t"
            f"{beijing(r['created_at']):%Y-%m-%d}\t{revoked}"
        )


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (the part after yb_).")],
    by: Annotated[str | None, typer.Option("--by", help="Who revokes it (recorded).")] = None,
) -> None:
    """Revoke a key; every API worker refuses it from the next request on."""
    from yibao.bootstrap import unit_of_work
    from yibao.services.access.rights import revoke_key

    with bad_input_exits():
        revoke_key(unit_of_work(), key_id, by=by or getpass.getuser(), now=dt.datetime.now(dt.UTC))
    typer.echo(f"key {key_id} revoked")


@ledger_app.command("check")
def ledger_check() -> None:
    """Prove the books: every transaction balances (in total and per fund book), the
    trial balance is zero, each settlement posts exactly its amounts, each reversal
    negates one settlement once, and the stored accumulators and account balances equal
    what the postings imply. Exit 1 listing every problem."""
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.services.reports.reads import ledger_problems

    with bad_input_exits():
        problems = ledger_problems(unit_of_work(), hospital_context().packs)
    if problems:
        for p in problems:
            sys.stderr.write(masked_text(p) + "\n")
        sys.stderr.write(f"ledger check: {len(problems)} problems\n")
        raise typer.Exit(1)
    typer.echo(
        "ledger check: ok (trial balance zero; settlements, reversals, accumulators "
        "and accounts agree with the postings)"
    )


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port.")] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve the REST API and the national envelope (uvicorn) on YIBAO_DATABASE_URL;
    OpenAPI docs at /docs."""
    import uvicorn

    from yibao.bootstrap import settings
    from yibao.store.migrate import check_current

    with bad_input_exits():
        check_current(settings().database_url)
    uvicorn.run(
        "yibao.adapters.api.asgi:app",
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )
