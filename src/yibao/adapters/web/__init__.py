"""The bureau's console (issue 17): server-rendered pages at ``/console/`` for district
and township clerks, finance, supervisors, auditors and admins — Jinja2 templates, HTMX
(vendored, static/VENDORED.md), zh-CN, no JavaScript build step, no CDN.

``mount_console(app, secret=..., secret_file=...)`` adds its routes and static files to
the API's FastAPI app (``yibao serve``). Pages call the same service use cases as REST
and the CLI: ``auth`` (sign-in/out), ``pages`` (今日/日报, 就诊查询, 延迟结算),
``registry`` (登记信息, imports), ``admin`` (用户与密钥); ``base`` is what they share
(sessions, CSRF, errors as pages), ``formats`` the filters, ``charts`` the SVG charts."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from yibao.adapters.web import (
    admin,
    auth,
    claims,
    drugs,
    filings,
    funds,
    pages,
    registry,
    supervision,
)
from yibao.adapters.web.base import PREFIX, Web

__all__ = ["PREFIX", "mount_console"]

STATIC = Path(__file__).parent / "static"


def mount_console(app: FastAPI, *, secret: str | None, secret_file: Path) -> None:
    """Serve the console at ``/console/`` on ``app`` (which has ``state.engine``,
    ``state.ctx`` and ``state.refusals``, as ``create_app`` builds them)."""
    app.state.console = Web(secret, secret_file)
    for module in (auth, pages, registry, admin, claims, supervision, drugs, filings, funds):
        app.include_router(module.router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="console-static")
