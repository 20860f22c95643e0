"""Kill a yibao process midway (SIGKILL), once a table shows it has committed enough."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def kill_when(argv: list[str], env: dict[str, str], done: Callable[[], bool],
              stderr: Path, *, within: float = 120) -> None:  # fmt: skip
    """Run ``argv``; as soon as ``done()`` holds, SIGKILL it. Fails if the process had
    already ended (nothing was killed midway), showing its stderr."""
    with stderr.open("wb") as err:
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + within
        while time.monotonic() < deadline and proc.poll() is None and not done():
            time.sleep(0.02)
        running = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert running, stderr.read_text()
