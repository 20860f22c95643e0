"""``yibao pack list``: the packs of the pack directory (``YIBAO_PACKS_DIR``, default the
shipped ones) — what the service settles with: each pack's id, pooling area (the insured
regions it covers: 参保地政策), period, hash and title, and the example packs shipped
beside them (``packs/examples``: copy one into the pack directory to load it)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from yibao.adapters.cli.common import bad_input_exits

__all__ = ["add_pack_list"]


def pack_list(
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of text.")] = False,
) -> None:
    """List the packs loaded from the pack directory, and the shipped examples."""
    from yibao.bootstrap import hospital_context, settings
    from yibao.packs import PACKS_DIR

    with bad_input_exits():
        packs = sorted(hospital_context().packs, key=lambda p: p.id)
    folder = settings().packs_dir or PACKS_DIR
    examples = sorted(p.name for p in (PACKS_DIR / "examples").glob("*.yaml"))
    if as_json:
        rows = [{"pack": p.id, "pooling_area": list(p.pooling_area),
                 "valid_from": p.valid_from.isoformat(), "valid_to": p.valid_to.isoformat(),
                 "sha256": p.sha256, "title": p.title,
                 "filing_limits": p.filing_limits is not None} for p in packs]  # fmt: skip
        doc = {"directory": str(folder), "packs": rows, "examples": examples}
        typer.echo(json.dumps(doc, ensure_ascii=False))
        return
    typer.echo(f"pack directory {folder}")
    for p in packs:
        typer.echo(f"  {p.id:<20} area {'/'.join(p.pooling_area):<8} {p.valid_from}..{p.valid_to}"
                   f"  {p.sha256[:12]}  {p.title}")  # fmt: skip
    if not packs:
        typer.echo("  (none)")
    if examples:
        typer.echo(f"examples (not loaded; copy into the pack directory): {', '.join(examples)}")


def add_pack_list(app: typer.Typer) -> None:
    """Add ``list`` to the ``pack`` command group of ``app``."""
    for group in app.registered_groups:
        if group.name == "pack" and group.typer_instance is not None:
            group.typer_instance.command("list")(pack_list)
            return
    raise RuntimeError("no `pack` command group to add `list` to")
