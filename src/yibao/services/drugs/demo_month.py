"""The demo district's February 2020 of procurement data (``yibao drugs demo``): the
synthetic month of ``synth`` over the district's providers and the watch list in force,
imported through the same all-or-nothing import as a platform file, the emergency
purchase filed by its hospital and accepted by the agency, then scanned.

The demo district settles too few stays for the drugs' use to mean anything, so the
scan reads the synthetic month's use and the emergency drug's settled lines in their
place (stated in the result: ``usage="synthetic"``)."""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yibao.core.errors import InvalidRequest
from yibao.services.access.rights import Principal
from yibao.services.drugs.emergency import DrugFilingIn, decide_filing, file_purchase
from yibao.services.drugs.monitoring import Scanned, scan_region
from yibao.services.drugs.procurement import OrdersImported, import_orders
from yibao.services.drugs.synth import Event, generate
from yibao.services.drugs.watchlist import watch_list
from yibao.store.uow import UnitOfWork

__all__ = ["DemoMonth", "demo_month"]

START, END = dt.date(2020, 2, 1), dt.date(2020, 2, 29)


@dataclass(frozen=True, slots=True)
class DemoMonth:
    imported: OrdersImported
    filing_id: str
    scanned: Scanned
    events: tuple[Event, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "imported": self.imported.as_dict(), "filing_id": self.filing_id,
            "scanned": self.scanned.as_dict(), "usage": "synthetic",
            "events": [{"name": e.name, "start": e.start.isoformat(), "end": e.end.isoformat(),
                        "expect": sorted("/".join(x for x in k if x) for k in e.expect)}
                       for e in self.events],
        }  # fmt: skip


def demo_month(uow: UnitOfWork, caller: Principal, *, seed: int, now: dt.datetime,
               region: str = "500102") -> DemoMonth:  # fmt: skip
    """Generate, import, file, accept and scan the demo month (February 2020)."""
    with uow:
        providers = sorted({p.code for p in uow.providers.rows(on=START) if p.region == region})
    drugs = [w.code for w in watch_list(uow, END)]
    if len(providers) < 4 or len(drugs) < 5:
        raise InvalidRequest.of([("registry", "演示月需要示例区县的登记数据（yibao demo load）")])
    synth = generate(providers, drugs, START, END, seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"demo-orders-2020-02-seed{seed}.parquet"
        synth.frames.orders.write_parquet(path)
        imported = import_orders(uow, caller, path, now=now)
    f: Any = synth.filing
    filed = file_purchase(uow, caller, DrugFilingIn(
        f["provider"], f["code"], f["supplier"], f["price_e6"], f["qty_e4"], f["on"],
        f["reason"], "demo"), now=now)  # fmt: skip
    if filed.state == "filed":
        decide_filing(uow, caller, filed.id, True, now=now, reason="演示：准予备案")
    scanned = scan_region(uow, caller, START, END, now=now, usage=synth.frames.usage,
                          lines=synth.frames.lines)  # fmt: skip
    return DemoMonth(imported, filed.id, scanned, synth.events)
