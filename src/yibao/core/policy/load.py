"""Loading policy packs from YAML: every error names the file and the key path.

A pack is parsed whole or not at all. YAML duplicate keys are errors (PyYAML would
silently keep the last). The content hash is the sha256 of the canonical JSON of the
parsed pack (sorted keys, no spaces, UTF-8), so comments and layout do not change it
and a settlement can be recomputed years later against exactly the same figures.

``load_pack`` takes a file's compiled form from ``cache`` when the same bytes validated
before (Pydantic is then never imported); ``load_spec`` always validates, for the
commands that show the pack itself (``yibao pack check``, ``pack show``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from yibao.core.errors import PackError
from yibao.core.policy import cache
from yibao.core.policy.model import Policy, compile_policy

if TYPE_CHECKING:
    from pydantic import ValidationError

    from yibao.core.policy.schema import PackSpec

__all__ = ["load_pack", "load_packs", "load_spec", "pack_sha256", "parse_pack", "parse_spec"]


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


def parse_spec(text: str, origin: str = "<pack>") -> PackSpec:
    """Parse and validate a pack from YAML text; ``origin`` names it in errors."""
    import yaml
    from pydantic import ValidationError

    from yibao.core.policy.schema import PackSpec
    from yibao.core.policy.strict_yaml import StrictLoader

    try:
        doc = yaml.load(text, Loader=StrictLoader)
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        raise PackError(f"{origin}: not valid YAML: {detail}") from None
    if not isinstance(doc, dict):
        raise PackError(f"{origin}: a pack is a YAML mapping, got {type(doc).__name__}")
    try:
        return PackSpec.model_validate(doc)
    except ValidationError as exc:
        path, msg = _first_error(exc)
        count = exc.error_count()
        more = f" (and {count - 1} more)" if count > 1 else ""
        problems = [(_path(tuple(e["loc"])), e["msg"]) for e in exc.errors(include_url=False)]
        raise PackError(f"{origin}: {path}: {msg}{more}", problems) from None


def parse_pack(text: str, origin: str = "<pack>") -> Policy:
    """Parse, validate and compile a pack from YAML text."""
    spec = parse_spec(text, origin)
    return compile_policy(spec, pack_sha256(spec))


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
    p = Path(path)
    return parse_spec(_text(p, _read(p)), str(p))


def load_pack(path: str | Path) -> Policy:
    """Load one pack file: its kept compiled form if these bytes validated before."""
    p = Path(path)
    raw = _read(p)
    kept = cache.get(raw)
    if kept is not None:
        return kept
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
