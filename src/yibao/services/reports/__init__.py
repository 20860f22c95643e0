"""Read-side use cases: the insuree (1101), cumulative values (5206), reconciliation
with hospitals (3201, 3202), the audit log and the ledger check. Totals always come from
the journal (DECISIONS 0034). The daily report (日报, issue 17): ``daily``."""

from yibao.services.reports.daily import DailyReport, daily_report, epidemic_start
from yibao.services.reports.reads import (
    audit_entries,
    cumulative,
    daily_totals,
    insuree,
    ledger_problems,
    reconcile,
)

__all__ = ["DailyReport", "audit_entries", "cumulative", "daily_report", "daily_totals",
           "epidemic_start", "insuree", "ledger_problems", "reconcile"]  # fmt: skip
