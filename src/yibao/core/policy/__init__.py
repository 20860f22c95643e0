"""Policy packs (政策包): every figure, date and clause the engine needs, as data.

- ``schema``: the Pydantic models of the pack shape (POLICY-PACKS.md), strict;
- ``load``: the YAML parser (errors name the origin and the key path) and the canonical
  hash — text in, ``Policy`` out (files and the compiled-form cache: ``yibao.packs``);
- ``model``: the compiled, read-only view the engines read (``Policy``, ``OverlayVersion``);
- ``resolve``: choosing the pack for an insured region and a discharge date.

The names below are imported on first use, so that reading ``Policy`` or a cached pack
does not import the parser's dependencies (DECISIONS 0090).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from yibao.core.policy.load import pack_sha256, parse_pack, parse_spec
    from yibao.core.policy.model import OverlayVersion, Policy, SeriousTable
    from yibao.core.policy.resolve import PackSet

__all__ = [
    "OverlayVersion",
    "PackSet",
    "Policy",
    "SeriousTable",
    "pack_sha256",
    "parse_pack",
    "parse_spec",
]

_HOME = {
    "OverlayVersion": "model",
    "Policy": "model",
    "SeriousTable": "model",
    "PackSet": "resolve",
    **{name: "load" for name in __all__ if name[0].islower()},
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
