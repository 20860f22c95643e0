"""Offline capture files and registries for the re-entry tests."""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

from tests.registry_data import CENTRE, DIBAO, EMPLOYEE, NOT_ENROLLED, load_examples, put
from yibao.core.registry.identity import check_char
from yibao.services.encounters.context import CST
from yibao.services.stays.reentry.capture_file import NAMES
from yibao.store.uow import UnitOfWork

CODES = (("YP-0002", 50_000_000), ("ZL-0001", 15_000_000),
         ("XJ05AXA159A001010101445", 120_000_000), ("001103000010000", 30_000_000),
         ("C14010000001", 310_000_000))  # fmt: skip
"""Codes CENTRE can settle (mapped or national) with a price each (price_e6)."""


def psn(n: int) -> str:
    body = f"50010219{70 + n % 30:02d}0{1 + n % 9}{10 + n % 18:02d}{n % 1000:03d}"
    return body + check_char(body)


def load_people(uow: UnitOfWork, n: int) -> list[str]:
    """The example registries plus ``n`` enrolled insurees (employees and residents)."""
    load_examples(uow)
    people = [psn(i) for i in range(n)]
    rows = [{"psn_no": p, "name": f"测试{i}", "scheme": "employee" if i % 3 else "resident",
             "resident_tier": "" if i % 3 else "1", "insured_region": "500102",
             "assistance_category": "none", "account_opening_fen": str(1000 * (i % 7)),
             "enrolled": "true", "valid_from": "2020-01-01"}
            for i, p in enumerate(people)]  # fmt: skip
    put(uow, "insurees", *rows)
    return people


def row(no: str, psn_no: str, admit: str, discharge: str, sn: str, code: str, price_e6: int,
        qty_e4: int, diagnoses: str = "J18.900", **over: object) -> dict[str, object]:  # fmt: skip
    r: dict[str, object] = dict.fromkeys(NAMES, "")
    r.update(provider_code=CENTRE, encounter_no=no, insuree_id=psn_no, med_type="21",
             admit_time=admit, discharge_time=discharge, diagnoses=diagnoses, sn=sn,
             code=code, price_e6=price_e6, qty_e4=qty_e4)  # fmt: skip
    r.update(over)
    return r


def write_csv(path: Path, rows: list[dict[str, object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(NAMES))
        w.writeheader()
        w.writerows(rows)
    return path


def small_rows() -> list[dict[str, object]]:
    """Four stays: the employee twice (account pays), the 低保 resident confirmed
    COVID-19, and an insuree not enrolled (deferred)."""
    out = []
    for no, who, a, d, diag, extra in (
        ("ZY1", EMPLOYEE, "2020-02-03 09:00", "2020-02-08 10:00", "J18.900", {}),
        ("ZY2", EMPLOYEE, "2020-02-10 09:00", "2020-02-12 10:00", "J18.900",
         {"provisional_cash_fen": 5000}),
        ("ZY3", DIBAO, "2020-02-04 08:00", "2020-02-13 10:00", "B99.900", {}),
        ("ZY4", NOT_ENROLLED, "2020-02-05 08:00", "2020-02-09 10:00", "J18.900", {}),
    ):  # fmt: skip
        for n, (code, price) in enumerate(CODES[:3], start=1):
            out.append(row(no, who, a, d, str(n), code, price, 10_000 * n, diag, **extra))
    return out


def many_rows(people: list[str], stays: int, lines: int, seed: int = 7) -> list[dict[str, object]]:
    rnd = random.Random(seed)
    out = []
    for i in range(stays):
        who = people[i % len(people)]
        admit = dt.datetime(2020, 2, 1, 8, tzinfo=CST) + dt.timedelta(days=(i // len(people)) * 9,
                                                         minutes=i)  # fmt: skip
        discharge = admit + dt.timedelta(days=rnd.randint(1, 8))
        diag = "B99.900" if rnd.random() < 0.3 else "J18.900"
        for n in range(lines):
            code, price = CODES[rnd.randrange(len(CODES))]
            out.append(row(f"ZY{i:05d}", who, f"{admit:%Y-%m-%d %H:%M}",
                           f"{discharge:%Y-%m-%d %H:%M}", str(n + 1), code, price,
                           rnd.choice((5_000, 10_000, 20_000)), diag))  # fmt: skip
    return out
