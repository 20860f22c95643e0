"""The demo hospital: a key for a 定点救治医院 of the demo district, and a confirmed
COVID-19 patient's stay to settle through the API (``make demo``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from yibao.core.errors import NotFound, Unauthorized
from yibao.services.access.rights import create_key, verify_key
from yibao.services.registry import catalog
from yibao.store.registry_tables import CodeMapping, Insuree
from yibao.store.uow import UnitOfWork

__all__ = ["DEMO_DAY", "DEMO_PROVIDER", "DemoCase", "demo_case", "demo_key"]

DEMO_PROVIDER = "H50010200001"  # 涪陵区中心医院（示例）, 定点救治医院 from 2020-01-22
DEMO_DAY = dt.date(2020, 2, 10)


@dataclass(frozen=True, slots=True)
class DemoCase:
    provider_code: str
    insuree_id: str
    lines: list[tuple[str, int, int]]  # (hospital code, price_e6, qty_e4)


def demo_case(uow: UnitOfWork) -> DemoCase:
    """An enrolled insuree of the demo district and four of the centre's mapped codes
    (three protocol items, one ordinary), all in force on ``DEMO_DAY``."""
    with uow:
        psn = uow.session.execute(
            select(Insuree.psn_no).where(
                Insuree.superseded_by.is_(None), Insuree.enrolled.is_(True),
                Insuree.scheme != "none", Insuree.valid_from <= DEMO_DAY,
                (Insuree.valid_to.is_(None)) | (Insuree.valid_to >= DEMO_DAY),
                Insuree.assistance_category == "none",
                Insuree.township.is_not(None),  # the district's own (not an inbound patient)
            ).order_by(Insuree.psn_no).limit(1)
        ).scalar()  # fmt: skip
        codes = list(uow.session.execute(
            select(CodeMapping.hospital_code).where(
                CodeMapping.provider_code == DEMO_PROVIDER, CodeMapping.superseded_by.is_(None),
                CodeMapping.valid_from <= DEMO_DAY,
            ).order_by(CodeMapping.hospital_code)
        ).scalars())  # fmt: skip
        if psn is None or not codes:
            raise NotFound("the demo district is not loaded: run `yibao demo load`")
        covid = [c for c in codes if "COVID" in c]
        plain = [c for c in codes if "COVID" not in c]
        chosen = [*covid[:3], *plain[:1]]
        catalog.resolve_lines(uow, DEMO_PROVIDER, [(c, DEMO_DAY) for c in chosen])
    prices = [
        (3_800_000_000, 20000),
        (12_000_000_000, 10000),
        (1_600_000_000, 30000),
        (250_000_000, 60000),
    ]  # yuan × 10^6, units × 10^4
    lines = [(c, p, q) for c, (p, q) in zip(chosen, prices, strict=False)]
    return DemoCase(DEMO_PROVIDER, psn, lines)


def demo_key(uow: UnitOfWork, path: Path, *, now: dt.datetime) -> tuple[str, bool]:
    """The demo hospital's key: the one saved in ``path`` while it still works, else a
    new one (saved there, mode 600). Returns (key, created)."""
    if path.exists():
        key = path.read_text(encoding="utf-8").strip()
        try:
            verify_key(uow, key)
            return key, False
        except Unauthorized:
            pass
    made = create_key(uow, role="hospital", provider_code=DEMO_PROVIDER, label="make demo",
                      by="demo", now=now)  # fmt: skip
    path.write_text(made.key + "\n", encoding="utf-8")
    path.chmod(0o600)
    return made.key, True
