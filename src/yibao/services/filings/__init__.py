"""Out-of-area care (异地就医, issue 18): the filing workflow through township offices and
the district (``workflow``), paper filings imported all-or-nothing (``imports``). The
registry read settlement uses is ``services/registry/filings`` (below encounters)."""

from yibao.services.filings.workflow import (
    KIND_NAMES,
    STATE_NAMES,
    FilingIn,
    FilingView,
    decide,
    filing,
    forward,
    queue,
    revoke,
    take_in,
)

__all__ = ["KIND_NAMES", "STATE_NAMES", "FilingIn", "FilingView", "decide", "filing",
           "forward", "queue", "revoke", "take_in"]  # fmt: skip
