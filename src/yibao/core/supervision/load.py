"""Parsing a supervision rule set from YAML text (duplicate keys refused); errors name
the origin and the key path. Text in, ``RuleSet`` out: reading the file is the caller's."""

from __future__ import annotations

import hashlib
import json

from yibao.core.errors import PackError
from yibao.core.supervision.schema import RuleSet

__all__ = ["parse_rules", "rules_sha256"]


def rules_sha256(rules: RuleSet) -> str:
    """sha256 of the canonical JSON of the parsed rule set (layout and comments aside)."""
    doc = rules.model_dump(mode="json")
    canon = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()


def parse_rules(text: str, origin: str = "<rules>") -> RuleSet:
    """Parse and validate a rule set; ``PackError`` names ``origin`` and the key path."""
    import yaml
    from pydantic import ValidationError

    from yibao.core.policy.strict_yaml import StrictLoader

    try:
        doc = yaml.load(text, Loader=StrictLoader)
    except yaml.YAMLError as exc:
        raise PackError(f"{origin}: not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(doc, dict):
        raise PackError(f"{origin}: a rule set is a YAML mapping, got {type(doc).__name__}")
    try:
        return RuleSet.model_validate(doc)
    except ValidationError as exc:
        errs = exc.errors(include_url=False)
        problems = [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in errs]
        path, msg = problems[0]
        if errs[0]["type"] == "extra_forbidden":
            msg = "unknown key"
        more = f" (and {len(errs) - 1} more)" if len(errs) > 1 else ""
        raise PackError(f"{origin}: {path}: {msg.removeprefix('Value error, ')}{more}",
                        problems) from None  # fmt: skip
