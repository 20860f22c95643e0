"""Bulk re-settlement under a corrected pack (``yibao resettle``): the run (``run``),
the reversals it books (``reversals``) and its report (``report``)."""

from yibao.services.stays.resettle.report import write_report
from yibao.services.stays.resettle.run import resettle

__all__ = ["resettle", "write_report"]
