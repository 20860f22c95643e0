"""The watch list (监测药品目录): the drugs of the 诊疗方案 edition in force on a day, from
the registry, with their national codes, generic names, dosage forms and listed prices
(渝医保发〔2020〕3号 四（四）: 卫生健康部门诊疗方案覆盖的药品)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from yibao.core.registry.regions import ancestors
from yibao.services.drugs.rules import Rules, monitoring_rules
from yibao.services.registry.catalog import protocol_edition_on
from yibao.store.uow import UnitOfWork

__all__ = ["WatchedDrug", "watch_list"]


@dataclass(frozen=True, slots=True)
class WatchedDrug:
    code: str  # the national code (医保药品编码, or a 临时新增编码)
    name: str  # the name on the 诊疗方案
    generic: str  # the generic name (通用名): the name without its form
    form: str | None  # 剂型
    edition: int
    edition_title: str
    catalog_name: str | None  # the name in the catalog, when the code is there
    listed_price_e6: int | None  # 挂网价 / 限价: the catalog's price cap, if any
    temp_code: bool  # a 临时新增编码

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code, "name": self.name, "generic": self.generic, "form": self.form,
            "edition": self.edition, "edition_title": self.edition_title,
            "catalog_name": self.catalog_name, "listed_price_e6": self.listed_price_e6,
            "temp_code": self.temp_code,
        }  # fmt: skip


def watch_list(uow: UnitOfWork, on: dt.date, rules: Rules | None = None) -> list[WatchedDrug]:
    """The protocol drugs of the edition in force on ``on`` (empty before the first)."""
    rules = rules or monitoring_rules(on)
    with uow:
        edition = protocol_edition_on(uow, on)
        if edition is None:
            return []
        items = [p for p in uow.protocol.where(edition=edition) if p.kind == "drug"]
        codes = sorted({p.code for p in items})
        regions = ancestors(rules.region)
        catalog: dict[str, Any] = {}
        for item in uow.catalog.where(code=codes, region=list(regions), on=on) if codes else []:
            best = catalog.get(item.code)
            if best is None or regions.index(item.region) < regions.index(best.region):
                catalog[item.code] = item
    out: list[WatchedDrug] = []
    for p in sorted(items, key=lambda r: r.code):
        c = catalog.get(p.code)
        form = rules.form_of(p.name)
        generic = p.name.replace(f"（{form}）", "").removesuffix(form or "\0") if form else p.name
        out.append(WatchedDrug(
            code=p.code, name=p.name, generic=generic or p.name, form=form,
            edition=p.edition, edition_title=p.edition_title,
            catalog_name=c.name if c is not None else None,
            listed_price_e6=c.price_cap_e6 if c is not None else None,
            temp_code=bool(c is not None and c.temp_for),
        ))  # fmt: skip
    return out
