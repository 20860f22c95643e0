"""Monitoring: scan the region's data for signals and keep each one's state
(渝医保发〔2020〕3号 四（四）: 及时调查了解情况并及时上报; 短缺线索 及时通报).

``scan_region`` reads the current orders (from ``baseline`` days before ``start``),
the settled use of the watched drugs and the lines of drugs bought in an emergency,
computes every signal (``signals.scan``) and records the ones not seen before (a
signal is its kind, drug, hospital or supplier and first trigger day: a re-scan records
nothing twice). Each signal then moves::

    new ─investigate─> investigating ─report─> reported
     │                      └────dismiss (with a reason)──> dismissed
     └──report / dismiss directly

with who, when and why appended to ``drug_events``; the signal row is the current state
(a projection moved on under its version).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from yibao.core.errors import Conflict, InvalidRequest, NotFound
from yibao.services.access.rights import Principal, require
from yibao.services.drugs.procurement import orders_frame
from yibao.services.drugs.rules import Rules, monitoring_rules
from yibao.services.drugs.signals import (
    FILING_SCHEMA,
    LINE_SCHEMA,
    LISTED_SCHEMA,
    USAGE_SCHEMA,
    Frames,
    scan,
)
from yibao.services.drugs.watchlist import watch_list
from yibao.services.encounters.context import new_ids
from yibao.store.uow import UnitOfWork

__all__ = [
    "KIND_NAMES",
    "STATE_NAMES",
    "Scanned",
    "SignalView",
    "frames_from_store",
    "move_signal",
    "scan_region",
    "signal",
    "signals",
]

KIND_NAMES = {
    "price": "价格高于近期基准", "listed": "价格高于挂网价", "quantity": "采购数量异常",
    "delivery": "配送率偏低", "shortage": "短缺线索（库存天数不足）",
    "markup": "应急采购药品加价销售",
}  # fmt: skip
STATE_NAMES = {"new": "新发现", "investigating": "调查中", "reported": "已上报",
               "dismissed": "已排除"}  # fmt: skip
_MOVES = {
    "investigate": ({"new"}, "investigating"),
    "report": ({"new", "investigating"}, "reported"),
    "dismiss": ({"new", "investigating"}, "dismissed"),
}


@dataclass(frozen=True, slots=True)
class Scanned:
    start: dt.date
    end: dt.date
    found: int  # signals the scan computed
    recorded: int  # new ones recorded (the rest were known)
    by_kind: dict[str, int]
    rules: str

    def as_dict(self) -> dict[str, Any]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(),
                "found": self.found, "recorded": self.recorded, "by_kind": self.by_kind,
                "rules": self.rules}  # fmt: skip


@dataclass(frozen=True, slots=True)
class SignalView:
    id: str
    kind: str
    code: str
    provider: str
    supplier: str
    first_day: dt.date
    last_day: dt.date
    days: int
    value: int
    reference: int | None
    measure: str
    evidence: tuple[dict[str, Any], ...]
    clause: str
    rules: str
    state: str
    detected_at: dt.datetime
    updated_at: dt.datetime
    version: int
    steps: tuple[dict[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "kind_name": KIND_NAMES[self.kind],
            "code": self.code, "provider": self.provider or None,
            "supplier": self.supplier or None, "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(), "days": self.days, "value": self.value,
            "reference": self.reference, "measure": self.measure,
            "evidence": list(self.evidence), "clause": self.clause, "rules": self.rules,
            "state": self.state, "state_name": STATE_NAMES[self.state],
            "detected_at": self.detected_at.isoformat(),
            "updated_at": self.updated_at.isoformat(), "version": self.version,
            "steps": list(self.steps),
        }  # fmt: skip


def _utc(t: dt.datetime) -> dt.datetime:
    return (t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def _view(row: Any, events: Sequence[Any] = ()) -> SignalView:
    return SignalView(
        id=row.id, kind=row.kind, code=row.code, provider=row.provider_code,
        supplier=row.supplier, first_day=row.first_day, last_day=row.last_day, days=row.days,
        value=row.value, reference=row.reference, measure=row.measure,
        evidence=tuple(row.evidence), clause=row.clause, rules=row.rules, state=row.state,
        detected_at=_utc(row.detected_at), updated_at=_utc(row.updated_at),
        version=row.version,
        steps=tuple({"seq": e.seq, "state_from": e.state_from, "state_to": e.state_to,
                     "at": _utc(e.at).isoformat(), "actor": e.actor, "role": e.role,
                     "reason": e.reason} for e in events),
    )  # fmt: skip


def _lookback(rules: Rules) -> int:
    s = rules.signals
    return max(s.price.baseline_days, s.quantity.window_days * 2 + s.quantity.baseline_days,
               s.stock.warmup_days) + rules.evidence_days  # fmt: skip


def frames_from_store(uow: UnitOfWork, start: dt.date, end: dt.date, rules: Rules,
                      usage: pl.DataFrame | None = None,
                      lines: pl.DataFrame | None = None) -> Frames:  # fmt: skip
    """What a scan of ``start`` … ``end`` reads from the store: orders and settled use of
    the watched drugs (the edition in force on ``end``; from the data's first day, so
    stock counts from there), their listed prices, the emergency purchases' settled
    lines and accepted filings. ``usage`` replaces the settled use (the demo's
    synthetic month), and ``lines`` the emergency purchases' settled lines."""
    first_order, _ = uow.drugs.order_span()
    first = min(first_order or start, start - dt.timedelta(days=_lookback(rules)))
    watched = watch_list(uow, end, rules)
    codes = [w.code for w in watched]
    filings = uow.drugs.accepted_filings()
    codes_all = sorted({*codes, *(f.code for f in filings)})
    orders = orders_frame(uow.drugs.orders(first, end, codes_all))
    if usage is None:
        used = uow.drugs.usage(codes_all, first, end)
        usage = pl.DataFrame([tuple(r) for r in used], schema=USAGE_SCHEMA, orient="row")
    listed = pl.DataFrame(
        [(w.code, w.listed_price_e6) for w in watched if w.listed_price_e6],
        schema=LISTED_SCHEMA, orient="row",
    )  # fmt: skip
    pairs = sorted({(f.provider_code, f.code) for f in filings})
    if lines is None:
        got = uow.drugs.settled_lines(pairs, first, end)
        lines = pl.DataFrame([tuple(r)[:5] for r in got], schema=LINE_SCHEMA, orient="row")
    filings_df = pl.DataFrame(
        [(f.id, f.provider_code, f.code, f.price_e6, f.purchased_on, None) for f in filings],
        schema=FILING_SCHEMA, orient="row",
    )  # fmt: skip
    return Frames.of(orders, usage, listed, lines, filings_df)


def scan_region(uow: UnitOfWork, caller: Principal, start: dt.date, end: dt.date, *,
                now: dt.datetime, usage: pl.DataFrame | None = None,
                lines: pl.DataFrame | None = None) -> Scanned:  # fmt: skip
    """Scan ``start`` … ``end`` and record the signals not recorded before (``usage``
    and ``lines`` as in ``frames_from_store``)."""
    require(caller, "drugs.scan")
    if end < start:
        raise InvalidRequest.of([("end", "结束日期早于开始日期")])
    rules = monitoring_rules(end)
    with uow(write=True):
        frames = frames_from_store(uow, start, end, rules, usage, lines)
        found = scan(frames, rules, start, end)
        known = uow.drugs.signal_keys(start, end)
        keys = list(zip(found["kind"], found["code"], found["provider"], found["supplier"],
                        found["first_day"], strict=True))  # fmt: skip
        fresh = found.filter(pl.Series([k not in known for k in keys], dtype=pl.Boolean))
        ids = new_ids("DS", now, fresh.height)
        tag = f"{rules.id}@{rules.version}"
        rows = [
            {"id": i, "kind": s["kind"], "code": s["code"], "provider_code": s["provider"],
             "supplier": s["supplier"], "first_day": s["first_day"], "last_day": s["last_day"],
             "days": s["days"], "value": s["value"], "reference": s["reference"],
             "measure": s["measure"], "clause": rules.clause(s["kind"]), "rules": tag,
             "evidence": [{"day": e["day"].isoformat(), "value": e["value"],
                           "reference": e["reference"]} for e in s["evidence"] or ()],
             "state": "new", "detected_at": now, "updated_at": now, "version": 1}
            for i, s in zip(ids, fresh.iter_rows(named=True), strict=True)
        ]  # fmt: skip
        events = [
            {"subject": "signal", "subject_id": r["id"], "seq": 1, "state_from": None,
             "state_to": "new", "at": now, "actor": caller.actor, "role": caller.audit_role,
             "reason": f"扫描 {start}～{end}（{tag}）"}
            for r in rows
        ]  # fmt: skip
        uow.drugs.insert_signals(rows, events)
        uow.commit()
    by_kind = {k: int(n) for k, n in found.group_by("kind").len().iter_rows()}
    return Scanned(start, end, found.height, len(rows), dict(sorted(by_kind.items())), tag)


def move_signal(uow: UnitOfWork, caller: Principal, signal_id: str, action: str, *,
                now: dt.datetime, reason: str | None = None,
                version: int | None = None) -> SignalView:  # fmt: skip
    """investigate | report | dismiss (a reason required to dismiss); ``version`` (when
    given) must be the signal's current one (a stale screen is refused)."""
    require(caller, "drugs.signal")
    if action not in _MOVES:
        raise InvalidRequest.of([("action", f"未知操作 {action}")])
    reason = (reason or "").strip() or None
    if action == "dismiss" and reason is None:
        raise InvalidRequest.of([("reason", "排除信号须说明理由")])
    if reason is not None and len(reason) > 200:
        raise InvalidRequest.of([("reason", "理由不能超过 200 个字符")])
    allowed, to = _MOVES[action]
    with uow(write=True):
        row = uow.drugs.signal(signal_id, lock=True)
        if row is None:
            raise NotFound(f"信号 {signal_id} 不存在")
        if version is not None and version != row.version:
            raise Conflict(f"信号 {signal_id} 已被他人处理（版本 {row.version}），请刷新")
        if row.state not in allowed:
            raise Conflict(f"信号 {signal_id} 状态为“{STATE_NAMES[row.state]}”，不能{action}")
        seq = len(uow.drugs.events("signal", signal_id)) + 1
        event = {"subject": "signal", "subject_id": signal_id, "seq": seq,
                 "state_from": row.state, "state_to": to, "at": now, "actor": caller.actor,
                 "role": caller.audit_role, "reason": reason}  # fmt: skip
        if not uow.drugs.move("signal", signal_id, row.version,
                              {"state": to, "updated_at": now}, event):  # fmt: skip
            raise Conflict(f"信号 {signal_id} 已被他人处理，请刷新")
        uow.commit()
    return signal(uow, caller, signal_id)


def signal(uow: UnitOfWork, caller: Principal, signal_id: str) -> SignalView:
    """One signal with its evidence and every step."""
    require(caller, "drugs.read")
    with uow:
        row = uow.drugs.signal(signal_id)
        if row is None:
            raise NotFound(f"信号 {signal_id} 不存在")
        return _view(row, uow.drugs.events("signal", signal_id))


def signals(uow: UnitOfWork, caller: Principal, *, states: Sequence[str] | None = None,
            kinds: Sequence[str] | None = None, code: str | None = None,
            provider: str | None = None, first: dt.date | None = None,
            last: dt.date | None = None, limit: int = 500) -> list[SignalView]:  # fmt: skip
    """Signals, newest first."""
    require(caller, "drugs.read")
    with uow:
        rows = uow.drugs.signals(states=states, kinds=kinds, code=code, provider=provider,
                                 first=first, last=last, limit=limit)  # fmt: skip
        return [_view(r) for r in rows]
