"""The console's reads of the registries (登记信息, issue 17): an insuree with every
version of its enrolment (who recorded it, when, from which file), a provider with its
versions, and how a hospital's codes resolve in the catalog on a date.

A township clerk sees only the insurees of its township (``rights.in_township``); ID
numbers and names are shown as the caller's role allows."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from yibao.core.errors import InvalidRequest, NotFound, NotInCatalog
from yibao.core.privacy import mask_psn_no
from yibao.services.access.rights import Principal, in_township, require, show_name, show_psn_no
from yibao.services.registry import catalog
from yibao.store.uow import UnitOfWork

__all__ = ["InsureeHistory", "ProviderHistory", "Resolution", "insuree_history",
           "provider_history", "resolve_codes"]  # fmt: skip

_ID_NUMBER = re.compile(r"\d{17}[\dXx]")


@dataclass(frozen=True, slots=True)
class InsureeHistory:
    """An insuree: the shown ID and name, the township, every version (newest last)."""

    insuree_id: str
    name: str
    township: str | None
    versions: tuple[dict[str, Any], ...]


def _version(row: Any, names: tuple[str, ...], caller: Principal) -> dict[str, Any]:
    out = {n: getattr(row, n) for n in names}
    if "psn_no" in out:
        out["psn_no"] = show_psn_no(caller, out["psn_no"])
    if out.get("name"):
        out["name"] = show_name(caller, out["name"])
    out |= {"change_set": row.change_set, "actor": row.actor, "recorded_at": row.recorded_at,
            "file": row.source, "closed": row.superseded_by is not None}  # fmt: skip
    return out


def insuree_history(uow: UnitOfWork, caller: Principal, psn_no: str) -> InsureeHistory:
    """Every version of one insuree's enrolment; ``NotFound`` when there is none."""
    require(caller, "insuree.read")
    psn_no = psn_no.strip().upper()
    if not _ID_NUMBER.fullmatch(psn_no):
        raise InvalidRequest.of([("psn_no", "身份证号为 17 位数字加一位数字或 X")])
    with uow:
        rows = uow.insurees.history(psn_no=psn_no)
        names = tuple(uow.insurees.kind.names)
    if not rows:
        raise NotFound(f"参保人 {mask_psn_no(psn_no)} 未导入")
    current = [r for r in rows if r.superseded_by is None] or rows
    latest = current[-1]
    in_township(caller, latest.township, f"参保人 {mask_psn_no(psn_no)}")
    return InsureeHistory(show_psn_no(caller, psn_no), show_name(caller, latest.name),
                          latest.township,
                          tuple(_version(r, names, caller) for r in rows))  # fmt: skip


@dataclass(frozen=True, slots=True)
class ProviderHistory:
    code: str
    name: str
    versions: tuple[dict[str, Any], ...]


def provider_history(uow: UnitOfWork, caller: Principal, code: str) -> ProviderHistory:
    """Every version of one provider (定点医疗机构); ``NotFound`` when there is none."""
    require(caller, "registry.read")
    code = code.strip()
    if not code or len(code) > 20:
        raise InvalidRequest.of([("code", "机构编码为 1–20 个字符")])
    with uow:
        rows = uow.providers.history(code=code)
        names = tuple(uow.providers.kind.names)
    if not rows:
        raise NotFound(f"定点医疗机构 {code} 不存在")
    return ProviderHistory(code, rows[-1].name, tuple(_version(r, names, caller) for r in rows))


@dataclass(frozen=True, slots=True)
class Resolution:
    """One code as the hospital's line would resolve on the date, or why not."""

    asked: str
    item: catalog.ResolvedItem | None
    problem: str | None


def resolve_codes(uow: UnitOfWork, caller: Principal, provider_code: str, codes: list[str],
                  on: dt.date) -> list[Resolution]:  # fmt: skip
    """Resolve each code (the hospital's own, mapped by 对码, or a national one) at the
    provider on ``on``, as a fee line would be; a code that does not resolve says why."""
    require(caller, "registry.read")
    problems = []
    codes = [c.strip() for c in codes if c.strip()]
    if not provider_code.strip():
        problems.append(("provider_code", "请填写机构编码"))
    if not codes:
        problems.append(("codes", "请填写至少一个项目编码"))
    if len(codes) > 100:
        problems.append(("codes", "最多 100 个编码"))
    if problems:
        raise InvalidRequest.of(problems)
    with uow:
        catalog.provider_snapshot(uow, provider_code.strip(), on)  # ProviderNotFound
        out = []
        for code in codes:
            try:
                item = catalog.resolve_lines(uow, provider_code.strip(), [(code, on)])[0]
            except NotInCatalog as exc:
                out.append(Resolution(code, None, exc.one_line()))
            else:
                out.append(Resolution(code, item, None))
    return out
