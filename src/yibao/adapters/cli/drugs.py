"""``yibao drugs``: drug price and supply monitoring and emergency-procurement filings
(issue 21; docs/DRUGS.md).

The operator acts as a district clerk (区医保局: the procurement agency). Thin: parse,
call one service function, print. Prices on the command line are yuan (at most six
decimals), quantities units (at most four): exact, converted here.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from yibao.adapters.cli.common import bad_input_exits, fail
from yibao.adapters.cli.operator import cli_principal

drugs_app = typer.Typer(
    help="Drug monitoring (药品价格和供应监测) and emergency purchases (应急采购备案).",
    no_args_is_help=True,
)
AsJson = Annotated[bool, typer.Option("--json", help="JSON instead of text.")]
_STATES = "new|investigating|reported|dismissed"
_KINDS = "price|listed|quantity|delivery|shortage|markup"


def _day(flag: str, text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        fail(f"{flag}: {text!r} is not a date YYYY-MM-DD")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _echo(doc: Any) -> None:
    typer.echo(json.dumps(doc, ensure_ascii=False, default=str))


@drugs_app.command("watch")
def watch(
    on: Annotated[str, typer.Option("--on", help="YYYY-MM-DD")],
    as_json: AsJson = False,
) -> None:
    """The watch list: the 诊疗方案 drugs in force on a day."""
    from yibao.bootstrap import unit_of_work
    from yibao.services.drugs import watch_list

    with bad_input_exits():
        watched = watch_list(unit_of_work(), _day("--on", on))
    for w in watched:
        if as_json:
            _echo(w.as_dict())
        else:
            typer.echo(f"{w.code}  {w.generic}  {w.form or '-'}  第{w.edition}版")


@drugs_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="Orders and deliveries: .csv, .xlsx or .parquet")],
) -> None:
    """Import the purchasing platform's orders and deliveries, all-or-nothing."""
    from yibao.bootstrap import unit_of_work
    from yibao.services.drugs import import_orders

    with bad_input_exits():
        done = import_orders(unit_of_work(), cli_principal(), file, now=_now())
    _echo(done.as_dict())


@drugs_app.command("scan")
def scan(
    start: Annotated[str, typer.Option("--from", help="YYYY-MM-DD")],
    end: Annotated[str, typer.Option("--to", help="YYYY-MM-DD")],
) -> None:
    """Scan the region's data and record the signals not recorded before."""
    from yibao.bootstrap import unit_of_work
    from yibao.services.drugs import scan_region

    with bad_input_exits():
        done = scan_region(unit_of_work(), cli_principal(), _day("--from", start),
                           _day("--to", end), now=_now())  # fmt: skip
    _echo(done.as_dict())


@drugs_app.command("signals")
def list_signals(
    state: Annotated[list[str] | None, typer.Option(help=_STATES)] = None,
    kind: Annotated[list[str] | None, typer.Option(help=_KINDS)] = None,
    as_json: AsJson = False,
) -> None:
    """The signals, newest first."""
    from yibao.bootstrap import unit_of_work
    from yibao.services.drugs import KIND_NAMES, STATE_NAMES, signals

    with bad_input_exits():
        found = signals(unit_of_work(), cli_principal(), states=state, kinds=kind)
    for s in found:
        if as_json:
            _echo(s.as_dict())
        else:
            who = s.provider or s.supplier
            typer.echo(f"{s.id}  {s.first_day}..{s.last_day}  {KIND_NAMES[s.kind]}  {s.code}  "
                       f"{who}  {STATE_NAMES[s.state]}")  # fmt: skip


@drugs_app.command("signal")
def show_signal(signal_id: str) -> None:
    """One signal with its evidence and every step (JSON)."""
    from yibao.bootstrap import unit_of_work
    from yibao.services.drugs import signal

    with bad_input_exits():
        _echo(signal(unit_of_work(), cli_principal(), signal_id).as_dict())


@drugs_app.command("move")
def move(
    signal_id: str,
    action: Annotated[str, typer.Argument(help="investigate | report | dismiss")],
    reason: Annotated[str | None, typer.Option(help="Why (required to dismiss).")] = None,
) -> None:
    """Move a signal on: investigate, report (上报) or dismiss (排除, with a reason)."""
    from yibao.bootstrap import unit_of_work
    from yibao.services.drugs import move_signal

    with bad_input_exits():
        s = move_signal(unit_of_work(), cli_principal(), signal_id, action, now=_now(),
                        reason=reason)  # fmt: skip
    _echo({"id": s.id, "state": s.state, "version": s.version})


@drugs_app.command("file")
def file_(
    provider: Annotated[str, typer.Option(help="医疗机构编码")],
    code: Annotated[str, typer.Option(help="药品编码")],
    supplier: Annotated[str, typer.Option(help="供应企业")],
    price: Annotated[str, typer.Option(help="采购单价, yuan (≤ 6 decimals)")],
    qty: Annotated[str, typer.Option(help="采购数量 (≤ 4 decimals)")],
    on: Annotated[str, typer.Option("--on", help="采购日期 YYYY-MM-DD")],
    reason: Annotated[str, typer.Option(help="应急采购理由")],
) -> None:
    """File an emergency purchase (应急采购备案) for a hospital."""
    from yibao.bootstrap import unit_of_work
    from yibao.core.money import scaled_int
    from yibao.services.drugs import DrugFilingIn, file_purchase

    try:
        price_e6, qty_e4 = scaled_int(price, 6), scaled_int(qty, 4)
    except ValueError as exc:
        fail(f"--price/--qty: {exc}")
    with bad_input_exits():
        filed = DrugFilingIn(provider, code, supplier, price_e6, qty_e4, _day("--on", on), reason)
        f = file_purchase(unit_of_work(), cli_principal(), filed, now=_now())
    _echo(f.as_dict())


@drugs_app.command("file-import")
def file_import(file: Annotated[Path, typer.Argument(help=".csv or .xlsx")]) -> None:
    """File every emergency purchase of a file, all-or-nothing."""
    from yibao.bootstrap import unit_of_work
    from yibao.services.drugs import import_filings

    with bad_input_exits():
        ids = import_filings(unit_of_work(), cli_principal(), file, now=_now())
    _echo({"filed": ids})


@drugs_app.command("decide")
def decide(
    filing_id: str,
    accept: Annotated[bool, typer.Option("--accept/--refuse", help="受理 or 不予受理")],
    reason: Annotated[str | None, typer.Option(help="Why (required to refuse).")] = None,
) -> None:
    """The agency accepts or refuses an emergency-purchase filing."""
    from yibao.bootstrap import unit_of_work
    from yibao.services.drugs import decide_filing

    with bad_input_exits():
        f = decide_filing(unit_of_work(), cli_principal(), filing_id, accept, now=_now(),
                          reason=reason)  # fmt: skip
    _echo(f.as_dict())


@drugs_app.command("report")
def report(
    start: Annotated[str, typer.Option("--from", help="YYYY-MM-DD")],
    end: Annotated[str, typer.Option("--to", help="YYYY-MM-DD")],
    out: Annotated[Path, typer.Option("--out", help="The workbook (.xlsx)")],
) -> None:
    """The report for the provincial bureau (Excel)."""
    from yibao.bootstrap import unit_of_work
    from yibao.services.drugs.report import write_report

    with bad_input_exits():
        write_report(unit_of_work(), cli_principal(), _day("--from", start), _day("--to", end),
                     out)  # fmt: skip
    typer.echo(f"report written: {out}")


@drugs_app.command("demo")
def demo(seed: Annotated[int, typer.Option(help="The generator's seed.")] = 2020) -> None:
    """The demo district's February 2020: synthetic orders with injected events (a price
    spike, a delivery collapse, a shortage, a panic purchase, an emergency purchase sold
    above its filed price) imported, filed, accepted and scanned. Needs `demo load`."""
    from yibao.bootstrap import unit_of_work
    from yibao.services.drugs.demo_month import demo_month

    with bad_input_exits():
        done = demo_month(unit_of_work(), cli_principal(), seed=seed, now=_now())
    _echo(done.as_dict())


@drugs_app.command("synth")
def synth(
    out: Annotated[Path, typer.Option("--out", help="Folder for orders.parquet, usage.parquet")],
    hospitals: Annotated[int, typer.Option(min=4)] = 200,
    drugs: Annotated[int, typer.Option(min=5)] = 50,
    start: Annotated[str, typer.Option("--from")] = "2020-01-01",
    end: Annotated[str, typer.Option("--to")] = "2020-12-31",
    seed: int = 1,
) -> None:
    """Synthetic procurement data (the benchmark's), with injected events."""
    from yibao.services.drugs.synth import generate

    providers = [f"H{500102 * 100000 + i:011d}" for i in range(hospitals)]
    codes = [f"XSYN{i:04d}" for i in range(drugs)]
    s = generate(providers, codes, _day("--from", start), _day("--to", end), seed)
    out.mkdir(parents=True, exist_ok=True)
    s.frames.orders.write_parquet(out / "orders.parquet")
    s.frames.usage.write_parquet(out / "usage.parquet")
    _echo({"orders": s.frames.orders.height, "usage": s.frames.usage.height,
           "events": [e.name for e in s.events]})  # fmt: skip
