"""Re-entry after an outage (``yibao deferred import FILE``): the offline capture file
(``capture_file``) read, checked, deduplicated, settled or deferred (``imports``)."""

from yibao.services.stays.reentry.capture_file import write_template
from yibao.services.stays.reentry.imports import import_file

__all__ = ["import_file", "write_template"]
