"""Settlement contract v2 (issue 14): lines at the national wire's precision and yearly
caps in the paid form. Every stored value is converted exactly:

- ``fee_lines``: ``price_fen`` → ``price_e6`` (× 10^4), ``qty_milli`` → ``qty_e4``
  (× 10, still negative on a refund line), ``price_cap_fen`` → ``price_cap_e6`` (× 10^4);
- ``catalog_items``: ``price_cap_fen`` → ``price_cap_e6`` (× 10^4);
- ``accumulators`` gain ``basic_paid_fen``, ``serious_paid_fen`` and
  ``assistance_paid_fen``: for each insuree-year the sum over its ``settlements`` rows
  (a reversal row negated) of ``hifp_pay``, ``hifmi_pay + hifob_pay`` and ``maf_pay``,
  read from each row's record (the settlement's ``setlinfo``; a reversal row carries the
  record of the settlement it reverses). That is what the ledger's standing postings to
  the funds hold, taken from the one place that names each fund's payment exactly;
- ``settlements.accumulators_before`` / ``…_after``: lists of three become objects of
  six keyed by ``ACCUMULATOR_FIELDS``; the paid values are the running standing sums of
  the insuree-year in settlement order (``settled_at``, then the row's first journal
  posting, then its id), so ``after − before`` is exactly the row's payments;
- ``settlements.record`` version 1 (positional) → version 2 (named:
  ``settlement_record.record_from_v1``): the facts gain the paid values before (the
  row's ``accumulators_before``), and ``serious_g_before_fen`` becomes
  ``serious_g_after_fen = serious_g_before_fen + hifmi_pay + hifob_pay`` — G(S + base)
  exactly, with no pack needed (v1 paid G(S + base) − G(S) past the threshold, 0 with
  G(S) = 0 below it). A reversal row's record is its settlement's record, converted the
  same way.

The downgrade converts back; a price or quantity that is not a whole fen or thousandth
cannot go back and is refused, naming the row.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 (issue 14)
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LINES = (("price_fen", "price_e6", 10**4), ("qty_milli", "qty_e4", 10),
          ("price_cap_fen", "price_cap_e6", 10**4))  # fmt: skip
_PAID = ("basic_paid_fen", "serious_paid_fen", "assistance_paid_fen")
_PAGE = 2000

_S = sa.table(
    "settlements",
    sa.column("id", sa.String),
    sa.column("kind", sa.String),
    sa.column("reverses", sa.String),
    sa.column("psn_no", sa.String),
    sa.column("year", sa.SmallInteger),
    sa.column("settled_at", sa.DateTime(timezone=True)),
    sa.column("accumulators_before", sa.JSON),
    sa.column("accumulators_after", sa.JSON),
    sa.column("record", sa.JSON),
)
_A = sa.table("accumulators", sa.column("psn_no", sa.String),
              sa.column("year", sa.SmallInteger),
              *(sa.column(n, sa.BigInteger) for n in _PAID))  # fmt: skip


def _json(v: Any) -> Any:
    return json.loads(v) if isinstance(v, str) else v


def _sqlite() -> bool:
    return bool(op.get_bind().dialect.name == "sqlite")


def _rename(table: str, old: str, new: str) -> None:
    op.execute(f"ALTER TABLE {table} RENAME COLUMN {old} TO {new}")  # in place on both


def upgrade() -> None:
    for old, new, _ in _LINES:
        _rename("fee_lines", old, new)
    op.execute("UPDATE fee_lines SET price_e6 = price_e6 * 10000, qty_e4 = qty_e4 * 10, "
               "price_cap_e6 = price_cap_e6 * 10000")  # fmt: skip
    _catalog("price_cap_fen", "price_cap_e6")
    op.execute("UPDATE catalog_items SET price_cap_e6 = price_cap_e6 * 10000")
    for name in _PAID:
        if _sqlite():  # ADD COLUMN NOT NULL needs a default on SQLite
            op.execute(f"ALTER TABLE accumulators ADD COLUMN {name} BIGINT NOT NULL DEFAULT 0")
        else:
            op.add_column("accumulators", sa.Column(name, sa.BigInteger(), nullable=False,
                                                    server_default="0"))  # fmt: skip
            op.alter_column("accumulators", name, server_default=None)
    _settlements_up()


def _catalog(old: str, new: str) -> None:
    _rename("catalog_items", old, new)
    if not _sqlite():  # SQLite's RENAME COLUMN rewrites the CHECK; its name stays
        op.drop_constraint(op.f(f"ck_catalog_items_{old}"), "catalog_items", type_="check")
        op.create_check_constraint(op.f(f"ck_catalog_items_{new}"), "catalog_items",
                                   f"{new} >= 0")  # fmt: skip


def _order(bind: Any) -> dict[str, int]:
    """Each settlement or reversal row's first journal posting (its transaction has the
    row's id): the order rows settled in within one timestamp."""
    jt = sa.table("journal_transactions", sa.column("id", sa.String),
                  sa.column("kind", sa.String))  # fmt: skip
    jp = sa.table("journal_postings", sa.column("id", sa.BigInteger),
                  sa.column("tx_id", sa.String))  # fmt: skip
    q = (sa.select(jt.c.id, sa.func.min(jp.c.id)).join(jp, jp.c.tx_id == jt.c.id)
         .where(jt.c.kind.in_(("settlement", "reversal"))).group_by(jt.c.id))  # fmt: skip
    return {r[0]: int(r[1]) for r in bind.execute(q)}


def _running(bind: Any) -> tuple[dict[str, tuple[tuple[int, ...], tuple[int, ...]]],
                                 dict[tuple[str, int], tuple[int, ...]]]:  # fmt: skip
    """The paid accumulators (basic, serious, assistance) before and after each row, and
    each insuree-year's standing totals."""
    from yibao.store.settlement_record import v1_payments

    first = _order(bind)
    rows: dict[tuple[str, int], list[tuple[Any, int, str, tuple[int, ...]]]] = defaultdict(list)
    q = sa.select(_S.c.id, _S.c.kind, _S.c.psn_no, _S.c.year, _S.c.settled_at, _S.c.record)
    for sid, kind, psn, year, at, record in bind.execute(q).yield_per(_PAGE):
        pay = v1_payments(_json(record))
        sign = -1 if kind == "reversal" else 1
        rows[psn, year].append((at, first.get(sid, 2**62), sid, tuple(sign * p for p in pay)))
    paid: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}
    totals: dict[tuple[str, int], tuple[int, ...]] = {}
    for key, got in rows.items():
        now: tuple[int, ...] = (0, 0, 0)
        for _at, _first, sid, moved in sorted(got, key=lambda r: (r[0], r[1], r[2])):
            after = tuple(n + p for n, p in zip(now, moved, strict=True))
            paid[sid] = (now, after)
            now = after
        totals[key] = now
    return paid, totals


def _acc(entitled: list[int], paid: Sequence[int]) -> dict[str, int]:
    return {"basic_entitled_fen": entitled[0], "basic_paid_fen": paid[0],
            "serious_base_fen": entitled[1], "serious_paid_fen": paid[1],
            "assistance_entitled_fen": entitled[2], "assistance_paid_fen": paid[2]}  # fmt: skip


def _settlements_up() -> None:
    from yibao.store.settlement_record import record_from_v1

    bind = op.get_bind()
    paid, totals = _running(bind)
    upd = _S.update().where(_S.c.id == sa.bindparam("k")).values(
        accumulators_before=sa.bindparam("b"), accumulators_after=sa.bindparam("a"),
        record=sa.bindparam("r"))  # fmt: skip
    ids = [r[0] for r in bind.execute(sa.select(_S.c.id).order_by(_S.c.id))]
    for start in range(0, len(ids), _PAGE):
        part = ids[start : start + _PAGE]
        q = sa.select(_S.c.id, _S.c.kind, _S.c.reverses, _S.c.accumulators_before,
                      _S.c.accumulators_after, _S.c.record).where(_S.c.id.in_(part))  # fmt: skip
        values = []
        for sid, kind, reverses, before, after, record in bind.execute(q):
            pb, pa = paid[sid]
            d = _json(record)
            if kind == "reversal":  # its record is its settlement's, converted alike
                r = record_from_v1(d, paid[reverses][0]) if reverses in paid else record_from_v1(d)
            else:
                r = record_from_v1(d, pb)
            values.append({"k": sid, "b": _acc(_json(before), pb), "a": _acc(_json(after), pa),
                           "r": r})  # fmt: skip
        if values:
            bind.execute(upd, values)
    upd_a = _A.update().where(_A.c.psn_no == sa.bindparam("k_p"),
                              _A.c.year == sa.bindparam("k_y")).values(
        **{n: sa.bindparam(f"v_{n}") for n in _PAID})  # fmt: skip
    todo = [{"k_p": p, "k_y": y, **{f"v_{n}": v for n, v in zip(_PAID, t, strict=True)}}
            for (p, y), t in sorted(totals.items())]  # fmt: skip
    for start in range(0, len(todo), _PAGE):
        bind.execute(upd_a, todo[start : start + _PAGE])


def downgrade() -> None:
    from yibao.store.settlement_record import record_to_v1

    bind = op.get_bind()
    for table, cols in (("fee_lines", _LINES), ("catalog_items", _LINES[2:])):
        for _old, new, k in cols:
            bad = bind.execute(sa.text(f"SELECT id FROM {table} WHERE {new} % {k} <> 0 "
                                       "ORDER BY id LIMIT 1")).first()  # fmt: skip
            if bad is not None:
                raise RuntimeError(f"{table} row {bad[0]}: {new} is not a multiple of {k}; "
                                   "contract v1 cannot hold it")  # fmt: skip
    op.execute("UPDATE fee_lines SET price_e6 = price_e6 / 10000, qty_e4 = qty_e4 / 10, "
               "price_cap_e6 = price_cap_e6 / 10000")  # fmt: skip
    for old, new, _ in _LINES:
        _rename("fee_lines", new, old)
    op.execute("UPDATE catalog_items SET price_cap_e6 = price_cap_e6 / 10000")
    _catalog("price_cap_e6", "price_cap_fen")
    upd = _S.update().where(_S.c.id == sa.bindparam("k")).values(
        accumulators_before=sa.bindparam("b"), accumulators_after=sa.bindparam("a"),
        record=sa.bindparam("r"))  # fmt: skip
    three = ("basic_entitled_fen", "serious_base_fen", "assistance_entitled_fen")
    ids = [r[0] for r in bind.execute(sa.select(_S.c.id).order_by(_S.c.id))]
    for start in range(0, len(ids), _PAGE):
        q = sa.select(_S.c.id, _S.c.accumulators_before, _S.c.accumulators_after,
                      _S.c.record).where(_S.c.id.in_(ids[start : start + _PAGE]))  # fmt: skip
        values = [{"k": sid, "b": [_json(b)[n] for n in three], "a": [_json(a)[n] for n in three],
                   "r": record_to_v1(_json(r))} for sid, b, a, r in bind.execute(q)]  # fmt: skip
        if values:
            bind.execute(upd, values)
    for name in _PAID:
        if _sqlite():
            op.execute(f"ALTER TABLE accumulators DROP COLUMN {name}")
        else:
            op.drop_column("accumulators", name)
