"""资金管理 pages without a browser (TestClient, both databases): a prepayment applied
for by a district clerk (yuan typed, fen exactly, the baseline beside it), proposed by
one finance person, refused to the same person at 复核 (the four-eyes refusal beside
the form), approved by another, disbursed and posted; February's statements prepared
on 2020-03-02, one opened and printed, its confirmation recorded, the batch paid, the
workbook; the fiscal subsidy claimed and paid, the central share; the trial balance
balanced; who may open and post what."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.registry_data import CENTRE
from tests.web.conftest import NOW, PASSWORD, Console, csrf_of
from yibao.adapters.web.funds import parse_yuan
from yibao.services.access.rights import Principal
from yibao.services.access.users import create_user
from yibao.services.encounters.context import CST, Context
from yibao.services.funds import clearing, prepayment, subsidy

MARCH = dt.datetime(2020, 3, 2, 9, 0, tzinfo=CST)
FIN = Principal("t-fin", "finance", None, kind="user")


@dataclass
class Funds:
    console: Console

    def as_user(self, login: str) -> None:
        self.console.client.cookies.clear()
        r = self.console.sign_in(login)
        assert r.status_code in (200, 303), r.text

    def csrf(self, path: str = "/console/funds/prepayments") -> str:
        return csrf_of(self.console.client.get(path).text)


def second_finance(console: Console) -> None:
    admin = Principal("cli:test", "admin", None)
    create_user(console.data.uow, admin, login="finance-b", role="finance", password=PASSWORD,
                display_name="测试财务乙", now=NOW)  # fmt: skip


def at_march(console: Console) -> None:
    """The app's clock on 2020-03-02: February is over and may be cleared."""
    app = console.client.app
    app.state.ctx = Context(app.state.ctx.packs, clock=lambda: MARCH)  # type: ignore[attr-defined]


@pytest.fixture
def funds(console: Console) -> Iterator[Funds]:
    second_finance(console)
    return Funds(console)


def test_yuan_is_parsed_exactly_to_fen() -> None:
    errors: dict[str, str] = {}
    assert parse_yuan("1,234.05", "a", errors) == 123_405
    assert parse_yuan("0.1", "a", errors) == 10
    assert parse_yuan(" 99999999.99 ", "a", errors) == 9_999_999_999
    assert not errors
    for bad in ("", "1.005", "abc", "-3", "0", "1e3", "100000000000.00"):
        errors = {}
        assert parse_yuan(bad, "a", errors) is None, bad
        assert errors["a"], bad


def _prepayment(uow: object, pid: str) -> prepayment.PrepaymentView:
    return next(p for p in prepayment.prepayments(uow, FIN) if p.id == pid)  # type: ignore[arg-type]


def test_a_prepayment_from_application_to_disbursement_with_four_eyes(funds: Funds) -> None:
    c, uow = funds.console.client, funds.console.data.uow
    funds.as_user("district-clerk")
    token = funds.csrf()
    form = {"csrf": token, "provider": CENTRE, "amount": "12.345", "patients": "x", "reason": ""}
    r = c.post("/console/funds/prepayments", data=form)
    assert r.status_code == 422
    for field in ("amount", "patients", "reason"):
        assert f'id="err-{field}"' in r.text, field
    form |= {"amount": "1,000,000.50", "patients": "6", "reason": "新冠定点救治"}
    r = c.post("/console/funds/prepayments", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    pid = r.headers["location"].rsplit("/", 1)[1]
    p = _prepayment(uow, pid)
    assert (p.state, p.applied_fen, p.expected_patients) == ("applied", 100_000_050, 6)
    page = c.get(f"/console/funds/prepayments/{pid}").text
    assert "1,000,000.50" in page
    assert 'id="baseline"' in page
    assert 'id="propose-form"' not in page  # a clerk applies; finance reviews

    funds.as_user("finance")
    page = c.get(f"/console/funds/prepayments/{pid}").text
    assert 'id="propose-form"' in page
    assert "基线合计" in page
    token = csrf_of(page)
    r = c.post(f"/console/funds/prepayments/{pid}/propose", data={"csrf": token, "amount": "1e5"})
    assert r.status_code == 422
    assert 'id="err-amount"' in r.text
    r = c.post(f"/console/funds/prepayments/{pid}/propose",
               data={"csrf": token, "amount": "800,000.01"}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303, r.text
    assert _prepayment(uow, pid).proposed_fen == 80_000_001
    r = c.post(f"/console/funds/prepayments/{pid}/approve", data={"csrf": token})
    assert r.status_code == 403
    assert "双人审批" in re.search(r'id="err-approve">([^<]*)<', r.text).group(1)  # type: ignore[union-attr]
    assert _prepayment(uow, pid).state == "proposed"

    funds.as_user("finance-b")
    token = funds.csrf(f"/console/funds/prepayments/{pid}")
    r = c.post(f"/console/funds/prepayments/{pid}/approve", data={"csrf": token},
               follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    r = c.post(f"/console/funds/prepayments/{pid}/disburse", data={"csrf": token},
               follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    p = _prepayment(uow, pid)
    assert (p.state, p.approved_by, sum((p.by_book or {}).values())) == (
        "disbursed", "user:finance-b", 80_000_001)  # fmt: skip
    assert p.tx_id
    page = c.get(f"/console/funds/prepayments/{pid}").text
    assert "已拨付" in page
    assert "800,000.01" in page
    assert 'id="disburse-form"' not in page
    listing = c.get("/console/funds/prepayments").text
    assert f'id="pre-{pid}"' in listing
    r = c.post(f"/console/funds/prepayments/{pid}/disburse", data={"csrf": token})
    assert r.status_code == 409
    assert "已处理" in r.text


def test_february_statements_prepared_confirmed_paid(funds: Funds) -> None:
    c, uow = funds.console.client, funds.console.data.uow
    funds.as_user("finance")
    token = funds.csrf("/console/funds/statements")
    r = c.post("/console/funds/statements/prepare", data={"csrf": token, "month": "2020-02"})
    assert r.status_code == 422
    assert "尚未结束" in r.text
    r = c.post("/console/funds/statements/prepare", data={"csrf": token, "month": "2020/02"})
    assert r.status_code == 422
    assert 'id="err-month"' in r.text
    at_march(funds.console)
    r = c.post("/console/funds/statements/prepare", data={"csrf": token, "month": "2020-02"})
    assert r.status_code == 200, r.text
    assert 'id="notice"' in r.text
    made = clearing.statements(uow, FIN, month=dt.date(2020, 2, 1))
    assert [s.provider_code for s in made] == [CENTRE]
    s = made[0]
    assert s.net_fen > 0
    assert f'id="stm-{s.id}"' in r.text
    assert s.state == "draft"
    page = c.get(f"/console/funds/statements/{s.id}").text
    assert re.search(r'id="stm-net">([^<]*)<', page).group(1) == _yuan(s.net_fen)  # type: ignore[union-attr]
    assert 'id="confirm-form"' not in page  # finance does not confirm for the hospital
    printed = c.get(f"/console/funds/statements/{s.id}/print")
    assert printed.status_code == 200
    assert "医疗机构（盖章）" in printed.text
    r = c.post("/console/funds/payments", data={"csrf": token, "month": "2020-02"})
    assert r.status_code == 409
    assert 'id="err-pay"' in r.text

    funds.as_user("district-clerk")
    token = funds.csrf(f"/console/funds/statements/{s.id}")
    r = c.post(f"/console/funds/statements/{s.id}/confirm", data={"csrf": token, "ref": " "})
    assert r.status_code == 422
    assert 'id="err-ref"' in r.text
    ref = {"csrf": token, "ref": "医院函〔2020〕12号"}
    r = c.post(f"/console/funds/statements/{s.id}/confirm", data=ref, follow_redirects=False)
    assert r.status_code == 303
    r = c.post("/console/funds/payments", data={"csrf": token, "month": "2020-02"})
    assert r.status_code == 403  # a clerk does not pay

    funds.as_user("finance")
    r = c.post("/console/funds/payments", data={"csrf": token, "month": "2020-02"})
    assert r.status_code == 403  # the token was the clerk's session's
    token = funds.csrf("/console/funds/statements?month=2020-02")
    r = c.post("/console/funds/payments", data={"csrf": token, "month": "2020-02"})
    assert r.status_code == 200
    assert "已拨付 1 张" in r.text
    paid = clearing.statement(uow, FIN, s.id)
    assert (paid.state, paid.net_fen) == ("paid", s.net_fen)
    assert paid.tx_id
    got = c.get("/console/funds/statements.xlsx?month=2020-02")
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("application/vnd.openxmlformats")
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(got.content)).active
    assert ws is not None
    total = [row for row in ws.iter_rows(values_only=True) if row[4] == "合计"]
    assert [int(row[9] * 100) for row in total] == [s.net_fen]  # type: ignore[operator]
    assert c.get("/console/funds/statements.xlsx?month=02-2020").status_code == 422


def _yuan(fen: int) -> str:
    whole, cents = divmod(fen, 100)
    return f"{whole:,}.{cents:02d}"


def test_subsidy_claims_and_the_central_share(funds: Funds) -> None:
    c, uow = funds.console.client, funds.console.data.uow
    at_march(funds.console)
    funds.as_user("district-clerk")
    token = funds.csrf("/console/funds/subsidy")
    r = c.post("/console/funds/subsidy", data={"csrf": token, "provider": "", "period_end": "x"})
    assert r.status_code == 422
    assert 'id="err-provider"' in r.text
    assert 'id="err-period_end"' in r.text
    r = c.post("/console/funds/subsidy", data={"csrf": token, "provider": CENTRE,
                                               "period_end": "2020-02-29"})  # fmt: skip
    (advanced,) = subsidy.claims(uow, FIN)  # the seeded stays carry a fiscal subsidy
    assert r.status_code == 200
    assert f'id="claim-{advanced.id}"' in r.text
    assert advanced.fiscal_fen > 0
    r = c.post("/console/funds/subsidy", data={"csrf": token, "provider": CENTRE,
                                               "period_end": "2020-02-29"})  # fmt: skip
    assert r.status_code == 409  # each stay is claimed once
    assert "无可申报的财政补助" in r.text
    funds.as_user("finance")
    token = funds.csrf("/console/funds/subsidy")
    r = c.post(f"/console/funds/subsidy/{advanced.id}/pay", data={"csrf": token})
    assert r.status_code == 200
    assert subsidy.claims(uow, FIN)[0].state == "paid"
    r = c.post(f"/console/funds/subsidy/{advanced.id}/pay", data={"csrf": token})
    assert r.status_code == 409
    assert f'id="err-pay-{advanced.id}"' in r.text  # paid once, the refusal beside it
    r = c.post("/console/funds/central", data={"csrf": token, "central_end": "2020-03-02"})
    assert r.status_code == 422
    assert 'id="err-central_end"' in r.text
    r = c.post("/console/funds/central", data={"csrf": token, "central_end": "2020-02-29"})
    assert r.status_code == 200
    assert "2020-02-29" in r.text
    assert [z.period_end for z in subsidy.central_claims(uow, FIN)] == [dt.date(2020, 2, 29)]
    r = c.post("/console/funds/central", data={"csrf": token, "central_end": "2020-02-29"})
    assert r.status_code == 409  # once per period


def test_the_trial_balance_balances(funds: Funds) -> None:
    c = funds.console.client
    funds.as_user("auditor")
    page = c.get("/console/funds/trial").text
    assert "各账簿借贷合计" in page
    assert "不平衡" not in page
    assert page.count('<span class="ok">平衡</span>') >= 2  # the fund books and the fiscal line
    assert "应付定点医疗机构" in page or "hospital_payable" in page
    r = c.get("/console/funds/trial?end=2020-13-01")
    assert r.status_code == 422
    assert 'id="err-end"' in r.text
    empty = c.get("/console/funds/trial?end=2020-01-01").text
    assert "账簿尚无记账" in empty


@pytest.mark.parametrize("login", ["township-clerk", "supervisor"])
def test_who_may_not_open_the_pages(funds: Funds, login: str) -> None:
    c = funds.console.client
    funds.as_user(login)
    assert 'href="/console/funds"' not in c.get("/console/today").text
    for path in ("/console/funds/prepayments", "/console/funds/statements",
                 "/console/funds/subsidy", "/console/funds/trial"):  # fmt: skip
        assert c.get(path).status_code == 403, path


def test_readers_read_and_forms_need_their_permission_and_csrf(funds: Funds) -> None:
    c = funds.console.client
    funds.as_user("auditor")
    today = c.get("/console/today").text
    assert 'href="/console/funds"' in today
    page = c.get("/console/funds/statements").text
    assert 'id="prepare-form"' not in page
    assert 'id="pay-form"' not in page
    token = csrf_of(page)
    r = c.post("/console/funds/statements/prepare", data={"csrf": token, "month": "2020-01"})
    assert r.status_code == 403
    funds.as_user("finance")
    r = c.post("/console/funds/statements/prepare", data={"month": "2020-01"})
    assert r.status_code == 403
    assert "CSRF" in r.text
    assert c.get("/console/funds/prepayments/PRE-nope").status_code == 404
    assert c.get("/console/funds/statements/STM-nope").status_code == 404
    assert c.get("/console/funds", follow_redirects=False).status_code == 303
