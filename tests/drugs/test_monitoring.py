"""Drug monitoring on both databases: orders imported all-or-nothing, a scan of the
stored data recorded once, signal states with who and when (append-only), emergency
filings accepted, the filed price and the zero-mark-up signal."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.registry_data import CENTRE, EMPLOYEE, load_examples
from yibao.core.errors import Conflict, Forbidden, InvalidFile, InvalidRequest
from yibao.packs import shipped_pack
from yibao.services import drugs
from yibao.services.access.rights import Principal
from yibao.services.encounters import lifecycle as uc
from yibao.services.encounters.context import CST, Context
from yibao.store.uow import UnitOfWork

NOW = dt.datetime(2020, 2, 20, 10, 0, tzinfo=CST)
CLERK = Principal("wang", "district_clerk", None, kind="user")
SUPERVISOR = Principal("li", "supervisor", None, kind="user")
AUDITOR = Principal("zhao", "auditor", None, kind="user")
HOSPITAL = Principal("k-centre", "hospital", CENTRE)
IFN = "XJ05AXA159A001010101445"  # 干扰素 (雾化吸入), on the protocol from edition 3
LPV = "XL04AXX999T000000000001"  # 洛匹那韦利托那韦片
HEADER = "order_id,order_date,provider,code,supplier,price,qty_ordered,qty_delivered,delivery_date"


@pytest.fixture
def loaded(uow: UnitOfWork) -> UnitOfWork:
    load_examples(uow)
    return uow


def _orders(path: Path, spike_from: dt.date | None = None) -> Path:
    lines = [HEADER]
    day = dt.date(2020, 1, 1)
    n = 0
    while day <= dt.date(2020, 2, 20):
        for hosp in (CENTRE, "H50010200002"):
            n += 1
            price = "12.5" if spike_from is None or day < spike_from else "25.000001"
            lines.append(
                f"PO{n:05d},{day},{hosp},{LPV},配送甲,{price},10,10,{day + dt.timedelta(days=1)}"
            )
        day += dt.timedelta(days=3)
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def test_the_watch_list_is_the_protocol_s_drugs(loaded: UnitOfWork) -> None:
    assert drugs.watch_list(loaded, dt.date(2020, 1, 10)) == []
    watched = drugs.watch_list(loaded, dt.date(2020, 2, 10))
    assert [w.code for w in watched] == [IFN, LPV]
    assert {w.code: w.form for w in watched} == {IFN: "雾化吸入", LPV: None}
    assert watched[0].edition == 5
    assert watched[0].catalog_name


def test_an_import_is_all_or_nothing_and_idempotent(loaded: UnitOfWork, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        f"{HEADER}\nP1,2020-02-01,{CENTRE},{LPV},甲,12.5,10,11,2020-02-02\n"
        f"P2,2020-02-31,NOPE,{LPV},甲,x,10,0,\n"
        f"P1,2020-02-01,{CENTRE},{LPV},甲,12.5,10,10,2020-01-30\n",
        "utf-8",
    )
    with pytest.raises(InvalidFile) as e:
        drugs.import_orders(loaded, CLERK, bad, now=NOW)
    where = {p[0] for p in e.value.problems}
    assert {
        "row 2, qty_delivered",
        "row 3, order_date",
        "row 3, price",
        "row 4, delivery_date",
        "row 4, order_id",
    } <= where
    assert e.value.rows_with_problems == 3
    unknown = tmp_path / "unknown.csv"
    unknown.write_text(f"{HEADER}\nP1,2020-02-01,H99999999999,{LPV},甲,12.5,10,10,2020-02-02\n")
    with pytest.raises(InvalidFile, match="row 2, provider"):
        drugs.import_orders(loaded, CLERK, unknown, now=NOW)
    with loaded:
        assert loaded.drugs.orders(dt.date(2020, 1, 1), dt.date(2020, 12, 31)) == []
    good = _orders(tmp_path / "orders.csv")
    first = drugs.import_orders(loaded, CLERK, good, now=NOW)
    assert first.inserted == 34
    assert first.change_set_id is not None
    again = drugs.import_orders(loaded, CLERK, good, now=NOW)
    assert (again.inserted, again.unchanged, again.change_set_id) == (0, 34, None)
    changed = _orders(tmp_path / "orders2.csv", spike_from=dt.date(2020, 2, 10))
    third = drugs.import_orders(loaded, CLERK, changed, now=NOW)
    assert (third.inserted, third.superseded) == (6, 6)
    with pytest.raises(Forbidden):
        drugs.import_orders(loaded, AUDITOR, good, now=NOW)


def test_a_scan_records_signals_once_and_states_are_recorded(
    loaded: UnitOfWork, tmp_path: Path
) -> None:
    drugs.import_orders(loaded, CLERK, _orders(tmp_path / "o.csv", dt.date(2020, 2, 10)), now=NOW)
    start, end = dt.date(2020, 2, 1), dt.date(2020, 2, 20)
    scanned = drugs.scan_region(loaded, CLERK, start, end, now=NOW)
    assert scanned.by_kind.get("price") == 2
    assert scanned.recorded == scanned.found
    assert drugs.scan_region(loaded, CLERK, start, end, now=NOW).recorded == 0
    price = drugs.signals(loaded, AUDITOR, kinds=["price"])
    assert {s.provider for s in price} == {CENTRE, "H50010200002"}
    s = price[0]
    assert (s.state, s.value, s.reference) == ("new", 25_000_001, 12_500_000)
    assert s.clause == "渝医保发〔2020〕3号 四（四）"
    assert s.evidence
    with pytest.raises(InvalidRequest, match="理由"):
        drugs.move_signal(loaded, SUPERVISOR, s.id, "dismiss", now=NOW)
    with pytest.raises(Forbidden):
        drugs.move_signal(loaded, AUDITOR, s.id, "investigate", now=NOW)
    later = NOW + dt.timedelta(hours=2)
    drugs.move_signal(loaded, SUPERVISOR, s.id, "investigate", now=NOW, version=1)
    with pytest.raises(Conflict):
        drugs.move_signal(loaded, CLERK, s.id, "report", now=later, version=1)
    done = drugs.move_signal(loaded, CLERK, s.id, "report", now=later, reason="已报市局")
    assert done.state == "reported"
    assert [(x["state_to"], x["actor"]) for x in done.steps] == [
        ("new", "user:wang"),
        ("investigating", "user:li"),
        ("reported", "user:wang"),
    ]
    with pytest.raises(Conflict):
        drugs.move_signal(loaded, CLERK, s.id, "dismiss", now=later, reason="x")
    with loaded, pytest.raises(Exception, match="append-only"):
        loaded.session.execute(text("UPDATE drug_events SET reason = 'x'"))


def test_an_emergency_purchase_sold_above_its_filed_price_is_a_signal(
    loaded: UnitOfWork,
) -> None:
    ctx = Context(Context.from_folder(shipped_pack("cq-2020")).packs, clock=lambda: NOW)
    filed_in = drugs.DrugFilingIn(CENTRE, IFN, "应急供应商", 100_000_000, 50_000,
                                  dt.date(2020, 2, 1), "挂网产品无法满足临床需求")  # fmt: skip
    with pytest.raises(Forbidden):
        drugs.file_purchase(loaded, Principal("k2", "hospital", "H50010200002"),
                            filed_in, now=NOW)  # fmt: skip
    filing = drugs.file_purchase(loaded, HOSPITAL, filed_in, now=NOW)
    assert drugs.file_purchase(loaded, HOSPITAL, filed_in, now=NOW).id == filing.id
    assert drugs.filed_price(loaded, CENTRE, IFN, dt.date(2020, 2, 3)) is None  # not accepted
    with pytest.raises(InvalidRequest):
        drugs.decide_filing(loaded, CLERK, filing.id, False, now=NOW)
    accepted = drugs.decide_filing(loaded, CLERK, filing.id, True, now=NOW)
    assert [x["state_to"] for x in accepted.steps] == ["filed", "accepted"]
    assert drugs.filed_price(loaded, CENTRE, IFN, dt.date(2020, 2, 3)) == 100_000_000
    assert drugs.filed_price(loaded, CENTRE, IFN, dt.date(2020, 1, 31)) is None
    t0 = dt.datetime(2020, 2, 3, 9, 0, tzinfo=CST)
    enc = uc.admit(loaded, ctx, HOSPITAL, uc.Admit(EMPLOYEE, "21", t0,
                   (uc.Diagnosis("B99.900", True),)), msgid=None)  # fmt: skip
    fees = (uc.FeeIn("1", IFN, price_e6=120_000_000, qty_e4=10_000),)
    uc.upload_fees(loaded, ctx, HOSPITAL, enc.id, fees, msgid=None)
    uc.settle(loaded, ctx, HOSPITAL, enc.id, discharge_date=dt.date(2020, 2, 12), msgid=None)
    drugs.scan_region(loaded, CLERK, dt.date(2020, 2, 1), dt.date(2020, 2, 20), now=NOW)
    (markup,) = drugs.signals(loaded, CLERK, kinds=["markup"])
    assert (markup.provider, markup.code, markup.value, markup.reference) == (
        CENTRE,
        IFN,
        120_000_000,
        100_000_000,
    )
    assert "四（一）" in markup.clause


def test_the_daily_report_has_the_drug_section(loaded: UnitOfWork, tmp_path: Path) -> None:
    from yibao.services.reports import daily_report

    drugs.import_orders(loaded, CLERK, _orders(tmp_path / "o.csv", dt.date(2020, 2, 10)), now=NOW)
    drugs.scan_region(loaded, CLERK, dt.date(2020, 2, 1), dt.date(2020, 2, 20), now=NOW)
    (s,) = drugs.signals(loaded, CLERK, kinds=["price"], provider=CENTRE)
    drugs.move_signal(loaded, CLERK, s.id, "investigate", now=NOW)
    ctx = Context(Context.from_folder(shipped_pack("cq-2020")).packs, clock=lambda: NOW)
    report = daily_report(loaded, ctx, CLERK, dt.date(2020, 2, 20))
    (section,) = [x for x in report.sections if x.name == "drugs"]
    figures = {f.label: f.value for f in section.figures}
    assert figures["信号（新发现）"] == 1
    assert figures["信号（调查中）"] == 1
    assert [t.name for t in section.tables] == ["药品信号", "短缺线索", "应急采购备案"]
    assert len(section.tables[0].rows) == 2
