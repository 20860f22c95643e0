"""``POST /nhsa`` handlers of the file and document exchange transactions (9101/9102,
3202 with its detail file, 4101A, 1301–1319), merged into ``nhsa.HANDLERS``; an entry
here replaces the one there for the same infno."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from yibao.adapters import nhsa
from yibao.services.access.rights import Principal
from yibao.services.encounters.context import Context
from yibao.store.uow import UnitOfWork

Handler = Callable[[UnitOfWork, Context, Principal, Any, nhsa.RequestEnvelope], Any]

EXCHANGE_HANDLERS: dict[str, Handler] = {}
"""infno -> handler (issue 16: file exchange)."""
