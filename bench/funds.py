"""Benchmark the monthly clearing (issue 20): 50 hospitals, 1,000,000 settlements in
February 2020.

Not timed: a fresh schema; N synthetic settlements written straight into the service
tables (encounters, settlements with a minimal record, journal transactions and their
postings: each a basic-fund payable, a COVID one also its fiscal subsidy), plus a
prepayment per COVID hospital. Timed, in process: ``clearing.prepare`` for 2020-02 (one
aggregate over the month's postings for every hospital, deductions and prepayments
read, 50 statements written) and ``clearing.pay`` of the confirmed statements (50
clearing transactions posted).

    .venv/bin/python bench/funds.py --settlements 1000000            # SQLite
    .venv/bin/python bench/funds.py --settlements 1000000 --pg URL   # PostgreSQL
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import tempfile
import time

from common import schema_url
from sqlalchemy import text

from yibao.packs import PACKS_DIR
from yibao.services.access.rights import Principal
from yibao.services.encounters.context import CST, Context
from yibao.services.funds import clearing
from yibao.store import migrate
from yibao.store.db import make_engine
from yibao.store.uow import UnitOfWork

FIN_A = Principal("bench-a", "finance", None, kind="user")
FIN_B = Principal("bench-b", "finance", None, kind="user")
HOSPITALS = [f"H5001020{i:04d}" for i in range(1, 51)]
T0 = dt.datetime(2020, 2, 1, 1, tzinfo=dt.UTC)

_ENC = (
    "id",
    "provider_code",
    "psn_no",
    "insured_region",
    "med_type",
    "admit_time",
    "admit_date",
    "diagnoses",
    "filing",
    "status",
    "version",
    "created_at",
    "updated_at",
)
_SET = (
    "id",
    "kind",
    "encounter_id",
    "provider_code",
    "psn_no",
    "year",
    "booked_on",
    "settled_at",
    "discharge_date",
    "actor",
    "pack_id",
    "pack_sha256",
    "med_type",
    "clr_type",
    "central_share_bp",
    "medfee_sumamt",
    "fund_pay_sumamt",
    "fiscal_pay",
    "acct_pay",
    "psn_cash_pay",
    "accumulators_before",
    "accumulators_after",
    "balance_before_fen",
    "balance_after_fen",
    "record",
)
_TX = (
    "id",
    "kind",
    "booked_on",
    "narration",
    "recorded_at",
    "settlement_id",
    "encounter_id",
    "psn_no",
    "provider_code",
    "scheme",
    "accumulator_year",
    "clr_type",
)
_JP = ("tx_id", "seq", "code", "book", "key", "amount_fen")


def rows(n: int, seed: int = 7):  # type: ignore[no-untyped-def]
    rnd = random.Random(seed)
    enc, st, tx, jp = [], [], [], []
    for k in range(n):
        h = HOSPITALS[k % 50]
        covid = k % 50 < 5 and rnd.random() < 0.3  # five COVID hospitals
        day = dt.date(2020, 2, 1 + k % 29)
        eid, sid = f"E{k:012d}", f"S{k:012d}"
        psn = f"5001021980{k % 10**8:08d}"
        fund, fiscal = rnd.randrange(1000, 2_000_000), (rnd.randrange(100, 50_000) if covid else 0)
        book = "310100" if k % 2 else "390100"
        enc.append((eid, h, psn, "500102", "21", T0, day, "[]", "not_needed", "settled", 1, T0,
                    T0))  # fmt: skip
        rec = json.dumps(
            {"covid": covid, "facts": {"covid_status": "confirmed" if covid else "none"}}
        )
        st.append((sid, "settlement", eid, h, psn, 2020, day, T0, day, "bench", "cq-2020", "x",
                   "21", "21", 6000 if covid else 0, fund + fiscal, fund, fiscal, 0, 0, "{}",
                   "{}", 0, 0, rec))  # fmt: skip
        tx.append((sid, "settlement", day, "bench", T0, sid, eid, psn, h, "employee", 2020, "21"))
        jp += [(sid, 0, "benefit", book, "", fund), (sid, 1, "hospital_payable", book, h, -fund)]
        if fiscal:
            jp += [(sid, 2, "fiscal_subsidy", "fiscal", "", fiscal),
                   (sid, 3, "fiscal_payable", "fiscal", h, -fiscal)]  # fmt: skip
    return [("encounters", _ENC, enc), ("settlements", _SET, st),
            ("journal_transactions", _TX, tx), ("journal_postings", _JP, jp)]  # fmt: skip


def load(url: str, n: int) -> None:
    engine = make_engine(url)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if engine.dialect.name == "sqlite":
            cur.execute("BEGIN")  # the driver is in autocommit: one transaction, not a row each
        for table, cols, data in rows(n):
            if engine.dialect.name == "sqlite":
                marks = ", ".join("?" * len(cols))
                cur.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", data)
            else:
                with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                    for r in data:
                        copy.write_row(r)
        raw.commit()
    finally:
        raw.close()
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    engine.dispose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--settlements", type=int, default=1_000_000)
    ap.add_argument("--pg", help="a PostgreSQL URL (a schema bench_funds is created)")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp()
    url = schema_url(a.pg, "bench_funds") if a.pg else f"sqlite:///{os.path.join(tmp, 'f.db')}"
    migrate.upgrade(url)
    t = time.perf_counter()
    load(url, a.settlements)
    print(f"loaded {a.settlements} settlements in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    uow = UnitOfWork(make_engine(url))
    clock = [dt.datetime(2020, 2, 1, 9, tzinfo=CST)]
    ctx = Context(Context.from_folder(PACKS_DIR / "cq-2020.yaml").packs, clock=lambda: clock[0])
    from yibao.core.ledger.funds import prepayment_tx

    with uow:  # a prepayment per COVID hospital, posted as the service posts it
        for h in HOSPITALS[:5]:
            uow.hospital.insert_transaction(prepayment_tx(
                tx_id=f"P{h}", provider_code=h, by_book={"310100": 10**9, "390100": 10**9},
                booked_on=dt.date(2020, 2, 1), narration="bench"), T0)  # fmt: skip
        uow.commit()
    clock[0] = dt.datetime(2020, 3, 2, 9, tzinfo=CST)
    t = time.perf_counter()
    made = clearing.prepare(uow, ctx, FIN_A, dt.date(2020, 2, 1))
    prep = time.perf_counter() - t
    for s in made:
        clearing.confirm(uow, ctx, Principal("c", "clerk", None), s.id)
    t = time.perf_counter()
    b = clearing.pay(uow, ctx, FIN_B, dt.date(2020, 2, 1))
    paid = time.perf_counter() - t
    db = "postgresql" if a.pg else "sqlite"
    print(
        json.dumps(
            {
                "db": db,
                "settlements": a.settlements,
                "hospitals": len(made),
                "prepare_s": round(prep, 2),
                "pay_s": round(paid, 2),
                "net_fen": b.net_fen,
                "offset_fen": sum(s.offset_fen for s in made),
            }
        )
    )
    return 0 if prep + paid < 30 else 1


if __name__ == "__main__":
    sys.exit(main())
