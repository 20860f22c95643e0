"""Loading policy packs from YAML: every error names the file and the key path.

A pack is parsed whole or not at all. YAML duplicate keys are errors (PyYAML would
silently keep the last). The content hash is the sha256 of the canonical JSON of the
parsed pack (sorted keys, no spaces, UTF-8), so comments and layout do not change it
and a settlement can be recomputed years later against exactly the same figures.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from yibao.core.errors import PackError
from yibao.core.policy.model import Policy, compile_policy
from yibao.core.policy.schema import PackSpec

__all__ = ["load_pack", "load_packs", "pack_sha256", "parse_pack"]


_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when built


class _StrictLoader(_SafeLoader):  # type: ignore[misc]
    """The safe loader (libyaml's parser where PyYAML has it) refusing duplicate keys."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (line {mark.line + 1})", mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def _path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(pack)"


def _first_error(err: ValidationError) -> tuple[str, str]:
    e = err.errors(include_url=False)[0]
    msg = e["msg"].removeprefix("Value error, ")
    if e["type"] == "extra_forbidden":
        msg = "unknown key"
    return _path(tuple(e["loc"])), msg


def pack_sha256(spec: PackSpec) -> str:
    """sha256 of the canonical JSON of the parsed pack."""
    doc = spec.model_dump(mode="json", by_alias=True)
    canon = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()


def parse_pack(text: str, origin: str = "<pack>") -> Policy:
    """Parse and validate a pack from YAML text; ``origin`` names it in errors."""
    try:
        doc = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        raise PackError(f"{origin}: not valid YAML: {detail}") from None
    if not isinstance(doc, dict):
        raise PackError(f"{origin}: a pack is a YAML mapping, got {type(doc).__name__}")
    try:
        spec = PackSpec.model_validate(doc)
    except ValidationError as exc:
        path, msg = _first_error(exc)
        count = exc.error_count()
        more = f" (and {count - 1} more)" if count > 1 else ""
        problems = [(_path(tuple(e["loc"])), e["msg"]) for e in exc.errors(include_url=False)]
        raise PackError(f"{origin}: {path}: {msg}{more}", problems) from None
    return compile_policy(spec, pack_sha256(spec))


def load_pack(path: str | Path) -> Policy:
    """Load one pack file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PackError(f"{p}: cannot read pack: {exc.__class__.__name__}: {exc}") from None
    return parse_pack(text, str(p))


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
