"""Emergency procurement filings (应急采购备案): the provincial notice 四（一） — when the
platform's listed products cannot meet clinical need, a hospital buys in an emergency,
sells at zero mark-up (零差率销售) and files the purchase with the procurement
(medical-insurance) agency.

A hospital (or a clerk for it) files drug, supplier, purchase price, quantity and
reason (``file_purchase``; from an Excel/CSV file all-or-nothing: ``import_filings``);
the agency accepts or refuses it with a reason (``decide_filing``); every step is a
``drug_events`` row. From the purchase day an accepted filing's price is the price
that drug must be sold at by that hospital (``filed_price``, read by settlement
supervision); a settled line above it is a ``markup`` signal (``monitoring``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yibao.core.errors import Conflict, Forbidden, InvalidFile, InvalidRequest, NotFound
from yibao.core.money import scaled_int
from yibao.services.access.rights import Principal, own, require
from yibao.services.encounters.context import new_id
from yibao.services.registry.tabular import open_table
from yibao.store.uow import UnitOfWork

__all__ = [
    "FILING_COLUMNS",
    "FILING_STATE_NAMES",
    "DrugFilingIn",
    "DrugFilingView",
    "decide_filing",
    "file_purchase",
    "filed_price",
    "filing_view",
    "filings",
    "import_filings",
]

FILING_STATE_NAMES = {"filed": "已备案待受理", "accepted": "已受理", "refused": "不予受理"}
FILING_COLUMNS = ("provider", "code", "supplier", "price", "qty", "purchased_on", "reason")
_HEADERS = {"医疗机构编码": "provider", "药品编码": "code", "供应企业": "supplier",
            "采购单价": "price", "采购数量": "qty", "采购日期": "purchased_on",
            "应急采购理由": "reason"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class DrugFilingIn:
    provider: str
    code: str
    supplier: str
    price_e6: int
    qty_e4: int
    purchased_on: dt.date
    reason: str
    source: str | None = None


@dataclass(frozen=True, slots=True)
class DrugFilingView:
    id: str
    provider: str
    code: str
    supplier: str
    price_e6: int
    qty_e4: int
    purchased_on: dt.date
    reason: str
    state: str
    filed_at: dt.datetime
    updated_at: dt.datetime
    version: int
    source: str | None
    steps: tuple[dict[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "provider": self.provider, "code": self.code,
            "supplier": self.supplier, "price_e6": self.price_e6, "qty_e4": self.qty_e4,
            "purchased_on": self.purchased_on.isoformat(), "reason": self.reason,
            "state": self.state, "state_name": FILING_STATE_NAMES[self.state],
            "filed_at": self.filed_at.isoformat(), "updated_at": self.updated_at.isoformat(),
            "version": self.version, "source": self.source, "steps": list(self.steps),
        }  # fmt: skip


def _utc(t: dt.datetime) -> dt.datetime:
    return (t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def _view(row: Any, events: Sequence[Any] = ()) -> DrugFilingView:
    return DrugFilingView(
        id=row.id, provider=row.provider_code, code=row.code, supplier=row.supplier,
        price_e6=row.price_e6, qty_e4=row.qty_e4, purchased_on=row.purchased_on,
        reason=row.reason, state=row.state, filed_at=_utc(row.filed_at),
        updated_at=_utc(row.updated_at), version=row.version, source=row.source,
        steps=tuple({"seq": e.seq, "state_from": e.state_from, "state_to": e.state_to,
                     "at": _utc(e.at).isoformat(), "actor": e.actor, "role": e.role,
                     "reason": e.reason} for e in events),
    )  # fmt: skip


def _checks(uow: UnitOfWork, f: DrugFilingIn, where: str = "") -> list[tuple[str, str]]:
    p = []
    if not f.provider or not uow.providers.where(code=f.provider, on=f.purchased_on):
        p.append(
            (f"{where}provider", f"医疗机构 {f.provider} 在 {f.purchased_on} 不是定点医疗机构")
        )
    if not f.code or not uow.catalog.where(code=f.code, on=f.purchased_on):
        p.append((f"{where}code", f"药品编码 {f.code} 在 {f.purchased_on} 不在医保目录中"))
    if not f.supplier.strip() or len(f.supplier) > 100:
        p.append((f"{where}supplier", "供应企业不能为空，且不超过 100 个字符"))
    if f.price_e6 <= 0:
        p.append((f"{where}price", "采购单价必须大于 0"))
    if f.qty_e4 <= 0:
        p.append((f"{where}qty", "采购数量必须大于 0"))
    if not f.reason.strip() or len(f.reason) > 200:
        p.append((f"{where}reason", "应急采购理由不能为空，且不超过 200 个字符"))
    return p


def _insert(uow: UnitOfWork, caller: Principal, fs: Sequence[DrugFilingIn],
            now: dt.datetime) -> list[str]:  # fmt: skip
    rows: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for f in fs:
        fid = new_id("EP", now)
        rows.append({"id": fid, "provider_code": f.provider, "code": f.code,
                     "supplier": f.supplier.strip(), "price_e6": f.price_e6,
                     "qty_e4": f.qty_e4, "purchased_on": f.purchased_on,
                     "reason": f.reason.strip(), "state": "filed", "filed_at": now,
                     "updated_at": now, "version": 1, "source": f.source})  # fmt: skip
        events.append({"subject": "filing", "subject_id": fid, "seq": 1, "state_from": None,
                       "state_to": "filed", "at": now, "actor": caller.actor,
                       "role": caller.audit_role, "reason": None})  # fmt: skip
    uow.drugs.insert_filings(rows, events)
    return [str(r["id"]) for r in rows]


def file_purchase(uow: UnitOfWork, caller: Principal, f: DrugFilingIn, *,
                  now: dt.datetime) -> DrugFilingView:  # fmt: skip
    """A hospital files an emergency purchase (a hospital only for itself). Filing the
    same purchase again (hospital, drug, supplier, day, price) answers the first."""
    require(caller, "drugs.file")
    if caller.role == "hospital" and caller.provider_code != f.provider:
        raise Forbidden(f"医疗机构只能为本机构备案（{caller.provider_code}），不能为 {f.provider}")
    with uow(write=True):
        problems = _checks(uow, f)
        if problems:
            raise InvalidRequest.of(problems)
        same = uow.drugs.duplicate_filing(f.provider, f.code, f.supplier.strip(),
                                          f.purchased_on, f.price_e6)  # fmt: skip
        if same is not None:
            return _view(same, uow.drugs.events("filing", same.id))
        (fid,) = _insert(uow, caller, [f], now)
        uow.commit()
    return filing_view(uow, caller, fid)


def import_filings(uow: UnitOfWork, caller: Principal, path: Path, *,
                   now: dt.datetime) -> list[str]:  # fmt: skip
    """File every row of an Excel/CSV file (``FILING_COLUMNS``), all-or-nothing."""
    require(caller, "drugs.file")
    table = open_table(path)
    header = [_HEADERS.get(h.strip(), h.strip()) for h in table.header]
    missing = [c for c in FILING_COLUMNS if c not in header]
    if missing:
        table.close()
        raise InvalidFile(f"{path.name}: 缺少列 {', '.join(missing)}",
                          [("header", f"缺少列 {c}") for c in missing])  # fmt: skip
    at = {c: header.index(c) for c in FILING_COLUMNS}
    parsed: list[DrugFilingIn] = []
    problems: list[tuple[str, str]] = []
    try:
        with uow(write=True):
            for row_no, cells in table.rows:
                cell = {c: (cells[at[c]] if at[c] < len(cells) else "").strip()
                        for c in FILING_COLUMNS}  # fmt: skip
                if not any(cell.values()):
                    continue
                f, mine = _parse_row(row_no, cell, path.name)
                if f is not None and not mine:
                    own_problem = caller.role == "hospital" and f.provider != caller.provider_code
                    mine = [(f"row {row_no}, provider", "只能为本机构备案")] if own_problem else []
                    mine += _checks(uow, f, f"row {row_no}, ")
                problems += mine
                if f is not None and not mine:
                    parsed.append(f)
            if problems:
                bad = len({p[0].split(",")[0] for p in problems})
                raise InvalidFile(
                    f"{path.name}: {bad} 行有错误，整个文件未导入；第一处 "
                    f"{problems[0][0]}: {problems[0][1]}",
                    problems,
                    bad,
                )
            ids = _insert(uow, caller, parsed, now)
            uow.commit()
            return ids
    finally:
        table.close()


def _parse_row(row_no: int, cell: dict[str, str],
               name: str) -> tuple[DrugFilingIn | None, list[tuple[str, str]]]:  # fmt: skip
    problems = []
    values: dict[str, Any] = {}
    for col, places in (("price", 6), ("qty", 4)):
        try:
            values[col] = scaled_int(cell[col], places)
        except ValueError:
            problems.append((f"row {row_no}, {col}", f"“{cell[col]}”不是最多 {places} 位小数的数"))
    try:
        values["on"] = dt.date.fromisoformat(cell["purchased_on"][:10])
    except ValueError:
        problems.append((f"row {row_no}, purchased_on", f"“{cell['purchased_on']}”不是日期"))
    if problems:
        return None, problems
    return DrugFilingIn(cell["provider"], cell["code"], cell["supplier"], values["price"],
                        values["qty"], values["on"], cell["reason"],
                        f"{name}:{row_no}"[-100:]), []  # fmt: skip


def decide_filing(uow: UnitOfWork, caller: Principal, filing_id: str, accept: bool, *,
                  now: dt.datetime, reason: str | None = None) -> DrugFilingView:  # fmt: skip
    """The agency accepts (受理) or refuses a filing (a reason required to refuse)."""
    require(caller, "drugs.accept")
    reason = (reason or "").strip() or None
    if not accept and reason is None:
        raise InvalidRequest.of([("reason", "不予受理须说明理由")])
    to = "accepted" if accept else "refused"
    with uow(write=True):
        row = uow.drugs.filing(filing_id, lock=True)
        if row is None:
            raise NotFound(f"应急采购备案 {filing_id} 不存在")
        if row.state != "filed":
            raise Conflict(f"应急采购备案 {filing_id} 已{FILING_STATE_NAMES[row.state]}")
        seq = len(uow.drugs.events("filing", filing_id)) + 1
        event = {
            "subject": "filing",
            "subject_id": filing_id,
            "seq": seq,
            "state_from": row.state,
            "state_to": to,
            "at": now,
            "actor": caller.actor,
            "role": caller.audit_role,
            "reason": reason[:200] if reason else None,
        }
        if not uow.drugs.move("filing", filing_id, row.version,
                              {"state": to, "updated_at": now}, event):  # fmt: skip
            raise Conflict(f"应急采购备案 {filing_id} 已被他人处理，请刷新")
        uow.commit()
    return filing_view(uow, caller, filing_id)


def _may_read(caller: Principal) -> None:
    if not caller.may("drugs.file"):
        require(caller, "drugs.read")


def filing_view(uow: UnitOfWork, caller: Principal, filing_id: str) -> DrugFilingView:
    _may_read(caller)
    with uow:
        row = uow.drugs.filing(filing_id)
        if row is None:
            raise NotFound(f"应急采购备案 {filing_id} 不存在")
        own(caller, row.provider_code, "应急采购备案")
        return _view(row, uow.drugs.events("filing", filing_id))


def filings(uow: UnitOfWork, caller: Principal, *, states: Sequence[str] | None = None,
            provider: str | None = None, limit: int = 500) -> list[DrugFilingView]:  # fmt: skip
    _may_read(caller)
    if caller.role == "hospital":
        provider = caller.provider_code
    with uow:
        return [_view(r) for r in uow.drugs.filings(states=states, provider=provider,
                                                    limit=limit)]  # fmt: skip


def filed_price(uow: UnitOfWork, provider: str, code: str, day: dt.date) -> int | None:
    """The purchase price (``price_e6``) ``code`` must be sold at by ``provider`` on
    ``day`` under an accepted emergency-purchase filing (零差率销售), or None. A read for
    settlement supervision: no caller check (the caller's use case does its own)."""
    with uow:
        row = uow.drugs.accepted_filing_on(provider, code, day)
        return None if row is None else int(row.price_e6)
