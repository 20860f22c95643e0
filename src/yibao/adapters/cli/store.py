"""``yibao db``, ``yibao import``, ``yibao export``, ``yibao registry``: the store.

Thin: parse, call one service function, print. SQLAlchemy and the services are
imported inside the commands, so ``yibao settle`` stays light. The database is
``YIBAO_DATABASE_URL`` (default ``sqlite:///./yibao.db``). Personal data (ID numbers,
names) is masked in everything printed or written unless ``--unmasked`` is given, which
needs an identified operator and is recorded in the audit log (``operator``).
"""

from __future__ import annotations

import datetime as dt
import getpass
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from yibao.adapters.cli.common import bad_input_exits, beijing, fail, masked_text, progress_bar
from yibao.adapters.cli.operator import OperatorOpt, Unmasked, unmasking

db_app = typer.Typer(help="The database: migrate it, show its revision.", no_args_is_help=True)
import_app = typer.Typer(
    help="Import a registry file (.csv UTF-8 or .xlsx), all or nothing (docs/IMPORT.md).",
    no_args_is_help=True,
)
export_app = typer.Typer(
    help="Export a registry to .csv or .xlsx; ID numbers and names masked unless --unmasked.",
    no_args_is_help=True,
)
registry_app = typer.Typer(
    help="Look up the registries as of a date: insurees, providers, catalog resolution.",
    no_args_is_help=True,
)

# The registries, in the order a district loads them (mapping needs providers and catalog).
KIND_HELP = {
    "insurees": "参保人: ID number (checked), name, scheme, tier, region, assistance, account.",
    "providers": "定点医疗机构: code, name, region, level, 定点 and 定点救治 dates.",
    "catalog": "医保目录 of a region, with 临时新增编码 (temp_for): class, 先行自付, 限价.",
    "protocol": "诊疗方案 editions: edition, effective date, the drugs and items on it.",
    "mapping": "对码: a hospital's own codes mapped to national codes, with approval.",
    "diseases": "医保病种编码 with dates (B99.900, U07.100x001, Z03.800x001 …).",
}

MaxProblems = Annotated[
    int, typer.Option("--max-problems", min=1, help="How many problems to list (one a line).")
]
By = Annotated[
    str | None, typer.Option("--by", help="Who imports (recorded); default: the login name.")
]
OnOpt = Annotated[
    dt.datetime | None,
    typer.Option(
        "--on", formats=["%Y-%m-%d"], help="The date (YYYY-MM-DD); default: today in Beijing."
    ),
]


def _url() -> str:
    from yibao.bootstrap import settings

    return settings().database_url


# -- db ------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Migrate the database (YIBAO_DATABASE_URL) up to the newest revision."""
    from yibao.store import migrate

    url = _url()
    with bad_input_exits():
        migrate.upgrade(url, revision)
        typer.echo(f"database at {migrate.current(url)}")


@db_app.command("current")
def db_current() -> None:
    """Print the database's revision and the code's newest one."""
    from yibao.store import migrate

    with bad_input_exits():
        at, head = migrate.current(_url()), migrate.head()
    typer.echo(f"database {at or 'none'}")
    typer.echo(f"code     {head}")
    if at != head:
        typer.echo("run `yibao db upgrade`")


# -- import / export -------------------------------------------------------------------


def _print_refusal(exc: Any, shown: int) -> None:
    sys.stderr.write(masked_text(exc.one_line()) + "\n")
    for where, why in exc.problems[1:shown]:
        sys.stderr.write(masked_text(f"  {where}: {why}") + "\n")
    rest = exc.rows_with_problems - len({w.split(",")[0] for w, _ in exc.problems})
    if rest > 0:
        sys.stderr.write(f"  … and problems in {rest} more rows\n")


def _import(kind: str, path: Path, by: str | None, max_problems: int) -> None:
    from yibao.bootstrap import unit_of_work
    from yibao.core.errors import InvalidFile, YibaoError
    from yibao.services.registry.files import import_file

    actor = by or getpass.getuser()
    try:
        with progress_bar(f"{kind} {path.name}") as progress:
            done = import_file(
                unit_of_work(),
                kind,
                path,
                actor=actor,
                max_problems=max_problems,
                progress=progress,
            )
    except InvalidFile as exc:
        _print_refusal(exc, max_problems)
        raise typer.Exit(2) from None
    except YibaoError as exc:
        fail(exc.one_line())
    cs = f"change set {done.change_set}" if done.change_set else "nothing changed"
    typer.echo(
        f"{kind}: {done.rows} rows read, {done.inserted} new versions, "
        f"{done.superseded} closed, {done.unchanged} unchanged ({cs})"
    )
    if kind == "insurees" and done.inserted:
        _settle_deferred()


def _settle_deferred() -> None:
    """New enrolments may unblock deferred stays (参保信息尚未导入): run the queue."""
    from yibao.adapters.cli.operator import cli_principal
    from yibao.bootstrap import hospital_context, unit_of_work
    from yibao.services.stays.deferred.queue import settle_ready

    with bad_input_exits():
        run = settle_ready(unit_of_work(), hospital_context(), cli_principal())
    if run.settled or run.failed:
        typer.echo(f"deferred queue: {len(run.settled)} settled, {len(run.failed)} failed")


def _import_command(kind: str) -> None:
    def command(
        file: Annotated[Path, typer.Argument(help="The .csv (UTF-8) or .xlsx file.")],
        by: By = None,
        max_problems: MaxProblems = 20,
    ) -> None:
        _import(kind, file, by, max_problems)

    command.__doc__ = f"{KIND_HELP[kind]} Every row is checked first; bad rows refuse the file."
    import_app.command(kind)(command)


def _export_command(kind: str) -> None:
    def command(
        out: Annotated[Path, typer.Option("--out", help="File to write.")],
        fmt: Annotated[
            str | None,
            typer.Option("--format", help="csv or xlsx; default: from --out's suffix."),
        ] = None,
        as_of: Annotated[
            dt.datetime | None,
            typer.Option(
                "--as-of",
                formats=["%Y-%m-%d"],
                help="Only versions in force on this date; default: every current one.",
            ),
        ] = None,
        unmasked: Unmasked = False,
        operator: OperatorOpt = None,
    ) -> None:
        from yibao.bootstrap import unit_of_work
        from yibao.core.registry import kind_named
        from yibao.services.registry.files import export_file

        if fmt not in (None, "csv", "xlsx"):
            fail(f"--format {fmt}: use csv or xlsx")
        personal = [c.name for c in kind_named(kind).columns if c.personal]
        if unmasked and personal:
            unmasking(operator, f"export {kind}", personal, str(out))
        with bad_input_exits(), progress_bar(f"{kind} -> {out.name}") as progress:
            n = export_file(
                unit_of_work(),
                kind,
                out,
                fmt=fmt,
                unmasked=unmasked,
                as_of=as_of.date() if as_of else None,
                progress=progress,
            )
        masked = "" if unmasked or not personal else " (ID numbers and names masked)"
        typer.echo(f"{kind}: {n} rows written to {out}{masked}")

    command.__doc__ = f"{KIND_HELP[kind]} Writes the import's columns."
    export_app.command(kind)(command)


for _kind in KIND_HELP:
    _import_command(_kind)
    _export_command(_kind)


# -- registry lookups ------------------------------------------------------------------


def _today(on: dt.datetime | None) -> dt.date:
    return on.date() if on else beijing(dt.datetime.now(dt.UTC)).date()  # the platform's date


def _shown(value: object) -> str:
    from yibao.core.registry.fields import value_text

    return value_text(value)  # type: ignore[arg-type]


@registry_app.command("insuree")
def registry_insuree(
    psn_no: Annotated[str, typer.Argument(help="ID number (人员编号).")],
    on: OnOpt = None,
    unmasked: Unmasked = False,
    operator: OperatorOpt = None,
) -> None:
    """The insuree as of a date (what the engine's Insuree record gets)."""
    from yibao.bootstrap import unit_of_work
    from yibao.core.privacy import mask_name, mask_psn_no
    from yibao.services.registry.catalog import insuree_snapshot

    if unmasked:
        unmasking(operator, "registry insuree", ["psn_no", "name"], mask_psn_no(psn_no))
    with bad_input_exits():
        s = insuree_snapshot(unit_of_work(), psn_no, _today(on))
    shown = s if unmasked else None
    typer.echo(f"psn_no              {shown.psn_no if shown else mask_psn_no(s.psn_no)}")
    typer.echo(f"name                {shown.name if shown else mask_name(s.name)}")
    for field in (
        "scheme",
        "resident_tier",
        "insured_region",
        "township",
        "assistance_category",
        "account_opening_fen",
        "enrolled",
    ):
        typer.echo(f"{field:<20}{_shown(getattr(s, field))}")
    typer.echo(f"{'version':<20}{s.valid_from} .. {s.valid_to or 'open'}")


@registry_app.command("provider")
def registry_provider(
    code: Annotated[str, typer.Argument(help="Provider code (定点医药机构编号).")],
    on: OnOpt = None,
) -> None:
    """The provider as of a date: region, level, 定点 and 定点救治 status."""
    from yibao.bootstrap import unit_of_work
    from yibao.services.registry.catalog import provider_snapshot

    with bad_input_exits():
        s = provider_snapshot(unit_of_work(), code, _today(on))
    for field in ("code", "name", "region", "township", "level", "designated", "covid_designated"):
        typer.echo(f"{field:<18}{_shown(getattr(s, field))}")


@registry_app.command("resolve")
def registry_resolve(
    provider: Annotated[str, typer.Option("--provider", help="Provider code.")],
    codes: Annotated[list[str], typer.Argument(help="Hospital or national codes.")],
    on: OnOpt = None,
) -> None:
    """Resolve codes as a settlement would: the line fields from the treatment place's
    catalog, the 诊疗方案 edition in force, 临时新增编码 (one line each, tab-separated)."""
    from yibao.bootstrap import unit_of_work
    from yibao.services.registry.catalog import resolve_lines

    day = _today(on)
    with bad_input_exits():
        items = resolve_lines(unit_of_work(), provider, [(c, day) for c in codes])
    typer.echo(
        "asked\tcode\tcategory\tclass\tselfpay_bp\tprice_cap_e6\tin_protocol\t"
        "temp_code\tcatalog\tedition\tname"
    )
    for asked, it in zip(codes, items, strict=True):
        cap = "" if it.price_cap_e6 is None else it.price_cap_e6
        typer.echo(
            f"{asked}\t{it.code}\t{it.category}\t{it.item_class}\t{it.selfpay_bp}\t{cap}\t"
            f"{str(it.in_protocol).lower()}\t{str(it.temp_code).lower()}\t"
            f"{it.catalog_region}\t{it.protocol_edition or ''}\t{it.name}"
        )


@registry_app.command("history")
def registry_history(
    kind: Annotated[
        str, typer.Argument(help="insurees, providers, catalog, protocol, mapping or diseases.")
    ],
    key: Annotated[
        list[str],
        typer.Argument(
            help="The natural key, e.g. an ID number, or region and code for the catalog."
        ),
    ],
    unmasked: Unmasked = False,
    operator: OperatorOpt = None,
) -> None:
    """Every version of one registry entry, closed ones too: when (Beijing time), by
    whom, from what."""
    from yibao.bootstrap import unit_of_work
    from yibao.core.privacy import mask
    from yibao.core.registry import kind_named

    with bad_input_exits():
        try:
            k = kind_named(kind)
        except KeyError as exc:
            fail(str(exc.args[0]))
        if len(key) != len(k.key):
            fail(f"{kind} is keyed by {', '.join(k.key)}: give {len(k.key)} values")
        personal = {c.name: c.personal for c in k.columns if c.personal}
        if unmasked and personal:
            shown = [mask(personal.get(n), v) for n, v in zip(k.key, key, strict=True)]
            unmasking(operator, f"registry history {kind}", list(personal), " ".join(shown))
        uow = unit_of_work()
        with uow:
            typed = {n: int(v) if n == "edition" else v for n, v in zip(k.key, key, strict=True)}
            rows = uow.registry(kind).history(**typed)
    if not rows:
        fail(f"{kind} {' '.join(key)}: no versions")
    for r in rows:
        state = "current" if r.superseded_by is None else f"closed by change set {r.superseded_by}"
        cells = [
            mask(None if unmasked else c.personal, str(getattr(r, c.name) or "")) for c in k.columns
        ]
        typer.echo(
            f"change set {r.change_set} {beijing(r.recorded_at):%Y-%m-%d %H:%M} by {r.actor} "
            f"from {r.source}: {state}"
        )
        typer.echo("  " + ", ".join(f"{c.name}={v}" for c, v in zip(k.columns, cells, strict=True)))
