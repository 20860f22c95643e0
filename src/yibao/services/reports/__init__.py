"""Read-side use cases: the insuree (1101), cumulative values (5206), reconciliation
with hospitals (3201, 3202), the audit log and the ledger check. Totals always come from
the journal (DECISIONS 0034). The daily report (日报, issue 17): ``daily``.
Exchange files (9101/9102, ``files``), 3202 from its detail file (``detail_file``) and
4101A settlement lists (``settlement_lists``), issue 16."""

from yibao.services.reports.daily import DailyReport, daily_report, epidemic_start
from yibao.services.reports.detail_file import read_detail_file, reconcile_detail_file
from yibao.services.reports.files import download_file, upload_file
from yibao.services.reports.reads import (
    audit_entries,
    cumulative,
    daily_totals,
    insuree,
    ledger_problems,
    reconcile,
)
from yibao.services.reports.settlement_lists import list_versions, upload_settlement_list

__all__ = ["DailyReport", "audit_entries", "cumulative", "daily_report", "daily_totals",
           "download_file", "epidemic_start", "insuree", "ledger_problems", "list_versions",
           "read_detail_file", "reconcile", "reconcile_detail_file", "upload_file",
           "upload_settlement_list"]  # fmt: skip
