"""登记信息: an insuree with its history, a provider, catalog resolution for a hospital
on a date; registry imports by upload (all or nothing, every row error in a table; the
import runs in a background thread and the page polls its progress); the offline
capture template to download."""

from __future__ import annotations

import datetime as dt
import secrets
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from starlette.datastructures import FormData, UploadFile

from yibao.adapters.web.base import (
    PREFIX,
    ConsoleRoute,
    Form,
    Signed,
    Visit,
    errors_of,
    page,
    parse_date,
    personal_read,
    redirect,
)
from yibao.adapters.web.formats import BEIJING
from yibao.core.errors import InvalidFile, InvalidRequest, NotFound, YibaoError
from yibao.services.access.rights import Principal, audit, require
from yibao.services.registry import import_file
from yibao.services.reports.registers import insuree_history, provider_history, resolve_codes
from yibao.services.stays.reentry import write_template
from yibao.store.uow import UnitOfWork

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

KIND_NAMES = {
    "insurees": "参保人员",
    "providers": "定点医疗机构",
    "catalog": "医保目录",
    "protocol": "诊疗方案目录",
    "mapping": "医院对码",
    "diseases": "病种编码",
}
MAX_UPLOAD = 200 * 1024 * 1024
MAX_PROBLEMS = 1000  # row errors kept for the table (the count is of all)


@router.get("/registry")
async def registry(
    visit: Signed,
    psn_no: str = "",
    code: str = "",
    provider_code: str = "",
    date: str = "",
    codes: str = "",
) -> Response:
    errors: dict[str, str] = {}
    ctx: dict[str, Any] = {
        "nav": "registry",
        "kinds": KIND_NAMES,
        "errors": errors,
        "asked": {
            "psn_no": psn_no,
            "code": code,
            "date": date,
            "provider_code": provider_code,
            "codes": codes,
        },
    }
    caller = visit.caller
    if psn_no.strip():
        try:
            ctx["insuree"] = await run_in_threadpool(insuree_history, visit.uow, caller, psn_no)
        except (InvalidRequest, NotFound) as exc:
            errors["psn_no"] = (
                errors_of(exc).get("psn_no", exc.one_line())
                if isinstance(exc, InvalidRequest)
                else exc.one_line()
            )
        else:
            await personal_read(visit, "insuree", ctx["insuree"].insuree_id)
    if code.strip():
        try:
            ctx["provider"] = await run_in_threadpool(provider_history, visit.uow, caller, code)
        except (InvalidRequest, NotFound) as exc:
            errors["code"] = exc.one_line()
    if provider_code.strip() or codes.strip():
        on = parse_date(date, "date", errors) or visit.now().astimezone(BEIJING).date()
        if "date" not in errors:
            try:
                ctx["resolved"] = await run_in_threadpool(
                    resolve_codes,
                    visit.uow,
                    caller,
                    provider_code,
                    codes.replace(",", "\n").replace("，", "\n").splitlines(),
                    on,
                )
                ctx["resolved_on"] = on
            except InvalidRequest as exc:
                errors.update(errors_of(exc))
            except NotFound as exc:
                errors["provider_code"] = exc.one_line()
    return page(visit, "registry.html", ctx)


@router.get("/registry/template")
async def capture_template(visit: Signed) -> Response:
    visit.caller  # signed in  # noqa: B018

    def write() -> bytes:
        with tempfile.TemporaryDirectory(prefix="yibao-template-") as tmp:
            path = Path(tmp) / "capture.xlsx"
            write_template(path)
            return path.read_bytes()

    body = await run_in_threadpool(write)
    return Response(
        body,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": 'attachment; filename="offline-capture.xlsx"'},
    )


# -- imports in the background ------------------------------------------------------


@dataclass
class Job:
    """One registry import running in a background thread (what the page polls)."""

    id: str
    owner: str
    kind: str
    filename: str
    started: dt.datetime
    state: str = "running"  # running | done | refused | failed
    done: int = 0
    total: int | None = None
    result: Any = None
    problems: list[tuple[str, str]] = field(default_factory=list)
    bad_rows: int = 0
    message: str = ""

    @property
    def permille(self) -> int:
        if self.state != "running":
            return 1000
        return 1000 * self.done // self.total if self.total else 0


def _run(job: Job, engine: Any, caller: Principal, path: Path, now: dt.datetime) -> None:
    uow = UnitOfWork(engine)

    def progress(done: int, total: int | None) -> None:
        job.done, job.total = done, total

    try:
        result = import_file(
            uow,
            job.kind,
            path,
            actor=caller.actor,
            now=now,
            max_problems=MAX_PROBLEMS,
            progress=progress,
        )
    except InvalidFile as exc:
        job.problems, job.bad_rows = list(exc.problems), exc.rows_with_problems
        job.message, job.state = exc.one_line(), "refused"
    except YibaoError as exc:
        job.message, job.state = exc.one_line(), "refused"
    except Exception as exc:  # the page says so; nothing was kept (one transaction)
        job.message, job.state = f"导入失败（{type(exc).__name__}），未保存任何数据", "failed"
    else:
        job.result, job.state = result, "done"
    finally:
        path.unlink(missing_ok=True)
    detail = {"file": job.filename[-100:], "state": job.state, "bad_rows": job.bad_rows}
    after = (
        None
        if job.result is None
        else {"change_set": job.result.change_set, "rows": job.result.rows}
    )
    try:
        with uow(write=True):
            audit(
                uow,
                caller,
                "registry.import",
                "registry",
                job.kind,
                before=None,
                after=after,
                at=now,
                detail=detail,
            )
            uow.commit()
    except Exception:  # the import's own change set records who imported what
        job.message = job.message or "（审计记录写入失败）"


@router.post("/registry/import")
async def start_import(visit: Signed, form: Form) -> Response:
    try:
        return await _start_import(visit, form)
    finally:
        await form.close()  # the upload's spooled file


async def _start_import(visit: Visit, form: FormData) -> Response:
    caller = visit.caller
    require(caller, "registry.import")
    kind = str(form.get("kind") or "")
    upload = form.get("file")
    errors: dict[str, str] = {}
    if kind not in KIND_NAMES:
        errors["kind"] = "请选择登记类别"
    name = upload.filename or "" if isinstance(upload, UploadFile) else ""
    suffix = Path(name).suffix.lower()
    if not isinstance(upload, UploadFile) or not name:
        errors["file"] = "请选择要上传的文件"
    elif suffix not in (".csv", ".xlsx"):
        errors["file"] = "只接受 .xlsx 或 .csv 文件"
    if errors:
        return page(
            visit,
            "registry.html",
            {"nav": "registry", "kinds": KIND_NAMES, "errors": errors, "asked": {}},
            status=422,
        )
    assert isinstance(upload, UploadFile)
    fd, tmp = tempfile.mkstemp(prefix="yibao-upload-", suffix=suffix)
    size = 0
    with open(fd, "wb") as fh:
        while chunk := await upload.read(1 << 20):
            size += len(chunk)
            if size > MAX_UPLOAD:
                break
            fh.write(chunk)
    if size > MAX_UPLOAD:
        Path(tmp).unlink(missing_ok=True)
        errors["file"] = f"文件超过 {MAX_UPLOAD // 1024 // 1024} MB"
        return page(
            visit,
            "registry.html",
            {"nav": "registry", "kinds": KIND_NAMES, "errors": errors, "asked": {}},
            status=422,
        )
    job = Job(secrets.token_hex(8), caller.key_id, kind, Path(name).name, visit.now())
    jobs = visit.web.jobs
    for old in [k for k, j in jobs.items() if j.state != "running"][:-50]:
        jobs.pop(old, None)  # keep the last 50 finished
    jobs[job.id] = job
    threading.Thread(
        target=_run,
        args=(job, visit.request.app.state.engine, caller, Path(tmp), visit.now()),
        daemon=True,
        name=f"import-{job.id}",
    ).start()
    return redirect(visit, f"{PREFIX}/registry/imports/{job.id}")


@router.get("/registry/imports/{job_id}")
async def import_status(visit: Signed, job_id: str, fragment: int = 0) -> Response:
    job = visit.web.jobs.get(job_id)
    if job is None or job.owner != visit.caller.key_id:
        raise NotFound("没有这个导入任务（任务只在启动它的服务进程中保留）")
    template = "_import_job.html" if fragment else "import_job.html"
    return page(visit, template, {"nav": "registry", "job": job, "kinds": KIND_NAMES})
