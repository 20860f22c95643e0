"""异地就医备案: the filing workflow (issue 18; 涪医保发〔2020〕6号 三,
渝医保发〔2020〕3号 四（一）).

::

    take in (受理) ─> accepted ─forward (报送)─> forwarded ─decide─> approved ─revoke─> revoked
                          │                                      └────> refused (with reason)
                          └── a district clerk's own intake is decided directly

A township clerk (乡镇社保所) takes filings in for its own township's insurees and
forwards them to the district; a district clerk (区医保局) takes them in too and decides.
Every step appends a ``filing_events`` row (who, when, why, the next step's due time and
the clause that sets it); the ``filings`` row is the current state, a projection moved
on under its version. Each step's due time comes from the pack covering the insuree's
region (``filing_limits``: ``covid`` / ``other``), over China's working calendar
(``yibao.core.workdays``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from yibao.core.errors import Conflict, InsureeNotImported, InvalidRequest, NoPackApplies, NotFound
from yibao.core.privacy import mask_psn_no
from yibao.core.registry.regions import is_region
from yibao.core.workdays import TimeLimit, due
from yibao.services.access.rights import Principal, audit, in_township, require, show_psn_no
from yibao.services.encounters.context import Context, new_id
from yibao.services.encounters.validation import Checks
from yibao.services.registry import catalog
from yibao.store.filing_tables import FILING_KINDS
from yibao.store.uow import UnitOfWork

__all__ = [
    "KIND_NAMES",
    "STATE_NAMES",
    "FilingIn",
    "FilingView",
    "Step",
    "decide",
    "filing",
    "forward",
    "queue",
    "revoke",
    "take_in",
]

KIND_NAMES = {
    "resettled": "异地安置", "long_stay": "异地长期居住", "work_away": "常驻异地工作",
    "referral": "异地转诊转院", "temporary": "临时外出就医",
}  # fmt: skip
STATE_NAMES = {
    "submitted": "已申请", "accepted": "已受理", "forwarded": "已报送", "approved": "已核准",
    "refused": "不予备案", "revoked": "已撤销",
}  # fmt: skip
OPEN = ("submitted", "accepted", "forwarded")
_MAX_PROVIDERS = 10


@dataclass(frozen=True, slots=True)
class FilingIn:
    """A filing as an applicant gives it."""

    kind: str
    insuree_id: str
    dest_region: str
    valid_from: dt.date
    valid_to: dt.date | None = None
    dest_providers: tuple[str, ...] = ()
    covid: bool = False
    submitted_at: dt.datetime | None = None  # when the applicant applied; default: now


@dataclass(frozen=True, slots=True)
class Step:
    seq: int
    kind: str
    state_from: str | None
    state_to: str
    at: dt.datetime
    actor: str
    role: str
    reason: str | None
    due_at: dt.datetime | None
    clause: str | None


@dataclass(frozen=True, slots=True)
class FilingView:
    id: str
    kind: str
    insuree_id: str  # masked unless the caller sees personal data
    township: str | None
    dest_region: str
    dest_providers: tuple[str, ...]
    valid_from: dt.date
    valid_to: dt.date | None
    covid: bool
    channel: str
    state: str
    due_at: dt.datetime | None
    overdue: bool
    submitted_at: dt.datetime
    updated_at: dt.datetime
    version: int
    steps: tuple[Step, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "kind_name": KIND_NAMES[self.kind],
            "insuree_id": self.insuree_id, "township": self.township,
            "dest_region": self.dest_region, "dest_providers": list(self.dest_providers),
            "valid_from": self.valid_from.isoformat(),
            "valid_to": self.valid_to.isoformat() if self.valid_to else None,
            "covid": self.covid, "channel": self.channel, "state": self.state,
            "state_name": STATE_NAMES[self.state],
            "due_at": self.due_at.isoformat() if self.due_at else None,
            "overdue": self.overdue, "submitted_at": self.submitted_at.isoformat(),
            "updated_at": self.updated_at.isoformat(), "version": self.version,
            "steps": [{
                "seq": s.seq, "kind": s.kind, "state_from": s.state_from,
                "state_to": s.state_to, "at": s.at.isoformat(), "actor": s.actor,
                "role": s.role, "reason": s.reason,
                "due_at": s.due_at.isoformat() if s.due_at else None, "clause": s.clause,
            } for s in self.steps],
        }  # fmt: skip


def _utc(t: dt.datetime) -> dt.datetime:
    t = t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)  # SQLite gives naive UTC
    return t.astimezone(dt.UTC)


def view(caller: Principal, row: Any, now: dt.datetime,
         events: Sequence[Any] = ()) -> FilingView:  # fmt: skip
    due_at = _utc(row.due_at) if row.due_at is not None else None
    return FilingView(
        row.id, row.kind, show_psn_no(caller, row.psn_no), row.township, row.dest_region,
        tuple(row.dest_providers or ()), row.valid_from, row.valid_to, bool(row.covid),
        row.channel, row.state, due_at, due_at is not None and due_at < now,
        _utc(row.submitted_at), _utc(row.updated_at), row.version,
        tuple(Step(e.seq, e.kind, e.state_from, e.state_to, _utc(e.at), e.actor, e.role,
                   e.reason, _utc(e.due_at) if e.due_at else None, e.clause)
              for e in events),
    )  # fmt: skip


# -- time limits ---------------------------------------------------------------------------


def step_due(ctx: Context, insured_region: str, covid: bool,
             start: dt.datetime) -> tuple[dt.datetime | None, str]:  # fmt: skip
    """When a step that starts at ``start`` is due, and the clause that says so (the pack
    covering ``insured_region`` on that day, its ``filing_limits``)."""
    day = start.astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    try:
        pack = ctx.packs.select(insured_region, day)
    except NoPackApplies as exc:
        return None, f"无时限: {exc}"[:100]
    if pack.filing_limits is None:
        return None, f"无时限: pack {pack.id} sets no filing_limits"[:100]
    hours, workdays, clause = pack.filing_limits["covid" if covid else "other"]
    return _utc(due(start, TimeLimit(hours=hours, workdays=workdays))), clause[:100]


# -- checks --------------------------------------------------------------------------------


def check_filing_in(ctx: Context, cmd: FilingIn, prefix: str = "") -> list[tuple[str, str]]:
    """What is wrong with ``cmd`` on its own (nothing looked up)."""
    c = Checks(ctx.now())
    if cmd.kind not in FILING_KINDS:
        c.add(f"{prefix}kind", f"{cmd.kind!r} is not one of {', '.join(FILING_KINDS)}")
    c.psn_no(f"{prefix}insuree_id", cmd.insuree_id)
    if not isinstance(cmd.dest_region, str) or not is_region(cmd.dest_region):
        c.add(f"{prefix}dest_region", "is not a 6-digit administrative region code (行政区划代码)")
    c.day(f"{prefix}valid_from", cmd.valid_from)
    c.day(f"{prefix}valid_to", cmd.valid_to)
    if cmd.valid_to is not None and cmd.valid_from is not None and cmd.valid_to < cmd.valid_from:
        c.add(f"{prefix}valid_to", f"{cmd.valid_to} is before valid_from {cmd.valid_from}")
    if len(cmd.dest_providers) > _MAX_PROVIDERS:
        c.add(f"{prefix}dest_providers", f"more than {_MAX_PROVIDERS} hospitals")
    for i, p in enumerate(cmd.dest_providers):
        c.code(f"{prefix}dest_providers.{i}", p, 20)
    c.flag(f"{prefix}covid", cmd.covid)
    c.time(f"{prefix}submitted_at", cmd.submitted_at)
    if cmd.submitted_at is not None and cmd.submitted_at > ctx.now():
        c.add(f"{prefix}submitted_at", "is in the future")
    return c.problems


def _insuree(
    uow: UnitOfWork, caller: Principal, psn_no: str, day: dt.date
) -> catalog.InsureeSnapshot:
    try:
        ins = catalog.insuree_snapshot(uow, psn_no, day)
    except InsureeNotImported:
        raise InvalidRequest.of([("insuree_id", f"参保人 {mask_psn_no(psn_no)} 在 {day} 无参保登记"
                                  "（异地就医备案由参保地办理）")]) from None  # fmt: skip
    in_township(caller, ins.township, f"参保人 {mask_psn_no(psn_no)}")
    return ins


# -- steps ---------------------------------------------------------------------------------


def new_filing(ctx: Context, caller: Principal, cmd: FilingIn, ins: catalog.InsureeSnapshot, *,
               channel: str, forwarded: bool,
               source: str | None = None) -> tuple[dict[str, Any], list[Any]]:  # fmt: skip
    """The rows of a filing taken in now: submitted, accepted (and forwarded)."""
    at = ctx.now()
    submitted = _utc(cmd.submitted_at) if cmd.submitted_at else at
    fid = new_id("F", at)
    events: list[dict[str, Any]] = []
    state: str | None = None

    def step(kind: str, to: str, when: dt.datetime) -> None:
        nonlocal state
        due_at: dt.datetime | None = None
        clause: str | None = None
        if to != "submitted":  # the intake's own due time follows the submission
            due_at, clause = step_due(ctx, ins.insured_region, cmd.covid, when)
        events.append({"filing_id": fid, "seq": len(events) + 1, "kind": kind,
                       "state_from": state, "state_to": to, "at": when,
                       "actor": caller.actor[:64], "role": caller.role, "reason": None,
                       "due_at": due_at, "clause": clause})  # fmt: skip
        state = to

    step("submitted", "submitted", submitted)
    step("accepted", "accepted", at)
    if forwarded:
        step("forwarded", "forwarded", at)
    row = {
        "id": fid, "kind": cmd.kind, "psn_no": cmd.insuree_id, "township": ins.township,
        "dest_region": cmd.dest_region, "dest_providers": list(cmd.dest_providers),
        "valid_from": cmd.valid_from, "valid_to": cmd.valid_to, "covid": cmd.covid,
        "channel": channel, "state": state, "due_at": events[-1]["due_at"],
        "submitted_at": submitted, "updated_at": at, "version": 1, "source": source,
    }  # fmt: skip
    return row, events


def take_in(uow: UnitOfWork, ctx: Context, caller: Principal, cmd: FilingIn) -> FilingView:
    """受理: a clerk takes a filing in (a township clerk for its own township's insurees).
    The applicant's submission and the intake are its first two steps."""
    require(caller, "filing.intake")
    if problems := check_filing_in(ctx, cmd):
        raise InvalidRequest.of(problems)
    with uow(write=True):
        ins = _insuree(uow, caller, cmd.insuree_id, cmd.valid_from)
        channel = "township" if caller.role == "township_clerk" else "district"
        row, events = new_filing(ctx, caller, cmd, ins, channel=channel, forwarded=False)
        uow.filings.insert([row], events)
        audit(uow, caller, "filing.accepted", "filing", row["id"], before=None, after=row,
              at=row["updated_at"], detail={"kind": cmd.kind, "channel": channel})  # fmt: skip
        uow.commit()
        return filing(uow, ctx, caller, row["id"])


_MOVES = {  # step -> (states it starts from, state it ends in, permission)
    "forwarded": (("accepted",), "forwarded", "filing.intake"),
    "approved": (("accepted", "forwarded"), "approved", "filing.decide"),
    "refused": (("accepted", "forwarded"), "refused", "filing.decide"),
    "revoked": (("approved",), "revoked", "filing.decide"),
}


def _move(uow: UnitOfWork, ctx: Context, caller: Principal, filing_id: str, step: str,
          reason: str | None, version: int | None) -> FilingView:  # fmt: skip
    starts, to, permission = _MOVES[step]
    require(caller, permission)
    c = Checks(ctx.now())
    c.code("filing_id", filing_id, 30)
    c.text("reason", reason, 200)
    if step in ("refused", "revoked") and not (reason or "").strip():
        c.add("reason", "不予备案或撤销须说明理由")
    c.done()
    at = ctx.now()
    with uow(write=True):
        row = uow.filings.get(filing_id, lock=True)
        if row is None:
            raise NotFound(f"filing {filing_id} not found")
        in_township(caller, row.township, f"备案 {filing_id}")
        if version is not None and version != row.version:
            raise Conflict(f"备案 {filing_id} 已被他人更新（版本 {row.version}），请刷新后重试")
        if row.state == to:
            return filing(uow, ctx, caller, filing_id)  # a retry
        if row.state not in starts:
            raise Conflict(f"备案 {filing_id} 当前为 {STATE_NAMES[row.state]}，不能{step}")
        if step == "forwarded" and row.channel != "township":
            raise Conflict(f"备案 {filing_id} 由区医保局受理，无需报送")
        if to in ("forwarded",):
            ins = catalog.insuree_snapshot(uow, row.psn_no, row.valid_from)
            due_at, clause = step_due(ctx, ins.insured_region, bool(row.covid), at)
        else:
            due_at, clause = None, None
        seq = len(uow.filings.events(filing_id)) + 1
        event = {"filing_id": filing_id, "seq": seq, "kind": step, "state_from": row.state,
                 "state_to": to, "at": at, "actor": caller.actor[:64], "role": caller.role,
                 "reason": reason, "due_at": due_at, "clause": clause}  # fmt: skip
        values = {"state": to, "due_at": due_at, "updated_at": at}
        if not uow.filings.move(filing_id, row.version, values, event):
            raise Conflict(f"备案 {filing_id} 已被他人更新，请刷新后重试")
        audit(uow, caller, f"filing.{step}", "filing", filing_id,
              before={"state": row.state, "version": row.version},
              after={"state": to, "version": row.version + 1}, at=at,
              detail={"reason": reason} if reason else None)  # fmt: skip
        uow.commit()
        return filing(uow, ctx, caller, filing_id)


def forward(uow: UnitOfWork, ctx: Context, caller: Principal, filing_id: str, *,
            version: int | None = None) -> FilingView:  # fmt: skip
    """报送: the township forwards a filing it took in to the district."""
    return _move(uow, ctx, caller, filing_id, "forwarded", None, version)


def decide(uow: UnitOfWork, ctx: Context, caller: Principal, filing_id: str, *, approve: bool,
           reason: str | None = None, version: int | None = None) -> FilingView:  # fmt: skip
    """审核: the district approves, or refuses with a reason."""
    return _move(uow, ctx, caller, filing_id, "approved" if approve else "refused", reason,
                 version)  # fmt: skip


def revoke(uow: UnitOfWork, ctx: Context, caller: Principal, filing_id: str, *, reason: str,
           version: int | None = None) -> FilingView:  # fmt: skip
    """撤销: an approved filing stops covering stays from now on."""
    return _move(uow, ctx, caller, filing_id, "revoked", reason, version)


# -- reads ---------------------------------------------------------------------------------


def filing(uow: UnitOfWork, ctx: Context, caller: Principal, filing_id: str) -> FilingView:
    """One filing with every step."""
    require(caller, "filing.read")
    with uow:
        row = uow.filings.get(filing_id)
        if row is None:
            raise NotFound(f"filing {filing_id} not found")
        in_township(caller, row.township, f"备案 {filing_id}")
        return view(caller, row, ctx.now(), uow.filings.events(filing_id))


def queue(uow: UnitOfWork, ctx: Context, caller: Principal, *, states: Sequence[str] = OPEN,
          overdue: bool = False, insuree_id: str | None = None,
          limit: int = 200, offset: int = 0) -> list[FilingView]:  # fmt: skip
    """The clerk's queue, soonest due first: open filings (or ``states``), only the
    overdue ones with ``overdue``; a township clerk sees its own township's."""
    require(caller, "filing.read")
    bad = [s for s in states if s not in STATE_NAMES]
    if bad:
        raise InvalidRequest.of([("state", f"{bad[0]!r} is not one of {', '.join(STATE_NAMES)}")])
    now = ctx.now()
    township = caller.township_code if caller.role == "township_clerk" else None
    with uow:
        rows = uow.filings.find(states=states, township=township, psn_no=insuree_id,
                                due_before=now if overdue else None, limit=limit,
                                offset=offset)  # fmt: skip
    return [view(caller, r, now) for r in rows]
