"""Scalar engine throughput: settle-only, in-process, 20-line encounters.

    .venv/bin/python bench/scalar.py [--encounters 20000] [--repeat 3]

Requests are built first (not timed); the timed loop calls ``settle`` only.
Prints encounters/s for each run and the median. Lines are priced in whole fen (the
contract v1 figures, x 10^4 and x 10) and each year starts without reversals
(paid = H(entitled)), so the figures compare across contract versions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import random
import statistics
import time

from yibao.core.engine import (
    Accumulators,
    Encounter,
    Insuree,
    Line,
    Provider,
    SettleRequest,
    settle,
)
from yibao.core.engine.rules import SCALAR, serious_entitled
from yibao.core.policy import Policy
from yibao.packs import shipped_pack
from yibao.packs.files import load_pack


def make_requests(n: int, lines_per: int, seed: int, policy: Policy) -> list[SettleRequest]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        scheme = rnd.choice(["employee", "employee", "resident", "resident"])
        covid = rnd.random() < 0.1
        day = dt.date(2020, 1, 1) + dt.timedelta(days=rnd.randrange(366))
        lines = tuple(
            Line(
                sn=str(j + 1),
                code=f"C{j:06d}",
                category="drug",
                item_class=rnd.choices("ABC", (75, 20, 5))[0],  # type: ignore[arg-type]
                selfpay_bp=rnd.choice([0, 500, 1000, 2000]),
                price_e6=rnd.randrange(100, 200_000) * 10**4,
                qty_e4=rnd.choice([500, 1000, 2000, 10000]) * 10,
                price_cap_e6=rnd.choice([None, None, None, 50_000 * 10**4]),
                in_protocol=covid and rnd.random() < 0.5,
                temp_code=False,
            )
            for j in range(lines_per)
        )
        out.append(
            SettleRequest(
                insuree=Insuree(
                    id=f"P{i}",
                    scheme=scheme,  # type: ignore[arg-type]
                    resident_tier=rnd.choice([1, 2]) if scheme == "resident" else None,
                    insured_region="500102",
                    assistance_category=rnd.choice(["none"] * 8 + ["dibao", "tekun"]),
                    account_balance_fen=rnd.randrange(0, 500_000),
                    enrolled=True,
                ),
                provider=Provider(
                    code="H1",
                    region=rnd.choice(["500102", "510104"]),
                    level=rnd.choice([1, 2, 3]),
                    covid_designated=rnd.random() < 0.5,
                ),
                encounter=Encounter(
                    id=f"E{i}",
                    med_type="21",
                    admit_date=day,
                    discharge_date=day,
                    diagnoses=("B99.900",) if covid else ("J18.900",),
                    covid_status="confirmed" if covid else "none",
                    filing=rnd.choice(["registered", "unregistered", "not_needed"]),
                    admission_seq=rnd.choice([1, 1, 2]),
                    transfer_from=None,
                ),
                lines=lines,
                accumulators=_without_reversals(
                    rnd.randrange(0, 10**7), rnd.randrange(0, 10**7), scheme, policy
                ),
            )
        )
    return out


def _without_reversals(basic: int, serious: int, scheme: str, policy: Policy) -> Accumulators:
    """The accumulators of a year without reversals: each paid one is ``H(entitled)``."""
    return Accumulators(
        basic_entitled_fen=basic,
        basic_paid_fen=min(basic, policy.basic_cap_fen[scheme]),
        serious_base_fen=serious,
        serious_paid_fen=serious_entitled(serious, policy.serious[scheme], SCALAR),
        assistance_entitled_fen=0,
        assistance_paid_fen=0,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--encounters", type=int, default=20_000)
    ap.add_argument("--lines", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    policy = load_pack(shipped_pack("cq-2020"))
    reqs = make_requests(args.encounters, args.lines, seed=1, policy=policy)
    # The fixture (400k request objects) is the benchmark's, not the engine's: keep the
    # cyclic collector from rescanning it on every collection, as a service would not
    # hold it at all.
    gc.collect()
    gc.freeze()
    rates = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        for r in reqs:
            settle(r, policy)
        rates.append(len(reqs) / (time.perf_counter() - t0))
        print(f"scalar settle: {rates[-1]:,.0f} encounters/s")
    print(
        f"scalar settle median of {args.repeat}: {statistics.median(rates):,.0f} encounters/s "
        f"({args.lines} lines each)"
    )


if __name__ == "__main__":
    main()
