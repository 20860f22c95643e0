"""The demo district lives through a simulated epidemic (``yibao demo load``, issue 17).

From the ``epidemic`` block of ``demo-district.yaml`` (dates, counts, shares: data, not
code) a seeded generator draws the stays: confirmed (确诊) and suspected (疑似) patients
at the 定点救治医院, ordinary stays at every hospital, patients sent on from a hospital to
a 定点救治医院 (转院), a hospital's outage (its stays deferred ``offline`` and their lines
uploaded afterwards; the stays it admitted during the outage captured offline and
entered afterwards with their recorded times), insurees whose enrolment is not imported (deferred
``not_enrolled``: still waiting), and settlements reversed the next day and settled
again. Every event goes through the service layer — ``encounters`` (admit, upload,
discharge, settle, reverse, file a transfer) and ``deferred`` (defer, settle or defer,
the clerks' daily queue run) — with a clock that shows
the event's simulated time, so every journal entry is booked on its simulated Beijing
business day and every day's 日报 has real content.

The drawn content is deterministic (one seed); ids carry random bytes as always. Run
twice, the second run finds the first stay and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from yibao.core.errors import YibaoError
from yibao.core.money import line_amount
from yibao.services.access.rights import Principal
from yibao.services.encounters import lifecycle as uc
from yibao.services.encounters import settlement as st
from yibao.services.encounters import transfers
from yibao.services.encounters.context import CST, Context
from yibao.services.stays.deferred import queue as dq
from yibao.services.tools.demo.district import District, Draw, with_account
from yibao.services.tools.demo.filings import schedule_filings
from yibao.store.uow import UnitOfWork

__all__ = ["Epidemic", "SimClock", "live_through_epidemic"]

CLERK = Principal("demo:clerk", "clerk", None)
MARK = "EPI"  # admission msgids EPI000001 …: what finds a first run again


class SimClock:
    """The simulated clock: ``at(t)`` moves it to an event's time; each reading is a
    second later than the last (distinct, ordered times within an event)."""

    def __init__(self, t: dt.datetime) -> None:
        self.t = t

    def at(self, t: dt.datetime) -> None:
        self.t = max(self.t, t)

    def __call__(self) -> dt.datetime:
        self.t += dt.timedelta(seconds=1)
        return self.t


@dataclass
class _Stay:
    n: int
    kind: str  # confirmed | suspected | ordinary
    psn: str
    provider: str
    admit: dt.datetime
    discharge: dt.datetime
    diagnoses: tuple[uc.Diagnosis, ...]
    covid_status: str | None
    lines: list[uc.FeeIn]
    outage: str = ""  # "" | "deferred" (lines uploaded after) | "captured" (re-entered)
    reverse: bool = False
    send_to: str | None = None  # a transfer: the receiving hospital
    encounter_id: str | None = None
    settlement_id: str | None = None


@dataclass
class Epidemic:
    """What the simulation did (counts of service calls that succeeded, and refusals)."""

    stays: int = 0
    settled: int = 0
    deferred: dict[str, int] = field(default_factory=dict)
    transfers: int = 0
    reversals: int = 0
    reentered: int = 0
    queue_settled: int = 0
    refused: list[str] = field(default_factory=list)
    skipped: bool = False  # the district had lived through it already


def _office(t: dt.datetime) -> dt.datetime:
    """``t`` if in office hours (08:00–20:00), else 08:00 plus its minutes next morning."""
    if 8 <= t.hour < 20:
        return t
    day = t.date() + dt.timedelta(days=1 if t.hour >= 20 else 0)
    return _when(day, 8 + t.minute / 60)


def _d(x: Any) -> dt.date:
    return x if isinstance(x, dt.date) else dt.date.fromisoformat(str(x))


def _when(day: dt.date, hour: float) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), CST) + dt.timedelta(hours=hour)


class _TooFew(Exception):
    """The district has fewer enrolled insurees than the epidemic's stays at this scale."""


class _Plan:
    """Draws the stays from the ``epidemic`` block and the district's own draw."""

    def __init__(self, district: District, insurees: int | None, scale: float) -> None:
        self.spec = e = district.spec["epidemic"]
        self.rnd = random.Random(e["seed"])
        draw = Draw(district, insurees)
        self.codes = [code for code, _ in _providers(draw)]
        list(draw.catalog_rows())  # in district_rows' order: the same draws as the load
        list(draw.protocol())
        list(draw.mapping())
        people = list(with_account(draw))
        self.start, self.end = _d(e["from"]), _d(e["to"])
        cat = district.spec["catalog_region"]
        self.ordinary_codes = [r[1] for r in draw.catalog if r[0] == cat and not r[7]
                               and r[8] <= "2020-01-01" and not r[9]][:400]  # fmt: skip
        editions = {ed["edition"]: _d(ed["from"]) for ed in district.spec["protocol"]}
        self.protocol: list[tuple[dt.date, str]] = []
        for ed in district.spec["protocol"]:
            for it in ed["add"]:
                self.protocol.append((editions[ed["edition"]], draw.protocol_codes[it["name"]]))
        seen: set[str] = set()
        self.enrolled: list[str] = []
        self.newcomers: list[str] = []
        for row in people:
            if row[0] in seen or row[2] == "none":
                continue
            seen.add(row[0])
            (self.enrolled if row[10] == "true" else self.newcomers).append(row[0])
        self.rnd.shuffle(self.enrolled)
        self.scale = scale
        self.n = 0
        designated = [c for c, p in _providers(draw) if p.get("covid_designated_from")]
        self.designated = designated
        self.ordinary_diags = [uc.Diagnosis(c, True) for c in e["ordinary_diagnoses"]]

    def count(self, key: str) -> int:
        return max(1, round(self.spec[key] * self.scale)) if self.spec[key] else 0

    def person(self) -> str:
        if not self.enrolled:
            raise _TooFew
        return str(self.enrolled.pop())

    def day(self, peaked: bool, earliest: dt.date | None = None) -> dt.date:
        lo = max(self.start, earliest or self.start)
        span = (self.end - lo).days
        if peaked:
            mode = (_d(self.spec["peak"]) - lo).days
            k = int(self.rnd.triangular(0, span + 1, max(0, min(span, mode))))
        else:
            k = self.rnd.randrange(span + 1)
        return lo + dt.timedelta(days=min(k, span))

    def lines(self, kind: str, admit: dt.date, days: int) -> list[uc.FeeIn]:
        rnd, e = self.rnd, self.spec
        lo, hi = e["lines"]
        picks = rnd.sample(self.ordinary_codes, rnd.randint(lo, hi))
        if kind != "ordinary":
            items = [c for since, c in self.protocol if since <= admit]
            picks = rnd.sample(items, min(len(items), rnd.randint(3, 6))) + picks[:3]
        out = []
        for i, code in enumerate(picks, start=1):
            price = rnd.randrange(*e["price_fen"]) * 10**4  # whole fen, as price_e6
            qty = rnd.randint(1, max(1, days)) * 10**4
            out.append(uc.FeeIn(str(i), code, price_e6=price, qty_e4=qty))
        return out

    def stay(self, kind: str, provider: str, psn: str, admit_day: dt.date,
             hours: tuple[int, int] = (8, 20)) -> _Stay:  # fmt: skip
        rnd, e = self.rnd, self.spec
        lo, hi = e["stay_days"][kind]
        days = rnd.randint(lo, hi)
        admit = _when(admit_day, rnd.uniform(*hours))
        out_day = admit_day + dt.timedelta(days=days)
        discharge = _when(out_day, rnd.uniform(9, 11))
        self.n += 1
        cut = _d(e["national_codes_from"])
        if kind == "confirmed":
            code = "B99.900" if admit_day < cut else rnd.choice(["U07.100x001", "U07.100x003"])
            diags: tuple[uc.Diagnosis, ...] = (uc.Diagnosis(code, True),)
            status: str | None = "confirmed"
        elif kind == "suspected":
            diags = (uc.Diagnosis("J18.900", True),)
            status = "suspected"
            if admit_day >= cut:  # 疑似 as a secondary diagnosis: read from the diagnoses
                diags, status = (*diags, uc.Diagnosis("Z03.800x001", False)), None
        else:
            diags, status = (rnd.choice(self.ordinary_diags),), None
        return _Stay(self.n, kind, psn, provider, admit, discharge, diags, status,
                     self.lines(kind, admit_day, days))  # fmt: skip


def _providers(draw: Draw) -> list[tuple[str, dict[str, Any]]]:
    if not hasattr(draw, "provider_rows"):
        list(draw.diseases())
        list(draw.providers())
    out: list[tuple[str, dict[str, Any]]] = draw.provider_rows
    return out


def _fitted_plan(district: District, insurees: int | None,
                 scale: float) -> tuple[_Plan, list[_Stay]]:  # fmt: skip
    """The plan at ``scale``, or at half of it, a quarter … when a small district (``demo
    load --insurees 300``) has fewer people than its stays: one stay per insuree."""
    while True:
        try:
            return _plan(district, insurees, scale)
        except _TooFew:
            if scale < 1e-3:
                raise ValueError(
                    "the demo district has too few insurees for the epidemic"
                ) from None
            scale /= 2


def _plan(district: District, insurees: int | None, scale: float) -> tuple[_Plan, list[_Stay]]:
    p = _Plan(district, insurees, scale)
    e, rnd = p.spec, p.rnd
    stays: list[_Stay] = []
    first_confirmed = _d(e["confirmed_from"])
    for _ in range(p.count("confirmed")):
        day = p.day(True, first_confirmed)
        stays.append(p.stay("confirmed", rnd.choice(p.designated), p.person(), day))
    for _ in range(p.count("suspected")):
        stays.append(p.stay("suspected", rnd.choice(p.designated), p.person(), p.day(True)))
    others = [c for c in p.codes if c not in p.designated]
    for _ in range(p.count("ordinary")):
        stays.append(p.stay("ordinary", rnd.choice(p.codes), p.person(), p.day(False)))
    for _ in range(p.count("transfers")):  # sent on to a 定点救治医院, confirmed there
        sender = p.stay("ordinary", rnd.choice(others), p.person(), p.day(True, first_confirmed))
        sender.discharge = _when(sender.admit.date() + dt.timedelta(days=rnd.randint(1, 3)), 10)
        sender.send_to = rnd.choice(p.designated)
        stays.append(sender)
        wait = rnd.randint(*e["transfer_wait_days"])
        got = p.stay("confirmed", sender.send_to, sender.psn,
                     sender.discharge.date() + dt.timedelta(days=wait), hours=(12, 18))  # fmt: skip
        stays.append(got)
    for _ in range(min(p.count("not_enrolled"), len(p.newcomers))):
        stays.append(p.stay("ordinary", rnd.choice(others), p.newcomers.pop(), p.day(False)))
    out = e["outage"]
    down = p.codes[out["hospital"] - 1]
    lo, hi = _d(out["from"]), _d(out["to"])
    for s in stays:
        if s.provider != down or s.send_to:
            continue
        if lo <= s.admit.date() <= hi:  # never reached the system: captured offline
            s.outage = "captured"
            s.discharge = min(s.discharge, _when(hi, 16))
            s.discharge = max(s.discharge, s.admit + dt.timedelta(hours=2))
        elif lo <= s.discharge.date() <= hi:
            s.outage = "deferred"
    for _ in range(p.count("outage_deferred")):  # in hospital there when it went down
        s = p.stay("ordinary", down, p.person(), lo - dt.timedelta(days=rnd.randint(1, 3)))
        s.discharge = _when(lo + dt.timedelta(days=rnd.randint(0, (hi - lo).days)), 10)
        s.outage = "deferred"
        stays.append(s)
    for _ in range(p.count("outage_stays")):  # more stays admitted there during the outage
        s = p.stay(
            "ordinary", down, p.person(), lo + dt.timedelta(days=rnd.randint(0, (hi - lo).days))
        )
        s.outage = "captured"
        s.discharge = max(min(s.discharge, _when(hi, 16)), s.admit + dt.timedelta(hours=2))
        stays.append(s)
    plain = [s for s in stays if not s.outage and not s.send_to and s.kind == "ordinary"]
    for s in rnd.sample(plain, min(len(plain), p.count("reversals"))):
        s.reverse = True
    return p, stays


Step = tuple[dt.datetime, int, Callable[[], None]]


def live_through_epidemic(uow: UnitOfWork, ctx: Context, *, district: District | None = None,
                          insurees: int | None = None, scale: float = 1.0,
                          progress: Callable[[int, int], None] | None = None,
                          ) -> Epidemic:  # fmt: skip
    """Run the simulated epidemic on the loaded demo district (module docstring), through
    the services with ``ctx``'s clock replaced by the simulated one. ``scale`` multiplies
    every count (tests use a small one); ``insurees`` as given to ``load_demo``."""
    district = district or District.load()
    plan, stays = _fitted_plan(district, insurees, scale)
    result = Epidemic()
    first = min(stays, key=lambda s: s.n)
    with uow:
        if uow.hospital.encounter_by_admit_msgid(first.provider, f"{MARK}{first.n:06d}"):
            result.skipped = True
            return result
    clock = SimClock(_when(plan.start, 0))
    sim = Context(ctx.packs, clock=clock, recheck_s=ctx.recheck_s)
    run = _Runner(uow, sim, clock, plan, result)
    steps: list[Step] = []
    seq = iter(range(10**9))

    def add(t: dt.datetime, fn: Callable[[], None]) -> None:
        if t.date() <= plan.end:
            steps.append((t, next(seq), fn))

    spec = plan.spec
    lo, hi = spec["settle_delay_hours"]
    captured = [s for s in stays if s.outage == "captured"]
    outage_end = _when(
        _d(spec["outage"]["to"]) + dt.timedelta(days=spec["outage"]["reentry_after_days"]), 9
    )
    for s in stays:
        if s.outage == "captured":
            continue
        add(s.admit, partial(run.admit, s))
        upload = outage_end if s.outage == "deferred" else s.admit + dt.timedelta(hours=2)
        add(upload, partial(run.upload, s))
        add(s.discharge, partial(run.discharge, s))
        if s.send_to:
            add(s.discharge + dt.timedelta(minutes=20), partial(run.file_transfer, s))
        delay = dt.timedelta(hours=plan.rnd.uniform(lo, hi))
        if s.send_to:  # a sending hospital may settle late: the receiving stay then waits
            delay = dt.timedelta(days=plan.rnd.uniform(*spec["sender_settle_days"]))
        if s.outage == "deferred":
            add(s.discharge + dt.timedelta(hours=1), partial(run.defer_offline, s))
        else:
            add(_office(s.discharge + delay), partial(run.settle, s))
        if s.reverse:
            back = _office(s.discharge + delay + dt.timedelta(hours=20))
            add(back, partial(run.reverse, s))
            add(back + dt.timedelta(hours=1), partial(run.settle, s))
    for k, s in enumerate(captured, start=1):
        add(outage_end + dt.timedelta(minutes=10 * k), partial(run.reenter, s))
    day = plan.start
    while day <= plan.end:
        add(_when(day, 20), run.queue_run)
        day += dt.timedelta(days=1)
    if (c := next((s for s in stays if s.kind == "confirmed"), None)) is not None:  # issue 18
        schedule_filings(add, uow, sim, hospital=c.provider, lines=c.lines, refused=result.refused)
    steps.sort(key=lambda x: (x[0], x[1]))
    for k, (t, _, fn) in enumerate(steps, start=1):
        clock.at(t)
        fn()
        if progress is not None and (k % 200 == 0 or k == len(steps)):
            progress(k, len(steps))
    result.stays = len(stays)
    return result


class _Runner:
    """One method per kind of event: each is one service call as its actor makes it."""

    def __init__(self, uow: UnitOfWork, ctx: Context, clock: SimClock, plan: _Plan,
                 result: Epidemic) -> None:  # fmt: skip
        self.uow, self.ctx, self.clock, self.plan, self.r = uow, ctx, clock, plan, result

    @staticmethod
    def hospital(code: str) -> Principal:
        return Principal(f"demo:{code}", "hospital", code)

    def _try(self, what: str, s: _Stay, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except YibaoError as exc:  # kept, counted and shown: the demo goes on
            self.r.refused.append(f"{what} #{s.n}: {type(exc).__name__}: {exc}"[:300])
            return None

    def admit(self, s: _Stay) -> None:
        cmd = uc.Admit(s.psn, "21", s.admit, s.diagnoses, covid_status=s.covid_status,
                       insured_region=None)  # fmt: skip
        enc = self._try("admit", s, lambda: uc.admit(self.uow, self.ctx, self.hospital(s.provider),
                                                     cmd, msgid=f"{MARK}{s.n:06d}"))  # fmt: skip
        if enc is not None:
            s.encounter_id = enc.id

    def upload(self, s: _Stay) -> None:
        if s.encounter_id is not None:
            who, eid = self.hospital(s.provider), s.encounter_id
            self._try("upload", s, lambda: uc.upload_fees(self.uow, self.ctx, who, eid, s.lines,
                                                          msgid=None))  # fmt: skip

    def discharge(self, s: _Stay) -> None:
        if (eid := s.encounter_id) is not None:
            self._try("discharge", s, lambda: uc.discharge(self.uow, self.ctx,
                                                           self.hospital(s.provider), eid,
                                                           s.discharge, msgid=None))  # fmt: skip

    def file_transfer(self, s: _Stay) -> None:
        if s.encounter_id is None:
            return
        got = self._try("transfer", s, lambda: transfers.file_transfer(
            self.uow, self.ctx, self.hospital(s.provider), insuree_id=s.psn,
            to_provider=s.send_to, transfer_date=s.discharge.date(),
            valid_to=s.discharge.date() + dt.timedelta(days=7), reason="转定点救治医院",
            encounter_id=s.encounter_id))  # fmt: skip
        if got is not None:
            self.r.transfers += 1

    def settle(self, s: _Stay) -> None:
        if (eid := s.encounter_id) is None:
            return
        got = self._try("settle", s, lambda: dq.settle_or_defer(self.uow, self.ctx,
                                                                self.hospital(s.provider),
                                                                eid))  # fmt: skip
        if isinstance(got, dq.Deferral):
            self.r.deferred[got.reason] = self.r.deferred.get(got.reason, 0) + 1
        elif got is not None:
            s.settlement_id = got.settlement_id
            self.r.settled += 1

    def defer_offline(self, s: _Stay) -> None:
        if (eid := s.encounter_id) is None:
            return
        advance = sum(line_amount(f.price_e6, f.qty_e4) for f in s.lines)
        got = self._try("defer", s, lambda: dq.defer(self.uow, self.ctx, self.hospital(s.provider),
                                                     eid, reason="offline",
                                                     advance_fen=advance))  # fmt: skip
        if got is not None:
            self.r.deferred["offline"] = self.r.deferred.get("offline", 0) + 1

    def reverse(self, s: _Stay) -> None:
        sid = s.settlement_id
        if sid is None:
            return
        who = self.hospital(s.provider)
        got = self._try("reverse", s, lambda: st.reverse(self.uow, self.ctx, who, sid))
        if got is not None:
            s.settlement_id = None
            self.r.reversals += 1

    def queue_run(self) -> None:
        done = dq.settle_ready(self.uow, self.ctx, CLERK)
        self.r.queue_settled += len(done.settled)
        self.r.refused += [f"queue: {why}"[:300] for _, why in done.failed]

    def reenter(self, s: _Stay) -> None:
        """A stay the hospital captured offline during the outage, entered afterwards
        with its recorded times (补录), then settled."""
        self.admit(s)
        self.upload(s)
        self.discharge(s)
        self.settle(s)
        if s.encounter_id is not None:
            self.r.reentered += 1
