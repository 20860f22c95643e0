"""Registers the command groups defined in their own modules (batch, store, service).

Each module imports only Typer at import time; SQLAlchemy and the services load inside
the commands, so ``yibao settle`` starts as fast as before.
"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add every command group defined outside ``app.py`` to ``app``."""
    import yibao.adapters.cli.reentry  # noqa: F401  (adds deferred import/template)
    from yibao.adapters.cli.batch import batch_app, bench_app
    from yibao.adapters.cli.claims import claims_app
    from yibao.adapters.cli.deferred import deferred_app
    from yibao.adapters.cli.demo import demo_app
    from yibao.adapters.cli.filings import filings_app
    from yibao.adapters.cli.gateway import gateway_app
    from yibao.adapters.cli.packs import add_pack_list
    from yibao.adapters.cli.report import report_app
    from yibao.adapters.cli.resettle import resettle
    from yibao.adapters.cli.service import keys_app, ledger_app, serve
    from yibao.adapters.cli.store import db_app, export_app, import_app, registry_app
    from yibao.adapters.cli.supervision import supervision_app
    from yibao.adapters.cli.users import users_app

    app.add_typer(demo_app, name="demo")
    app.add_typer(db_app, name="db")
    app.add_typer(import_app, name="import")
    app.add_typer(export_app, name="export")
    app.add_typer(registry_app, name="registry")
    app.add_typer(batch_app, name="batch")
    app.add_typer(bench_app, name="bench")
    app.add_typer(keys_app, name="keys")
    app.add_typer(gateway_app, name="gateway")
    app.add_typer(ledger_app, name="ledger")
    app.add_typer(deferred_app, name="deferred")
    app.add_typer(report_app, name="report")
    app.command("resettle")(resettle)
    app.command("serve")(serve)
    app.add_typer(users_app, name="users")
    app.add_typer(claims_app, name="claims")  # 手工报销 (issue 19)
    app.add_typer(supervision_app, name="supervision")
    app.add_typer(filings_app, name="filings")
    add_pack_list(app)
    from yibao.adapters.cli.drugs import drugs_app  # issue 21

    app.add_typer(drugs_app, name="drugs")
    from yibao.adapters.cli.funds import funds_app  # issue 20

    app.add_typer(funds_app, name="funds")
