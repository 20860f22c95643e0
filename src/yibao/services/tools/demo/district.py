"""``yibao demo load``: a deterministic synthetic district modelled on 涪陵区.

The description (townships, providers, protocol editions, disease codes, shares of the
population) is data: ``yibao/examples/demo-district.yaml``. This module draws the rows
from it with a seeded generator and imports them through the same path as a file
(``registry_io.stage_and_merge``), in one transaction, as change sets of actor
``demo``. Running it twice changes nothing: the second run finds every row unchanged.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from yibao.core.registry import KINDS
from yibao.core.registry.identity import check_char
from yibao.services.registry.files import Imported, stage_and_merge
from yibao.services.registry.tabular import Progress
from yibao.store.uow import UnitOfWork

__all__ = ["DISTRICT", "District", "district_rows", "load_demo"]

DISTRICT = Path(__file__).resolve().parents[3] / "examples" / "demo-district.yaml"


@dataclass(frozen=True, slots=True)
class District:
    """The parsed ``demo-district.yaml``."""

    spec: dict[str, Any]

    @classmethod
    def load(cls, path: Path = DISTRICT) -> District:
        return cls(yaml.safe_load(path.read_text(encoding="utf-8")))


def _iso(d: Any) -> str:
    return d.isoformat() if isinstance(d, dt.date) else ""


def _pick(rnd: random.Random, shares: dict[Any, int]) -> Any:
    return rnd.choices(list(shares), weights=list(shares.values()))[0]


class Draw:
    """Draws every registry's rows in a fixed order from one seeded generator."""

    def __init__(self, d: District, insurees: int | None) -> None:
        self.s = d.spec
        self.rnd = random.Random(self.s["seed"])
        self.n_insurees = self.s["insurees"] if insurees is None else insurees
        self.region: str = self.s["region"]
        self.towns = [f"{self.region}{i:03d}" for i in range(1, len(self.s["townships"]) + 1)]
        self.start = _iso(self.s["valid_from"])
        self.catalog: list[list[str]] = []
        self.protocol_codes: dict[str, str] = {}  # protocol item name -> code
        self.pools: dict[str, Any] = self.s["pools"]

    def diseases(self) -> Iterator[list[str]]:
        for x in self.s["diseases"]:
            yield [x["code"], x["name"], x.get("source", ""), _iso(x["from"]), ""]

    def providers(self) -> Iterator[list[str]]:
        self.provider_rows = []
        town_provider = self.s["township_provider"]
        specs = list(self.s["providers"]) + [
            {**town_provider, "name": town_provider["name"].format(township=t), "town": i}
            for i, t in enumerate(self.s["townships"])
        ]
        for i, p in enumerate(specs, start=1):
            region = p.get("region", self.region)
            town = self.towns[p["town"]] if "town" in p else ""
            code = f"H{region}{i:05d}"
            row = [
                code,
                p["name"],
                region,
                town,
                str(p["level"]),
                _iso(self.s["designated_from"]),
                "",
                _iso(p.get("covid_designated_from")),
                "",
                _iso(self.s["designated_from"]),
                "",
            ]
            self.provider_rows.append((code, p))
            yield row

    def _catalog_row(self, code: str, name: str, category: str, cls: str, **kw: str) -> None:
        selfpay = kw.get("selfpay", str(self.rnd.choice([500, 1000, 2000])) if cls == "B" else "0")
        self.catalog.append(
            [
                kw.get("region", self.s["catalog_region"]),
                code,
                name,
                category,
                cls,
                selfpay,
                kw.get("cap", ""),
                kw.get("temp_for", ""),
                kw.get("start", self.start),
                kw.get("end", ""),
            ]
        )

    def catalog_rows(self) -> Iterator[list[str]]:
        rnd = self.rnd
        for ed in self.s["protocol"]:
            for it in ed["add"]:
                n = len(self.protocol_codes) + 1
                if it.get("temp"):  # 临时新增编码: no code, or not insured before
                    code = f"T{self.s['catalog_region']}{n:06d}"
                    why = f"{ed['title']}：{it['name']}"
                    category = "drug" if it["kind"] == "drug" else "service"
                    self._catalog_row(
                        code, it["name"], category, "C", temp_for=why, start=_iso(ed["from"])
                    )
                elif it["kind"] == "drug":
                    code = f"XJ05AX{n:03d}A001010100{n:05d}"
                    self._catalog_row(code, it["name"], "drug", "B")
                else:
                    code = f"0012{n:011d}"
                    self._catalog_row(code, it["name"], "service", "A")
                self.protocol_codes[it["name"]] = code
        while len(self.catalog) < self.s["catalog_items"]:
            self._filler(rnd, len(self.catalog))
        for row in self.catalog[-40:-20]:  # the district's own price caps: most specific wins
            cap_e6 = rnd.randrange(100, 50_000) * 10**4  # a whole fen, × 10^4
            self.catalog.append([self.region, *row[1:6], str(cap_e6), *row[7:]])
        yield from self.catalog

    def _filler(self, rnd: random.Random, n: int) -> None:
        kind = _pick(rnd, {"drug": 60, "service": 30, "consumable": 8, "bed": 1, "other": 1})
        cls = _pick(rnd, {"A": 40, "B": 50, "C": 10})
        cap_fen = rnd.randrange(500, 200_000) if kind == "consumable" and cls != "C" else None
        cap = "" if cap_fen is None else str(cap_fen * 10**4)  # price_cap_e6
        if kind == "drug":
            atc = rnd.choice(self.pools["atc"])
            code = f"X{atc}{rnd.choice('ABCD')}{rnd.choice('AXB')}{n:016d}"
            name = f"{rnd.choice(self.pools['drugs'])}（规格{n}）"
        elif kind == "service":
            code, name = f"00{n:013d}", f"{rnd.choice(self.pools['services'])}（项目{n}）"
        elif kind == "consumable":
            code, name = f"C{n:011d}", f"{rnd.choice(self.pools['consumables'])}（型号{n}）"
        else:
            code, name = (
                f"Z{kind[0].upper()}{n:010d}",
                f"{'床位费' if kind == 'bed' else '其他'}{n}",
            )
        if n % 97 == 0:  # reclassified mid-year: two versions of one code
            self._catalog_row(code, name, kind, cls, cap=cap, end="2020-06-30")
            cls = "A" if cls != "A" else "B"
            self._catalog_row(code, name, kind, cls, cap=cap, start="2020-07-01")
        else:
            self._catalog_row(code, name, kind, cls, cap=cap)

    def protocol(self) -> Iterator[list[str]]:
        listed: list[tuple[str, str]] = []
        for ed in self.s["protocol"]:
            listed += [(it["name"], it["kind"]) for it in ed["add"]]
            for name, kind in listed:
                yield [
                    str(ed["edition"]),
                    ed["title"],
                    self.protocol_codes[name],
                    name,
                    kind,
                    _iso(ed["from"]),
                    "",
                ]

    def mapping(self) -> Iterator[list[str]]:
        m = self.s["mapping"]
        national = [r for r in self.catalog if r[0] == self.s["catalog_region"]]
        codes = sorted({r[1] for r in national if not r[7]})  # ordinary items, from 01-01
        starts = {r[1]: r[8] for r in national}  # a temporary code exists from its edition
        protocol = sorted(set(self.protocol_codes.values()))
        covid_on = _iso(m["covid_approved_on"])
        for code, p in self.provider_rows:
            chosen = sorted(self.rnd.sample(codes, p["maps"]))
            for i, national_code in enumerate(chosen, start=1):
                yield [
                    code,
                    f"{code[-3:]}-{i:05d}",
                    "",
                    national_code,
                    m["approved_by"],
                    _iso(m["approved_on"]),
                    self.start,
                    "",
                ]
            if p.get("covid_designated_from"):  # 四（三）: map the protocol items fast
                for i, national_code in enumerate(protocol, start=1):
                    on = max(covid_on, starts[national_code])  # never before the code
                    hospital_code = f"{code[-3:]}-COVID{i:02d}"
                    yield [code, hospital_code, "", national_code, m["approved_by"], on, on, ""]

    def insurees(self) -> Iterator[list[str]]:
        rnd, s = self.rnd, self.s
        seen: set[str] = set()
        origins, family, given = (self.pools[k] for k in ("origins", "family", "given"))
        for _ in range(self.n_insurees):
            while True:
                born = dt.date(1930, 1, 1) + dt.timedelta(days=rnd.randrange(32_500))
                body = f"{rnd.choice(origins)}{born:%Y%m%d}{rnd.randrange(1000):03d}"
                if body not in seen:
                    seen.add(body)
                    break
            psn = body + check_char(body)
            name = rnd.choice(family) + "".join(rnd.choices(given, k=rnd.choice((1, 2))))
            scheme = _pick(rnd, s["schemes"])
            cat = _pick(rnd, s["assistance"])
            since = rnd.choice(["2019-01-01", "2020-03-01"]) if cat != "none" else ""
            enrolled = "false" if rnd.randrange(1000) < s["not_enrolled_per_mille"] else "true"
            common = [self.region, rnd.choice(self.towns), cat, since, ""]
            change = scheme == "resident" and rnd.randrange(1000) < s["scheme_change_per_mille"]
            yield [
                psn,
                name,
                *self._scheme(scheme),
                *common,
                enrolled,
                self.start,
                "2020-06-30" if change else "",
            ]
            if change:
                yield [psn, name, *self._scheme("employee"), *common, enrolled, "2020-07-01", ""]

    def _scheme(self, scheme: str) -> list[str]:
        """The scheme and resident-tier cells."""
        tier = str(_pick(self.rnd, self.s["resident_tiers"])) if scheme == "resident" else ""
        return [scheme, tier]


def district_rows(
    district: District | None = None, insurees: int | None = None
) -> Iterator[tuple[str, Iterator[list[str]]]]:
    """(registry, rows of cell text in its column order), in import order."""
    draw = Draw(district or District.load(), insurees)
    yield "diseases", draw.diseases()
    yield "providers", draw.providers()
    yield "catalog", draw.catalog_rows()
    yield "protocol", draw.protocol()
    yield "mapping", draw.mapping()
    yield "insurees", with_account(draw)


def with_account(draw: Draw) -> Iterator[list[str]]:
    """Insert the opening account balance (employees) before ``enrolled``."""
    for row in draw.insurees():
        balance = str(draw.rnd.randrange(0, 800_000)) if row[2] == "employee" else "0"
        yield [*row[:9], balance, *row[9:]]


def load_demo(
    uow: UnitOfWork,
    *,
    insurees: int | None = None,
    now: dt.datetime | None = None,
    progress: Progress | None = None,
) -> list[Imported]:
    """Load the demo district (all registries, one transaction); what each import did."""
    done: list[Imported] = []
    with uow:
        for kind, rows in district_rows(insurees=insurees):
            k = KINDS[kind]
            numbered = _numbered(rows)
            done.append(
                stage_and_merge(
                    uow,
                    k,
                    k.names,
                    numbered,
                    source="demo:fuling",
                    actor="demo",
                    sha256=None,
                    now=now,
                    max_problems=20,
                    progress=progress,
                    total=None,
                )
            )
        uow.commit()
    return done


def _numbered(rows: Iterator[Sequence[str]]) -> Iterator[tuple[int, Sequence[str]]]:
    yield from enumerate(rows, start=2)
