"""Fund management on the ledger (issue 20): prepayments with two-person approval
(``prepayment``), each hospital's monthly statement, confirmation and payment batch
(``clearing``), the fiscal subsidy's claims and central share (``subsidy``), the global
budget with the COVID line kept out (``budget``), what `yibao ledger check` adds
(``checks``), and a simulated February 2020 for the demo district (``february``)."""

from yibao.services.funds import budget, clearing, prepayment, subsidy, trial
from yibao.services.funds.checks import fund_problems
from yibao.services.funds.common import month_bounds, parse_month

__all__ = ["budget", "clearing", "fund_problems", "month_bounds", "parse_month", "prepayment",
           "subsidy", "trial"]  # fmt: skip
