"""``HospitalRepo.batch``: statements run in order in one round trip on PostgreSQL, one
by one on SQLite; rows come back per statement; errors are SQLAlchemy's, as ever."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.exc import IntegrityError

from yibao.store.encounter_repo import Ops, insert_rows
from yibao.store.service_tables import AccountBalance
from yibao.store.uow import UnitOfWork

AT = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


def test_rows_come_back_per_statement_in_order(uow: UnitOfWork) -> None:
    with uow(write=True):
        pg = uow.hospital.pg
        got = uow.hospital.batch([
            (Ops.lock_account(pg), {"psn": "P1", "at": AT}),
            (Ops.move_account, {"k_psn": "P1", "delta": -250, "at": AT}),
            (Ops.lock_account(pg), {"psn": "P1", "at": AT}),
            *insert_rows(AccountBalance.__table__,  # type: ignore[arg-type]
                         [{"psn_no": f"Q{i}", "moved_fen": i, "updated_at": AT} for i in range(3)]),
        ])  # fmt: skip
        assert [[tuple(r) for r in rows] for rows in got] == [[(0,)], [], [(-250,)], []]
        assert uow.hospital.account_moved("Q2") == 2
        uow.commit()


def test_a_failing_statement_raises_sqlalchemys_error(uow: UnitOfWork) -> None:
    event = {"encounter_id": "nope", "seq": 1, "kind": "x", "status_from": None,
             "status_to": "admitted", "at": AT, "actor": "a", "msgid": None,
             "detail": {}}  # fmt: skip
    with uow(write=True), pytest.raises(IntegrityError):
        uow.hospital.batch([(Ops.lock_account(uow.hospital.pg), {"psn": "P2", "at": AT}),
                            (Ops.insert_event, event)])  # fmt: skip
    with uow:
        assert uow.hospital.counts()["account_balances"] == 0
