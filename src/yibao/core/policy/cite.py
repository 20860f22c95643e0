"""Citation check: every clause names a document of ``sources`` (or says ``示例``)."""

from __future__ import annotations

from yibao.core.policy.schema import PackSpec

__all__ = ["ILLUSTRATIVE", "uncited_clauses"]

ILLUSTRATIVE = "示例"


def uncited_clauses(spec: PackSpec) -> list[tuple[str, str]]:
    """(key path, clause) for each clause that cites no document listed in ``sources``."""
    keys = tuple(spec.sources)
    return [
        (path, clause)
        for path, clause in spec.clauses()
        if clause != ILLUSTRATIVE and not (keys and clause.startswith(keys))
    ]
