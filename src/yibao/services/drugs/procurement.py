"""Procurement data in (采购与配送数据): the purchasing platform's orders and deliveries
from CSV, Excel (.xlsx) or Parquet, imported all-or-nothing — every row checked first,
a bad file refused whole naming each bad row, column and reason; a re-import of the same
file changes nothing, a changed order closes its old version (docs/DRUGS.md).

Columns (a header row; English names, or the Chinese in ``HEADERS``):
order_id, order_date, provider, code, supplier, price (yuan, ≤ 6 decimals),
qty_ordered, qty_delivered (≤ 4 decimals), delivery_date (empty: not delivered).
Parquet may carry ``price_e6``, ``qty_ordered_e4`` and ``qty_delivered_e4`` as integers
instead (the synthetic generator's form). The orders of a file become polars frames for
the scan (``orders_frame``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from yibao.core.errors import InvalidFile
from yibao.core.money import scaled_int
from yibao.services.access.rights import Principal, require
from yibao.services.drugs.signals import ORDER_SCHEMA
from yibao.services.registry.tabular import open_table
from yibao.store.uow import UnitOfWork

__all__ = ["COLUMNS", "HEADERS", "OrdersImported", "import_orders", "orders_frame"]

COLUMNS = ("order_id", "order_date", "provider", "code", "supplier", "price", "qty_ordered",
           "qty_delivered", "delivery_date")  # fmt: skip
HEADERS = {
    "订单编号": "order_id", "订单日期": "order_date", "医疗机构编码": "provider",
    "药品编码": "code", "配送企业": "supplier", "采购单价": "price", "采购数量": "qty_ordered",
    "配送数量": "qty_delivered", "配送日期": "delivery_date",
}  # fmt: skip
_E_COLUMNS = {"price_e6": "price", "qty_ordered_e4": "qty_ordered",
              "qty_delivered_e4": "qty_delivered"}  # fmt: skip
_MAX_PROBLEMS = 200


@dataclass(frozen=True, slots=True)
class OrdersImported:
    source: str
    rows_read: int
    inserted: int  # new orders and changed ones
    superseded: int  # old versions closed
    unchanged: int
    change_set_id: int | None  # None: nothing changed (an idempotent re-import)

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "rows_read": self.rows_read, "inserted": self.inserted,
                "superseded": self.superseded, "unchanged": self.unchanged,
                "change_set_id": self.change_set_id}  # fmt: skip


def _date(cell: str) -> dt.date:
    try:
        return dt.date.fromisoformat(cell[:10]) if len(cell) in (10, 19) else _bad_date(cell)
    except ValueError:
        return _bad_date(cell)


def _bad_date(cell: str) -> dt.date:
    raise ValueError(f"“{cell}”不是日期（YYYY-MM-DD）")


def _code(limit: int) -> Callable[[str], str]:
    def parse(cell: str) -> str:
        if not cell:
            raise ValueError("不能为空")
        if len(cell) > limit:
            raise ValueError(f"超过 {limit} 个字符")
        return cell

    return parse


def _scaled(places: int, *, positive: bool) -> Callable[[str], int]:
    def parse(cell: str) -> int:
        try:
            n = scaled_int(cell, places)
        except ValueError:
            raise ValueError(f"“{cell}”不是最多 {places} 位小数的数") from None
        if n < 0 or (positive and n == 0):
            raise ValueError(f"“{cell}”必须大于 0" if positive else f"“{cell}”不能为负")
        return n

    return parse


def _integer(*, positive: bool) -> Callable[[str], int]:
    def parse(cell: str) -> int:
        if not cell.lstrip("-").isdigit():
            raise ValueError(f"“{cell}”不是整数")
        n = int(cell)
        if n < 0 or (positive and n == 0):
            raise ValueError(f"“{cell}”必须大于 0" if positive else f"“{cell}”不能为负")
        return n

    return parse


def _parsers(e_form: bool) -> dict[str, Callable[[str], Any]]:
    return {
        "order_id": _code(40), "order_date": _date, "provider": _code(20), "code": _code(50),
        "supplier": _code(100),
        "price": _integer(positive=True) if e_form else _scaled(6, positive=True),
        "qty_ordered": _integer(positive=True) if e_form else _scaled(4, positive=True),
        "qty_delivered": _integer(positive=False) if e_form else _scaled(4, positive=False),
    }  # fmt: skip


def _cells(
    path: Path,
) -> tuple[list[str], Iterable[tuple[int, list[str]]], bool, Callable[[], None]]:
    """The header (our names) and each row's cells as text; whether numbers are e6/e4."""
    if path.suffix.lower() == ".parquet":
        try:
            df = pl.read_parquet(path)
        except Exception as exc:  # polars raises several kinds for a bad file
            raise InvalidFile(f"{path.name}: cannot read Parquet: {exc}") from None
        header = [_E_COLUMNS.get(HEADERS.get(c, c), HEADERS.get(c, c)) for c in df.columns]
        e_form = any(c in _E_COLUMNS for c in df.columns)
        text = df.select(pl.all().cast(pl.String).fill_null(""))
        rows = ((i, list(r)) for i, r in enumerate(text.iter_rows(), start=2))
        return header, rows, e_form, lambda: None
    table = open_table(path)
    header = [HEADERS.get(h.strip(), h.strip()) for h in table.header]
    return header, table.rows, False, table.close


Checked = tuple[list[dict[str, Any]], list[tuple[str, str]], int, int]


def _read(path: Path) -> Checked:
    header, rows, e_form, close = _cells(path)
    try:
        return _check_rows(path, header, rows, e_form)
    finally:
        close()


def _check_rows(path: Path, header: list[str], rows: Iterable[tuple[int, list[str]]],
                e_form: bool) -> Checked:  # fmt: skip
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise InvalidFile(f"{path.name}: 缺少列 {', '.join(missing)}",
                          [("header", f"缺少列 {c}") for c in missing])  # fmt: skip
    at = {c: header.index(c) for c in COLUMNS}
    parsers = _parsers(e_form)
    good: list[dict[str, Any]] = []
    problems: list[tuple[str, str]] = []
    bad_rows, n = 0, 0
    seen: dict[str, int] = {}
    for row_no, cells in rows:
        n += 1
        cell = {c: (cells[at[c]] if at[c] < len(cells) else "").strip() for c in COLUMNS}
        if not any(cell.values()):
            continue
        out, mine = _row(row_no, cell, parsers, seen)
        if mine:
            bad_rows += 1
            problems += mine if len(problems) < _MAX_PROBLEMS else []
        else:
            good.append(out)
    return good, problems, bad_rows, n


def _row(row_no: int, cell: dict[str, str], parsers: dict[str, Callable[[str], Any]],
         seen: dict[str, int]) -> tuple[dict[str, Any], list[tuple[str, str]]]:  # fmt: skip
    out: dict[str, Any] = {"source_row": row_no}
    problems: list[tuple[str, str]] = []
    for c, parse in parsers.items():
        try:
            out[c] = parse(cell[c])
        except ValueError as exc:
            problems.append((f"row {row_no}, {c}", str(exc)))
    raw = cell["delivery_date"]
    try:
        out["delivery_date"] = _date(raw) if raw else None
    except ValueError as exc:
        problems.append((f"row {row_no}, delivery_date", str(exc)))
    if problems:
        return out, problems
    if out["qty_delivered"] > out["qty_ordered"]:
        problems.append((f"row {row_no}, qty_delivered", "配送数量大于采购数量"))
    if out["qty_delivered"] > 0 and out["delivery_date"] is None:
        problems.append((f"row {row_no}, delivery_date", "已配送的订单须填写配送日期"))
    if out["delivery_date"] is not None and out["delivery_date"] < out["order_date"]:
        problems.append((f"row {row_no}, delivery_date", "配送日期早于订单日期"))
    if out["order_id"] in seen:
        problems.append(
            (
                f"row {row_no}, order_id",
                f"订单编号 {out['order_id']} 与第 {seen[out['order_id']]} 行重复",
            )
        )
    seen.setdefault(out["order_id"], row_no)
    return out, problems


def _references(uow: UnitOfWork, rows: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    providers = {r["provider"] for r in rows}
    codes = {r["code"] for r in rows}
    known_p = {p.code for p in uow.providers.where(code=sorted(providers))} if providers else set()
    known_c = {c.code for c in uow.catalog.where(code=sorted(codes))} if codes else set()
    problems = []
    for r in rows:
        if r["provider"] not in known_p:
            problems.append((f"row {r['source_row']}, provider",
                             f"医疗机构 {r['provider']} 不在定点医疗机构登记中"))  # fmt: skip
        if r["code"] not in known_c:
            problems.append(
                (f"row {r['source_row']}, code", f"药品编码 {r['code']} 不在医保目录中")
            )
    return problems


def import_orders(uow: UnitOfWork, caller: Principal, path: Path, *,
                  now: dt.datetime) -> OrdersImported:  # fmt: skip
    """Import the orders of ``path`` all-or-nothing (``InvalidFile`` naming every bad row)."""
    require(caller, "drugs.import")
    raw = path.read_bytes() if path.exists() else b""
    if not raw:
        raise InvalidFile(f"{path.name}: 文件不存在或为空")
    sha = hashlib.sha256(raw).hexdigest()
    rows, problems, bad_rows, n = _read(path)
    with uow(write=True):
        if not problems:
            problems = _references(uow, rows)
            bad_rows = len({p[0].split(",")[0] for p in problems})
        if problems:
            raise InvalidFile(
                f"{path.name}: {bad_rows} 行有错误，整个文件未导入；第一处 {problems[0][0]}: "
                f"{problems[0][1]}",
                problems[:_MAX_PROBLEMS],
                rows_with_problems=bad_rows,
            )
        current = uow.drugs.current_orders([r["order_id"] for r in rows])
        changed = [r for r in rows if _differs(current.get(r["order_id"]), r)]
        if not changed:
            return OrdersImported(path.name, n, 0, 0, len(rows), None)
        cs = uow.open_change_set("drug_orders", path.name, sha, caller.actor, now)
        old = [current[r["order_id"]].id for r in changed if r["order_id"] in current]
        uow.drugs.supersede_orders(old, cs.id)
        uow.drugs.insert_orders([_stored(r, cs.id) for r in changed])
        cs.rows_read, cs.rows_inserted, cs.rows_superseded = n, len(changed), len(old)
        uow.session.flush()
        uow.commit()
        return OrdersImported(path.name, n, len(changed), len(old), len(rows) - len(changed),
                              cs.id)  # fmt: skip


_STORED = ("order_date", "provider_code", "code", "supplier", "price_e6", "qty_ordered_e4",
           "qty_delivered_e4", "delivery_date")  # fmt: skip


def _stored(r: dict[str, Any], change_set_id: int) -> dict[str, Any]:
    return {
        "order_id": r["order_id"], "order_date": r["order_date"], "provider_code": r["provider"],
        "code": r["code"], "supplier": r["supplier"], "price_e6": r["price"],
        "qty_ordered_e4": r["qty_ordered"], "qty_delivered_e4": r["qty_delivered"],
        "delivery_date": r["delivery_date"], "change_set_id": change_set_id,
        "superseded_by": None, "source_row": r["source_row"],
    }  # fmt: skip


def _differs(old: Any, r: dict[str, Any]) -> bool:
    if old is None:
        return True
    new = _stored(r, 0)
    return any(getattr(old, k) != new[k] for k in _STORED)


def orders_frame(rows: Sequence[Any]) -> pl.DataFrame:
    """Stored order rows (``DrugRepo.orders``) as the scan's frame."""
    return pl.DataFrame([tuple(r) for r in rows], schema=ORDER_SCHEMA, orient="row")
