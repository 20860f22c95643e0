"""A small HTTP/1.1 load client on asyncio streams, for the service benchmarks.

httpx costs about 1.2 ms of CPU per request on this machine (`GET /healthz`, DECISIONS
0050): at 300 requests a second that is a third of one of the two cores the server
needs. This client keeps one keep-alive connection per worker, writes each request
in one ``write`` and reads the answer by its ``Content-Length`` (uvicorn always sends
one for a complete body), so the load generator costs a fraction of that and the
figures measure the server. Loopback only; used by ``bench/service.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any
from urllib.parse import urlsplit

__all__ = ["Connection"]


class Connection:
    """One keep-alive HTTP/1.1 connection to ``base`` (``http://127.0.0.1:PORT``)."""

    def __init__(self, base: str) -> None:
        u = urlsplit(base)
        if u.hostname not in ("127.0.0.1", "localhost") or u.port is None:
            raise ValueError(f"load tests target 127.0.0.1 only, not {base}")
        self.host, self.port = u.hostname, u.port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self._reader, self._writer

    async def post(self, path: str, body: Any, headers: dict[str, str]) -> tuple[int, bytes]:
        """POST ``body`` as JSON; the status and the raw response body."""
        data = json.dumps(body, separators=(",", ":")).encode()
        head = [f"POST {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                "Content-Type: application/json", f"Content-Length: {len(data)}"]  # fmt: skip
        head += [f"{k}: {v}" for k, v in headers.items()]
        reader, writer = await self._open()
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + data)
        status_line = await reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        length, close = 0, False
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            low = name.strip().lower()
            if low == b"content-length":
                length = int(value)
            elif low == b"transfer-encoding":
                raise ConnectionError("chunked responses are not expected here")
            elif low == b"connection" and value.strip().lower() == b"close":
                close = True
        payload = await reader.readexactly(length) if length else b""
        if close:
            await self.close()
        return status, payload

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None
