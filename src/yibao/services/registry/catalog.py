"""Catalog resolution and registry snapshots: what the engine needs, from the store.

- ``resolve_lines(uow, provider, [(code, date), …])``: each line's code, a hospital
  code (对码) or a national one, to the fields of SETTLEMENT.md §2 from the catalog of
  the TREATMENT place (the provider's region on that date; the most specific catalog
  region wins), ``in_protocol`` from the 诊疗方案 edition in force on that date, and
  ``temp_code`` for a 临时新增编码. Four queries for any number of lines. An unmapped
  or unknown code raises ``NotInCatalog`` / ``UnmappedCode`` naming code, hospital and
  date; nothing is guessed.
- ``insuree_snapshot`` / ``provider_snapshot``: one version as of a date, with
  ``engine()`` building the engine's ``Insuree`` / ``Provider`` records.

Each opens the unit of work, or joins the caller's (a settlement use case resolves
inside its own transaction). 渝医保发〔2020〕3号 二（二）, 四（三）; the provincial
notice 二（二） (临时新增编码).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from sqlalchemy import Row

from yibao.core.engine.model import Insuree, Line, Provider
from yibao.core.errors import InsureeNotImported, NotInCatalog, ProviderNotFound, UnmappedCode
from yibao.core.privacy import mask_psn_no
from yibao.core.registry.regions import ancestors
from yibao.store.uow import UnitOfWork

__all__ = [
    "InsureeSnapshot",
    "ProviderSnapshot",
    "ResolvedItem",
    "disease_codes_in_force",
    "disease_codes_on",
    "insuree_of",
    "insuree_snapshot",
    "insuree_snapshots",
    "known_regions",
    "protocol_edition_on",
    "provider_snapshot",
    "resolve_line",
    "resolve_lines",
]

Category = Literal["drug", "service", "consumable", "bed", "other"]
ItemClass = Literal["A", "B", "C"]


def _covers(on: dt.date, start: dt.date | None, end: dt.date | None) -> bool:
    return start is not None and start <= on and (end is None or on <= end)


def _version_on(versions: Iterable[Row[Any]], on: dt.date) -> Row[Any] | None:
    return next((v for v in versions if _covers(on, v.valid_from, v.valid_to)), None)


# -- snapshots ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InsureeSnapshot:
    """参保人 as of a date: the version in force, assistance resolved for the date."""

    psn_no: str
    name: str
    scheme: Literal["employee", "resident", "none"]
    resident_tier: Literal[1, 2] | None
    insured_region: str
    township: str | None
    assistance_category: str  # "none" outside the category's from/to
    account_opening_fen: int  # opening balance; the service tracks movements
    enrolled: bool
    valid_from: dt.date
    valid_to: dt.date | None

    def engine(self, account_balance_fen: int) -> Insuree:
        """The engine's record; the balance is the caller's (opening balance plus the
        account movements it tracks), never silently the opening balance."""
        return Insuree(
            id=self.psn_no,
            scheme=self.scheme,
            resident_tier=self.resident_tier,
            insured_region=self.insured_region,
            assistance_category=self.assistance_category,
            account_balance_fen=account_balance_fen,
            enrolled=self.enrolled,
        )


def _insuree(row: Row[Any], on: dt.date) -> InsureeSnapshot:
    assisted = _covers(on, row.assistance_from, row.assistance_to)
    return InsureeSnapshot(
        psn_no=row.psn_no,
        name=row.name,
        scheme=row.scheme,
        resident_tier=row.resident_tier,
        insured_region=row.insured_region,
        township=row.township,
        assistance_category=row.assistance_category if assisted else "none",
        account_opening_fen=row.account_opening_fen,
        enrolled=row.enrolled,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
    )


def insuree_of(row: Row[Any], on: dt.date) -> InsureeSnapshot:
    """The snapshot of a version row already read (assistance resolved for ``on``)."""
    return _insuree(row, on)


def insuree_snapshot(uow: UnitOfWork, psn_no: str, on: dt.date) -> InsureeSnapshot:
    """The insuree's enrolment version in force on ``on``; ``InsureeNotImported`` when
    there is none (参保信息尚未导入: settle later, 渝医保发〔2020〕3号 四（四）)."""
    found = insuree_snapshots(uow, [psn_no], on)
    if psn_no not in found:
        raise InsureeNotImported(
            f"insuree {mask_psn_no(psn_no)}: no enrolment imported for {on} (参保信息尚未导入)"
        )
    return found[psn_no]


def insuree_snapshots(
    uow: UnitOfWork, psn_nos: Sequence[str], on: dt.date
) -> dict[str, InsureeSnapshot]:
    """Batch form: the snapshots of those found, by ID number, in one query."""
    with uow:
        rows = uow.insurees.where(on=on, psn_no=list(psn_nos))
    return {r.psn_no: _insuree(r, on) for r in rows}


@dataclass(frozen=True, slots=True)
class ProviderSnapshot:
    """定点医疗机构 as of a date."""

    code: str
    name: str
    region: str  # 就医地: its catalog applies
    township: str | None
    level: Literal[1, 2, 3]
    designated: bool  # 定点 on the date
    covid_designated: bool  # 定点救治医院 on the date

    def engine(self) -> Provider:
        """The engine's record. Whether a non-designated provider may settle at all is
        the settlement service's decision (it refuses), not the engine's."""
        return Provider(self.code, self.region, self.level, self.covid_designated)


def _provider_on(uow: UnitOfWork, code: str, on: dt.date) -> Row[Any]:
    row = _version_on(uow.providers.where(code=code), on)
    if row is None:
        raise ProviderNotFound(f"provider {code}: no version in force on {on}")
    return row


def provider_snapshot(uow: UnitOfWork, code: str, on: dt.date) -> ProviderSnapshot:
    """The provider's version in force on ``on``; ``ProviderNotFound`` otherwise."""
    with uow:
        r = _provider_on(uow, code, on)
    return ProviderSnapshot(
        code=r.code,
        name=r.name,
        region=r.region,
        township=r.township,
        level=r.level,
        designated=_covers(on, r.designated_from, r.designated_to),
        covid_designated=_covers(on, r.covid_designated_from, r.covid_designated_to),
    )


# -- catalog resolution --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResolvedItem:
    """A line's catalog fields (SETTLEMENT.md §2) and where they came from."""

    code: str  # national code (med_list_codg)
    category: Category
    item_class: ItemClass
    selfpay_bp: int
    price_cap_e6: int | None  # 限价 × 10^6
    in_protocol: bool  # on the 诊疗方案 edition in force on the date
    temp_code: bool  # 临时新增编码
    name: str
    catalog_region: str  # which catalog answered
    hospital_code: str | None  # the hospital's code when it was mapped (对码)
    protocol_edition: int | None  # the edition in force on the date

    def line(self, sn: str, price_e6: int, qty_e4: int) -> Line:
        """The engine's line for this item."""
        return Line(
            sn=sn,
            code=self.code,
            category=self.category,
            item_class=self.item_class,
            selfpay_bp=self.selfpay_bp,
            price_e6=price_e6,
            qty_e4=qty_e4,
            price_cap_e6=self.price_cap_e6,
            in_protocol=self.in_protocol,
            temp_code=self.temp_code,
        )


def protocol_edition_on(uow: UnitOfWork, on: dt.date) -> int | None:
    """The 诊疗方案 edition in force on ``on`` (the newest that has begun), or None."""
    with uow:
        return _editions_on(uow, [on])[on]


def _editions_on(uow: UnitOfWork, dates: Iterable[dt.date]) -> dict[dt.date, int | None]:
    editions = uow.protocol.distinct("edition", "valid_from", "valid_to")
    out: dict[dt.date, int | None] = {}
    for d in dates:
        live = [e.edition for e in editions if _covers(d, e.valid_from, e.valid_to)]
        out[d] = max(live, default=None)
    return out


def resolve_line(uow: UnitOfWork, provider: str, code: str, on: dt.date) -> ResolvedItem:
    """One line: ``resolve_lines`` for a single (code, date)."""
    return resolve_lines(uow, provider, [(code, on)])[0]


def resolve_lines(
    uow: UnitOfWork, provider: str, lines: Sequence[tuple[str, dt.date]]
) -> list[ResolvedItem]:
    """Resolve each (hospital or national code, service date) of one provider's lines.

    A code the hospital has mapped (对码) resolves through its mapping in force on the
    date (``UnmappedCode`` when it has mappings, none of them on that date); any other
    code is taken as a national code. The national code must be in the catalog of the
    provider's region on the date, else ``NotInCatalog``."""
    with uow:
        return _resolve(uow, provider, lines)


def _resolve(
    uow: UnitOfWork, provider: str, lines: Sequence[tuple[str, dt.date]]
) -> list[ResolvedItem]:
    dates = {d for _, d in lines}
    versions = uow.providers.where(code=provider)
    region_on: dict[dt.date, str] = {}
    for d in dates:
        v = _version_on(versions, d)
        if v is None:
            raise ProviderNotFound(f"provider {provider}: no version in force on {d}")
        region_on[d] = v.region
    codes = sorted({c for c, _ in lines})
    maps: dict[str, list[Row[Any]]] = defaultdict(list)
    for m in uow.mapping.where(provider_code=provider, hospital_code=codes):
        maps[m.hospital_code].append(m)
    national = [(_national(maps, provider, c, d), c, d) for c, d in lines]
    regions = sorted({a for r in region_on.values() for a in ancestors(r)})
    items: dict[str, list[Row[Any]]] = defaultdict(list)
    for it in uow.catalog.where(region=regions, code=sorted({n for n, _, _ in national})):
        items[it.code].append(it)
    edition_on = _editions_on(uow, dates)
    wanted = sorted({e for e in edition_on.values() if e is not None})
    on_list = uow.protocol.where(edition=wanted, code=sorted({n for n, _, _ in national}))
    listed = {(p.edition, p.code) for p in on_list}
    return [
        _item(items, listed, edition_on[d], n, c if c in maps else None, provider, region_on[d], d)
        for n, c, d in national
    ]


def _national(maps: dict[str, list[Row[Any]]], provider: str, code: str, on: dt.date) -> str:
    if code not in maps:
        return code
    m = _version_on(maps[code], on)
    if m is None:
        spans = ", ".join(f"{v.valid_from}..{v.valid_to or 'open'}" for v in maps[code])
        raise UnmappedCode(
            f"hospital code {code} of provider {provider} is not mapped (对码) on {on}; "
            f"its mappings cover {spans}"
        )
    return cast(str, m.code)


def _item(
    items: dict[str, list[Row[Any]]],
    listed: set[tuple[int, str]],
    edition: int | None,
    code: str,
    hospital_code: str | None,
    provider: str,
    region: str,
    on: dt.date,
) -> ResolvedItem:
    order = ancestors(region)
    live = [v for v in items.get(code, ()) if _covers(on, v.valid_from, v.valid_to)]
    if not live:
        via = f" (hospital code {hospital_code})" if hospital_code else ""
        raise NotInCatalog(
            f"code {code}{via} of provider {provider}: not in the catalog of the treatment "
            f"place {region} on {on}"
        )
    v = min(live, key=lambda r: order.index(r.region))  # the most specific region
    return ResolvedItem(
        code=code,
        category=v.category,
        item_class=v.item_class,
        selfpay_bp=v.selfpay_bp,
        price_cap_e6=v.price_cap_e6,
        in_protocol=edition is not None and (edition, code) in listed,
        temp_code=v.temp_for is not None,
        name=v.name,
        catalog_region=v.region,
        hospital_code=hospital_code,
        protocol_edition=edition,
    )


def disease_codes_on(uow: UnitOfWork, codes: Sequence[str], on: dt.date) -> set[str]:
    """Which of ``codes`` are insurance disease codes in force on ``on``."""
    with uow:
        return {r.code for r in uow.diseases.where(on=on, code=list(codes))}


def known_regions(uow: UnitOfWork) -> set[str]:
    """The regions the registry names: providers' (就医地) and insurees' (参保地)."""
    with uow:
        found = {r.region for r in uow.providers.distinct("region")}
        return found | {r.insured_region for r in uow.insurees.distinct("insured_region")}


def disease_codes_in_force(
    uow: UnitOfWork, codes: Sequence[str], start: dt.date, end: dt.date
) -> set[str]:
    """Which of ``codes`` are insurance disease codes in force on some day of
    ``start … end``."""
    with uow:
        rows = uow.diseases.where(code=list(codes))
    return {
        r.code for r in rows if r.valid_from <= end and (r.valid_to is None or start <= r.valid_to)
    }
