"""Fund supervision (基金监管, issue 22): rules as data (packs/supervision/*.yaml,
``yibao.core.supervision``) evaluated over Polars tables (``scan``); flags raised from the
store's settlements, recent or over a period (``flags``); the review queue and the
deductions it posts (``review``); reports and the workbook (``report``); the year of the
demo district with misuse injected that tests and benchmarks the rules (``generate``)."""

from yibao.services.supervision.flags import (
    after_settlement,
    rule_set,
    supervise_period,
    supervise_recent,
)
from yibao.services.supervision.report import flag_counts, write_workbook
from yibao.services.supervision.review import answer, confirm, dismiss, flag_view, queue
from yibao.services.supervision.scan import FLAG_SCHEMA, Tables, scan

__all__ = ["FLAG_SCHEMA", "Tables", "after_settlement", "answer", "confirm", "dismiss",
           "flag_counts", "flag_view", "queue", "rule_set", "scan", "supervise_period",
           "supervise_recent", "write_workbook"]  # fmt: skip
