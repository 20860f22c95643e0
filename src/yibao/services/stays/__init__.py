"""Stays settled after the fact, in bulk: many stays settled in one batch-engine pass
with the store's accumulators and accounts carried (``settle``) and booked through the
one writer as one settlement is (``booking``); on top of that the deferred queue
(``deferred``: 先救治、后结算), re-entry after an outage (``reentry``) and bulk
re-settlement under a corrected pack (``resettle``)."""

from yibao.services.stays.booking import StoreMoved, book, book_chunks, book_in_transactions
from yibao.services.stays.settle import settle_stays

__all__ = ["StoreMoved", "book", "book_chunks", "book_in_transactions", "settle_stays"]
