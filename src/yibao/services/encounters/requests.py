"""Idempotent requests and 冲正 (compensation), by the caller's request id.

A hospital's national ``msgid`` and its REST ``Idempotency-Key`` share one space per
hospital (``Principal.principal``): the first successful answer is stored with the
change it made, in the same transaction; a repeat with the same fingerprint gets that
answer back, byte for byte; a repeat with another fingerprint is a conflict. Failed
requests store nothing (nothing they did is kept), so a retry runs again.

``compensate`` (2601) undoes what a msgid did, by the records that carry it: a
settlement is reversed, uploaded lines are cancelled, cancelled lines are uploaded
again (as new rows: the cancelled ones stay as they were recorded), a discharge is
undone, an admission is cancelled. A compensated msgid is never applied afterwards,
even if the original arrives late. A settlement reversal (2305) is not undone: the
hospital settles the stay again (2304), which gives it the new settlement's id
(DECISIONS 0091).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from yibao.core.errors import Conflict, InvalidRequest, YibaoError
from yibao.services.access.rights import Principal, audit, require
from yibao.services.encounters import lifecycle as enc_uc
from yibao.services.encounters.context import Context
from yibao.services.encounters.state import EncounterState
from yibao.store.uow import UnitOfWork

__all__ = ["Compensated", "Reply", "compensate", "replay_or_run"]


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer as sent: HTTP status, content type and the exact body text."""

    status: int
    content_type: str
    body: str
    replayed: bool = False


def _replay(row: Any, fingerprint: str, key: str) -> Reply:
    if row.fingerprint != fingerprint:
        raise Conflict(f"request id {key} was used for another request (other body or route)",
                       [("Idempotency-Key", "reused with another request")])  # fmt: skip
    return Reply(row.status, row.content_type, row.body, replayed=True)


def replay_or_run(
    uow: UnitOfWork,
    caller: Principal,
    *,
    key: str,
    channel: str,
    operation: str,
    fingerprint: str,
    now: dt.datetime,
    run: Callable[[], Reply],
) -> Reply:
    """The stored answer to (caller, key), or ``run()`` and store its answer in the
    same transaction (``run`` calls one use case, which joins it)."""
    principal = caller.principal
    try:
        with uow(write=True):
            hosp = uow.hospital
            done = hosp.compensation(principal, key)
            if done is not None:
                raise Conflict(f"request id {key} was compensated (冲正) at {done.at}: "
                               "send a new one")  # fmt: skip
            row = hosp.request(principal, key)
            if row is not None:
                return _replay(row, fingerprint, key)
            reply = run()
            hosp.insert_request({"principal": principal, "key": key, "channel": channel,
                                 "operation": operation[:120], "fingerprint": fingerprint,
                                 "status": reply.status, "content_type": reply.content_type,
                                 "body": reply.body, "created_at": now})  # fmt: skip
            uow.commit()
            return reply
    except (YibaoError, IntegrityError):
        with uow:  # a concurrent twin may have answered first: give its answer
            row = uow.hospital.request(principal, key)
            done = uow.hospital.compensation(principal, key)
        if row is None or done is not None:
            raise
        return _replay(row, fingerprint, key)


@dataclass(frozen=True, slots=True)
class Compensated:
    """What a 冲正 undid (empty when the original never arrived)."""

    msgid: str
    infno: str | None
    undone: dict[str, Any]
    repeated: bool  # this msgid had already been compensated


def compensate(uow: UnitOfWork, ctx: Context, caller: Principal, msgid: str,
               infno: str | None, *, by_msgid: str | None,
               seen_only: bool = False) -> Compensated:  # fmt: skip
    """2601 冲正: undo what ``msgid`` did, in one transaction; a repeat is harmless.
    ``seen_only`` (the envelope, as the platform does): a msgid never answered is
    refused (``InvalidRequest`` on ``omsgid``) instead of being recorded as compensated."""
    require(caller, "compensate")
    assert caller.provider_code is not None
    principal, provider, at = caller.principal, caller.provider_code, ctx.now()
    with uow(write=True):
        hosp = uow.hospital
        done = hosp.compensation(principal, msgid)
        if done is not None:
            return Compensated(msgid, done.infno, dict(done.undone), repeated=True)
        original = hosp.request(principal, msgid)
        if seen_only and original is None:
            raise InvalidRequest.of([("omsgid", f"原交易不存在: msgid {msgid} was never "
                                      "answered (nothing to undo)")])  # fmt: skip
        kind = infno or (original.operation if original is not None else None)
        undone: dict[str, Any] = {}
        reversal = hosp.reversal_by_msgid(provider, msgid)
        if reversal is not None:
            raise Conflict(f"request id {msgid} reversed settlement {reversal.reverses}: a "
                           "reversal (2305) is not undone by 冲正; settle the stay again (2304)",
                           [("msgid", "a settlement reversal")])  # fmt: skip
        row = hosp.settlement_by_msgid(provider, msgid)
        if row is not None:
            enc = enc_uc.load_encounter(uow, caller, row.encounter_id, lock=True)
            if enc.settlement_id == row.id:
                rev = enc_uc.reverse_standing(uow, ctx, caller, enc, row, by_msgid)
                undone["settlement_reversed"] = row.id
                undone["reversal_id"] = rev.settlement_id
        for enc_id in hosp.encounters_with_upload(provider, msgid):
            enc = enc_uc.load_encounter(uow, caller, enc_id, lock=True)
            sns = [r.sn for r in hosp.lines_by_upload_msgid([enc_id], msgid)
                   if r.cancelled_at is None]  # fmt: skip
            if sns:
                enc_uc.require_open(enc, "cancel the fee lines of a compensated upload")
                for sn in sns:
                    current = enc_uc.load_encounter(uow, caller, enc_id, lock=False)
                    enc_uc.cancel_lines(uow, caller, current, sn, at, by_msgid)
                undone.setdefault("lines_cancelled", []).extend(sns)
        for enc_id in hosp.encounters_with_cancel(provider, msgid):
            enc = enc_uc.load_encounter(uow, caller, enc_id, lock=True)
            restored = _restore_lines(uow, caller, enc, msgid, at, by_msgid)
            if restored:
                undone.setdefault("lines_restored", []).extend(restored)
        admitted = hosp.encounter_by_admit_msgid(provider, msgid)
        discharged = hosp.encounter_discharged_by(provider, msgid)
        if discharged is not None:
            enc = enc_uc.load_encounter(uow, caller, discharged, lock=True)
            if enc.status == "discharged":
                enc_uc.undo_discharge(uow, ctx, caller, enc, by_msgid)
                undone["discharge_undone"] = discharged
        if admitted is not None:
            enc = enc_uc.load_encounter(uow, caller, admitted.id, lock=True)
            if enc.status != "cancelled":
                enc_uc.cancel_admission_in(uow, ctx, caller, enc, by_msgid)
                undone["admission_cancelled"] = admitted.id
        hosp.insert_compensation({"principal": principal, "msgid": msgid,
                                  "infno": (kind or "")[:120],
                                  "at": at, "actor": caller.actor, "by_msgid": by_msgid,
                                  "undone": undone})  # fmt: skip
        audit(uow, caller, "request.compensated", "request", msgid, before=None, after=undone,
              at=at, msgid=by_msgid, detail={"infno": kind})  # fmt: skip
        uow.commit()
    return Compensated(msgid, kind, undone, repeated=False)


def _restore_lines(uow: UnitOfWork, caller: Principal, enc: EncounterState, msgid: str,
                   at: dt.datetime, by_msgid: str | None) -> list[str]:  # fmt: skip
    """The lines ``msgid`` cancelled, uploaded again under ``by_msgid`` (the stay must be
    open). A line whose ``feedetl_sn`` was uploaded again meanwhile is refused: the
    hospital's later upload stands, and 冲正 cannot put back what it no longer knows."""
    hosp = uow.hospital
    gone = hosp.lines_by_cancel_msgid(enc.id, msgid)
    if not gone:
        return []
    enc_uc.require_open(enc, "restore the fee lines of a compensated cancellation")
    active = {r.sn for r in hosp.active_lines(enc.id)}
    again = sorted({r.sn for r in gone} & active)
    if again:
        raise Conflict(f"encounter {enc.id}: feedetl_sn {', '.join(again[:10])} was uploaded "
                       f"again after request id {msgid} cancelled it; cancel it first",
                       [("msgid", "lines uploaded again since")])  # fmt: skip
    fresh = {
        "uploaded_at": at,
        "upload_msgid": by_msgid,
        "cancelled_at": None,
        "cancel_msgid": None,
    }  # a new row (new id): the cancelled one stays as recorded
    rows = [{k: v for k, v in r._mapping.items() if k != "id"} | fresh for r in gone]
    hosp.insert_lines(rows)
    sns = [str(r["sn"]) for r in rows]
    enc_uc.record_change(uow, caller, enc, "fees_restored", enc.status, at, by_msgid,
                   {"sns": sns[:200], "count": len(sns), "cancelled_by": msgid})  # fmt: skip
    return sns
