"""Drug price and supply monitoring for the COVID-19 protocol, and the emergency-
procurement green channel (issue 21; 渝医保发〔2020〕3号 四（四）, the provincial notice 四).

- ``watchlist``: the protocol drugs of the 诊疗方案 edition in force (from the registry);
- ``procurement``: the purchasing platform's orders and deliveries imported
  all-or-nothing (CSV, Excel, Parquet);
- ``signals``: the signals computed with Polars over the whole region (``rules``: the
  thresholds and clauses, a versioned YAML in ``yibao/packs/drugs``);
- ``monitoring``: scans recorded and each signal's state (new → investigating →
  reported | dismissed), who and when;
- ``emergency``: emergency purchases filed (应急采购备案) and accepted; ``filed_price``
  is the price a drug must be sold at (零差率销售);
- ``charts``: each drug's daily price, volume and delivery-rate series;
- ``synth``: a seeded synthetic month with injected events.
"""

from yibao.services.drugs.charts import DrugSeries, drug_series
from yibao.services.drugs.emergency import (
    FILING_STATE_NAMES,
    DrugFilingIn,
    DrugFilingView,
    decide_filing,
    file_purchase,
    filed_price,
    filing_view,
    filings,
    import_filings,
)
from yibao.services.drugs.monitoring import (
    KIND_NAMES,
    STATE_NAMES,
    Scanned,
    SignalView,
    move_signal,
    scan_region,
    signal,
    signals,
)
from yibao.services.drugs.procurement import OrdersImported, import_orders
from yibao.services.drugs.rules import Rules, monitoring_rules
from yibao.services.drugs.watchlist import WatchedDrug, watch_list

__all__ = ["FILING_STATE_NAMES", "KIND_NAMES", "STATE_NAMES", "DrugFilingIn",
           "DrugFilingView", "DrugSeries", "OrdersImported", "Rules", "Scanned",
           "SignalView", "WatchedDrug", "decide_filing", "drug_series", "file_purchase",
           "filed_price", "filing_view", "filings", "import_filings", "import_orders",
           "monitoring_rules", "move_signal", "scan_region", "signal", "signals",
           "watch_list"]  # fmt: skip
