"""Clearing between regions (异地就医清算, issue 18).

NHSA, 2020-02-20: "异地就医医保支付的费用由就医地医保部门先行垫付，疫情结束后全国统一组织清算".

- **Inbound** (a patient insured elsewhere, settled here): the fund share our fund paid
  the hospital is the insured region's. ``book_inbound`` books it, per fund book, as a
  receivable from that region (``inter_region_receivable`` : region) against
  ``inter_region_advanced`` (our benefit expense taken off), one ``advance`` transaction
  per settlement or reversal (idempotent: a clearing item per settlement id).
- **Outbound** (our insurees settled in another region): the clearing file (CSV/XLSX)
  books, per row, ``inter_region_benefit`` against ``inter_region_payable`` : region.
- **Statements**: per month, counterpart region and direction, prepared ``applied``
  (申请), then ``confirmed`` (确认), then ``cleared`` (清算: the money moves through
  ``fund_bank``; a ``clearing`` transaction). Each change is audited and kept in the
  statement's history. ``clearing_problems`` is what ``yibao ledger check`` adds: each
  region's balances equal its items less what was cleared.

Which settlements are inbound: the insured region and the hospital's region lie in no
common pack's pooling area (the engine's own out-of-area test).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yibao.core.errors import Conflict, InvalidFile, InvalidRequest, NotFound
from yibao.core.ledger.accounts import (
    BENEFIT,
    FUND_BANK,
    FUND_BOOKS,
    INTER_REGION_ADVANCED,
    INTER_REGION_BENEFIT,
    INTER_REGION_PAYABLE,
    INTER_REGION_RECEIVABLE,
    Account,
)
from yibao.core.ledger.journal import Posting, Transaction
from yibao.core.money import fen_from_yuan, yuan_from_fen
from yibao.core.privacy import mask_psn_no
from yibao.core.registry.regions import is_region
from yibao.core.workdays import BEIJING
from yibao.services.access.rights import Principal, audit, require
from yibao.services.encounters.context import Context
from yibao.services.registry import catalog
from yibao.services.registry.tabular import open_table, write_table
from yibao.store.uow import UnitOfWork

__all__ = [
    "OUTBOUND_COLUMNS",
    "Statement",
    "book_inbound",
    "clearing_problems",
    "import_outbound",
    "move_statement",
    "prepare_statements",
    "statement_items",
    "statements",
    "write_statement",
]

OUTBOUND_COLUMNS = {
    "就医地": "region", "region": "region", "结算流水号": "ref", "setl_id": "ref",
    "人员编号": "psn_no", "psn_no": "psn_no", "结算日期": "setl_date", "setl_date": "setl_date",
    "医疗费总额": "medfee", "medfee_sumamt": "medfee", "基金支付": "fund", "fund_pay": "fund",
    "基金类型": "book", "fund_code": "book",
}  # fmt: skip
_NEXT = {"confirmed": "applied", "cleared": "confirmed"}  # to -> from


def _day(at: dt.datetime) -> dt.date:
    return at.astimezone(BEIJING).date()


def _post(uow: UnitOfWork, tx: Transaction, at: dt.datetime) -> None:
    from yibao.core.ledger import transaction_problems

    if problems := transaction_problems(tx):
        raise Conflict(f"transaction {tx.id} refused: {'; '.join(problems)}")
    uow.hospital.insert_transaction(tx, at)


def _inbound(ctx: Context, insured_region: str, provider_region: str) -> bool:
    return not any(p.in_area(insured_region) and p.in_area(provider_region) for p in ctx.packs)


def book_inbound(uow: UnitOfWork, ctx: Context, caller: Principal) -> list[str]:
    """Book every inbound settlement (and reversal) not booked yet; the ids booked."""
    require(caller, "clearing.manage")
    at = ctx.now()
    done: list[str] = []
    with uow(write=True):
        hosp = uow.hospital
        for s in hosp.settlements():
            enc = hosp.encounter(s.encounter_id)
            prov = catalog.provider_snapshot(uow, s.provider_code, s.discharge_date)
            if enc is None or not _inbound(ctx, enc.insured_region, prov.region):
                continue
            region = enc.insured_region
            if uow.filings.clearing_item("inbound", region, s.id) is not None:
                continue
            (tx,) = hosp.transactions([s.id])
            by_book: dict[str, int] = defaultdict(int)
            for p in tx.postings:
                if p.account.code == BENEFIT.code:
                    by_book[p.account.book] += p.amount_fen
            postings = []
            for book, fen in sorted(by_book.items()):
                if fen:
                    rec = Account(INTER_REGION_RECEIVABLE.code, book, region)
                    off = Account(INTER_REGION_ADVANCED.code, book)
                    postings += [Posting(rec, fen), Posting(off, -fen)]
            tx_id = f"XI{s.id}"[:40]
            _post(uow, Transaction(tx_id, s.booked_on, "advance", tuple(postings),
                                   narration=f"异地就医垫付 应收 {region} {s.id}"), at)  # fmt: skip
            uow.filings.insert_clearing_items([{
                "direction": "inbound", "counterpart": region, "ref": s.id, "psn_no": s.psn_no,
                "setl_date": s.booked_on, "month": s.booked_on.strftime("%Y-%m"),
                "medfee_fen": s.medfee_sumamt, "fund_fen": sum(by_book.values()), "tx_id": tx_id,
                "recorded_at": at, "source": f"settlement {s.id}",
            }])  # fmt: skip
            done.append(s.id)
        if done:
            audit(uow, caller, "clearing.inbound_booked", "clearing", _day(at).isoformat(),
                  before=None, after=done, at=at, detail={"settlements": len(done)})  # fmt: skip
        uow.commit()
    return done


def import_outbound(uow: UnitOfWork, ctx: Context, caller: Principal, path: Path) -> list[str]:
    """Our insurees settled elsewhere (a clearing file), all-or-nothing: each row a payable
    to the treating region. Rows already booked (same region and settlement id) are
    refused as a whole file, naming them."""
    require(caller, "clearing.manage")
    table = open_table(path)
    try:
        fields = [OUTBOUND_COLUMNS.get(h.strip().lstrip("\ufeff")) for h in table.header]
        rows = [(n, {f: c.strip() for f, c in zip(fields, cells, strict=False) if f})
                for n, cells in table.rows]  # fmt: skip
    finally:
        table.close()
    missing = [c for c in ("region", "ref", "psn_no", "setl_date", "medfee", "fund")
               if c not in fields]  # fmt: skip
    if missing:
        raise InvalidFile(f"{path.name}: missing column(s) {', '.join(missing)}",
                          [("row 1", f"missing column {c}") for c in missing])  # fmt: skip
    problems: list[tuple[str, str]] = []
    good: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for n, r in rows:
        bad: list[tuple[str, str]] = []
        if not is_region(r.get("region", "")) or _home(ctx, r.get("region", "")):
            bad.append((f"row {n}, region", f"{r.get('region')!r} is not another region's code"))
        book = r.get("book") or "310100"
        if book not in FUND_BOOKS:
            bad.append((f"row {n}, book", f"{book!r} is not a fund code"))
        try:
            day = dt.date.fromisoformat(r.get("setl_date", "")[:10])
        except ValueError:
            bad.append((f"row {n}, setl_date", f"{r.get('setl_date')!r} is not a date"))
        amounts = {}
        for k in ("medfee", "fund"):
            try:
                amounts[k] = fen_from_yuan(r.get(k, ""))
            except (ValueError, ArithmeticError):
                bad.append((f"row {n}, {k}", f"{r.get(k)!r} is not an amount in yuan"))
        if not r.get("ref") or (r.get("region", ""), r.get("ref", "")) in seen:
            bad.append((f"row {n}, ref", "missing or repeated settlement id"))
        seen.add((r.get("region", ""), r.get("ref", "")))
        problems += bad
        if not bad:
            good.append({"n": n, "region": r["region"], "ref": r["ref"][:40], "psn": r["psn_no"],
                         "day": day, "book": book, **amounts})  # fmt: skip
    at = ctx.now()
    with uow(write=True):
        for g in good:
            if uow.filings.clearing_item("outbound", g["region"], g["ref"]) is not None:
                problems.append((f"row {g['n']}, ref", f"{g['ref']} was booked before"))
        if problems:
            rows_bad = len({p.split(",")[0] for p, _ in problems})
            raise InvalidFile(f"{path.name}: {rows_bad} row(s) with problems; nothing imported",
                              problems[:200], rows_bad)  # fmt: skip
        items = []
        for g in good:
            tx_id = f"XO{g['region']}{g['ref']}"[:40]
            _post(uow, Transaction(tx_id, g["day"], "adjustment", (
                Posting(Account(INTER_REGION_BENEFIT.code, g["book"]), g["fund"]),
                Posting(Account(INTER_REGION_PAYABLE.code, g["book"], g["region"]), -g["fund"]),
            ), narration=f"异地就医 应付 {g['region']} {g['ref']}"), at)  # fmt: skip
            items.append({"direction": "outbound", "counterpart": g["region"], "ref": g["ref"],
                          "psn_no": g["psn"][:18], "setl_date": g["day"],
                          "month": g["day"].strftime("%Y-%m"), "medfee_fen": g["medfee"],
                          "fund_fen": g["fund"], "tx_id": tx_id, "recorded_at": at,
                          "source": f"{path.name[-80:]}:{g['n']}"})  # fmt: skip
        uow.filings.insert_clearing_items(items)
        audit(uow, caller, "clearing.outbound_imported", "clearing", path.name[-100:],
              before=None, after=[i["ref"] for i in items], at=at,
              detail={"rows": len(items)})  # fmt: skip
        uow.commit()
    return [i["ref"] for i in items]


def _home(ctx: Context, region: str) -> bool:
    """Is ``region`` ours (in the pooling area of a pack with filing limits, i.e. the
    bureau's own pack)? An outbound row names another region."""
    return any(p.in_area(region) and p.filing_limits is not None for p in ctx.packs)


@dataclass(frozen=True, slots=True)
class Statement:
    id: int
    counterpart: str
    month: str
    direction: str
    items: int
    fund_fen: int
    state: str
    history: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "counterpart": self.counterpart, "month": self.month,
                "direction": self.direction, "items": self.items, "fund_fen": self.fund_fen,
                "fund_yuan": yuan_from_fen(self.fund_fen), "state": self.state,
                "history": self.history}  # fmt: skip


def _statement(r: Any) -> Statement:
    return Statement(r.id, r.counterpart, r.month, r.direction, r.items, r.fund_fen, r.state,
                     list(r.history))  # fmt: skip


def _month(month: str) -> str:
    try:
        dt.date.fromisoformat(f"{month}-01")
    except ValueError:
        raise InvalidRequest.of([("month", f"{month!r} is not YYYY-MM")]) from None
    return month


def prepare_statements(uow: UnitOfWork, ctx: Context, caller: Principal,
                       month: str) -> list[Statement]:  # fmt: skip
    """申请: the month's statement per counterpart region and direction, from its items
    (a statement still ``applied`` is brought up to date; a confirmed one is not)."""
    require(caller, "clearing.manage")
    _month(month)
    at = ctx.now()
    with uow(write=True):
        for t in uow.filings.clearing_totals(month):
            row = uow.filings.statement(t.counterpart, month, t.direction, lock=True)
            step = {"state": "applied", "at": at.isoformat(), "actor": caller.actor,
                    "items": int(t.items), "fund_fen": int(t.fund_fen)}  # fmt: skip
            if row is None:
                uow.filings.insert_statement({
                    "counterpart": t.counterpart, "month": month, "direction": t.direction,
                    "items": int(t.items), "fund_fen": int(t.fund_fen), "state": "applied",
                    "history": [step], "updated_at": at})  # fmt: skip
            elif row.state == "applied" and (row.items, row.fund_fen) != (t.items, t.fund_fen):
                uow.filings.update_statement(row.id, {
                    "items": int(t.items), "fund_fen": int(t.fund_fen),
                    "history": [*row.history, step], "updated_at": at})  # fmt: skip
        audit(uow, caller, "clearing.applied", "clearing", month, before=None, after=None, at=at)
        uow.commit()
        return [_statement(r) for r in uow.filings.statements(month)]


def move_statement(uow: UnitOfWork, ctx: Context, caller: Principal, statement_id: int,
                   to: str) -> Statement:  # fmt: skip
    """确认 (``confirmed``) or 清算 (``cleared``: the money moves, a ``clearing``
    transaction per statement through ``fund_bank``)."""
    require(caller, "clearing.manage")
    if to not in _NEXT:
        raise InvalidRequest.of([("state", f"{to!r} is not confirmed|cleared")])
    at = ctx.now()
    with uow(write=True):
        rows = [r for r in uow.filings.statements() if r.id == statement_id]
        if not rows:
            raise NotFound(f"clearing statement {statement_id} not found")
        r = rows[0]
        if r.state == to:
            return _statement(r)
        if r.state != _NEXT[to]:
            raise Conflict(f"clearing statement {statement_id} is {r.state}, not {_NEXT[to]}")
        values: dict[str, Any] = {"state": to, "updated_at": at}
        step: dict[str, Any] = {"state": to, "at": at.isoformat(), "actor": caller.actor}
        if to == "cleared":
            step["tx_id"] = _clear(uow, r, at)
        values["history"] = [*r.history, step]
        uow.filings.update_statement(r.id, values)
        audit(uow, caller, f"clearing.{to}", "clearing", str(r.id), before={"state": r.state},
              after={"state": to}, at=at)  # fmt: skip
        uow.commit()
        return _statement(uow.filings.statement(r.counterpart, r.month, r.direction))


def _clear(uow: UnitOfWork, r: Any, at: dt.datetime) -> str:
    items = uow.filings.clearing_items(counterpart=r.counterpart, month=r.month,
                                       direction=r.direction)  # fmt: skip
    txs = uow.hospital.transactions([i.tx_id for i in items])
    code = INTER_REGION_RECEIVABLE.code if r.direction == "inbound" else INTER_REGION_PAYABLE.code
    by_book: dict[str, int] = defaultdict(int)
    for tx in txs:
        for p in tx.postings:
            if p.account.code == code:
                by_book[p.account.book] += p.amount_fen
    postings = []
    for book, fen in sorted(by_book.items()):  # settle the balance: bank moves the other way
        postings += [Posting(Account(code, book, r.counterpart), -fen),
                     Posting(Account(FUND_BANK.code, book), fen)]  # fmt: skip
    tx_id = f"XC{r.direction[0].upper()}{r.counterpart}{r.month}"
    _post(uow, Transaction(tx_id, _day(at), "clearing", tuple(postings),
                           narration=f"异地就医清算 {r.direction} {r.counterpart} {r.month}"),
          at)  # fmt: skip
    return tx_id


def statements(uow: UnitOfWork, caller: Principal, month: str | None = None) -> list[Statement]:
    require(caller, "ledger.read" if caller.role in ("finance", "auditor") else "clearing.manage")
    with uow:
        return [_statement(r) for r in uow.filings.statements(month and _month(month))]


def statement_items(uow: UnitOfWork, caller: Principal, statement_id: int, *,
                    unmasked: bool = False) -> list[dict[str, Any]]:  # fmt: skip
    """A statement's lines; ID numbers masked unless ``unmasked`` is asked by a role that
    may see them (then the disclosure is audited)."""
    if unmasked and not caller.sees_personal:
        raise InvalidRequest.of([("unmasked", f"role {caller.role} may not see ID numbers")])
    with uow(write=unmasked):
        found = [r for r in statements(uow, caller) if r.id == statement_id]
        if not found:
            raise NotFound(f"clearing statement {statement_id} not found")
        s = found[0]
        items = uow.filings.clearing_items(counterpart=s.counterpart, month=s.month,
                                           direction=s.direction)  # fmt: skip
        if unmasked:
            audit(uow, caller, "clearing.disclosed", "clearing", str(statement_id), before=None,
                  after=None, at=dt.datetime.now(dt.UTC), detail={"rows": len(items)})  # fmt: skip
            uow.commit()
    return [{"ref": i.ref, "psn_no": i.psn_no if unmasked else mask_psn_no(i.psn_no),
             "setl_date": i.setl_date.isoformat(), "medfee_fen": i.medfee_fen,
             "fund_fen": i.fund_fen} for i in items]  # fmt: skip


def write_statement(uow: UnitOfWork, caller: Principal, statement_id: int, path: Path, *,
                    unmasked: bool = False) -> Path:  # fmt: skip
    """The statement as CSV or XLSX (by the suffix): its lines in yuan, then the total."""
    lines = statement_items(uow, caller, statement_id, unmasked=unmasked)
    s = next(r for r in statements(uow, caller) if r.id == statement_id)
    header = ["结算流水号", "人员编号", "结算日期", "医疗费总额", "基金支付"]
    rows = [[ln["ref"], ln["psn_no"], ln["setl_date"], yuan_from_fen(ln["medfee_fen"]),
             yuan_from_fen(ln["fund_fen"])] for ln in lines]  # fmt: skip
    rows.append([f"合计 {s.counterpart} {s.month} {s.direction} {s.state}", "", "", "",
                 yuan_from_fen(s.fund_fen)])  # fmt: skip
    write_table(path, path.suffix.lower().lstrip("."), header, rows)
    return path


def clearing_problems(uow: UnitOfWork) -> list[str]:
    """What `yibao ledger check` proves of the clearing: per counterpart region and fund
    book, the receivable (payable) balance equals the items booked less those cleared,
    and each item's transaction is booked."""
    out: list[str] = []
    with uow:
        items = uow.filings.clearing_items()
        if not items:
            return out
        cleared = {(s.counterpart, s.month, s.direction) for s in uow.filings.statements()
                   if s.state == "cleared"}  # fmt: skip
        txs = {t.id: t for t in uow.hospital.transactions([i.tx_id for i in items])}
        rec = uow.funds.balances(INTER_REGION_RECEIVABLE.code)
        pay = uow.funds.balances(INTER_REGION_PAYABLE.code)
    want: dict[tuple[str, str, str], int] = defaultdict(int)
    for i in items:
        tx = txs.get(i.tx_id)
        if tx is None:
            out.append(f"clearing item {i.direction} {i.counterpart} {i.ref}: {i.tx_id} not booked")
            continue
        if (i.counterpart, i.month, i.direction) in cleared:
            continue
        code = (
            INTER_REGION_RECEIVABLE.code if i.direction == "inbound" else INTER_REGION_PAYABLE.code
        )
        for p in tx.postings:
            if p.account.code == code:
                want[(code, p.account.key, p.account.book)] += p.amount_fen
    for code, got in ((INTER_REGION_RECEIVABLE.code, rec), (INTER_REGION_PAYABLE.code, pay)):
        keys = {(k, b) for c, k, b in want if c == code} | set(got)
        for key, book in sorted(keys):
            if got.get((key, book), 0) != want.get((code, key, book), 0):
                out.append(f"{code}:{book}:{key}: balance {got.get((key, book), 0)} fen, the "
                           f"uncleared items imply {want.get((code, key, book), 0)}")  # fmt: skip
    return out
