"""Manual claims (手工报销, docs/CLAIMS.md) under ``/v1``: thin adapters over
``yibao.services.claims``. The intake is multipart (the claim as JSON in the ``claim``
part, the fee list CSV/XLSX in ``fee_list``, scanned attachments in ``attachments``),
stored in one transaction; every step is a POST on the claim; payment batches give the
bank's file and take its return file; the statement (结算单) is HTML or XLSX.

Personal data masked as the role sees it, the payee's account always masked (the bank
file, for the paying roles only, is the one exception — audited). The GET routes that
show an insuree's data are in ``app.PERSONAL``: each answer is audited before it leaves."""

from __future__ import annotations

import datetime as dt
import hashlib
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from yibao.adapters.api.deps import Caller, Ctx, Mut, Uow, send
from yibao.adapters.api.render import beijing
from yibao.adapters.api.schemas import ERRORS, CodeStr, Fen, TextStr, clean_params
from yibao.core.engine.serialize import settlement_to_dict
from yibao.core.errors import InvalidFile, InvalidRequest
from yibao.services import claims
from yibao.services.claims.payments import Batch

router = APIRouter(prefix="/v1", dependencies=[Depends(clean_params)], tags=["claims"])

MAX_FEE_LIST = 5 * 1024 * 1024  # bytes: a fee list of some tens of thousands of lines
T = TypeVar("T")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DiagnosisBody(_In):
    code: CodeStr = Field(min_length=1, max_length=20, description="ICD-10 (国家医保版)")
    main: bool = False


class InvoiceBody(_In):
    code: CodeStr = Field(min_length=1, max_length=20, description="发票代码")
    number: CodeStr = Field(min_length=1, max_length=20, description="发票号码")
    issued_on: dt.date
    amount_fen: Fen


class ClaimBody(_In):
    """受理: what the township counter takes in."""

    psn_no: CodeStr = Field(min_length=18, max_length=18, description="the insuree's ID number")
    provider_code: CodeStr = Field(
        min_length=1, max_length=20, description="the registry's code, or the provider's own"
    )
    admit_date: dt.date
    discharge_date: dt.date
    diagnoses: list[DiagnosisBody] = Field(min_length=1, max_length=20)
    invoices: list[InvoiceBody] = Field(min_length=1, max_length=50)
    payee_name: TextStr = Field(min_length=1, max_length=60)
    payee_bank: TextStr = Field(min_length=1, max_length=60)
    payee_account: CodeStr = Field(min_length=8, max_length=30)
    med_type: CodeStr = Field("21", max_length=8)
    covid_status: Literal["confirmed", "suspected", "none"] | None = None
    provider_name: TextStr | None = Field(None, max_length=100, description="not networked")
    provider_region: CodeStr | None = Field(None, max_length=6, description="not networked")
    provider_level: Literal[1, 2, 3] | None = Field(None, description="not networked")

    def command(self) -> claims.ClaimIn:
        return claims.ClaimIn(
            psn_no=self.psn_no,
            provider_code=self.provider_code,
            admit_date=self.admit_date,
            discharge_date=self.discharge_date,
            diagnoses=tuple(claims.DiagnosisIn(d.code, d.main) for d in self.diagnoses),
            invoices=tuple(
                claims.InvoiceIn(i.code, i.number, i.issued_on, i.amount_fen) for i in self.invoices
            ),
            payee_name=self.payee_name,
            payee_bank=self.payee_bank,
            payee_account=self.payee_account,
            med_type=self.med_type,
            covid_status=self.covid_status,
            provider_name=self.provider_name,
            provider_region=self.provider_region,
            provider_level=self.provider_level,
        )


class NoteBody(_In):
    note: TextStr = Field("", max_length=200)


class MissingBody(_In):
    missing: TextStr = Field(min_length=1, max_length=500, description="what 补正 asks for")


class ReasonBody(_In):
    reason: TextStr = Field(min_length=1, max_length=200)


class ClassifyBody(_In):
    code: CodeStr | None = Field(
        None, max_length=50, description="a national code; null: 自费 (class C)"
    )


class BatchBody(_In):
    claim_ids: list[Annotated[CodeStr, Field(max_length=30)]] | None = Field(
        None, max_length=10_000, description="null: every approved claim"
    )


def parse_claim(text: str) -> ClaimBody:
    """The ``claim`` part: JSON, each problem named ``claim.<field>``."""
    try:
        return ClaimBody.model_validate_json(text)
    except ValidationError as exc:
        problems = []
        for e in exc.errors(include_url=False):
            where = ".".join(str(p) for p in e["loc"])
            msg = "unknown key" if e["type"] == "extra_forbidden" else str(e["msg"])
            problems.append((f"claim.{where}" if where else "claim", msg))
        raise InvalidRequest.of(problems or [("claim", "invalid claim")]) from None


async def _read(upload: UploadFile, field: str, limit: int) -> bytes:
    content = await upload.read(limit + 1)
    if len(content) > limit:
        raise InvalidRequest.of([(field, f"文件超过 {limit // (1024 * 1024)} MB")])
    return content


def _suffix(upload: UploadFile, field: str) -> str:
    suffix = Path(upload.filename or "").suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise InvalidRequest.of([(field, "文件应为 .csv 或 .xlsx")])
    return suffix


def _with_file(content: bytes, suffix: str, field: str, run: Callable[[Path], T]) -> T:
    """``run`` on ``content`` written to a temporary file named ``*suffix``; a file that
    does not parse is a problem named ``field``."""
    with tempfile.TemporaryDirectory(prefix="yibao-claim-") as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(content)
        try:
            return run(path)
        except InvalidFile as exc:
            raise InvalidRequest.of(
                [(f"{field}.{p}", m) for p, m in exc.problems] or [(field, exc.one_line())]
            ) from None
        except InvalidRequest as exc:
            if all(p.startswith(field) for p, _ in exc.problems):
                raise
            raise InvalidRequest.of([(f"{field}.{p}", m) for p, m in exc.problems]) from None


def claim_doc(d: claims.reads.ClaimDetail) -> dict[str, Any]:
    doc = d.claim.as_dict()
    doc["step_started_at"] = beijing(d.claim.step_started_at)
    doc["due_at"] = beijing(d.claim.due_at)
    return doc | {
        "invoices": d.invoices,
        "lines": d.lines,
        "attachments": d.attachments,
        "events": [e | {"at": beijing(e["at"])} for e in d.events],
        "settlements": d.settlements,
    }


def view_doc(v: claims.ClaimView) -> dict[str, Any]:
    doc = v.as_dict()
    doc["step_started_at"] = beijing(v.step_started_at)
    doc["due_at"] = beijing(v.due_at)
    return doc


def batch_doc(b: Batch) -> dict[str, Any]:
    return {
        "id": b.id,
        "created_at": beijing(b.created_at),
        "created_by": b.created_by,
        "total_fen": b.total_fen,
        "returned_at": beijing(b.returned_at),
        "line_count": b.line_count,
        "lines": [
            {
                "seq": ln.seq,
                "claim_id": ln.claim_id,
                "amount_fen": ln.amount_fen,
                "status": ln.status,
                "bank_ref": ln.bank_ref,
                "failure": ln.failure,
            }
            for ln in b.lines
        ],
    }


# -- the claim ---------------------------------------------------------------------------


@router.post(
    "/claims",
    status_code=201,
    responses=ERRORS,
    summary="受理: a claim with its fee list and attachments (multipart), in one transaction",
)
async def create_claim(
    uow: Uow,
    ctx: Ctx,
    caller: Caller,
    mut: Mut,
    claim: Annotated[str, Form(description="the claim as JSON (ClaimBody)")],
    fee_list: Annotated[UploadFile | None, File(description="费用清单 .csv/.xlsx")] = None,
    attachments: Annotated[
        list[UploadFile] | None, File(description="scans: PDF, JPG or PNG")
    ] = None,
    doc_types: Annotated[
        list[str] | None, Form(description="one per attachment: 发票, 出院小结 …")
    ] = None,
) -> Response:
    body = parse_claim(claim)
    fees: tuple[bytes, str] | None = None
    if fee_list is not None and fee_list.filename:
        fees = (await _read(fee_list, "fee_list", MAX_FEE_LIST), _suffix(fee_list, "fee_list"))
    files = []
    for n, up in enumerate(attachments or []):
        content = await _read(up, f"attachments[{n}]", claims.intake.MAX_ATTACHMENT)
        kind = (doc_types or [])[n] if n < len(doc_types or []) else "其他"
        files.append(((up.filename or f"attachment-{n}")[-100:], content, kind[:20] or "其他"))
    asked = {
        "claim": body.model_dump(mode="json"),
        "fee_list": hashlib.sha256(fees[0]).hexdigest() if fees else None,
        "attachments": [hashlib.sha256(c).hexdigest() for _, c, _ in files],
    }

    def run(_: str | None) -> dict[str, Any]:
        if fees is None:
            made = claims.take_in(uow, ctx, caller, body.command(), None, files)
        else:
            made = _with_file(
                fees[0],
                fees[1],
                "fee_list",
                lambda p: claims.take_in(uow, ctx, caller, body.command(), p, files),
            )
        return claim_doc(claims.claim_detail(uow, ctx, caller, made.id))

    return await run_in_threadpool(mut, asked, 201, run)


@router.get("/claims", responses=ERRORS, summary="Claims, newest first (masked as the role sees)")
def get_claims(
    uow: Uow,
    ctx: Ctx,
    caller: Caller,
    status: str | None = Query(None, max_length=12),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
) -> Response:
    rows = claims.list_claims(uow, ctx, caller, status=status, limit=limit, offset=offset)
    return send(200, {"claims": [view_doc(v) for v in rows]})


@router.get("/claims/overdue", responses=ERRORS, summary="Claims past their step's time limit")
def get_overdue(uow: Uow, ctx: Ctx, caller: Caller) -> Response:
    rows = claims.overdue(uow, ctx, caller)
    return send(200, {"claims": [view_doc(v) for v in rows]})


@router.get(
    "/claims/{claim_id}",
    responses=ERRORS,
    summary="A claim: invoices, fee lines, attachments, events, settlements and its clock",
)
def get_claim(claim_id: str, uow: Uow, ctx: Ctx, caller: Caller) -> Response:
    return send(200, claim_doc(claims.claim_detail(uow, ctx, caller, claim_id)))


@router.get(
    "/claims/{claim_id}/settlement",
    responses=ERRORS,
    summary="The engine's result: the standing settlement, else what settling now gives",
)
def get_settlement(claim_id: str, uow: Uow, ctx: Ctx, caller: Caller) -> Response:
    r = claims.engine_result(uow, ctx, caller, claim_id)
    doc: dict[str, Any] = {
        "stored": r.stored,
        "settlement_id": r.settlement_id,
        "payable_fen": r.payable_fen,
        "filing": r.filing,
        "why_not": r.why_not,
    }
    if r.settlement is not None:
        doc |= settlement_to_dict(r.settlement)
    return send(200, doc)


@router.put(
    "/claims/{claim_id}/fee-list",
    responses=ERRORS,
    summary="The fee list replaced (at intake or when returned for correction)",
)
async def put_fee_list(
    claim_id: str,
    uow: Uow,
    ctx: Ctx,
    caller: Caller,
    fee_list: Annotated[UploadFile, File(description="费用清单 .csv/.xlsx")],
) -> Response:
    content, suffix = await _read(fee_list, "fee_list", MAX_FEE_LIST), _suffix(fee_list, "fee_list")

    def run() -> dict[str, Any]:
        got = _with_file(
            content,
            suffix,
            "fee_list",
            lambda p: claims.upload_fees(uow, ctx, caller, claim_id, p),
        )
        return {
            "lines": got.lines,
            "mapped": got.mapped,
            "unknown": got.unknown,
            "total_fen": got.total_fen,
        }

    return send(200, await run_in_threadpool(run))


@router.post(
    "/claims/{claim_id}/attachments",
    status_code=201,
    responses=ERRORS,
    summary="A scanned attachment (PDF, JPG or PNG), stored once by sha256",
)
async def post_attachment(
    claim_id: str,
    uow: Uow,
    ctx: Ctx,
    caller: Caller,
    file: Annotated[UploadFile, File(description="PDF, JPG or PNG")],
    doc_type: Annotated[str, Form(max_length=20)] = "其他",
) -> Response:
    content = await _read(file, "file", claims.intake.MAX_ATTACHMENT)
    name = (file.filename or "attachment")[-100:]
    sha = await run_in_threadpool(
        claims.attach, uow, ctx, caller, claim_id, name, content, doc_type
    )
    return send(201, {"sha256": sha})


def _moved(
    mut: Mut, uow: Uow, ctx: Ctx, caller: Caller, claim_id: str, asked: dict[str, Any],
    call: Callable[[], object],
) -> Response:  # fmt: skip
    """One step of a claim (``call``), answered with the claim as it is afterwards."""

    def run(_: str | None) -> Any:
        call()
        return claim_doc(claims.claim_detail(uow, ctx, caller, claim_id))

    return mut({"claim_id": claim_id, **asked}, 200, run)


@router.post(
    "/claims/{claim_id}/forward",
    responses=ERRORS,
    summary="移交: the township forwards the claim to the district",
)
def forward(claim_id: str, uow: Uow, ctx: Ctx, caller: Caller, mut: Mut) -> Response:
    return _moved(mut, uow, ctx, caller, claim_id, {},
                  lambda: claims.forward(uow, ctx, caller, claim_id))  # fmt: skip


@router.post(
    "/claims/{claim_id}/first-review",
    responses=ERRORS,
    summary="初审 passed (every fee line mapped or classified)",
)
def first_review(claim_id: str, body: NoteBody, uow: Uow, ctx: Ctx, caller: Caller,
                 mut: Mut) -> Response:  # fmt: skip
    return _moved(mut, uow, ctx, caller, claim_id, body.model_dump(),
                  lambda: claims.first_review(uow, ctx, caller, claim_id, body.note))  # fmt: skip


@router.post(
    "/claims/{claim_id}/second-review",
    responses=ERRORS,
    summary="复核 passed, by another person than 初审 (four eyes)",
)
def second_review(claim_id: str, body: NoteBody, uow: Uow, ctx: Ctx, caller: Caller,
                  mut: Mut) -> Response:  # fmt: skip
    return _moved(mut, uow, ctx, caller, claim_id, body.model_dump(),
                  lambda: claims.second_review(uow, ctx, caller, claim_id, body.note))  # fmt: skip


@router.post(
    "/claims/{claim_id}/settlement",
    responses=ERRORS,
    summary="结算 by the engine: the insured place's pack, filing status, COVID rule",
)
def settle(claim_id: str, uow: Uow, ctx: Ctx, caller: Caller, mut: Mut) -> Response:
    return _moved(mut, uow, ctx, caller, claim_id, {},
                  lambda: claims.settle(uow, ctx, caller, claim_id))  # fmt: skip


@router.post(
    "/claims/{claim_id}/reversal",
    responses=ERRORS,
    summary="结算撤销 (a posted reversal) of a claim not yet in a payment batch",
)
def reverse(claim_id: str, body: ReasonBody, uow: Uow, ctx: Ctx, caller: Caller,
            mut: Mut) -> Response:  # fmt: skip
    return _moved(mut, uow, ctx, caller, claim_id, body.model_dump(),
                  lambda: claims.reverse(uow, ctx, caller, claim_id, body.reason))  # fmt: skip


@router.post(
    "/claims/{claim_id}/approval",
    responses=ERRORS,
    summary="审批 of the settlement (not by 初审): it waits for a payment batch",
)
def approve(claim_id: str, uow: Uow, ctx: Ctx, caller: Caller, mut: Mut) -> Response:
    return _moved(mut, uow, ctx, caller, claim_id, {},
                  lambda: claims.approve(uow, ctx, caller, claim_id))  # fmt: skip


@router.post(
    "/claims/{claim_id}/return",
    responses=ERRORS,
    summary="退回补正: back to the counter saying what is missing; the clock pauses",
)
def return_claim(claim_id: str, body: MissingBody, uow: Uow, ctx: Ctx, caller: Caller,
                 mut: Mut) -> Response:  # fmt: skip
    return _moved(mut, uow, ctx, caller, claim_id, body.model_dump(),
                  lambda: claims.return_for_correction(uow, ctx, caller, claim_id,
                                                       body.missing))  # fmt: skip


@router.post(
    "/claims/{claim_id}/resubmission",
    responses=ERRORS,
    summary="补正 done: back to the step it was returned from; the clock resumes",
)
def resubmit(claim_id: str, body: NoteBody, uow: Uow, ctx: Ctx, caller: Caller,
             mut: Mut) -> Response:  # fmt: skip
    return _moved(mut, uow, ctx, caller, claim_id, body.model_dump(),
                  lambda: claims.resubmit(uow, ctx, caller, claim_id, body.note))  # fmt: skip


@router.post(
    "/claims/{claim_id}/rejection",
    responses=ERRORS,
    summary="不予报销, with the reason (its invoices stay taken)",
)
def reject(claim_id: str, body: ReasonBody, uow: Uow, ctx: Ctx, caller: Caller,
           mut: Mut) -> Response:  # fmt: skip
    return _moved(mut, uow, ctx, caller, claim_id, body.model_dump(),
                  lambda: claims.reject(uow, ctx, caller, claim_id, body.reason))  # fmt: skip


@router.post(
    "/claims/{claim_id}/lines/{sn}/classification",
    responses=ERRORS,
    summary="初审: an unknown fee line classified to a national code, or as 自费 (null)",
)
def classify_line(
    claim_id: str, sn: str, body: ClassifyBody, uow: Uow, ctx: Ctx, caller: Caller, mut: Mut
) -> Response:
    def run(_: str | None) -> Any:
        claims.classify(uow, ctx, caller, claim_id, sn, code=body.code)
        return claim_doc(claims.claim_detail(uow, ctx, caller, claim_id))

    return mut({"claim_id": claim_id, "sn": sn, "code": body.code}, 200, run)


@router.get(
    "/claims/{claim_id}/statement",
    responses=ERRORS,
    summary="结算单: each amount with its clause, as printable HTML or XLSX",
)
def get_statement(
    claim_id: str,
    uow: Uow,
    ctx: Ctx,
    caller: Caller,
    format: Literal["html", "xlsx"] = Query("html"),
) -> Response:
    if format == "html":
        text = claims.statement_html(uow, ctx, caller, claim_id)
        return Response(text, 200, media_type="text/html; charset=utf-8")
    with tempfile.TemporaryDirectory(prefix="yibao-statement-") as tmp:
        out = Path(tmp) / "statement.xlsx"
        claims.write_statement_xlsx(uow, caller, claim_id, out)
        content = out.read_bytes()
    return _download(content, "xlsx", f"statement-{claim_id}.xlsx")


# -- payment batches ---------------------------------------------------------------------

_MEDIA = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


def _download(content: bytes, fmt: str, name: str) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(content, 200, media_type=_MEDIA[fmt], headers=headers)


@router.post(
    "/claim-batches",
    status_code=201,
    responses=ERRORS,
    summary="A payment batch of the approved claims (or of claim_ids)",
)
def create_batch(body: BatchBody, uow: Uow, ctx: Ctx, caller: Caller, mut: Mut) -> Response:
    return mut(
        body.model_dump(mode="json"),
        201,
        lambda _: batch_doc(claims.make_batch(uow, ctx, caller, body.claim_ids)),
    )


@router.get("/claim-batches", responses=ERRORS, summary="Payment batches, newest first")
def get_batches(uow: Uow, caller: Caller, limit: int = Query(100, ge=1, le=1000)) -> Response:
    return send(200, {"batches": [batch_doc(b) for b in claims.list_batches(uow, caller, limit)]})


@router.get("/claim-batches/{batch_id}", responses=ERRORS, summary="A payment batch's lines")
def get_batch(batch_id: str, uow: Uow, caller: Caller) -> Response:
    return send(200, batch_doc(claims.batch_view(uow, caller, batch_id)))


@router.get(
    "/claim-batches/{batch_id}/bank-file",
    responses=ERRORS,
    summary="The bank payment file (full account numbers: paying roles only, audited)",
)
def get_bank_file(
    batch_id: str,
    uow: Uow,
    ctx: Ctx,
    caller: Caller,
    format: Literal["xlsx", "csv"] = Query("xlsx"),
) -> Response:
    with tempfile.TemporaryDirectory(prefix="yibao-bank-") as tmp:
        out = Path(tmp) / f"bank.{format}"
        claims.write_bank_file(uow, ctx, caller, batch_id, out)
        content = out.read_bytes()
    return _download(content, format, f"bank-{batch_id}.{format}")


@router.post(
    "/claim-batches/{batch_id}/bank-return",
    responses=ERRORS,
    summary="The bank's return file (回盘): each line paid or failed; failed re-queued",
)
async def post_bank_return(
    batch_id: str,
    uow: Uow,
    ctx: Ctx,
    caller: Caller,
    file: Annotated[UploadFile, File(description="回盘 .csv/.xlsx")],
) -> Response:
    content, suffix = await _read(file, "file", MAX_FEE_LIST), _suffix(file, "file")

    def run() -> dict[str, Any]:
        got = _with_file(
            content, suffix, "file", lambda p: claims.apply_return(uow, ctx, caller, batch_id, p)
        )
        return batch_doc(got)

    return send(200, await run_in_threadpool(run))
