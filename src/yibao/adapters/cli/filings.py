"""``yibao filings``: out-of-area filings (异地就医备案, issue 18; docs/FILINGS.md).

The operator acts as a district clerk (区医保局), or with ``--township CODE`` as that
township's clerk (乡镇社保所: only its own insurees). Thin: parse, call one service
function, print. Times in Beijing time.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from yibao.adapters.cli.common import bad_input_exits, beijing
from yibao.adapters.cli.operator import cli_principal

if TYPE_CHECKING:
    from yibao.services.access.rights import Principal

filings_app = typer.Typer(
    help="Out-of-area filings (异地就医备案): take in, forward, decide, import, queue.",
    no_args_is_help=True,
)

Township = Annotated[
    str | None, typer.Option("--township", help="Act as this township's clerk (乡镇社保所).")
]
AsJson = Annotated[bool, typer.Option("--json", help="JSON instead of text.")]


def _caller(township: str | None) -> Principal:
    p = cli_principal()
    return p if township is None else replace(p, role="township_clerk", township_code=township)


def _show(doc: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(doc, ensure_ascii=False))
        return
    due = doc["due_at"] and beijing(dt.datetime.fromisoformat(doc["due_at"]))
    typer.echo(f"{doc['id']}  {doc['kind_name']}  {doc['insuree_id']}  → {doc['dest_region']}  "
               f"{doc['state_name']}  due {due:%Y-%m-%d %H:%M}" if due else
               f"{doc['id']}  {doc['kind_name']}  {doc['insuree_id']}  → {doc['dest_region']}  "
               f"{doc['state_name']}")  # fmt: skip
    for s in doc["steps"]:
        at = beijing(dt.datetime.fromisoformat(s["at"]))
        why = f"  理由: {s['reason']}" if s["reason"] else ""
        typer.echo(f"  {s['seq']}. {at:%Y-%m-%d %H:%M} {s['kind']:<9} {s['actor']}{why}"
                   + (f"  [{s['clause']}]" if s["clause"] else ""))  # fmt: skip


@filings_app.command("take-in")
def take_in(
    kind: Annotated[str, typer.Option(help="resettled|long_stay|work_away|referral|temporary")],
    insuree: Annotated[str, typer.Option(help="人员编号 (ID number).")],
    dest: Annotated[str, typer.Option(help="就医地: 6-digit region code.")],
    valid_from: Annotated[str, typer.Option(help="YYYY-MM-DD")],
    valid_to: Annotated[str | None, typer.Option(help="YYYY-MM-DD; empty: open")] = None,
    hospital: Annotated[list[str] | None, typer.Option(help="A destination hospital.")] = None,
    covid: Annotated[bool, typer.Option(help="For COVID-19 care (its own limit).")] = False,
    township: Township = None,
    as_json: AsJson = False,
) -> None:
    """受理: take a filing in."""
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.services import filings as fs

    with bad_input_exits():
        cmd = fs.FilingIn(kind, insuree, dest, _day("--valid-from", valid_from),
                          _day("--valid-to", valid_to) if valid_to else None,
                          tuple(hospital or ()), covid)  # fmt: skip
        f = fs.take_in(unit_of_work(), hospital_context(), _caller(township), cmd)
    _show(f.as_dict(), as_json)


def _day(flag: str, text: str) -> dt.date:
    from yibao.core.errors import InvalidRequest

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidRequest.of([(flag, f"{text!r} is not a date (YYYY-MM-DD)")]) from None


@filings_app.command("forward")
def forward(filing_id: str, township: Township = None, as_json: AsJson = False) -> None:
    """报送: forward a filing taken in by a township to the district."""
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.services import filings as fs

    with bad_input_exits():
        f = fs.forward(unit_of_work(), hospital_context(), _caller(township), filing_id)
    _show(f.as_dict(), as_json)


@filings_app.command("decide")
def decide(
    filing_id: str,
    approve: Annotated[bool, typer.Option("--approve/--refuse", help="Approve or refuse.")],
    reason: Annotated[str | None, typer.Option(help="Why (required to refuse).")] = None,
    as_json: AsJson = False,
) -> None:
    """审核: the district approves a filing, or refuses it with a reason."""
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.services import filings as fs

    with bad_input_exits():
        f = fs.decide(unit_of_work(), hospital_context(), cli_principal(), filing_id,
                      approve=approve, reason=reason)  # fmt: skip
    _show(f.as_dict(), as_json)


@filings_app.command("revoke")
def revoke(filing_id: str, reason: Annotated[str, typer.Option(help="Why.")],
           as_json: AsJson = False) -> None:  # fmt: skip
    """撤销: an approved filing stops covering stays."""
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.services import filings as fs

    with bad_input_exits():
        f = fs.revoke(unit_of_work(), hospital_context(), cli_principal(), filing_id,
                      reason=reason)  # fmt: skip
    _show(f.as_dict(), as_json)


@filings_app.command("show")
def show(filing_id: str, township: Township = None, as_json: AsJson = False) -> None:
    """One filing with its history."""
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.services import filings as fs

    with bad_input_exits():
        f = fs.filing(unit_of_work(), hospital_context(), _caller(township), filing_id)
    _show(f.as_dict(), as_json)


@filings_app.command("queue")
def queue(
    overdue: Annotated[bool, typer.Option(help="Only the overdue ones.")] = False,
    township: Township = None,
    as_json: AsJson = False,
) -> None:
    """The open filings, soonest due first (a township: its own)."""
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.services import filings as fs

    with bad_input_exits():
        found = fs.queue(unit_of_work(), hospital_context(), _caller(township), overdue=overdue)
    if as_json:
        typer.echo(json.dumps([f.as_dict() for f in found], ensure_ascii=False))
        return
    for f in found:
        due = f"{beijing(f.due_at):%Y-%m-%d %H:%M}" if f.due_at else "-"
        late = "  逾期" if f.overdue else ""
        typer.echo(f"{f.id}  {f.township or '-':<9}  {f.insuree_id}  {fs.STATE_NAMES[f.state]}"
                   f"  due {due}{late}")  # fmt: skip
    typer.echo(f"{len(found)} filing(s)")


@filings_app.command("import")
def import_(path: Path, township: Township = None, as_json: AsJson = False) -> None:
    """Import a township's paper filings (CSV/XLSX) all-or-nothing; forwarded at once."""
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.services.filings.imports import import_filings

    with bad_input_exits():
        done = import_filings(unit_of_work(), hospital_context(), _caller(township), path)
    if as_json:
        typer.echo(json.dumps({"source": done.source, "sha256": done.sha256,
                               "filings": done.filings}, ensure_ascii=False))  # fmt: skip
        return
    typer.echo(f"{done.source}: {len(done.filings)} filing(s) imported and forwarded")


@filings_app.command("inbound-enrol")
def inbound_enrol(
    insuree: Annotated[str, typer.Option(help="人员编号 (certificate number).")],
    name: Annotated[str, typer.Option(help="姓名 as the insured place gives it.")],
    region: Annotated[str, typer.Option(help="参保地 (insuplc_admdvs).")],
    scheme: Annotated[str, typer.Option(help="employee | resident")] = "employee",
    tier: Annotated[int | None, typer.Option(help="居民档次 1|2 (resident).")] = None,
    valid_from: Annotated[str, typer.Option(help="YYYY-MM-DD")] = "2020-01-01",
) -> None:
    """Record an inbound patient's enrolment as the insured place gives it (1101)."""
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.services.filings.inbound import enrol_inbound

    with bad_input_exits():
        done = enrol_inbound(unit_of_work(), hospital_context(), cli_principal(), psn_no=insuree,
                             name=name, scheme=scheme, insured_region=region,
                             valid_from=_day("--valid-from", valid_from),
                             resident_tier=tier)  # fmt: skip
    typer.echo(f"inbound {region}: {done.inserted} new version(s), change set {done.change_set}")


clearing_app = typer.Typer(
    help="Clearing between regions (异地就医清算): receivables, payables, statements.",
    no_args_is_help=True,
)
filings_app.add_typer(clearing_app, name="clearing")


@clearing_app.command("book-inbound")
def clearing_book() -> None:
    """Book inbound settlements' fund share as receivables from their insured regions."""
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.services.filings import clearing as cl

    with bad_input_exits():
        done = cl.book_inbound(unit_of_work(), hospital_context(), cli_principal())
    typer.echo(f"{len(done)} inbound settlement(s) booked")


@clearing_app.command("import-outbound")
def clearing_import(path: Path) -> None:
    """Import a clearing file of our insurees settled elsewhere (CSV/XLSX), all-or-nothing."""
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.services.filings import clearing as cl

    with bad_input_exits():
        done = cl.import_outbound(unit_of_work(), hospital_context(), cli_principal(), path)
    typer.echo(f"{path.name}: {len(done)} outbound settlement(s) booked as payables")


@clearing_app.command("prepare")
def clearing_prepare(month: Annotated[str, typer.Argument(help="YYYY-MM")],
                     as_json: AsJson = False) -> None:  # fmt: skip
    """申请: the month's statements per counterpart region and direction."""
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.services.filings import clearing as cl

    with bad_input_exits():
        found = cl.prepare_statements(unit_of_work(), hospital_context(), cli_principal(), month)
    _statements([s.as_dict() for s in found], as_json)


def _statements(docs: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(docs, ensure_ascii=False))
        return
    for d in docs:
        typer.echo(f"{d['id']:>4}  {d['month']}  {d['counterpart']}  {d['direction']:<8}  "
                   f"{d['items']:>5} 笔  {d['fund_yuan']:>14} 元  {d['state']}")  # fmt: skip
    typer.echo(f"{len(docs)} statement(s)")


@clearing_app.command("statements")
def clearing_list(month: Annotated[str | None, typer.Option(help="YYYY-MM")] = None,
                  as_json: AsJson = False) -> None:  # fmt: skip
    """The clearing statements (a month's, or all)."""
    from yibao.bootstrap import unit_of_work
    from yibao.services.filings import clearing as cl

    with bad_input_exits():
        found = cl.statements(unit_of_work(), cli_principal(), month)
    _statements([s.as_dict() for s in found], as_json)


@clearing_app.command("move")
def clearing_move(
    statement_id: int, to: Annotated[str, typer.Argument(help="confirmed | cleared")]
) -> None:
    """确认 (confirmed) or 清算 (cleared: the money moves) a statement."""
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.services.filings import clearing as cl

    with bad_input_exits():
        s = cl.move_statement(unit_of_work(), hospital_context(), cli_principal(), statement_id, to)
    _statements([s.as_dict()], False)


@clearing_app.command("export")
def clearing_export(statement_id: int, out: Path,
                    unmasked: Annotated[bool, typer.Option(help="ID numbers in full (audited).")]
                    = False) -> None:  # fmt: skip
    """A statement as CSV or XLSX (by the suffix)."""
    from yibao.bootstrap import unit_of_work
    from yibao.services.filings import clearing as cl

    with bad_input_exits():
        cl.write_statement(unit_of_work(), cli_principal(), statement_id, out, unmasked=unmasked)
    typer.echo(f"wrote {out}")
