"""The one settings object (pydantic-settings): every knob from the environment.

``YIBAO_DATABASE_URL``: ``sqlite:///./yibao.db`` by default (embedded, a file in the
working directory); ``postgresql+psycopg://user@host:5432/yibao`` in production.
Only ``yibao.bootstrap`` and the adapters read it; services and the store take
arguments (an import-linter contract).
"""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DEFAULT_DATABASE_URL", "Settings"]

DEFAULT_DATABASE_URL = "sqlite:///./yibao.db"


class Settings(BaseSettings):
    """Read from ``YIBAO_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="YIBAO_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
