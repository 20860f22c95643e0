"""`yibao claims …` on both databases: the list and the overdue list (masked), the
statement, a payment batch, the bank file out and the bank's return file in (a failed
line re-queued, exit 1); bad input is one stderr line and exit 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from tests.claims.test_claims import ACCOUNT, R2, Clock, _to_checked, hubei_catalog
from tests.registry_data import EMPLOYEE, load_examples
from yibao.adapters.cli.app import app
from yibao.core.privacy import mask_psn_no
from yibao.packs import PACKS_DIR
from yibao.services import claims
from yibao.services.encounters.context import Context
from yibao.store.db import make_engine
from yibao.store.uow import UnitOfWork


def _run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def test_claims_cli_from_list_to_bank_return(cli_db: str, tmp_path: Path) -> None:
    uow = UnitOfWork(make_engine(cli_db))
    load_examples(uow)
    hubei_catalog(uow)
    ctx = Context(Context.from_folder(PACKS_DIR).packs, clock=Clock())
    cid = _to_checked(uow, ctx, tmp_path)
    claims.settle(uow, ctx, R2, cid)
    claims.approve(uow, ctx, R2, cid)

    listed = _run("claims", "list", "--json")
    assert listed.exit_code == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert (row["id"], row["status"], row["psn_no"]) == (cid, "approved", mask_psn_no(EMPLOYEE))
    assert EMPLOYEE not in _run("claims", "list").stdout
    late = _run("claims", "overdue")  # its 纳入支付 step was due in February 2020
    assert late.exit_code == 1
    assert cid in late.stdout

    html = tmp_path / "statement.html"
    done = _run("claims", "statement", cid, "--out", str(html))
    assert done.exit_code == 0, done.stderr
    page = html.read_text("utf-8")
    assert "415.01" in page
    assert mask_psn_no(EMPLOYEE) in page
    assert EMPLOYEE not in page
    assert ACCOUNT not in page

    made = _run("claims", "batch")
    assert made.exit_code == 0, made.stderr
    batch_id = made.stdout.split()[2].rstrip(":")
    assert "1 lines, 415.01 yuan" in made.stdout
    bank = tmp_path / "bank.csv"
    assert _run("claims", "bank-file", batch_id, "--out", str(bank)).exit_code == 0
    assert ACCOUNT in bank.read_text("utf-8-sig")
    ret = tmp_path / "return.csv"
    ret.write_text("序号,报销单号,金额（元）,结果,银行流水号,失败原因\n"
                   f"1,{cid},415.01,失败,,户名不符\n", encoding="utf-8")  # fmt: skip
    back = _run("claims", "bank-return", batch_id, str(ret))
    assert back.exit_code == 1
    assert "0 paid, 1 failed" in back.stdout
    assert "户名不符" in back.stderr
    assert claims.claim_detail(uow, ctx, R2, cid).claim.status == "approved"  # re-queued

    bad = _run("claims", "bank-return", "PB-nope", str(ret))
    assert bad.exit_code == 2
    assert len(bad.stderr.strip().splitlines()) == 1
    assert _run("claims", "statement", cid, "--out", str(tmp_path / "x.pdf")).exit_code == 2
    uow.engine.dispose()
