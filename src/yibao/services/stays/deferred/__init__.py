"""Treat first, settle later (先救治、后结算): defer a stay, run the queue, its status.
``queue``: defer one stay and settle the ready ones; ``clearing``: the queue run in one
batch pass; ``deferring``: many stays deferred at once (re-entry); ``status``: the queue
seen from outside and what the ledger check proves about it; ``model``: its records."""

from yibao.services.stays.deferred.queue import defer, deferral, settle_or_defer, settle_ready
from yibao.services.stays.deferred.status import queue_status

__all__ = ["defer", "deferral", "queue_status", "settle_or_defer", "settle_ready"]
