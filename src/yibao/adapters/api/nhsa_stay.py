"""``POST /nhsa`` handlers of the stay-change and stay-query transactions (2403, 2405,
5203, 5303, 5304), merged into ``nhsa.HANDLERS``; an entry here replaces the one there
for the same infno."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from yibao.adapters import nhsa
from yibao.services.access.rights import Principal
from yibao.services.encounters.context import Context
from yibao.store.uow import UnitOfWork

Handler = Callable[[UnitOfWork, Context, Principal, Any, nhsa.RequestEnvelope], Any]

STAY_HANDLERS: dict[str, Handler] = {}
"""infno -> handler (issue 16: stay changes and queries)."""
