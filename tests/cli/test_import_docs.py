"""docs/IMPORT.md documents every column of every registry, and an example file of
each registry ships with yibao (and imports: tests/services/test_registry_io.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from yibao.core.registry import KINDS

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "IMPORT.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_column_is_documented(kind: str) -> None:
    section = DOC.split(f"## `{kind}`", 1)[1].split("\n## ", 1)[0]
    for col in KINDS[kind].columns:
        assert f"| `{col.name}` | {col.label} |" in section, col.name


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_registry_has_an_example_file(kind: str) -> None:
    path = ROOT / "src" / "yibao" / "examples" / "registry" / f"{kind}.csv"
    header = path.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header == list(KINDS[kind].names)
