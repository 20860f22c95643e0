"""docs/cli.md is generated from --help and must be current; every command has help."""

from __future__ import annotations

from pathlib import Path

import typer

from yibao.adapters.cli.app import app
from yibao.adapters.cli.docgen import render

ROOT = Path(__file__).resolve().parents[2]


def test_cli_reference_is_current() -> None:
    assert (ROOT / "docs" / "cli.md").read_text(encoding="utf-8") == render(), "run make docs"


def test_every_command_has_help() -> None:
    def walk(cmd: object, path: str) -> list[str]:
        missing = [] if getattr(cmd, "help", None) else [path]
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                missing += walk(sub, f"{path} {name}")
        return missing

    assert walk(typer.main.get_command(app), "yibao") == []
