"""The demo district's out-of-area care (issue 18), scheduled into the simulated epidemic
(``epidemic.live_through_epidemic``) at their simulated times, through the services:

- two townships' clerks take filings in (受理) over the 2020 Spring Festival and forward
  them (报送); the district approves one, refuses one with its reason, and one is left
  waiting past its due time (it shows as overdue in the queue and the 日报);
- a Wuhan-insured (420100) confirmed patient at a 定点救治医院, admitted on certificate
  number and insured region, enrolled with the insured place's facts; settled under the
  Hubei example pack if the pack directory has it, else deferred "no pack for region"
  until the demo loads the example pack (packs/examples) and the queue settles it; its
  fund share is booked as a receivable from Hubei and the February statement applied.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from yibao.core.errors import YibaoError
from yibao.core.policy.resolve import PackSet
from yibao.core.registry.identity import check_char
from yibao.packs import PACKS_DIR
from yibao.packs.files import load_pack
from yibao.services.access.rights import Principal
from yibao.services.encounters import lifecycle as uc
from yibao.services.encounters.context import CST, Context
from yibao.services.filings import clearing as cl
from yibao.services.filings import workflow as fs
from yibao.services.filings.inbound import enrol_inbound
from yibao.services.stays.deferred import queue as dq
from yibao.store.uow import UnitOfWork

__all__ = ["HUBEI_EXAMPLE", "WUHAN_PATIENT", "schedule_filings"]

HUBEI_EXAMPLE = PACKS_DIR / "examples" / "hb-2020-example.yaml"
WUHAN_PATIENT = "42010319900115003" + check_char("42010319900115003")
DISTRICT = Principal("demo:district", "district_clerk", None, None, "user")
Add = Callable[[dt.datetime, Callable[[], None]], None]


def _at(month: int, day: int, hour: int) -> dt.datetime:
    return dt.datetime(2020, month, day, hour, tzinfo=CST)


def schedule_filings(add: Add, uow: UnitOfWork, ctx: Context, *, hospital: str,
                     lines: Sequence[uc.FeeIn], refused: list[str]) -> None:  # fmt: skip
    """Add the filings' and the inbound patient's events to the simulation (``add``);
    what a service refuses is appended to ``refused`` (the demo goes on)."""
    with uow:
        by_town: dict[str, list[str]] = {}
        for r in uow.insurees.rows(on=dt.date(2020, 1, 23)):
            if r.township and r.enrolled:
                by_town.setdefault(r.township, []).append(r.psn_no)
    towns = sorted(t for t, people in by_town.items() if len(people) >= 2)[:2]
    if len(towns) < 2:
        refused.append("filings: fewer than two townships with insurees")
        return
    state: dict[str, Any] = {}

    def clerk(town: str) -> Principal:
        return Principal(f"demo:{town}", "township_clerk", None, town, "user")

    def attempt(what: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except YibaoError as exc:
            refused.append(f"filings {what}: {type(exc).__name__}: {exc}"[:300])
            return None

    a, b = towns
    (a1, a2), (b1, _) = by_town[a][:2], by_town[b][:2]

    def take(key: str, town: str, cmd: fs.FilingIn) -> Callable[[], None]:
        def run() -> None:
            f = attempt(f"take in {key}", lambda: fs.take_in(uow, ctx, clerk(town), cmd))
            if f is not None:
                state[key] = f.id

        return run

    def step(key: str, fn: Callable[[str], Any]) -> Callable[[], None]:
        return lambda: state.get(key) and attempt(key, lambda: fn(state[key]))

    add(_at(1, 24, 9), take("a-covid", a, fs.FilingIn(
        "temporary", a1, "420100", dt.date(2020, 1, 24), covid=True,
        submitted_at=_at(1, 24, 8))))  # fmt: skip
    add(_at(1, 24, 16), step("a-covid", lambda i: fs.forward(uow, ctx, clerk(a), i)))
    add(_at(1, 25, 10), step("a-covid", lambda i: fs.decide(uow, ctx, DISTRICT, i,
                                                            approve=True)))  # fmt: skip
    add(_at(1, 23, 15), take("b-resettled", b, fs.FilingIn(
        "resettled", b1, "440300", dt.date(2020, 2, 1))))  # fmt: skip
    add(_at(1, 23, 17), step("b-resettled", lambda i: fs.forward(uow, ctx, clerk(b), i)))
    why = "缺少异地居住证明，请补正后重新申请"
    add(_at(2, 5, 10), step("b-resettled", lambda i: fs.decide(
        uow, ctx, DISTRICT, i, approve=False, reason=why)))  # fmt: skip
    add(
        _at(2, 10, 9),
        take(
            "a-referral", a, fs.FilingIn("referral", a2, "510100", dt.date(2020, 2, 10), covid=True)
        ),
    )  # left waiting: overdue
    _inbound(add, uow, ctx, hospital, lines, attempt, state)


Attempt = Callable[[str, Callable[[], Any]], Any]


def _inbound(add: Add, uow: UnitOfWork, ctx: Context, hospital: str, lines: Sequence[uc.FeeIn],
             attempt: Attempt, state: dict[str, Any]) -> None:  # fmt: skip
    who = Principal(f"demo:{hospital}", "hospital", hospital)
    covid = (uc.Diagnosis("B99.900", True),)

    def admit() -> None:
        cmd = uc.Admit(WUHAN_PATIENT, "21", _at(1, 28, 9), covid, covid_status="confirmed",
                       scheme_code="310", insured_region="420100")  # fmt: skip
        enc = attempt("inbound admit", lambda: uc.admit(uow, ctx, who, cmd, msgid=None))
        if enc is not None:
            state["enc"] = enc.id
            attempt("inbound fees", lambda: uc.upload_fees(uow, ctx, who, enc.id, list(lines),
                                                           msgid=None))  # fmt: skip

    def discharge_and_settle() -> None:
        if "enc" not in state:
            return
        attempt("inbound discharge", lambda: uc.discharge(uow, ctx, who, state["enc"],
                                                          _at(2, 10, 10), msgid=None))  # fmt: skip
        attempt("inbound enrol", lambda: enrol_inbound(
            uow, ctx, DISTRICT, psn_no=WUHAN_PATIENT, name="武汉参保患者（示例）",
            scheme="employee", insured_region="420100",
            valid_from=dt.date(2020, 1, 1)))  # fmt: skip
        attempt("inbound settle", lambda: dq.settle_or_defer(uow, ctx, who, state["enc"]))

    def load_hubei_pack() -> None:  # the bureau copies the pack into its pack directory
        packs = list(ctx.packs)
        if not any(p.covers("420100", dt.date(2020, 2, 12)) for p in packs):
            packs.append(load_pack(HUBEI_EXAMPLE))
        loaded = Context(PackSet(packs), clock=ctx.clock, recheck_s=ctx.recheck_s)
        clerk = Principal("demo:clerk", "clerk", None)
        attempt("inbound queue", lambda: dq.settle_ready(uow, loaded, clerk,
                                                         insuree_ids=[WUHAN_PATIENT]))  # fmt: skip
        attempt("inbound receivable", lambda: cl.book_inbound(uow, loaded, clerk))

    def statement() -> None:
        attempt("clearing statement", lambda: cl.prepare_statements(
            uow, ctx, Principal("demo:clerk", "clerk", None), "2020-02"))  # fmt: skip

    add(_at(1, 28, 9), admit)
    add(_at(2, 10, 11), discharge_and_settle)
    add(_at(2, 12, 9), load_hubei_pack)
    add(_at(3, 2, 9), statement)
