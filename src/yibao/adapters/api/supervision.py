"""Fund supervision under ``/v1/supervision`` (issue 22, docs/SUPERVISION.md): thin
adapters over ``yibao.services.supervision``. A hospital key reads its own flags and
answers them; reviewing is a supervisor's (the console's people). ``mount`` adds the
router and the hook that judges new settlements once a settlement's answer is sent
(a background task after the response: the hospital never waits for it, and a failure
there never touches the settlement)."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask

from yibao.adapters.api.deps import Caller, Ctx, Uow, send
from yibao.adapters.api.schemas import ERRORS, clean_params
from yibao.services import supervision as sv

__all__ = ["mount", "router"]

router = APIRouter(prefix="/v1/supervision", dependencies=[Depends(clean_params)])
_SETTLING = re.compile(r"^/(v1/encounters/[^/]+/settlement|nhsa)$")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AnswerIn(_In):
    answer: str = Field(min_length=1, max_length=500, description="the hospital's explanation")


class ConfirmIn(_In):
    amount_fen: int = Field(ge=0, description="to recover, integer fen (0: nothing)")
    book: str | None = Field(None, max_length=10, description="fund book; default: the "
                             "fund that paid most of the stay")  # fmt: skip
    note: str | None = Field(None, max_length=500)


class DismissIn(_In):
    reason: str = Field(min_length=1, max_length=500)


def flag_doc(f: Any) -> dict[str, Any]:
    return {"id": f.id, "rule_id": f.rule_id, "kind": f.kind, "severity": f.severity,
            "subject": f.subject, "subject_key": f.subject_key, "encounter_id": f.encounter_id,
            "provider_code": f.provider_code, "on": f.on, "month": f.month,
            "amount_fen": f.amount_fen, "evidence": f.evidence, "state": f.state,
            "recovered_fen": f.recovered_fen, "deduction_tx_id": f.deduction_tx_id,
            "raised_at": f.raised_at}  # fmt: skip


@router.get("/flags", tags=["supervision"], responses=ERRORS,
            summary="Supervision flags, newest first (a hospital: its own)")  # fmt: skip
def list_flags(uow: Uow, caller: Caller,
               state: str | None = Query(None, pattern="^(open|answered|confirmed|dismissed)$"),
               rule_id: str | None = Query(None, max_length=40),
               month: str | None = Query(None, pattern=r"^\d{4}-\d{2}$"),
               limit: int = Query(200, ge=1, le=1000),
               offset: int = Query(0, ge=0)) -> Response:  # fmt: skip
    rows = sv.queue(uow, caller, state=(state,) if state else None, rule_id=rule_id,
                    month=month, limit=limit, offset=offset)  # fmt: skip
    return send(200, {"flags": [flag_doc(f) for f in rows]})


@router.get("/flags/{flag_id}", tags=["supervision"], responses=ERRORS,
            summary="One flag: evidence, rule and clause, its steps")  # fmt: skip
def get_flag(flag_id: str, uow: Uow, caller: Caller) -> Response:
    v = sv.flag_view(uow, caller, flag_id)
    steps = [{"seq": e.seq, "kind": e.kind, "state_from": e.state_from, "state_to": e.state_to,
              "at": e.at, "actor": e.actor, "role": e.role, "text": e.text,
              "amount_fen": e.amount_fen, "book": e.book, "tx_id": e.tx_id}
             for e in v.events]  # fmt: skip
    return send(200, {**flag_doc(v.flag), "title": v.title, "clause": v.clause,
                      "settlement_id": v.settlement_id, "steps": steps})  # fmt: skip


@router.post("/flags/{flag_id}/answer", tags=["supervision"], responses=ERRORS,
             summary="The hospital answers one of its flags")  # fmt: skip
def answer_flag(flag_id: str, body: AnswerIn, uow: Uow, ctx: Ctx, caller: Caller) -> Response:
    return send(200, flag_doc(sv.answer(uow, ctx, caller, flag_id, body.answer)))


@router.post("/flags/{flag_id}/confirm", tags=["supervision"], responses=ERRORS,
             summary="A supervisor confirms: the amount posted as a deduction")  # fmt: skip
def confirm_flag(flag_id: str, body: ConfirmIn, uow: Uow, ctx: Ctx, caller: Caller) -> Response:
    f = sv.confirm(uow, ctx, caller, flag_id, body.amount_fen, book=body.book, note=body.note)
    return send(200, flag_doc(f))


@router.post("/flags/{flag_id}/dismiss", tags=["supervision"], responses=ERRORS,
             summary="A supervisor dismisses a flag with a reason")  # fmt: skip
def dismiss_flag(flag_id: str, body: DismissIn, uow: Uow, ctx: Ctx, caller: Caller) -> Response:
    return send(200, flag_doc(sv.dismiss(uow, ctx, caller, flag_id, body.reason)))


def mount(app: FastAPI) -> None:
    """The router, and new settlements judged after their answer (``after_settlement``)."""
    app.include_router(router)

    @app.middleware("http")
    async def _after_settlement(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        if (request.method == "POST" and response.status_code in (200, 201)
                and _SETTLING.match(request.url.path)):  # fmt: skip
            state = request.app.state
            from yibao.store.uow import UnitOfWork

            task = BackgroundTask(sv.after_settlement, UnitOfWork(state.engine), state.ctx)
            response.background = task
        return response
