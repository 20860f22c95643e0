"""Fee lines (2301 上传, 2302 撤销): idempotent per ``feedetl_sn``, resolved against the
treatment place's catalog when uploaded, frozen while the stay is settled."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from yibao.core.engine.lines import settle_lines
from yibao.core.engine.model import LineResult
from yibao.core.engine.overlay import covid_applies
from yibao.core.errors import (
    Conflict,
    InvalidRequest,
    NotFound,
    NotInCatalog,
    Problem,
)
from yibao.core.money import MAX_I64, line_amount
from yibao.services.access.rights import Principal, require
from yibao.services.encounters.context import Context
from yibao.services.encounters.state import (
    EncounterState,
    FeeIn,
    StoredLine,
    Uploaded,
    as_utc,
    business_day,
    change_ops,
    engine_encounter,
    load_encounter,
    record_change,
    require_open,
)
from yibao.services.encounters.validation import LENGTH, MIN_I64, Checks
from yibao.services.registry import catalog
from yibao.store.encounter_repo import insert_rows
from yibao.store.service_tables import FeeLineRow
from yibao.store.uow import UnitOfWork

# -- fee lines ------------------------------------------------------------------------------


def _same(r: Any, f: FeeIn, amount: int) -> bool:
    return (r.code == f.code or r.hospital_code == f.code) and (r.price_e6, r.qty_e4,
            r.amount_fen, r.reverses_sn) == (f.price_e6, f.qty_e4, amount,
                                             f.reverses_sn)  # fmt: skip


def _amount(f: FeeIn) -> int:
    magnitude = line_amount(f.price_e6, abs(f.qty_e4))
    return -magnitude if f.qty_e4 < 0 else magnitude


def _out_of_bounds(f: FeeIn) -> tuple[str, str] | None:
    """The line's field outside the contract's bounds (SETTLEMENT.md §1: ``price_e6``,
    ``|qty_e4|`` and their product in 0 … 2^63 − 1; integers, never a bool), or None."""
    for name in ("price_e6", "qty_e4", "amount_fen"):
        value = getattr(f, name)
        if value is not None and type(value) is not int:
            return name, f"{name} must be an integer, not {type(value).__name__}"
    if f.amount_fen is not None and not MIN_I64 <= f.amount_fen <= MAX_I64:
        return "amount_fen", f"amount_fen is not in {MIN_I64} … {MAX_I64}"
    if not 0 <= f.price_e6 <= MAX_I64:
        return "price_e6", f"price_e6 {f.price_e6} is not in 0 … {MAX_I64}"
    if not -MAX_I64 <= f.qty_e4 <= MAX_I64:
        return "qty_e4", f"qty_e4 {f.qty_e4} is not in −{MAX_I64} … {MAX_I64}"
    if f.price_e6 * abs(f.qty_e4) > MAX_I64:
        return "qty_e4", f"price_e6 × qty_e4 exceeds {MAX_I64} (a line of about 922 million yuan)"
    return None


_MAX_LINES = 5000


def _line_checks(ctx: Context, fees: Sequence[FeeIn]) -> None:
    """Each line's identifiers and texts, lengths from their columns, and its service
    time within the date window (services.validation)."""
    c = Checks(ctx.now())
    if len(fees) > _MAX_LINES:
        c.add("lines", f"more than {_MAX_LINES} lines in one upload")
    for i, f in enumerate(fees):
        at = f"lines.{i}"
        for name, column in (("sn", "sn"), ("code", "code"), ("reverses_sn", "sn"),
                             ("hospital_code", "hospital_code")):  # fmt: skip
            c.code(f"{at}.{name}", getattr(f, name), LENGTH[column])
        for name in ("dept", "doctor", "order_no"):
            c.text(f"{at}.{name}", getattr(f, name), LENGTH[name])
        c.time(f"{at}.service_time", f.service_time)
    c.done()


def _fee_problems(fees: Sequence[FeeIn], existing: dict[str, Any]) -> list[Problem]:
    """Amounts, serial numbers and refunds (a refund names an active line of the same
    code and price and returns no more than it has left)."""
    problems: list[Problem] = []
    seen: set[str] = set()
    left = {sn: r.qty_e4 for sn, r in existing.items() if r.qty_e4 > 0}
    price = {sn: (r.code, r.price_e6) for sn, r in existing.items()}
    for r in existing.values():
        if r.qty_e4 < 0 and r.reverses_sn in left:
            left[r.reverses_sn] += r.qty_e4
    for i, f in enumerate(fees):
        at, tag = f"lines.{i}", f"feedetl_sn {f.sn}"
        if f.sn in seen:
            problems.append((f"{at}.sn", f"{tag} appears twice in the upload"))
        seen.add(f.sn)
        if bound := _out_of_bounds(f):
            problems.append((f"{at}.{bound[0]}", f"{tag}: {bound[1]}"))
            continue
        if f.amount_fen is not None and f.amount_fen != _amount(f):
            problems.append((f"{at}.amount_fen", f"{tag}: amount {f.amount_fen} is not price × "
                             f"qty = {_amount(f)} (rounded half up)"))  # fmt: skip
        if f.qty_e4 >= 0:
            if f.reverses_sn is not None:
                problems.append((f"{at}.reverses_sn", f"{tag}: only a refund (qty < 0) "
                                 "reverses a line"))  # fmt: skip
            if f.sn not in existing:
                left[f.sn], price[f.sn] = f.qty_e4, (f.code, f.price_e6)
            continue
        if f.sn in existing:
            continue
        target = f.reverses_sn
        if target is None or target not in left:
            problems.append((f"{at}.reverses_sn", f"{tag}: a refund (qty < 0) must name an "
                             "uploaded line it reverses"))  # fmt: skip
        elif price[target] != (f.code, f.price_e6):
            problems.append((f"{at}.reverses_sn", f"{tag}: refund of {target} with another "
                             "code or price"))  # fmt: skip
        elif -f.qty_e4 > left[target]:
            problems.append((f"{at}.qty_e4", f"{tag}: refunds {-f.qty_e4} of {target}, "
                             f"which has {left[target]} left"))  # fmt: skip
        else:
            left[target] += f.qty_e4
    return problems


def _splits(lines: Sequence[StoredLine], covered: bool) -> tuple[LineResult, ...]:
    """Each line's split (§4); a refund line is its magnitude's split, negated."""
    out = []
    for ln in lines:
        r = settle_lines([ln.engine_line(abs(ln.qty_e4))], covered)[0][0]
        if ln.qty_e4 < 0:
            r = r._replace(det_item_fee_sumamt=-r.det_item_fee_sumamt,
                           fulamt_ownpay_amt=-r.fulamt_ownpay_amt, overlmt_amt=-r.overlmt_amt,
                           preselfpay_amt=-r.preselfpay_amt,
                           inscp_scp_amt=-r.inscp_scp_amt)  # fmt: skip
        out.append(r)
    return tuple(out)


def _covered(ctx: Context, uow: UnitOfWork, enc: EncounterState, on: dt.date) -> bool:
    """Would the overlay in force on ``on`` cover this stay's protocol items? (The
    settlement decides on the discharge date; this is the upload's answer.)"""
    try:
        policy = ctx.packs.select(enc.insured_region, on)
    except Exception:  # no pack: the upload still answers, as the catalog has it
        return False
    v = policy.overlay_on(on)
    if v is None or not v.protocol_in_scope:
        return False
    prov = ctx.provider(uow, enc.provider_code, on).engine()
    return covid_applies(v, engine_encounter(enc, on, 1, v), prov)


def upload_fees(uow: UnitOfWork, ctx: Context, caller: Principal, encounter_id: str,
                fees: Sequence[FeeIn], *, msgid: str | None) -> Uploaded:  # fmt: skip
    """2301 费用明细上传: resolve each new line's catalog fields now (treatment place's
    catalog on the service date) and store them with it; a line already uploaded with
    the same content is a repeat (nothing written), with other content a conflict."""
    require(caller, "encounter.write")
    if not fees:
        raise InvalidRequest.of([("lines", "no fee lines")])
    _line_checks(ctx, fees)
    at = ctx.now()
    with uow(write=True):
        enc = load_encounter(uow, caller, encounter_id, lock=True)
        require_open(enc, "upload fee lines", also=("deferred",))
        existing = {r.sn: r for r in uow.hospital.active_lines(enc.id)}
        conflicts = [(f"lines.{i}.sn", f"feedetl_sn {f.sn} was uploaded with other content")
                     for i, f in enumerate(fees)
                     if f.sn in existing and not _same(existing[f.sn], f, _amount(f))]  # fmt: skip
        problems = _fee_problems(fees, existing)
        if problems:
            raise InvalidRequest.of(problems)
        if conflicts:
            raise Conflict(f"{conflicts[0][1]}; cancel it first (2302)", conflicts)
        new = [(i, f) for i, f in enumerate(fees) if f.sn not in existing]
        dates = {
            f.sn: business_day(f.service_time) if f.service_time else enc.admit_date for f in fees
        }
        items = _resolve(ctx, uow, enc.provider_code, new, dates)
        rows = [_line_row(enc.id, f, item, dates[f.sn], at, msgid) for (_, f), item in
                zip(new, items, strict=True)]  # fmt: skip
        stored = {r["sn"]: r for r in rows}
        lines = tuple(StoredLine.of(existing[f.sn]) if f.sn in existing else
                      _stored(stored[f.sn]) for f in fees)  # fmt: skip
        if new:  # the lines, the event and the audit entry: one round trip
            detail = {"sns": [f.sn for _, f in new][:200], "count": len(new)}
            moved, enc = change_ops(caller, enc, "fees_uploaded", enc.status, at, msgid, detail)
            uow.hospital.batch([*insert_rows(FeeLineRow.__table__, rows), *moved])  # type: ignore[arg-type]
        covered = _covered(ctx, uow, enc, max(ln.service_date for ln in lines))
        uow.commit()
    return Uploaded(enc, lines, _splits(lines, covered), len(new))


def _resolve(ctx: Context, uow: UnitOfWork, provider: str, new: Sequence[tuple[int, FeeIn]],
             dates: dict[str, dt.date]) -> list[catalog.ResolvedItem]:  # fmt: skip
    try:
        return ctx.resolve(uow, provider, [(f.code, dates[f.sn]) for _, f in new])
    except NotInCatalog as exc:
        for i, f in new:  # name the first line whose code the error is about
            if f.code in str(exc):
                path = f"lines.{i}.code"
                raise type(exc)(f"{path}: feedetl_sn {f.sn}: {exc}", [(path, str(exc))]) from None
        raise


def _line_row(enc_id: str, f: FeeIn, item: catalog.ResolvedItem, day: dt.date, at: dt.datetime,
              msgid: str | None) -> dict[str, Any]:  # fmt: skip
    return {
        "encounter_id": enc_id, "sn": f.sn, "reverses_sn": f.reverses_sn, "code": item.code,
        "hospital_code": f.hospital_code or item.hospital_code, "category": item.category,
        "item_class": item.item_class, "selfpay_bp": item.selfpay_bp, "price_e6": f.price_e6,
        "qty_e4": f.qty_e4, "amount_fen": _amount(f), "price_cap_e6": item.price_cap_e6,
        "in_protocol": item.in_protocol, "temp_code": item.temp_code,
        "catalog_region": item.catalog_region, "protocol_edition": item.protocol_edition,
        "service_date": day, "service_time": f.service_time and as_utc(f.service_time),
        "dept": f.dept,
        "doctor": f.doctor, "order_no": f.order_no, "uploaded_at": at, "upload_msgid": msgid,
        "cancelled_at": None, "cancel_msgid": None,
    }  # fmt: skip


def _stored(r: dict[str, Any]) -> StoredLine:
    return StoredLine(r["sn"], r["reverses_sn"], r["code"], r["hospital_code"], r["category"],
                      r["item_class"], r["selfpay_bp"], r["price_e6"], r["qty_e4"],
                      r["amount_fen"], r["price_cap_e6"], r["in_protocol"], r["temp_code"],
                      r["catalog_region"], r["protocol_edition"], r["service_date"],
                      False)  # fmt: skip


def cancel_fees(uow: UnitOfWork, ctx: Context, caller: Principal, encounter_id: str,
                sn: str | None, *, msgid: str | None) -> int:  # fmt: skip
    """2302 费用明细撤销: one line (and refunds of it), or every line (``sn`` None).
    Cancelling a line already cancelled is a repeat: nothing changes, 0 returned."""
    require(caller, "encounter.write")
    c = Checks()
    c.code("sn", sn, LENGTH["sn"])
    c.done()
    at = ctx.now()
    with uow(write=True):
        enc = load_encounter(uow, caller, encounter_id, lock=True)
        require_open(enc, "cancel fee lines", also=("deferred",))
        n = cancel_lines(uow, caller, enc, sn, at, msgid)
        uow.commit()
    return n


def cancel_lines(uow: UnitOfWork, caller: Principal, enc: EncounterState, sn: str | None,
            at: dt.datetime, msgid: str | None) -> int:  # fmt: skip
    active = uow.hospital.active_lines(enc.id)
    if sn is None:
        sns = [r.sn for r in active]
    else:
        sns = [r.sn for r in active if r.sn == sn or r.reverses_sn == sn]
        if not sns and not any(r.sn == sn for r in uow.hospital.lines(enc.id)):
            raise NotFound(f"feedetl_sn {sn} of encounter {enc.id} not found")
    if not sns:
        return 0
    n = uow.hospital.cancel_lines(enc.id, sns, at, msgid)
    record_change(uow, caller, enc, "fees_cancelled", enc.status, at, msgid,
            {"sns": sns[:200], "count": n})  # fmt: skip
    return n
