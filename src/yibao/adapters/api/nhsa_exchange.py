"""``POST /nhsa`` handlers of the file and document exchange transactions (9101/9102,
3202 with its detail file, 4101A, 1301–1307), merged into ``nhsa.HANDLERS``; an entry
here replaces the one there for the same infno.

Each makes one service call; a service's problem is answered under the national key
path (``input.fsUploadIn.filename``, ``input.data.file_qury_no`` with the file's row and
column in the message). docs/NHSA.md, "Files, settlement lists and catalogs".
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any

from yibao.adapters import nhsa
from yibao.adapters.nhsa.exchange import (
    CATALOG_INFNOS,
    CatalogRequest,
    FileDownload,
    FileUpload,
    detail_statement_output,
    result_file_rows,
    wire_time,
)
from yibao.adapters.nhsa.records import StatementRequest
from yibao.adapters.nhsa.statements import statement_output
from yibao.core.errors import InvalidRequest
from yibao.core.ledger.reconcile import DetailRow
from yibao.services.access.rights import Principal, show_psn_no
from yibao.services.encounters.context import Context
from yibao.services.registry.downloads import catalog_download, tab_text, zip_one
from yibao.services.reports import detail_file, files, settlement_lists
from yibao.services.reports.reads import Statement
from yibao.services.reports.settlement_lists import SettlementListIn
from yibao.store.uow import UnitOfWork

Handler = Callable[[UnitOfWork, Context, Principal, Any, nhsa.RequestEnvelope], Any]


def _renamed(exc: InvalidRequest, names: Mapping[str, str]) -> InvalidRequest:
    return InvalidRequest.of([(names.get(p, p), m) for p, m in exc.problems])


def _9101(
    uow: UnitOfWork, ctx: Context, who: Principal, up: FileUpload, env: nhsa.RequestEnvelope
) -> Any:
    if up.fixmedins_code != env.fixmedins_code:
        raise InvalidRequest.of(
            [(f"{up.where}.fixmedins_code", "is not the envelope's fixmedins_code")]
        )
    try:
        f = files.upload_file(uow, who, filename=up.filename, content=up.content, now=ctx.now())
    except InvalidRequest as exc:
        raise _renamed(exc, {n: f"{up.where}.{n}" for n in ("filename", "in")}) from None
    return {"file_qury_no": f.file_qury_no, "filename": f.filename,
            "fixmedins_code": env.fixmedins_code,
            "dld_endtime": wire_time(f.dld_endtime)}  # fmt: skip


def _9102(
    uow: UnitOfWork, _ctx: Context, who: Principal, q: FileDownload, env: nhsa.RequestEnvelope
) -> Any:
    if q.fixmedins_code not in (None, env.fixmedins_code):
        raise InvalidRequest.of(
            [(f"{q.where}.fixmedins_code", "is not the envelope's fixmedins_code")]
        )
    got = files.download_file(uow, who, q.file_qury_no)
    f = got.file
    return {"file_qury_no": f.file_qury_no, "filename": f.filename,
            "fixmedins_code": env.fixmedins_code, "size": f.size, "sha256": f.sha256,
            "file": base64.b64encode(got.content).decode("ascii")}  # fmt: skip


def _result_file(who: Principal) -> detail_file.ResultRender:
    def render(
        st: Statement,
        declared: tuple[DetailRow, ...],
        msgids: Mapping[tuple[str, bool], str | None],
    ) -> tuple[str, bytes]:
        rows = result_file_rows(st.details, st.detail_diffs, declared, msgids,
                                lambda p: show_psn_no(who, p))  # fmt: skip
        return "result.zip", zip_one("result.txt", tab_text(rows))

    return render


def _3202(
    uow: UnitOfWork, ctx: Context, who: Principal, q: StatementRequest, env: nhsa.RequestEnvelope
) -> Any:
    if not q.file_query_no:
        raise InvalidRequest.of([("input.data.file_qury_no",
                                  "required: the detail file uploaded with 9101")])  # fmt: skip
    try:
        d = detail_file.reconcile_detail_file(
            uow, who, provider_code=env.fixmedins_code, file_qury_no=q.file_query_no,
            begin=q.begin, end=q.end, declared=q.declared, scheme=q.scheme,
            clr_type=q.clr_type, render=_result_file(who), now=ctx.now())  # fmt: skip
    except InvalidRequest as exc:
        raise _renamed(exc, {"file_qury_no": "input.data.file_qury_no"}) from None
    st = d.statement
    fileinfo = {"file_qury_no": d.result.file_qury_no, "filename": d.result.filename,
                "dld_endtime": wire_time(d.result.dld_endtime)}  # fmt: skip
    totals = statement_output(st.result, clearing_agency=q.clearing_agency)
    return detail_statement_output(st.result.balanced, totals, st.detail_diffs, d.file_rows,
                                   fileinfo)  # fmt: skip


def _4101a(
    uow: UnitOfWork, ctx: Context, who: Principal, doc: SettlementListIn, env: nhsa.RequestEnvelope
) -> Any:
    got = settlement_lists.upload_settlement_list(uow, who, doc, msgid=env.msgid, now=ctx.now())
    return {"setl_list_id": got.setl_list_id, "setl_id": got.setl_id, "vers": got.version}


def _catalog(infno: str) -> Handler:
    listing = CATALOG_INFNOS[infno]

    def handle(
        uow: UnitOfWork, ctx: Context, who: Principal, q: CatalogRequest, _e: nhsa.RequestEnvelope
    ) -> Any:
        try:
            d = catalog_download(uow, listing, q.since, infno=infno,  # type: ignore[arg-type]
                                 actor=who.actor, now=ctx.now())  # fmt: skip
        except InvalidRequest as exc:
            raise _renamed(exc, {"ver": "input.data.ver"}) from None
        f = d.file
        return {"file_qury_no": f.file_qury_no, "filename": f.filename,
                "dld_end_time": wire_time(f.dld_endtime)[:10], "data_cnt": d.data_cnt}  # fmt: skip

    return handle


EXCHANGE_HANDLERS: dict[str, Handler] = {
    "9101": _9101,
    "9102": _9102,
    "3202": _3202,
    "4101": _4101a,
    "4101A": _4101a,
    **{infno: _catalog(infno) for infno in CATALOG_INFNOS},
}
"""infno -> handler (issue 16: file exchange)."""
