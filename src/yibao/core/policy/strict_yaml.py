"""YAML for packs: the safe loader (libyaml's parser where PyYAML has it) refusing
duplicate keys, which PyYAML would silently resolve by keeping the last."""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["StrictLoader"]


_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when built


class StrictLoader(_SafeLoader):  # type: ignore[misc]
    """The safe loader (libyaml's parser where PyYAML has it) refusing duplicate keys."""


def _mapping(loader: StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
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


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
