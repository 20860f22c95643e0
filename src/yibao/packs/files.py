"""Pack files on disk: reading them, validated, through the compiled-form cache.

``load_pack`` takes a file's compiled form from ``cache`` when the same bytes validated
before (Pydantic and PyYAML are then never imported, DECISIONS 0090); ``load_spec``
always validates, for the commands that show the pack itself (``yibao pack check``,
``pack show``). Parsing and compiling are the core's (``yibao.core.policy``: text in,
``Policy`` out); reading files and keeping compiled forms are I/O and live here.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from yibao.core.errors import PackError
from yibao.packs import cache

if TYPE_CHECKING:
    from yibao.core.policy.model import Policy
    from yibao.core.policy.schema import PackSpec

__all__ = ["load_pack", "load_packs", "load_spec"]


def _read(p: Path) -> bytes:
    try:
        return p.read_bytes()
    except OSError as exc:
        raise PackError(f"{p}: cannot read pack: {exc.__class__.__name__}: {exc}") from None


def _text(p: Path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PackError(f"{p}: cannot read pack: {exc.__class__.__name__}: {exc}") from None


def load_spec(path: str | Path) -> PackSpec:
    """One pack file, validated, as its Pydantic model (never from the cache)."""
    from yibao.core.policy.load import parse_spec

    p = Path(path)
    return parse_spec(_text(p, _read(p)), str(p))


def load_pack(path: str | Path) -> Policy:
    """Load one pack file: its kept compiled form if these bytes validated before."""
    p = Path(path)
    raw = _read(p)
    kept = cache.get(raw)
    if kept is not None:
        return kept
    from yibao.core.policy.load import parse_pack

    policy = parse_pack(_text(p, raw), str(p))
    cache.put(raw, policy)
    return policy


def load_packs(paths: Iterable[str | Path]) -> list[Policy]:
    """Load pack files and folders of ``*.yaml`` packs; ids must be unique."""
    packs: list[Policy] = []
    for path in paths:
        p = Path(path)
        files = sorted(p.glob("*.yaml")) + sorted(p.glob("*.yml")) if p.is_dir() else [p]
        packs += [load_pack(f) for f in files]
    seen: dict[str, Policy] = {}
    for pack in packs:
        if pack.id in seen and seen[pack.id].sha256 != pack.sha256:
            raise PackError(f"pack id {pack.id!r} is loaded twice with different content")
        seen[pack.id] = pack
    return list(seen.values())
