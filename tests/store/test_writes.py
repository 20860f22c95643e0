"""The store's one writer (``writes.write``): the same rows whatever the strategy (COPY or
the pipelined multi-row INSERTs on PostgreSQL, executemany on SQLite); several rows with
JSON columns in ONE multi-row INSERT on PostgreSQL (issue 13 found the second row failing);
a deferral not open fails the write."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from yibao.core.engine.model import ACCUMULATOR_FIELDS, Accumulators
from yibao.store import writes
from yibao.store.encounter_repo import insert_rows
from yibao.store.service_tables import AuditEntry, Encounter, EncounterEvent
from yibao.store.uow import UnitOfWork

AT = dt.datetime(2020, 2, 1, 8, 30, tzinfo=dt.UTC)
FIVES = Accumulators(**dict.fromkeys(ACCUMULATOR_FIELDS, 5))
DOCS: list[Any] = [{"a": 1}, [1, "二", None], {"nested": {"x": [True, False]}}, {"n": 7}, {}]


def _encounter(eid: str) -> dict[str, Any]:
    return {"id": eid, "provider_code": "H1", "psn_no": "P1", "insured_region": "500102",
            "scheme_code": None, "med_type": "21", "admit_time": AT, "admit_date": AT.date(),
            "discharge_time": None, "discharge_date": None,
            "diagnoses": [{"code": "B34.200", "main": True}], "covid_status": None,
            "filing": "not_needed", "transfer_from": None, "status": "admitted",
            "settlement_id": None, "admit_msgid": None, "version": 1, "created_at": AT,
            "updated_at": AT, "source_key": None}  # fmt: skip


def _audit(n: int, doc: Any) -> dict[str, Any]:
    return {"at": AT, "actor": "a", "role": "clerk", "provider_code": None, "action": "x",
            "entity": "encounter", "entity_id": f"E{n}", "msgid": None, "before_sha256": None,
            "after_sha256": None, "detail": doc}  # fmt: skip


def _writes(pg: bool) -> writes.Writes:
    w = writes.Writes(pg, AT)
    w.append("encounters", [_encounter(f"E{n}") for n in range(3)])
    w.append("encounter_events", [
        {"encounter_id": f"E{n}", "seq": 2, "kind": "k", "status_from": "admitted",
         "status_to": "discharged", "at": AT, "actor": "a", "msgid": f"M{n}", "detail": doc}
        for n, doc in enumerate(DOCS[:3])])  # fmt: skip
    w.append("audit_log", [_audit(n, doc) for n, doc in enumerate(DOCS)])
    for n in range(3):
        w.move(f"E{n}", status="discharged", version=2, settlement_id=None,
               discharge_date=AT.date())  # fmt: skip
    w.set_accumulators("P1", 2020, FIVES)
    w.move_account("P1", -120)
    w.move_account("P1", 20)
    return w


def _stored(uow: UnitOfWork) -> tuple[Any, ...]:
    s = uow.session
    enc = [(r.id, r.diagnoses, r.status, r.version, r.discharge_date)
           for r in s.execute(select(Encounter.__table__).order_by(Encounter.id))]  # fmt: skip
    ev = [tuple(r)[1:] for r in s.execute(select(EncounterEvent.__table__)
                                          .order_by(EncounterEvent.id))]  # fmt: skip
    au = [tuple(r)[1:] for r in s.execute(select(AuditEntry.__table__).order_by(AuditEntry.id))]
    return enc, ev, au, uow.hospital.all_accumulators(), uow.hospital.account_movements()


@pytest.mark.parametrize("copy_from", [0, 10**9])
def test_the_same_rows_whatever_the_strategy(uow: UnitOfWork, copy_from: int,
                                             monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    with uow(write=True):
        uow.hospital.lock_accumulators("P1", 2020, AT)
        uow.hospital.lock_account("P1", AT)
        monkeypatch.setattr(writes, "COPY_FROM", copy_from)
        uow.hospital.write_booking(_writes(uow.hospital.pg))
        uow.commit()
    with uow:
        enc, ev, au, acc, moved = _stored(uow)
    assert enc == [(f"E{n}", [{"code": "B34.200", "main": True}], "discharged", 2, AT.date())
                   for n in range(3)]  # fmt: skip
    assert [r[-1] for r in ev] == DOCS[:3]
    assert [r[-1] for r in au] == DOCS
    assert acc[("P1", 2020)] == FIVES
    assert moved == {"P1": -100}


def test_several_json_rows_in_one_multi_row_insert(uow: UnitOfWork) -> None:
    """``insert_rows`` (one INSERT … VALUES (…), (…) of several rows) with JSON columns:
    each row's document comes back as it went in, on PostgreSQL too."""
    rows = [_audit(n, doc) for n, doc in enumerate(DOCS)]
    with uow(write=True):
        ops = insert_rows(AuditEntry.__table__, rows)  # type: ignore[arg-type]
        assert len(ops) == 1  # one statement for all the rows
        uow.hospital.batch(ops)
        uow.commit()
    with uow:
        got = uow.hospital.audit_entries(entity="encounter", entity_id=None, limit=100)
    assert [r.detail for r in reversed(got)] == DOCS


def test_a_deferral_not_open_fails_the_write(uow: UnitOfWork) -> None:
    with uow(write=True):
        w = writes.Writes(uow.hospital.pg, AT)
        w.clear_deferral("D-none", settlement_id="S1", clearing_tx_id="W1")
        with pytest.raises(RuntimeError, match="not open"):
            uow.hospital.write_booking(w)


def test_rows_built_for_another_database_are_refused(uow: UnitOfWork) -> None:
    with uow(write=True), pytest.raises(ValueError, match="another database"):
        uow.hospital.write_booking(writes.Writes(not uow.hospital.pg, AT))
