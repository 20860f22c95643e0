"""``yibao users``: the console's people (issue 17). Passwords are read from stdin, never
from an argument (``printf 'pw\\n' | yibao users create LOGIN --role admin``)."""

from __future__ import annotations

import datetime as dt
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from yibao.adapters.cli.common import bad_input_exits, beijing, fail
from yibao.adapters.cli.operator import OperatorOpt

if TYPE_CHECKING:
    from yibao.services.access.rights import Principal

users_app = typer.Typer(
    help="Console users (people): create, list, disable, reset a password (read from stdin).",
    no_args_is_help=True,
)


def _password() -> str:
    """The first line of stdin (a terminal is asked twice, without echo)."""
    if sys.stdin.isatty():
        import getpass

        first = getpass.getpass("password: ")
        if first != getpass.getpass("again: "):
            fail("the two passwords differ")
        return first
    line = sys.stdin.readline()
    if not line:
        fail("give the password on stdin (printf 'pw\\n' | yibao users ...)")
    return line.rstrip("\r\n")


def _admin(operator: str | None) -> Principal:
    from yibao.adapters.cli.operator import cli_principal

    return cli_principal("admin", operator)


@users_app.command("create")
def users_create(
    login: Annotated[str, typer.Argument(help="The sign-in name (2-40 of a-z 0-9 _ . -).")],
    role: Annotated[
        str,
        typer.Option(
            "--role",
            help="district_clerk, township_clerk, finance, supervisor, auditor or admin.",
        ),
    ],
    township: Annotated[
        str | None, typer.Option("--township", help="The township's code (township_clerk).")
    ] = None,
    name: Annotated[str, typer.Option("--name", help="The person's name, as shown.")] = "",
    operator: OperatorOpt = None,
) -> None:
    """Create a console user; the password is the first line of stdin."""
    from yibao.bootstrap import unit_of_work
    from yibao.services.access.users import create_user

    password = _password()
    with bad_input_exits():
        u = create_user(unit_of_work(), _admin(operator), login=login, role=role,
                        password=password, township_code=township, display_name=name,
                        now=dt.datetime.now(dt.UTC))  # fmt: skip
    typer.echo(
        f"user {u.login} created ({u.role}{' ' + u.township_code if u.township_code else ''})"
    )


@users_app.command("list")
def users_list(operator: OperatorOpt = None) -> None:
    """List the users: login, role, township, name, created (Beijing date), state."""
    from yibao.bootstrap import unit_of_work
    from yibao.services.access.users import list_users

    now = dt.datetime.now(dt.UTC)
    with bad_input_exits():
        rows = list_users(unit_of_work(), _admin(operator))
    for u in rows:
        state = ("disabled " + f"{beijing(u.disabled_at):%Y-%m-%d}" if u.disabled_at else
                 "locked" if u.locked(now) else "active")  # fmt: skip
        typer.echo(f"{u.login}\t{u.role}\t{u.township_code or '-'}\t{u.display_name}\t"
                   f"{beijing(u.created_at):%Y-%m-%d}\t{state}")  # fmt: skip


@users_app.command("disable")
def users_disable(
    login: Annotated[str, typer.Argument(help="The user to disable.")],
    operator: OperatorOpt = None,
) -> None:
    """Disable a user: sign-in refused, open sessions end at their next request."""
    from yibao.bootstrap import unit_of_work
    from yibao.services.access.users import disable_user

    with bad_input_exits():
        disable_user(unit_of_work(), _admin(operator), login, now=dt.datetime.now(dt.UTC))
    typer.echo(f"user {login} disabled")


@users_app.command("reset")
def users_reset(
    login: Annotated[str, typer.Argument(help="The user whose password is reset.")],
    operator: OperatorOpt = None,
) -> None:
    """Set a new password (first line of stdin); unlocks a locked account and ends the
    sessions signed in with the old password."""
    from yibao.bootstrap import unit_of_work
    from yibao.services.access.users import reset_password

    password = _password()
    with bad_input_exits():
        reset_password(unit_of_work(), _admin(operator), login, password,
                       now=dt.datetime.now(dt.UTC))  # fmt: skip
    typer.echo(f"password of {login} reset")
