"""Unmasked output (ID numbers and names in full): allowed to a role that sees personal
data, and every use recorded in the audit log before anything unmasked is shown.

The CLI's ``--unmasked`` comes here (docs/cli.md, "Who runs a command"): the operator is
the caller, the command and what it unmasks go into the entry's detail. The detail never
holds an unmasked value: a looked-up ID number is recorded masked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

from yibao.core.errors import Forbidden
from yibao.core.privacy import mask_psn_no
from yibao.services.access.rights import Principal, audit
from yibao.store.uow import UnitOfWork

__all__ = ["ACTION", "masked_ids", "record_unmasked"]

ACTION = "personal.unmasked"
"""The audit log's action for one use of unmasked output."""


def record_unmasked(
    uow: UnitOfWork,
    caller: Principal,
    *,
    command: str,
    fields: Sequence[str],
    target: str,
    at: dt.datetime,
    operator: str,
    operator_from: str,
) -> None:
    """Record that ``caller`` (the ``operator``, identified by ``operator_from``: the
    option, the environment or the OS login) is shown ``fields`` unmasked by ``command``,
    written to ``target`` (a file, or a masked key); ``Forbidden`` when the caller's role
    sees no personal data."""
    if not caller.sees_personal:
        raise Forbidden(f"role {caller.role} may not see ID numbers and names unmasked")
    with uow(write=True):
        audit(uow, caller, ACTION, "cli", command[:100], before=None, after=None, at=at,
              detail={"command": command, "operator": operator,
                      "operator_from": operator_from, "fields": list(fields),
                      "target": target[:300]})  # fmt: skip
        uow.commit()


def masked_ids(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    """``frame`` with the ID numbers of ``columns`` masked (``mask_psn_no``, each distinct
    value once: a million-stay file has a few thousand insurees)."""
    out = []
    for name in columns:
        col = frame.get_column(name).cast(pl.String)
        seen = col.unique().drop_nulls()
        shown = pl.Series([mask_psn_no(v) for v in seen], dtype=pl.String)
        out.append(col.replace_strict(seen, shown, default=None).alias(name))
    return frame.with_columns(out)
