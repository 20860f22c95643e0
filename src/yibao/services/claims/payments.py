"""Payment batches (支付批次): approved claims gathered into a batch, the bank payment file
written (XLSX and CSV), the bank's return file read back — each line paid or failed; a
failed line's claim goes back to the queue (``approved``) and into a later batch on a new
line, the failed line keeping its reason."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from yibao.core.errors import Conflict, InvalidFile, InvalidRequest, NotFound
from yibao.core.money import fen_from_yuan, yuan_from_fen
from yibao.services.access.rights import Principal, audit
from yibao.services.claims.model import may, move
from yibao.services.encounters.context import Context, new_id
from yibao.services.registry.tabular import format_of, open_table, write_table
from yibao.store.uow import UnitOfWork

__all__ = [
    "BANK_COLUMNS",
    "Batch",
    "BatchLine",
    "apply_return",
    "batch_view",
    "list_batches",
    "make_batch",
    "write_bank_file",
]

BANK_COLUMNS = ["序号", "报销单号", "收款人", "开户行", "银行账号", "金额（元）", "用途"]
RETURN_COLUMNS = ("序号", "报销单号", "金额（元）", "结果", "银行流水号", "失败原因")
_PAID, _FAILED = ("成功", "paid", "已支付"), ("失败", "failed", "退票")


@dataclass(frozen=True, slots=True)
class BatchLine:
    seq: int
    claim_id: str
    amount_fen: int
    status: str
    bank_ref: str | None
    failure: str | None


@dataclass(frozen=True, slots=True)
class Batch:
    id: str
    created_at: dt.datetime
    created_by: str
    total_fen: int
    returned_at: dt.datetime | None
    lines: tuple[BatchLine, ...]
    line_count: int = 0


def _payable(uow: UnitOfWork, settlement_id: str) -> int:
    got = uow.claims.settlement(settlement_id)
    if got is None:
        raise NotFound(f"claim settlement {settlement_id} not found")
    return int(got.payable_fen)


def make_batch(
    uow: UnitOfWork, ctx: Context, caller: Principal, claim_ids: Sequence[str] | None = None
) -> Batch:
    """A batch of every approved claim (or of ``claim_ids``, each approved): each a line
    owing the insuree its settlement's payable; the claims go ``in_batch``."""
    may(caller, "claim.pay")
    at = ctx.now()
    with uow(write=True):
        ids = (
            claim_ids
            if claim_ids is not None
            else [r.id for r in uow.claims.claims(status=["approved"], limit=100_000)]
        )
        rows = uow.claims.lock_claims(list(ids))
        if len(rows) != len(set(ids)):
            missing = sorted(set(ids) - {r.id for r in rows})
            raise NotFound(f"claims not found: {', '.join(missing[:10])}")
        if not rows:
            raise Conflict("没有待支付（已审批）的报销申请")
        batch_id = new_id("PB", at)
        lines = []
        for seq, row in enumerate(rows, start=1):
            if row.status != "approved" or row.settlement_id is None:
                raise Conflict(f"claim {row.id} is {row.status}: only approved claims are paid")
            lines.append(
                {
                    "batch_id": batch_id,
                    "seq": seq,
                    "claim_id": row.id,
                    "amount_fen": _payable(uow, row.settlement_id),
                    "status": "queued",
                    "bank_ref": None,
                    "failure": None,
                    "done_at": None,
                }
            )
        total = sum(ln["amount_fen"] for ln in lines)
        uow.claims.insert_batch(
            {
                "id": batch_id,
                "created_at": at,
                "created_by": caller.actor,
                "lines": len(lines),
                "total_fen": total,
                "returned_at": None,
            }
        )
        uow.claims.insert_payments(lines)
        for row, ln in zip(rows, lines, strict=True):
            move(
                uow,
                caller,
                row,
                "in_batch",
                "batch",
                at,
                allowed_from=("approved",),
                detail={"batch_id": batch_id, "seq": ln["seq"], "amount_fen": ln["amount_fen"]},
            )
        uow.commit()
    return batch_view(uow, caller, batch_id)


def batch_view(uow: UnitOfWork, caller: Principal, batch_id: str) -> Batch:
    may(caller, "claim.read")
    with uow:
        b = uow.claims.batch(batch_id)
        if b is None:
            raise NotFound(f"payment batch {batch_id} not found")
        lines = tuple(
            BatchLine(p.seq, p.claim_id, p.amount_fen, p.status, p.bank_ref, p.failure)
            for p in uow.claims.payments(batch_id)
        )
    return Batch(b.id, b.created_at, b.created_by, b.total_fen, b.returned_at, lines, len(lines))


def write_bank_file(
    uow: UnitOfWork, ctx: Context, caller: Principal, batch_id: str, out: Path
) -> int:
    """The bank payment file (.xlsx or .csv by ``out``'s suffix): one row per line. The
    account numbers are in full — the bank pays on them — so writing it is allowed to
    the paying roles only and audited as a disclosure; nothing else shows them."""
    may(caller, "claim.pay")
    format_of(out)
    with uow(write=True):
        b = uow.claims.batch(batch_id)
        if b is None:
            raise NotFound(f"payment batch {batch_id} not found")
        pays = uow.claims.payments(batch_id)
        rows = [
            [
                str(p.seq),
                p.claim_id,
                p.payee_name,
                p.payee_bank,
                p.payee_account,
                yuan_from_fen(p.amount_fen),
                f"医保手工报销 {p.claim_id}",
            ]
            for p in pays
        ]
        audit(
            uow,
            caller,
            "claim.bank_file",
            "claim_payment_batch",
            batch_id,
            before=None,
            after={"lines": len(rows), "total_fen": b.total_fen},
            at=ctx.now(),
            detail={"file": out.name[-100:], "unmasked": "payee_account"},
        )
        uow.commit()
    write_table(out, format_of(out), BANK_COLUMNS, rows)
    return len(rows)


def _result(text: str) -> str | None:
    t = text.strip().lower()
    if t in _PAID:
        return "paid"
    if t in _FAILED:
        return "failed"
    return None


def apply_return(
    uow: UnitOfWork, ctx: Context, caller: Principal, batch_id: str, path: Path
) -> Batch:
    """The bank's return file (回盘, CSV/XLSX; columns 序号, 报销单号, 金额（元）, 结果
    (成功/失败), 银行流水号, 失败原因): each queued line marked paid or failed, checked
    against the batch (claim and amount). A paid claim is ``paid``; a failed one goes
    back to ``approved`` for the next batch. A line already marked is left alone when
    the file says the same again (a return file read twice changes nothing)."""
    may(caller, "claim.pay")
    table = open_table(path)
    try:
        head = [h.strip() for h in table.header]
        missing = [c for c in RETURN_COLUMNS[:4] if c not in head]
        if missing:
            raise InvalidFile(f"{path.name}: 回盘文件缺少列 {', '.join(missing)}")
        ix = {c: head.index(c) for c in RETURN_COLUMNS if c in head}
        got = [
            (n, {c: (cells[i].strip() if i < len(cells) else "") for c, i in ix.items()})
            for n, cells in table.rows
        ]
    finally:
        table.close()
    at = ctx.now()
    with uow(write=True):
        b = uow.claims.batch(batch_id, lock=True)
        if b is None:
            raise NotFound(f"payment batch {batch_id} not found")
        pays = {str(p.seq): p for p in uow.claims.payments(batch_id)}
        bad, todo = [], []
        for n, cell in got:
            p, result = pays.get(cell["序号"]), _result(cell["结果"])
            if p is None or p.claim_id != cell["报销单号"]:
                bad.append((f"row {n}", f"第{n}行：序号与报销单号不是本批次的支付明细"))
            elif result is None:
                bad.append((f"row {n}", f"第{n}行：结果应为 成功 或 失败"))
            elif _fen(cell["金额（元）"]) != p.amount_fen:
                bad.append((f"row {n}", f"第{n}行：金额与支付明细不符"))
            elif p.status == "queued":
                todo.append((p, result, cell))
            elif p.status != result:
                bad.append((f"row {n}", f"第{n}行：该笔已标记为 {p.status}"))
        if bad:
            raise InvalidRequest.of(bad)
        claims = {r.id: r for r in uow.claims.lock_claims([p.claim_id for p, _, _ in todo])}
        for p, result, cell in todo:
            ref, why = cell.get("银行流水号") or None, cell.get("失败原因") or None
            uow.claims.update_payment(
                p.id,
                {
                    "status": result,
                    "bank_ref": ref and ref[:40],
                    "failure": why and why[:200],
                    "done_at": at,
                },
            )
            row = claims[p.claim_id]
            if result == "paid":
                move(
                    uow,
                    caller,
                    row,
                    "paid",
                    "paid",
                    at,
                    allowed_from=("in_batch",),
                    detail={"batch_id": batch_id, "seq": p.seq, "bank_ref": ref},
                )
            else:
                move(
                    uow,
                    caller,
                    row,
                    "approved",
                    "payment_failed",
                    at,
                    allowed_from=("in_batch",),
                    detail={"batch_id": batch_id, "seq": p.seq, "failure": why},
                )
        if all(p.status != "queued" for p in pays.values()) or todo:
            uow.claims.update_batch(batch_id, {"returned_at": at})
        uow.commit()
    return batch_view(uow, caller, batch_id)


def _fen(text: str) -> int | None:
    try:
        return fen_from_yuan(text)
    except ValueError:
        return None


def list_batches(uow: UnitOfWork, caller: Principal, limit: int = 100) -> list[Batch]:
    """The newest payment batches (without their lines)."""
    may(caller, "claim.read")
    with uow:
        rows = uow.claims.batches(limit)
    return [
        Batch(b.id, b.created_at, b.created_by, b.total_fen, b.returned_at, (), b.lines)
        for b in rows
    ]
