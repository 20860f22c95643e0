"""Who runs a command (the operator), and ``--unmasked``.

The operator is ``--operator LOGIN``, else the environment's ``YIBAO_OPERATOR``, else
the OS login name. It is the actor recorded for what a command changes (``cli:LOGIN``,
a district clerk). Output holds ID numbers and names masked; ``--unmasked`` shows them
in full only when an operator is identified, and records each use in the audit log
(action ``personal.unmasked``: operator, how it was identified, command, the fields
unmasked, the file or the masked key) before anything unmasked is written or printed.
With no operator to name, or a name that is not one printable word of at most 32
characters, ``--unmasked`` is refused (exit 2).
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

from yibao.adapters.cli.common import bad_input_exits, fail

if TYPE_CHECKING:
    from yibao.services.access.rights import Principal

__all__ = ["ENV", "Operator", "OperatorOpt", "Unmasked", "identify", "principal", "unmasking"]

ENV = "YIBAO_OPERATOR"
MAX_LEN = 32

OperatorOpt = Annotated[
    str | None,
    typer.Option(
        "--operator",
        metavar="LOGIN",
        help=f"Who runs the command, recorded in the audit log with --unmasked; default: "
        f"${ENV}, else the OS login name.",
    ),
]
Unmasked = Annotated[
    bool,
    typer.Option(
        "--unmasked",
        help="Show ID numbers and names in full: needs an identified operator (--operator), "
        "and each use is recorded in the audit log.",
    ),
]


@dataclass(frozen=True, slots=True)
class Operator:
    login: str
    source: str  # "option", "env" or "os"


def _valid(login: str) -> bool:
    return 0 < len(login) <= MAX_LEN and login.isprintable() and not any(c.isspace() for c in login)


def identify(given: str | None) -> Operator | None:
    """The operator: ``given`` (``--operator``), else ``YIBAO_OPERATOR``, else the OS
    login name; None when there is none. A given name that is not valid exits 2."""
    if given is not None:
        login, source = given, "option"
    elif os.environ.get(ENV):
        login, source = os.environ[ENV], "env"
    else:
        try:
            login, source = getpass.getuser(), "os"
        except (OSError, KeyError, ImportError):  # no login name (a bare container)
            return None
    if not _valid(login):
        where = "--operator" if source == "option" else ENV if source == "env" else "login name"
        fail(f"{where}: {login!r} is not one printable word of at most {MAX_LEN} characters")
    return Operator(login, source)


def principal(op: Operator | None, role: str = "clerk") -> Principal:
    """The CLI's caller: the operator as a district clerk (actor ``key:cli:LOGIN``)."""
    from yibao.services.access.rights import Principal

    return Principal(f"cli:{op.login if op else 'unknown'}", role, None)


def unmasking(given: str | None, command: str, fields: Sequence[str], target: str) -> Principal:
    """Before any unmasked output: the operator identified (exit 2 otherwise), allowed,
    and this use of ``--unmasked`` recorded in the audit log. Returns the caller."""
    from yibao.bootstrap import unit_of_work
    from yibao.services.access.disclosure import record_unmasked

    op = identify(given)
    if op is None:
        fail(f"--unmasked needs an operator: give --operator LOGIN or set {ENV}")
    caller = principal(op)
    with bad_input_exits():
        record_unmasked(unit_of_work(), caller, command=f"yibao {command}", fields=fields,
                        target=target, at=dt.datetime.now(dt.UTC), operator=op.login,
                        operator_from=op.source)  # fmt: skip
    return caller


def cli_principal(role: str = "clerk", operator: str | None = None) -> Principal:
    """The CLI's caller: the operator (``--operator``, ``YIBAO_OPERATOR`` or the login
    name) as a district clerk, recorded as the actor."""
    return principal(identify(operator), role)
