"""Policy pack files: the ones shipped with yibao (YAML data in the wheel), reading them
(``files``: ``load_pack``, ``load_packs``, ``load_spec``) and their compiled forms kept on
disk (``cache``). Parsing and compiling a pack's text is the core's (``yibao.core.policy``).

``cq-2020.yaml``: Chongqing (重庆市, 市级统筹 "50") 2020, with the COVID-19 overlay of
渝医保发〔2020〕3号 and the national follow-ups. Its benefit figures have no public 2020
source and are marked ``clause: 示例`` (docs/POLICY.md lists each).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["PACKS_DIR", "shipped_pack"]

PACKS_DIR = Path(__file__).resolve().parent


def shipped_pack(name: str) -> Path:
    """Path of a pack shipped with the package, e.g. ``shipped_pack("cq-2020")``."""
    return PACKS_DIR / f"{name}.yaml"
