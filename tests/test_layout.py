"""The layout's rules that import-linter does not check (docs/architecture.md, DECISIONS
0101): no module imports another module's ``_private`` name, ``services/`` keeps at
most twelve entries at its top level, and no function of ``core/engine`` is longer
than 60 lines."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "yibao"


_NAMEDTUPLE = frozenset({"_fields", "_asdict", "_replace", "_make"})  # public API


def _private_uses(path: Path) -> list[str]:
    """``from yibao.x import _name`` and ``module._name`` on an imported yibao module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("yibao"):
            for a in node.names:
                if a.name.startswith("_") and not a.name.startswith("__"):
                    found.append(f"from {node.module} import {a.name}")
                modules.add(a.asname or a.name)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("yibao"):
                    modules.add(a.asname or a.name.split(".")[0])
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in modules and node.attr.startswith("_")
                and not node.attr.startswith("__") and node.attr not in _NAMEDTUPLE):  # fmt: skip
            found.append(f"{node.value.id}.{node.attr}")
    return found


def test_no_module_uses_another_modules_private_names() -> None:
    bad = {str(p.relative_to(SRC)): u for p in SRC.rglob("*.py") if (u := _private_uses(p))}
    assert bad == {}


def test_the_scan_finds_a_private_import(tmp_path: Path) -> None:
    f = tmp_path / "m.py"
    f.write_text("from yibao.services.encounters import state as st\n"
                 "from yibao.core.money import _half\nst._load(1)\n")  # fmt: skip
    assert _private_uses(f) == ["from yibao.core.money import _half", "st._load"]


def test_services_has_at_most_twelve_entries() -> None:
    entries = [p.name for p in (SRC / "services").iterdir() if p.name != "__pycache__"]
    assert len(entries) <= 12, sorted(entries)


def test_no_engine_function_is_longer_than_sixty_lines() -> None:
    long = []
    for p in (SRC / "core" / "engine").rglob("*.py"):
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > 60:
                    long.append(f"{p.name}:{node.name} {n} lines")
    assert long == []
