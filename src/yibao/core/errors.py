"""The error tree. Every error names the thing, the value and, where it matters, the date.

::

    YibaoError          code             status
    ├── InvalidRequest  invalid-request  422  a request breaks its schema or a rule
    │   └── InvalidFile   invalid-file   422  an import file has bad rows (row, column, reason)
    ├── PackError       invalid-pack     422  a policy pack fails to load or validate
    ├── NoPackApplies   no-pack          422  no (or several) packs for region and date
    ├── InvariantBroken invariant        500  a settlement broke an invariant (a bug)
    ├── NotFound        not-found        404  a record does not exist
    │   ├── InsureeNotImported  insuree-not-imported  404  no enrolment on the date (四（四）)
    │   └── ProviderNotFound    provider-not-found    404  no provider version on the date
    ├── NotInCatalog    not-in-catalog   422  a code is not in the treatment place's catalog
    │   └── UnmappedCode  unmapped-code  422  a hospital code has no mapping on the date
    ├── Conflict        conflict         409  state forbids the action / key reuse
    ├── Forbidden       forbidden        403  the caller may not do this
    ├── Unauthorized    unauthorized     401  no or bad credentials
    └── StoreNotReady   store-not-ready  503  the database is unreachable or not migrated

Adapters map the tree once: the API to problem+json (RFC 9457), the CLI to exit 2 and
one stderr line, the national envelope to ``infcode = -1`` with ``err_msg``.
Each problem is ``(path, message)``; ``path`` is a dotted key path such as
``lines.2.price_e6``.
"""

from __future__ import annotations

__all__ = [
    "Conflict",
    "Forbidden",
    "InsureeNotImported",
    "InvalidFile",
    "InvalidRequest",
    "InvariantBroken",
    "NoPackApplies",
    "NotFound",
    "NotInCatalog",
    "PackError",
    "Problem",
    "ProviderNotFound",
    "StoreNotReady",
    "Unauthorized",
    "UnmappedCode",
    "YibaoError",
]

Problem = tuple[str, str]


class YibaoError(Exception):
    """Base of every error the system raises on purpose."""

    code = "error"
    status = 400
    title = "Error"

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.problems: list[Problem] = list(problems or [])

    def one_line(self) -> str:
        """The message on one line (the CLI's stderr contract)."""
        return " ".join(str(self).split())


class InvalidRequest(YibaoError):
    """The request breaks its schema or a validation rule; ``problems`` lists them all."""

    code, status, title = "invalid-request", 422, "Invalid request"

    @classmethod
    def of(cls, problems: list[Problem]) -> InvalidRequest:
        first_path, first_msg = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        where = f"{first_path}: " if first_path else ""
        return cls(f"{where}{first_msg}{more}", problems)


class PackError(YibaoError):
    """A policy pack does not load: the message names the file and the key path."""

    code, status, title = "invalid-pack", 422, "Invalid policy pack"


class NoPackApplies(YibaoError):
    """No policy pack (or more than one) covers the insured region on the discharge date."""

    code, status, title = "no-pack", 422, "No policy pack applies"


class InvariantBroken(YibaoError):
    """A computed settlement broke an invariant; it is refused, never returned."""

    code, status, title = "invariant", 500, "Settlement invariant broken"


class NotFound(YibaoError):
    """A record the caller named does not exist."""

    code, status, title = "not-found", 404, "Not found"


class Conflict(YibaoError):
    """The current state forbids the action, or an idempotency key was reused."""

    code, status, title = "conflict", 409, "Conflict"


class Forbidden(YibaoError):
    """The caller's role or hospital may not do this."""

    code, status, title = "forbidden", 403, "Forbidden"


class Unauthorized(YibaoError):
    """No credentials, or credentials that match nobody."""

    code, status, title = "unauthorized", 401, "Unauthorized"


class InvalidFile(InvalidRequest):
    """An import file has bad rows. ``problems`` are ``("row N, column", reason)``, every
    row checked before anything is written; ``rows_with_problems`` counts them all."""

    code, status, title = "invalid-file", 422, "Invalid import file"

    def __init__(
        self, message: str, problems: list[Problem] | None = None, rows_with_problems: int = 0
    ) -> None:
        super().__init__(message, problems)
        self.rows_with_problems = rows_with_problems


class InsureeNotImported(NotFound):
    """No enrolment version of this insuree covers the date: 参保信息尚未导入. The
    service treats first and settles once the enrolment is imported (渝医保发〔2020〕3号
    四（四）, 涪医保发〔2020〕6号 三)."""

    code, status, title = "insuree-not-imported", 404, "Insuree not imported"


class ProviderNotFound(NotFound):
    """No version of this provider covers the date."""

    code, status, title = "provider-not-found", 404, "Provider not found"


class NotInCatalog(YibaoError):
    """The line's code is not in the treatment place's catalog on its date."""

    code, status, title = "not-in-catalog", 422, "Not in catalog"


class UnmappedCode(NotInCatalog):
    """A hospital code that the hospital mapped (对码) on other dates, but not on this
    one: the mapping has expired or has not begun."""

    code, status, title = "unmapped-code", 422, "Code not mapped"


class StoreNotReady(YibaoError):
    """The database cannot be reached, or its schema is not at the code's revision."""

    code, status, title = "store-not-ready", 503, "Store not ready"
