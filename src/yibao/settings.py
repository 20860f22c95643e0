"""The one settings object (pydantic-settings): every knob from the environment.

- ``YIBAO_DATABASE_URL``: ``sqlite:///./yibao.db`` by default (embedded, a file in the
  working directory); ``postgresql+psycopg://user@host:5432/yibao`` in production.
- ``YIBAO_PACKS_DIR``: the folder of policy packs the hospital service selects from
  (default: the packs shipped in the wheel, ``yibao/packs``).
- ``YIBAO_POOL_SIZE`` / ``YIBAO_POOL_OVERFLOW``: connections per API worker
  (PostgreSQL; SQLAlchemy's pool over psycopg 3).
- ``YIBAO_POOL_PRE_PING``: test each pooled connection before the API uses it (one
  round trip per request; off by default: a lost connection answers 503, DECISIONS 0050).
- ``YIBAO_KEY_CACHE_S``: how long a verified key's hash comparison is remembered in memory
  (seconds); its row is still read on every request, so a revocation holds from the next
  request on, in every worker.

- ``YIBAO_CONSOLE_SECRET``: the key the console's session cookies are signed with (the
  same in every worker); without it one is generated once into
  ``YIBAO_CONSOLE_SECRET_FILE`` (default ``./.yibao-console-secret``, mode 0600).

Only ``yibao.bootstrap`` and the adapters read it; services and the store take
arguments (an import-linter contract).
"""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DEFAULT_DATABASE_URL", "Settings"]

DEFAULT_DATABASE_URL = "sqlite:///./yibao.db"


class Settings(BaseSettings):
    """Read from ``YIBAO_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="YIBAO_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    packs_dir: Path | None = None
    pool_size: int = 10
    pool_overflow: int = 10
    pool_pre_ping: bool = False
    key_cache_s: float = 30.0
    gateway_window_s: int = 300  # x-tif-timestamp: seconds from our clock (docs/NHSA.md)
    nhsa_require_sign_no: bool = False  # POST /nhsa: refuse an envelope without sign_no
    console_secret: str | None = None  # signs the console's session cookies (issue 17)
    console_secret_file: Path = Path(".yibao-console-secret")  # else generated here once
