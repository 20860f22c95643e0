"""The console's session: a signed, HttpOnly cookie (itsdangerous) holding the login,
the password's stamp and the CSRF token — nothing else.

- The cookie is signed with the console secret (``YIBAO_CONSOLE_SECRET``, else a secret
  generated once into ``YIBAO_CONSOLE_SECRET_FILE``, default ``.yibao-console-secret``,
  mode 0600) and expires after ``MAX_AGE_S``; ``SameSite=Strict``, path ``/console``.
- The user is read again on every request: a disabled user, or a password reset since
  the cookie was issued, ends the session at once.
- Every form carries the session's CSRF token (a hidden ``csrf`` field); a POST without
  it, or with another, is refused (403, audited) before anything runs. A visitor who is
  not signed in gets an anonymous session with a token too (the sign-in form has one).
"""

from __future__ import annotations

import hmac
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

__all__ = ["COOKIE", "MAX_AGE_S", "Session", "Sessions", "console_secret"]

COOKIE = "yibao_console"
MAX_AGE_S = 12 * 3600  # a working day; sign in again after


@dataclass
class Session:
    """What the cookie holds: the login (None: not signed in), the stamp of the password
    it signed in with, the CSRF token; ``dirty`` when the cookie must be (re)sent."""

    login: str | None
    stamp: int
    csrf: str
    dirty: bool = field(default=False)

    def csrf_ok(self, sent: Any) -> bool:
        return isinstance(sent, str) and hmac.compare_digest(sent.encode(), self.csrf.encode())


class Sessions:
    """Reads and writes the session cookie."""

    def __init__(self, secret: str) -> None:
        self.signer = URLSafeTimedSerializer(secret, salt="yibao-console-session")

    def read(self, cookie: str | None) -> Session:
        if cookie:
            try:
                data = self.signer.loads(cookie, max_age=MAX_AGE_S)
            except BadSignature:
                data = None
            if isinstance(data, dict) and isinstance(data.get("c"), str):
                login = data.get("u")
                return Session(
                    login if isinstance(login, str) else None, int(data.get("p") or 0), data["c"]
                )
        return Session(None, 0, secrets.token_urlsafe(24), dirty=True)

    def signed_in(self, login: str, stamp: int) -> Session:
        """A new session for a sign-in: a new CSRF token too (no fixation)."""
        return Session(login, stamp, secrets.token_urlsafe(24), dirty=True)

    def dump(self, s: Session) -> str:
        return self.signer.dumps({"u": s.login, "p": s.stamp, "c": s.csrf})


def console_secret(given: str | None, file: Path) -> str:
    """The secret sessions are signed with: ``given``, else the file's (created with a
    new random secret, mode 0600, when missing — the demo's case)."""
    if given:
        return given
    try:
        text = file.read_text().strip()
    except FileNotFoundError:
        text = ""
    if len(text) >= 32:
        return text
    made = secrets.token_urlsafe(48)
    fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(made + "\n")
    return made
