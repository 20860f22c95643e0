"""Township intake (受理): the claim with its invoices, then its fee list (an uploaded
CSV/XLSX, items mapped to national codes through the catalog and 对码, unknown ones left
for the reviewer) and its scanned attachments (stored once by sha256, type and size
checked). Never twice: an invoice already claimed, or a stay already settled online at
the same provider, is refused with the other record named."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError

from yibao.core.errors import Conflict, InvalidFile, InvalidRequest, NotInCatalog, UnmappedCode
from yibao.core.money import line_amount, scaled_int
from yibao.core.privacy import mask_psn_no
from yibao.core.registry.regions import ancestors
from yibao.services.access.rights import Principal, in_township
from yibao.services.claims.model import ClaimIn, ClaimView, load, may, move, view_of
from yibao.services.encounters.context import Context, new_id
from yibao.services.registry import catalog
from yibao.services.registry.tabular import open_table
from yibao.store.uow import UnitOfWork

__all__ = [
    "MAX_ATTACHMENT",
    "FeeList",
    "attach",
    "duplicates",
    "file_kind",
    "read_fee_list",
    "receive",
    "take_in",
    "upload_fees",
]

MAX_ATTACHMENT = 10 * 1024 * 1024  # bytes: a scanned page set, not an archive
_SIGNATURES = ((b"%PDF-", "pdf"), (b"\xff\xd8\xff", "jpg"), (b"\x89PNG\r\n\x1a\n", "png"))
_EDITABLE = ("received", "returned")
_ACCOUNT = re.compile(r"^\d{8,30}$")


def file_kind(content: bytes) -> str | None:
    """pdf, jpg or png from the file's first bytes (never from its name), else None."""
    for magic, kind in _SIGNATURES:
        if content.startswith(magic):
            return kind
    return None


def _check(cmd: ClaimIn) -> list[tuple[str, str]]:
    bad: list[tuple[str, str]] = []
    if not re.fullmatch(r"\d{17}[\dX]", cmd.psn_no):
        bad.append(("psn_no", "身份证号应为18位"))
    if cmd.discharge_date < cmd.admit_date:
        bad.append(("discharge_date", "出院日期早于入院日期"))
    if not cmd.diagnoses:
        bad.append(("diagnoses", "至少填写一个诊断"))
    if not cmd.invoices:
        bad.append(("invoices", "至少填写一张发票"))
    keys = [(i.code, i.number) for i in cmd.invoices]
    if len(set(keys)) != len(keys):
        bad.append(("invoices", "同一张发票填写了两次"))
    for n, inv in enumerate(cmd.invoices):
        if inv.amount_fen <= 0:
            bad.append((f"invoices[{n}].amount_fen", "发票金额应大于0"))
        if not inv.code.strip() or not inv.number.strip():
            bad.append((f"invoices[{n}]", "发票代码和号码必填"))
    if not _ACCOUNT.match(cmd.payee_account.replace(" ", "")):
        bad.append(("payee_account", "银行账号应为8至30位数字"))
    if not cmd.payee_name.strip() or not cmd.payee_bank.strip():
        bad.append(("payee_name", "收款人和开户行必填"))
    if cmd.covid_status not in (None, "confirmed", "suspected", "none"):
        bad.append(("covid_status", "应为 confirmed、suspected 或 none"))
    return bad


def duplicates(
    uow: UnitOfWork,
    claim_id: str | None,
    psn_no: str,
    provider_code: str,
    begin: dt.date,
    end: dt.date,
    invoices: Sequence[tuple[str, str]],
) -> list[str]:
    """Why this would be paid twice, each naming the other record: an invoice already on
    another claim, a stay of the insuree at the provider overlapping these dates that
    was settled online (or waits in the deferred queue to be), or another live claim."""
    out = []
    for r in uow.claims.invoices_taken(list(invoices)):
        if r.claim_id != claim_id:
            out.append(f"发票 {r.code}-{r.number} 已在报销申请 {r.claim_id} 中使用")
    for e in uow.hospital.encounters_of([psn_no]):
        last = e.discharge_date or e.admit_date
        if (
            e.provider_code == provider_code
            and e.admit_date <= end
            and last >= begin
            and e.status in ("settled", "deferred")
        ):
            how = (
                f"已联网结算（结算 {e.settlement_id}）"
                if e.status == "settled"
                else "在延迟结算队列中"
            )
            out.append(f"同一机构同期就诊 {e.id}（{e.admit_date}至{last}）{how}")
    for c in uow.claims.overlapping(psn_no, provider_code, begin, end):
        if c.id != claim_id and c.status != "rejected":
            out.append(f"同一机构同期已有报销申请 {c.id}（{c.admit_date}至{c.discharge_date}）")
    return out


def receive(uow: UnitOfWork, ctx: Context, caller: Principal, cmd: ClaimIn) -> ClaimView:
    """受理: check, refuse duplicates naming the other record, store the claim, its
    invoices and its first event; the township's clock starts (移交)."""
    may(caller, "claim.intake")
    bad = _check(cmd)
    if bad:
        raise InvalidRequest.of(bad)
    at, day = ctx.now(), cmd.discharge_date
    with uow(write=True):
        ins = catalog.insuree_snapshot(uow, cmd.psn_no, day)  # 参保信息尚未导入: refused
        in_township(caller, ins.township, f"参保人 {mask_psn_no(cmd.psn_no)} ")
        prov = _provider(uow, ctx, cmd, day)
        keys = [(i.code.strip(), i.number.strip()) for i in cmd.invoices]
        dup = duplicates(uow, None, cmd.psn_no, prov["provider_code"], cmd.admit_date, day, keys)
        if dup:
            raise Conflict("不能重复报销：" + "；".join(dup))
        claim_id = new_id("CL", at)
        uow.claims.insert_claim(
            {
                "id": claim_id,
                "psn_no": cmd.psn_no,
                "insured_region": ins.insured_region,
                "township": ins.township,
                **prov,
                "med_type": cmd.med_type,
                "admit_date": cmd.admit_date,
                "discharge_date": day,
                "diagnoses": [{"code": d.code, "main": d.main} for d in cmd.diagnoses],
                "covid_status": cmd.covid_status,
                "payee_name": cmd.payee_name.strip(),
                "payee_bank": cmd.payee_bank.strip(),
                "payee_account": cmd.payee_account.replace(" ", ""),
                "status": "received",
                "returned_from": None,
                "missing": None,
                "step_started_at": at,
                "due_at": None,
                "clock_left": None,
                "first_reviewer": None,
                "second_reviewer": None,
                "settlement_id": None,
                "version": 0,
                "created_by": caller.actor,
                "created_at": at,
                "updated_at": at,
            }
        )
        uow.claims.insert_invoices(
            [
                {
                    "claim_id": claim_id,
                    "code": c,
                    "number": n,
                    "issued_on": i.issued_on,
                    "amount_fen": i.amount_fen,
                }
                for (c, n), i in zip(keys, cmd.invoices, strict=True)
            ]
        )
        row = uow.claims.claim(claim_id)
        total = sum(i.amount_fen for i in cmd.invoices)
        # the first event: nothing -> received (move() from a pseudo status)
        move(
            uow,
            caller,
            _Fresh(row),
            "received",
            "receive",
            at,
            allowed_from=("new",),
            detail={"invoices": len(keys), "invoice_total_fen": total},
        )
        try:
            uow.session.flush()
        except IntegrityError as exc:  # a concurrent claim took an invoice first
            raise Conflict("不能重复报销：发票已在另一报销申请中使用") from exc
        uow.commit()
        got = uow.claims.claim(claim_id)
    return view_of(got, caller, at, ins.name)


class _Fresh:
    """A just-inserted claim seen as coming from status ``new`` (its first event)."""

    def __init__(self, row: Any) -> None:
        self._row = row

    status = "new"

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, name)


def _provider(uow: UnitOfWork, ctx: Context, cmd: ClaimIn, day: dt.date) -> dict[str, Any]:
    """The treating provider: the registry's version on the discharge date (networked),
    else the claim's own name, region and level (anywhere in the country)."""
    code = cmd.provider_code.strip()
    if not code:
        raise InvalidRequest.of([("provider_code", "就诊机构编码必填")])
    with uow:
        known = uow.providers.where(code=code)
    if known:
        p = ctx.provider(uow, code, day)
        return {
            "provider_code": code,
            "provider_name": p.name,
            "provider_region": p.region,
            "provider_level": p.level,
            "networked": True,
        }
    bad = []
    if not (cmd.provider_name or "").strip():
        bad.append(("provider_name", "非联网机构须填写机构名称"))
    if not re.fullmatch(r"\d{6}", cmd.provider_region or ""):
        bad.append(("provider_region", "非联网机构须填写就医地行政区划代码（6位）"))
    if cmd.provider_level not in (1, 2, 3):
        bad.append(("provider_level", "非联网机构须填写医院等级（1、2、3）"))
    if bad:
        raise InvalidRequest.of(bad)
    return {
        "provider_code": code,
        "provider_name": (cmd.provider_name or "").strip()[:100],
        "provider_region": cmd.provider_region,
        "provider_level": cmd.provider_level,
        "networked": False,
    }


# -- the fee list ---------------------------------------------------------------------

_HEADERS = {
    "sn": ("sn", "序号"),
    "code": ("code", "项目编码"),
    "name": ("name", "项目名称"),
    "date": ("date", "费用日期"),
    "price": ("price", "单价"),
    "qty": ("qty", "数量"),
}


@dataclass(frozen=True, slots=True)
class FeeRow:
    sn: str
    code: str
    name: str
    service_date: dt.date
    price_e6: int
    qty_e4: int


@dataclass(frozen=True, slots=True)
class FeeList:
    """What an upload stored: lines mapped, lines left unknown, the list's total."""

    lines: int
    mapped: int
    unknown: int
    total_fen: int


def read_fee_list(path: Path) -> list[FeeRow]:
    """The fee list file (CSV or XLSX; headers 序号,项目编码,项目名称,费用日期,单价,数量 or
    sn,code,name,date,price,qty; price in yuan up to 6 decimals, quantity up to 4),
    every bad cell named by row and column."""
    table = open_table(path)
    try:
        head = [h.strip().lower() for h in table.header]
        col: dict[str, int] = {}
        for key, names in _HEADERS.items():
            found = [i for i, h in enumerate(head) if h in names]
            if not found:
                raise InvalidFile(f"{path.name}: 缺少列 {names[1]}（{names[0]}）")
            col[key] = found[0]
        out, bad, seen = [], [], set()
        for n, cells in table.rows:
            cell = {k: (cells[i].strip() if i < len(cells) else "") for k, i in col.items()}
            if not any(cell.values()):
                continue
            try:
                row = FeeRow(
                    cell["sn"],
                    cell["code"],
                    cell["name"],
                    dt.date.fromisoformat(cell["date"]),
                    scaled_int(cell["price"], 6),
                    scaled_int(cell["qty"], 4),
                )
            except ValueError as exc:
                bad.append((f"row {n}", f"第{n}行：{exc}"))
                continue
            if not row.sn or not row.code or row.price_e6 < 0 or row.qty_e4 <= 0:
                bad.append((f"row {n}", f"第{n}行：序号、编码必填，单价不为负，数量大于0"))
            elif row.sn in seen:
                bad.append((f"row {n}", f"第{n}行：序号 {row.sn} 重复"))
            seen.add(row.sn)
            out.append(row)
        if bad:
            raise InvalidRequest.of(bad)
        if not out:
            raise InvalidRequest.of([("file", "费用清单没有明细行")])
        return out
    finally:
        table.close()


def _resolve(
    uow: UnitOfWork, ctx: Context, row: Any, rows: Sequence[FeeRow]
) -> list[catalog.ResolvedItem | str]:
    """Each line's catalog fields at the treatment place, or why it is unknown."""
    keys = [(r.code, r.service_date) for r in rows]
    if row.networked:
        try:
            return list(ctx.resolve(uow, row.provider_code, keys))
        except (NotInCatalog, UnmappedCode):
            out: list[catalog.ResolvedItem | str] = []
            for code, day in keys:
                try:
                    out.append(catalog.resolve_line(uow, row.provider_code, code, day))
                except (NotInCatalog, UnmappedCode) as exc:
                    out.append(str(exc)[:200])
            return out
    return [in_region(uow, row.provider_region, c, d) for c, d in keys]


def in_region(uow: UnitOfWork, region: str, code: str, on: dt.date) -> catalog.ResolvedItem | str:
    """A national code in the catalog of a region outside the registry's providers (the
    most specific catalog region wins), with its 诊疗方案 edition on the date."""
    order = ancestors(region)
    live = [
        v
        for v in uow.catalog.where(region=list(order), code=[code])
        if v.valid_from <= on and (v.valid_to is None or on <= v.valid_to)
    ]
    if not live:
        return f"编码 {code} 不在就医地 {region} 的目录中（{on}）"
    v = min(live, key=lambda r: order.index(r.region))
    edition = catalog.protocol_edition_on(uow, on)
    listed = edition is not None and bool(uow.protocol.where(edition=[edition], code=[code]))
    return catalog.ResolvedItem(
        code,
        v.category,
        v.item_class,
        v.selfpay_bp,
        v.price_cap_e6,
        listed,
        v.temp_for is not None,
        v.name,
        v.region,
        None,
        edition,
    )


def upload_fees(
    uow: UnitOfWork, ctx: Context, caller: Principal, claim_id: str, path: Path
) -> FeeList:
    """The claim's fee list (replacing an earlier one while the claim is at the counter
    or returned for correction): each line mapped, or left unknown for the reviewer."""
    may(caller, "claim.intake")
    rows = read_fee_list(path)
    at = ctx.now()
    with uow(write=True):
        row = load(uow, caller, claim_id, lock=True)
        if row.status not in _EDITABLE:
            raise Conflict(
                f"claim {claim_id} is {row.status}: the fee list is changed only "
                "at intake or when returned for correction"
            )
        for r in rows:
            if not row.admit_date <= r.service_date <= row.discharge_date:
                raise InvalidRequest.of(
                    [(f"sn {r.sn}", f"费用日期 {r.service_date} 不在就诊期间内")]
                )
        found = _resolve(uow, ctx, row, rows)
        uow.claims.delete_lines(claim_id)
        lines = [_line(claim_id, r, got) for r, got in zip(rows, found, strict=True)]
        uow.claims.insert_lines(lines)
        unknown = sum(1 for ln in lines if ln["status"] == "unknown")
        total = sum(ln["amount_fen"] for ln in lines)
        seq = row.version + 1
        uow.claims.update_claim(claim_id, {"version": seq, "updated_at": at})
        uow.claims.add_event(
            {
                "claim_id": claim_id,
                "seq": seq,
                "kind": "fee_list",
                "status_from": row.status,
                "status_to": row.status,
                "at": at,
                "actor": caller.actor,
                "detail": {
                    "file": path.name[-100:],
                    "lines": len(lines),
                    "unknown": unknown,
                    "total_fen": total,
                },
            }
        )
        uow.commit()
    return FeeList(len(lines), len(lines) - unknown, unknown, total)


def _line(claim_id: str, r: FeeRow, got: catalog.ResolvedItem | str) -> dict[str, Any]:
    base = {
        "claim_id": claim_id,
        "sn": r.sn,
        "item_code": r.code[:50],
        "item_name": r.name[:100],
        "service_date": r.service_date,
        "price_e6": r.price_e6,
        "qty_e4": r.qty_e4,
        "amount_fen": line_amount(r.price_e6, r.qty_e4),
    }
    if isinstance(got, str):
        return base | {
            "status": "unknown",
            "code": None,
            "category": None,
            "item_class": None,
            "selfpay_bp": None,
            "price_cap_e6": None,
            "in_protocol": False,
            "temp_code": False,
            "note": got,
        }
    return base | {
        "status": "mapped",
        "code": got.code,
        "category": got.category,
        "item_class": got.item_class,
        "selfpay_bp": got.selfpay_bp,
        "price_cap_e6": got.price_cap_e6,
        "in_protocol": got.in_protocol,
        "temp_code": got.temp_code,
        "note": None,
    }


# -- attachments -----------------------------------------------------------------------


def attach(
    uow: UnitOfWork,
    ctx: Context,
    caller: Principal,
    claim_id: str,
    name: str,
    content: bytes,
    doc_type: str = "其他",
) -> str:
    """A scanned attachment (pdf, jpg or png by its first bytes; at most
    ``MAX_ATTACHMENT``): the bytes stored once by sha256, linked to the claim."""
    may(caller, "claim.intake")
    kind = file_kind(content)
    if kind is None:
        raise InvalidRequest.of([("file", "附件只能是 PDF、JPG 或 PNG 文件")])
    if len(content) > MAX_ATTACHMENT:
        raise InvalidRequest.of([("file", f"附件超过 {MAX_ATTACHMENT // (1024 * 1024)} MB")])
    sha = hashlib.sha256(content).hexdigest()
    at = ctx.now()
    with uow(write=True):
        row = load(uow, caller, claim_id, lock=True)
        if row.status not in (*_EDITABLE, "forwarded"):
            raise Conflict(
                f"claim {claim_id} is {row.status}: attachments are added at intake "
                "or when returned for correction"
            )
        if not uow.claims.has_file(sha):
            uow.claims.insert_file(
                {
                    "sha256": sha,
                    "kind": kind,
                    "size": len(content),
                    "content": content,
                    "stored_at": at,
                }
            )
        if all(a.sha256 != sha for a in uow.claims.attachments(claim_id)):
            uow.claims.insert_attachment(
                {
                    "claim_id": claim_id,
                    "sha256": sha,
                    "doc_type": doc_type[:20],
                    "name": name[-100:],
                    "uploaded_at": at,
                    "uploaded_by": caller.actor,
                }
            )
        uow.commit()
    return sha


def forward(uow: UnitOfWork, ctx: Context, caller: Principal, claim_id: str) -> None:
    """移交: the township sends a complete claim (fee list uploaded) to the district."""
    may(caller, "claim.intake")
    at = ctx.now()
    with uow(write=True):
        row = load(uow, caller, claim_id, lock=True)
        if not uow.claims.lines(claim_id):
            raise Conflict(f"报销申请 {claim_id} 尚未上传费用清单，不能移交")
        move(uow, caller, row, "forwarded", "forward", at, allowed_from=("received",))
        uow.commit()


def take_in(
    uow: UnitOfWork,
    ctx: Context,
    caller: Principal,
    cmd: ClaimIn,
    fee_list: Path | None = None,
    attachments: Sequence[tuple[str, bytes, str]] = (),
) -> ClaimView:
    """受理 with its files in ONE transaction: the claim, its fee list (``fee_list``) and
    its attachments ((name, bytes, doc type) each). Files are checked before anything is
    stored, and a refusal of any part stores nothing (REST's multipart intake, the
    console's intake form)."""
    may(caller, "claim.intake")
    if fee_list is not None:
        rows = read_fee_list(fee_list)
        bad = [
            (f"fee_list.sn {r.sn}", f"费用日期 {r.service_date} 不在就诊期间内")
            for r in rows
            if not cmd.admit_date <= r.service_date <= cmd.discharge_date
        ]
        if bad:
            raise InvalidRequest.of(bad)
    for n, (_name, content, _doc) in enumerate(attachments):
        if file_kind(content) is None:
            raise InvalidRequest.of([(f"attachments[{n}]", "附件只能是 PDF、JPG 或 PNG 文件")])
        if len(content) > MAX_ATTACHMENT:
            mb = MAX_ATTACHMENT // (1024 * 1024)
            raise InvalidRequest.of([(f"attachments[{n}]", f"附件超过 {mb} MB")])
    with uow(write=True):
        view = receive(uow, ctx, caller, cmd)
        if fee_list is not None:
            upload_fees(uow, ctx, caller, view.id, fee_list)
        for name, content, doc in attachments:
            attach(uow, ctx, caller, view.id, name, content, doc)
        uow.commit()
    return view
