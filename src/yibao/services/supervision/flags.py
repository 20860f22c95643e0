"""Raising flags from the store's settlements (issue 22).

Two ways, the same rules (DECISIONS: supervision never blocks a patient):

- ``supervise_recent``: the settlements since the last such run (a watermark in
  ``supervision_runs``: the newest ``settled_at`` read; a settlement committed with an
  older time while a run was going is left to the period scan), judged by every rule
  that needs only the stay, its insuree's other stays and the registries — run by
  ``yibao supervision recent``, the console's
  button, and after a hospital's settlement is answered (``after_settlement``: the API
  calls it once the answer is sent; a run already going is not started twice);
- ``supervise_period``: every standing settlement discharged in a period, judged by all
  the rules, peers and hospitals included (``yibao supervision scan``).

A flag is raised once per rule and subject: a later run finding it again changes
nothing. Each new flag gets its ``raised`` event; the run is recorded.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
import polars as pl

from yibao.core.supervision import RuleSet, parse_rules, rules_sha256
from yibao.packs import PACKS_DIR
from yibao.services.access.rights import Principal, require
from yibao.services.encounters.context import CST, Context, new_ids
from yibao.services.supervision.scan import PERIOD_KINDS, Tables, scan
from yibao.store.uow import UnitOfWork

__all__ = ["RULES_DIR", "RULES_NAME", "Run", "after_settlement", "load_tables", "rule_set",
           "supervise_period", "supervise_recent"]  # fmt: skip

RULES_NAME = "supervision-2020"
RULES_DIR = PACKS_DIR / "supervision"
_COVID_PREFIXES = ("U07", "B99", "Z03.800x001")  # what makes a diagnosis a COVID-19 one


@lru_cache(maxsize=4)
def rule_set(name: str = RULES_NAME) -> RuleSet:
    """The shipped rule set ``name`` (packs/supervision/<name>.yaml), parsed once."""
    path = RULES_DIR / f"{name}.yaml"
    return parse_rules(path.read_text(encoding="utf-8"), path.name)


@dataclass(frozen=True, slots=True)
class Run:
    kind: str  # recent | period
    stays: int
    flags_found: int
    flags_new: int
    new_ids: tuple[str, ...]
    seconds: float


def _date(at: dt.datetime) -> dt.date:
    return at.astimezone(CST).date()


def load_tables(uow: UnitOfWork, rows: list[Any]) -> Tables:
    """The scan's tables from standing settlement rows (``uow.supervision.standing``)."""
    repo = uow.supervision
    ids = [r.encounter_id for r in rows]
    levels = repo.provider_levels()
    deferred = repo.deferral_reasons(ids)
    stays = pl.DataFrame(
        {
            "encounter_id": ids,
            "insuree_id": [r.psn_no for r in rows],
            "provider_code": [r.provider_code for r in rows],
            "provider_level": [levels.get(r.provider_code, 0) for r in rows],
            "admit_date": [r.admit_date for r in rows],
            "discharge_date": [r.discharge_date for r in rows],
            "diagnoses": [[d["code"] for d in _main_first(r.diagnoses)] for r in rows],
            "covid_status": [r.record["facts"].get("covid_status") or "none" for r in rows],
            "covid": [bool(r.record["covid"]) for r in rows],
            "medfee_sumamt": [r.medfee_sumamt for r in rows],
            "fund_pay_sumamt": [r.fund_pay_sumamt for r in rows],
            "fiscal_pay": [r.fiscal_pay for r in rows],
            "settled_on": [_date(r.settled_at) for r in rows],
            "deferral_reason": [deferred.get(i) for i in ids],
        },
        schema_overrides={
            "provider_level": pl.Int8,
            "diagnoses": pl.List(pl.String),
            "deferral_reason": pl.String,
            "admit_date": pl.Date,
            "discharge_date": pl.Date,
            "settled_on": pl.Date,
        },
    )
    lines = pl.DataFrame(
        [tuple(r) for r in repo.lines_of(ids)],
        schema={
            "encounter_id": pl.String,
            "sn": pl.String,
            "code": pl.String,
            "category": pl.String,
            "service_date": pl.Date,
            "amount_fen": pl.Int64,
            "price_e6": pl.Int64,
        },
        orient="row",
    )
    protocol = pl.DataFrame([tuple(r) for r in repo.protocol_rows()], orient="row",
                            schema={"code": pl.String, "valid_from": pl.Date,
                                    "valid_to": pl.Date})  # fmt: skip
    mappings = pl.DataFrame(
        [tuple(r) for r in repo.mapping_rows(protocol["code"].unique().to_list())],
        schema={
            "provider_code": pl.String,
            "code": pl.String,
            "valid_from": pl.Date,
            "valid_to": pl.Date,
        },
        orient="row",
    )
    return Tables(stays, lines, protocol, mappings, _filed(uow, stays, lines, protocol),
                  _history(uow, rows))  # fmt: skip


def _filed(uow: UnitOfWork, stays: pl.DataFrame, lines: pl.DataFrame,
           protocol: pl.DataFrame) -> pl.DataFrame:  # fmt: skip
    """The filed price of each protocol drug line bought by emergency procurement (the
    drug capability's ``filed_price`` for the line's hospital and day)."""
    from yibao.services.drugs import filed_price

    drugs = lines.filter(pl.col("code").is_in(protocol["code"].unique().implode())
                         & (pl.col("category") == "drug")).join(
        stays.select("encounter_id", "provider_code"), on="encounter_id")  # fmt: skip
    seen: dict[tuple[str, str, dt.date], int | None] = {}
    out = []
    for r in drugs.iter_rows(named=True):
        key = (r["provider_code"], r["code"], r["service_date"])
        if key not in seen:
            seen[key] = filed_price(uow, *key)
        if seen[key] is not None:
            out.append((r["encounter_id"], r["sn"], seen[key]))
    return pl.DataFrame(out, orient="row", schema={"encounter_id": pl.String, "sn": pl.String,
                                                   "filed_e6": pl.Int64})  # fmt: skip


def _main_first(diagnoses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(diagnoses or [], key=lambda d: not d.get("main"))


def _history(uow: UnitOfWork, rows: list[Any]) -> pl.DataFrame:
    """Each stay's diagnoses at admission and after each 2403 change."""
    changes: dict[str, list[Any]] = {}
    for ev in uow.supervision.changes_of([r.encounter_id for r in rows]):
        if "diagnoses" in (ev.detail.get("after") or {}):
            changes.setdefault(ev.encounter_id, []).append(ev)
    out: list[tuple[str, dt.date, list[str]]] = []
    for r in rows:
        evs = changes.get(r.encounter_id)
        if not evs:
            out.append((r.encounter_id, r.admit_date, [d["code"] for d in r.diagnoses]))
            continue
        first = evs[0].detail["before"]["diagnoses"]
        out.append((r.encounter_id, r.admit_date, [d["code"] for d in first]))
        out += [(r.encounter_id, _date(e.at), [d["code"] for d in e.detail["after"]["diagnoses"]])
                for e in evs]  # fmt: skip
    return pl.DataFrame(out, orient="row", schema={"encounter_id": pl.String, "on": pl.Date,
                                                   "diagnoses": pl.List(pl.String)})  # fmt: skip


def _store(uow: UnitOfWork, caller: Principal, flags: pl.DataFrame, rules: RuleSet, source: str,
           at: dt.datetime) -> list[str]:  # fmt: skip
    """Insert the flags not raised before, each with its ``raised`` event."""
    keys = list(zip(flags["rule_id"].to_list(), flags["subject_key"].to_list(), strict=True))
    seen = uow.supervision.existing(keys)
    fresh = [f for f, k in zip(flags.iter_rows(named=True), keys, strict=True) if k not in seen]
    if not fresh:
        return []
    ids = new_ids("SF", at, len(fresh))
    sha = rules_sha256(rules)
    rows = [{"id": i, "rule_id": f["rule_id"], "kind": f["kind"], "severity": f["severity"],
             "rules_sha256": sha, "subject": f["subject"], "subject_key": f["subject_key"],
             "encounter_id": f["encounter_id"], "provider_code": f["provider_code"],
             "on": f["on"], "month": f["on"].strftime("%Y-%m"), "amount_fen": f["amount_fen"],
             "evidence": orjson.loads(f["evidence"]), "source": source, "state": "open",
             "recovered_fen": None, "deduction_tx_id": None, "raised_at": at, "updated_at": at,
             "version": 1} for i, f in zip(ids, fresh, strict=True)]  # fmt: skip
    events = [{"flag_id": i, "seq": 1, "kind": "raised", "state_from": None, "state_to": "open",
               "at": at, "actor": caller.actor[:64], "role": caller.role[:20], "text": None,
               "amount_fen": None, "book": None, "tx_id": None} for i in ids]  # fmt: skip
    uow.supervision.insert(rows, events)
    return ids


def supervise_recent(uow: UnitOfWork, ctx: Context, caller: Principal, *,
                     rules: RuleSet | None = None) -> Run:  # fmt: skip
    """Judge the settlements since the last run (flags only)."""
    require(caller, "supervision.scan")
    rules = rules or rule_set()
    started, t0 = ctx.now(), time.perf_counter()
    with uow(write=True):
        mark = uow.supervision.watermark()
        recent = uow.supervision.standing(settled_after=mark)
        flags, new, stays = pl.DataFrame(), [], 0
        if not recent:  # nothing new: no write at all (the API calls this after each answer)
            return Run("recent", 0, 0, 0, (), time.perf_counter() - t0)
        if recent:
            psns = sorted({r.psn_no for r in recent})
            everyone = {r.id: r for r in uow.supervision.standing(psn_nos=psns)} | {
                r.id: r for r in recent}  # fmt: skip
            tables = load_tables(uow, list(everyone.values()))
            kinds = {r.kind for v in rules.versions for r in v.rules} - PERIOD_KINDS
            flags = scan(tables, rules, kinds=kinds, focus=[r.encounter_id for r in recent])
            new = _store(uow, caller, flags, rules, "settlement", started)
            stays = len(recent)
        newest = max((r.settled_at for r in recent), default=mark)
        run = Run("recent", stays, flags.height, len(new), tuple(new), time.perf_counter() - t0)
        _record(uow, caller, run, started, watermark=newest)
        uow.commit()
    return run


def supervise_period(uow: UnitOfWork, ctx: Context, caller: Principal, begin: dt.date,
                     end: dt.date, *, rules: RuleSet | None = None) -> Run:  # fmt: skip
    """Judge every standing settlement discharged in ``begin``…``end`` by all the rules
    (hospital rules as of ``end``)."""
    from yibao.core.errors import InvalidRequest

    require(caller, "supervision.scan")
    if end < begin:
        raise InvalidRequest(f"end: {end} is before begin {begin}")
    rules = rules or rule_set()
    started, t0 = ctx.now(), time.perf_counter()
    with uow(write=True):
        rows = uow.supervision.standing(discharged=(begin, end))
        flags = scan(load_tables(uow, rows), rules, as_of=end) if rows else pl.DataFrame()
        new = _store(uow, caller, flags, rules, "scan", started) if rows else []
        run = Run("period", len(rows), flags.height, len(new), tuple(new), time.perf_counter() - t0)
        _record(uow, caller, run, started, begin=begin, end=end)
        uow.commit()
    return run


def _record(uow: UnitOfWork, caller: Principal, run: Run, at: dt.datetime, *,
            watermark: dt.datetime | None = None, begin: dt.date | None = None,
            end: dt.date | None = None) -> None:  # fmt: skip
    uow.supervision.add_run({"kind": run.kind, "started_at": at, "actor": caller.actor[:64],
                             "begin": begin, "end": end, "watermark": watermark,
                             "stays": run.stays, "flags_found": run.flags_found,
                             "flags_new": run.flags_new,
                             "seconds_e3": int(run.seconds * 1000)})  # fmt: skip


_RUNNING = threading.Lock()
SYSTEM = Principal("supervision", "supervisor", None, kind="system")
"""Who raises the flags a settlement answer sets off (the API's hook)."""


AFTER_SETTLEMENT_EVERY_S = 10.0
"""At most one scan of recent settlements per worker this often: each picks up every
settlement since the watermark, so a busy hour costs a scan per interval, not one per
settlement (flags wait at most this long)."""
_LAST = [float("-inf")]


def after_settlement(uow: UnitOfWork, ctx: Context) -> Run | None:
    """Called by the API after it has answered a settlement: judge what is new. Never
    raises (a patient's settlement is never affected), never runs twice at once and at
    most once every ``AFTER_SETTLEMENT_EVERY_S`` (the next run picks up whatever this one
    did not)."""
    import logging
    import time

    now = time.monotonic()
    if now - _LAST[0] < AFTER_SETTLEMENT_EVERY_S or not _RUNNING.acquire(blocking=False):
        return None
    _LAST[0] = now
    try:
        return supervise_recent(uow, ctx, SYSTEM)
    except Exception:  # a flag is never worth a failure: logged, retried by the next run
        logging.getLogger("yibao.supervision").exception("supervision after settlement failed")
        return None
    finally:
        _RUNNING.release()
