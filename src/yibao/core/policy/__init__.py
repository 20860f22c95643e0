"""Policy packs (政策包): every figure, date and clause the engine needs, as data.

- ``schema``: the Pydantic models of the pack shape (POLICY-PACKS.md), strict;
- ``load``: the YAML loader (errors name the file and the key path) and the canonical hash;
- ``model``: the compiled, read-only view the engines read (``Policy``, ``OverlayVersion``);
- ``resolve``: choosing the pack for an insured region and a discharge date.
"""

from yibao.core.policy.load import load_pack, load_packs, pack_sha256, parse_pack
from yibao.core.policy.model import OverlayVersion, Policy, SeriousTable
from yibao.core.policy.resolve import PackSet

__all__ = [
    "OverlayVersion",
    "PackSet",
    "Policy",
    "SeriousTable",
    "load_pack",
    "load_packs",
    "pack_sha256",
    "parse_pack",
]
