"""Example settlement requests shipped with yibao (used by ``yibao demo statements``)."""

from __future__ import annotations

from pathlib import Path

EXAMPLES_DIR = Path(__file__).resolve().parent


def example_requests() -> list[Path]:
    return sorted(EXAMPLES_DIR.glob("*.json"))
