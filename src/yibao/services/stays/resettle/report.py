"""The differences of a re-settlement run, per stay, per insuree and per fund, as Parquet
files and one Excel workbook (``yibao resettle --out DIR``); ID numbers masked unless
asked for unmasked (the CLI's ``--unmasked``, audited)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from yibao.services.access.disclosure import masked_ids
from yibao.services.stays.resettle.run import Resettled

__all__ = ["FIELDS", "by_fund", "by_insuree", "stays", "write_report"]

FIELDS = {
    "medfee_sumamt": "医疗费总额",
    "hifp_pay": "统筹基金支出",
    "hifob_pay": "职工大额医疗补助",
    "hifmi_pay": "居民大病保险",
    "maf_pay": "医疗救助",
    "fund_pay_sumamt": "基金支付总额",
    "fiscal_pay": "新冠财政补助",
    "acct_pay": "个人账户支出",
    "psn_cash_pay": "个人现金支出",
}
"""The amounts compared (fen), with their Chinese names."""


def stays(run: Resettled) -> pl.DataFrame:
    """One row per changed stay: old, new and difference of every amount (fen)."""
    rows = []
    for c in run.changes:
        old, new = c.old._asdict(), c.new.setlinfo._asdict()
        row: dict[str, object] = {
            "encounter_id": c.encounter_id, "insuree_id": c.insuree_id,
            "provider_code": c.provider_code, "discharge_date": c.discharge_date,
            "old_settlement_id": c.old_settlement_id,
            "new_settlement_id": run.booked.get(c.encounter_id),
        }  # fmt: skip
        for f in FIELDS:
            row[f"old_{f}"], row[f"new_{f}"] = old[f], new[f]
            row[f"diff_{f}"] = new[f] - old[f]
        rows.append(row)
    schema: dict[str, pl.DataType | type[pl.DataType]] = {
        "encounter_id": pl.String, "insuree_id": pl.String, "provider_code": pl.String,
        "discharge_date": pl.Date, "old_settlement_id": pl.String,
        "new_settlement_id": pl.String,
    }  # fmt: skip
    for f in FIELDS:
        schema |= {f"old_{f}": pl.Int64, f"new_{f}": pl.Int64, f"diff_{f}": pl.Int64}
    return pl.DataFrame(rows, schema=schema)


def by_insuree(frame: pl.DataFrame) -> pl.DataFrame:
    """Per insuree: stays changed and the difference of every amount."""
    return (frame.group_by("insuree_id")
            .agg(pl.len().alias("stays"), *(pl.col(f"diff_{f}").sum() for f in FIELDS))
            .sort("insuree_id"))  # fmt: skip


def by_fund(frame: pl.DataFrame) -> pl.DataFrame:
    """Per amount (fund): total before, after, difference."""
    rows = [(f, name, int(frame[f"old_{f}"].sum()), int(frame[f"new_{f}"].sum()),
             int(frame[f"diff_{f}"].sum())) for f, name in FIELDS.items()]  # fmt: skip
    return pl.DataFrame(rows, schema=["fund", "name", "old_fen", "new_fen", "diff_fen"],
                        orient="row")  # fmt: skip


def write_report(run: Resettled, out: Path, *, unmasked: bool = False) -> list[Path]:
    """``stays``, ``by_insuree`` and ``by_fund`` as Parquet, and ``differences.xlsx``
    with one sheet each (amounts in fen) plus the run's parameters; ``insuree_id``
    masked unless ``unmasked`` (after grouping: two insurees never merge)."""
    out.mkdir(parents=True, exist_ok=True)
    detail = stays(run)
    frames = {"stays": detail, "by_insuree": by_insuree(detail), "by_fund": by_fund(detail)}
    if not unmasked:
        frames["stays"] = masked_ids(frames["stays"], "insuree_id")
        frames["by_insuree"] = masked_ids(frames["by_insuree"], "insuree_id")
    paths = []
    for name, frame in frames.items():
        path = out / f"{name}.parquet"
        frame.write_parquet(path)
        paths.append(path)
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "run"
    for row in (("pack", run.pack_id), ("pack_sha256", run.pack_sha256),
                ("from", run.begin.isoformat()), ("to", run.end.isoformat()),
                ("dry_run", str(run.dry_run)), ("considered", run.considered),
                ("changed", len(run.changes)), ("re-settled", len(run.booked)),
                ("skipped", len(run.skipped))):  # fmt: skip
        ws.append(row)
    for eid, why in run.skipped:
        ws.append(("skipped", eid, why))
    for name, frame in frames.items():
        sheet = wb.create_sheet(name)
        sheet.append(frame.columns)
        for r in frame.iter_rows():
            sheet.append([v.isoformat() if hasattr(v, "isoformat") else v for v in r])
    xlsx = out / "differences.xlsx"
    wb.save(xlsx)
    return [*paths, xlsx]
