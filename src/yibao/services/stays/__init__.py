"""Where the deferred queue, re-entry and re-settlement meet: many stays settled in one
batch-engine pass with the store's accumulators and accounts carried (``settle``), and
booked in bulk exactly as one settlement is booked (``booking``, rows built column-wise
in ``rows``)."""

from yibao.services.stays.booking import StoreMoved, book, book_chunks, book_in_transactions
from yibao.services.stays.settle import settle_stays

__all__ = ["StoreMoved", "book", "book_chunks", "book_in_transactions", "settle_stays"]
