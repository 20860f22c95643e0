"""The registries: import a file all-or-nothing and export one (``files``, read and
written by ``tabular``); resolve a line's code at the treatment place on its date, and
the insuree and provider snapshots the engine needs (``catalog``); the catalog
downloads 1301–1307 (``downloads``)."""

from yibao.services.registry.catalog import (
    insuree_snapshot,
    provider_snapshot,
    resolve_lines,
)
from yibao.services.registry.downloads import catalog_download
from yibao.services.registry.files import export_file, import_file

__all__ = ["catalog_download", "export_file", "import_file", "insuree_snapshot",
           "provider_snapshot", "resolve_lines"]  # fmt: skip
