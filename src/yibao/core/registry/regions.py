"""行政区划代码: 6-digit administrative region codes and their hierarchy.

``500000`` is a province-level unit (重庆市), ``500100`` a prefecture-level one (市辖区),
``500102`` a county (涪陵区). A catalog kept for ``500000`` applies to every region under
it; the most specific catalog wins (docs/STORE.md, "Catalog resolution").
"""

from __future__ import annotations

__all__ = ["ancestors", "is_region", "prefix"]


def is_region(code: str) -> bool:
    """Six digits, not starting with 0."""
    return len(code) == 6 and code.isascii() and code.isdigit() and code[0] != "0"


def prefix(code: str) -> str:
    """The significant part: ``500000`` -> ``50``, ``500100`` -> ``5001``."""
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


def ancestors(code: str) -> tuple[str, ...]:
    """The region and the units above it, most specific first:
    ``500102`` -> (``500102``, ``500100``, ``500000``)."""
    out = [code]
    if not code.endswith("00"):
        out.append(code[:4] + "00")
    if not code.endswith("0000"):
        out.append(code[:2] + "0000")
    return tuple(out)
