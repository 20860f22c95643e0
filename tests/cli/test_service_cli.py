"""The hospital service's commands: keys printed once, `yibao ledger check` proving the
books (exit 1 listing every problem), `yibao demo serve --dry-run`."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from tests.registry_data import CENTRE, EMPLOYEE, load_examples
from yibao.adapters.cli.app import app
from yibao.packs import PACKS_DIR
from yibao.services.access.rights import Principal, verify_key
from yibao.services.encounters import lifecycle as uc
from yibao.services.encounters.context import CST, Context
from yibao.store.db import make_engine
from yibao.store.uow import UnitOfWork


def _run(*args: str) -> object:
    return CliRunner().invoke(app, list(args))


def test_keys_are_printed_once_and_stored_hashed(cli_db: str) -> None:
    uow = UnitOfWork(make_engine(cli_db))
    load_examples(uow, "providers")
    res = _run("keys", "create", "--role", "hospital", "--provider", CENTRE, "--by", "admin")
    assert res.exit_code == 0, res.stderr  # type: ignore[attr-defined]
    key = res.stdout.strip()  # type: ignore[attr-defined]
    assert key.startswith("yb_")
    assert "shown once" in res.stderr  # type: ignore[attr-defined]
    assert verify_key(uow, key) == Principal(key.split("_")[1], "hospital", CENTRE)
    with uow:
        stored = uow.session.execute(text("SELECT secret_sha256 FROM api_keys")).scalar_one()
    assert key.split("_", 2)[2] not in stored
    listed = _run("keys", "list")
    assert CENTRE in listed.stdout  # type: ignore[attr-defined]
    assert key not in listed.stdout  # type: ignore[attr-defined]
    bad = _run("keys", "create", "--role", "hospital")
    assert bad.exit_code == 2  # type: ignore[attr-defined]
    assert "provider" in bad.stderr  # type: ignore[attr-defined]
    assert _run("keys", "revoke", key.split("_")[1]).exit_code == 0  # type: ignore[attr-defined]
    uow.engine.dispose()


def test_ledger_check_proves_the_books_and_lists_problems(cli_db: str) -> None:
    uow = UnitOfWork(make_engine(cli_db))
    load_examples(uow)
    ctx = Context(Context.from_folder(PACKS_DIR).packs,
                  clock=lambda: dt.datetime(2020, 2, 14, tzinfo=CST))  # fmt: skip
    who = Principal("k", "hospital", CENTRE)
    t = dt.datetime(2020, 2, 3, 9, tzinfo=CST)
    e = uc.admit(uow, ctx, who, uc.Admit(EMPLOYEE, "21", t, (uc.Diagnosis("J18.900", True),)),
                 msgid=None)  # fmt: skip
    uc.upload_fees(uow, ctx, who, e.id, [uc.FeeIn("1", "ZL-0001", 150000, 3000)], msgid=None)
    uc.settle(uow, ctx, who, e.id, discharge_date=dt.date(2020, 2, 12))
    ok = _run("ledger", "check")
    assert ok.exit_code == 0, ok.stderr  # type: ignore[attr-defined]
    assert "trial balance zero" in ok.stdout  # type: ignore[attr-defined]
    with uow:  # the journal accepts inserts only: an unbalanced one, and a moved accumulator
        uow.session.execute(text(
            "INSERT INTO journal_transactions (id, kind, booked_on, narration, recorded_at) "
            "VALUES ('X1', 'adjustment', '2020-02-14', 'bad', '2020-02-14 00:00:00')"))  # fmt: skip
        uow.session.execute(text(
            "INSERT INTO journal_postings (tx_id, seq, code, book, key, amount_fen) "
            "VALUES ('X1', 0, 'benefit', '310100', '', 5)"))  # fmt: skip
        uow.session.execute(text("UPDATE accumulators SET serious_base_fen = serious_base_fen + 1"))
        uow.commit()
    bad = _run("ledger", "check")
    assert bad.exit_code == 1
    err = bad.stderr  # type: ignore[attr-defined]
    assert "tx X1: debits - credits = 5 fen, not 0" in err
    assert "trial balance" in err
    assert "serious_base_fen is" in err
    assert err.rstrip().endswith("problems")
    uow.engine.dispose()


def test_non_designated_provider_is_refused(cli_db: str) -> None:
    from tests.registry_data import put
    from yibao.core.errors import Forbidden

    uow = UnitOfWork(make_engine(cli_db))
    load_examples(uow)
    put(uow, "providers", {"code": "H50010299999", "name": "未定点诊所", "region": "500102",
                           "level": "1", "valid_from": "2015-01-01"})  # fmt: skip
    ctx = Context(Context.from_folder(PACKS_DIR).packs)
    who = Principal("k", "hospital", "H50010299999")
    cmd = uc.Admit(EMPLOYEE, "21", dt.datetime(2020, 2, 3, 9, tzinfo=CST), ())
    with pytest.raises(Forbidden, match=r"not a designated provider \(定点医疗机构\)"):
        uc.admit(uow, ctx, who, cmd, msgid=None)
    uow.engine.dispose()
