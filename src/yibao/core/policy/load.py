"""Parsing policy packs from YAML: every error names the origin and the key path.

A pack is parsed whole or not at all. YAML duplicate keys are errors (PyYAML would
silently keep the last). The content hash is the sha256 of the canonical JSON of the
parsed pack (sorted keys, no spaces, UTF-8), so comments and layout do not change it
and a settlement can be recomputed years later against exactly the same figures.

Text in, ``Policy`` out: reading pack files and keeping their compiled forms are I/O
and live outside the core, in ``yibao.packs.files`` and ``yibao.packs.cache``.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from yibao.core.errors import PackError
from yibao.core.policy.model import Policy, compile_policy

if TYPE_CHECKING:
    from pydantic import ValidationError

    from yibao.core.policy.schema import PackSpec

__all__ = ["pack_sha256", "parse_pack", "parse_spec"]


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
