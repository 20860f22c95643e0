"""Registers the command groups defined in their own modules (batch, store, service)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add every command group defined outside ``app.py`` to ``app``."""
    from yibao.adapters.cli.demo import demo_app

    app.add_typer(demo_app, name="demo")
