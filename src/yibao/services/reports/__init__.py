"""Read-side use cases: the insuree (1101), cumulative values (5206), reconciliation
with hospitals (3201, 3202), the audit log and the ledger check. Totals always come from
the journal (DECISIONS 0034). The daily report (日报, issue 17): ``daily``; the console's
stay search and stay page (``stays``) and registry views (``registers``).
Exchange files (9101/9102, ``files``), 3202 from its detail file (``detail_file``) and
4101A settlement lists (``settlement_lists``), issue 16. The hospital's stay queries
(5203, 5303, 5304): ``stay_queries``."""

from yibao.services.reports.daily import DailyReport, daily_report, epidemic_start
from yibao.services.reports.daily_claims import claims_section  # noqa: F401  (registers 手工报销)
from yibao.services.reports.daily_drugs import drugs_section  # noqa: F401  (registers 药品监测)
from yibao.services.reports.daily_filings import filings_section  # noqa: F401  (异地备案)
from yibao.services.reports.daily_funds import funds_section  # noqa: F401  (资金管理)
from yibao.services.reports.daily_supervision import supervision_section  # noqa: F401  (基金监管)
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
from yibao.services.reports.registers import insuree_history, provider_history, resolve_codes
from yibao.services.reports.settlement_lists import list_versions, upload_settlement_list
from yibao.services.reports.stay_queries import open_stays, settlement_answer, transfer_filings
from yibao.services.reports.stays import search_stays, stay_view

__all__ = ["DailyReport", "audit_entries", "cumulative", "daily_report", "daily_totals",
           "download_file", "epidemic_start", "insuree", "insuree_history", "ledger_problems",
           "list_versions", "open_stays", "provider_history", "read_detail_file", "reconcile",
           "reconcile_detail_file", "resolve_codes", "search_stays", "settlement_answer",
           "stay_view", "transfer_filings", "upload_file", "upload_settlement_list"]  # fmt: skip
