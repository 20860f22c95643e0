"""The ASGI application for uvicorn workers (``yibao serve``): built from the settings
(``YIBAO_DATABASE_URL``, ``YIBAO_PACKS_DIR`` …) when a worker imports it."""

from __future__ import annotations

from yibao.adapters.api.app import create_app

app = create_app()
