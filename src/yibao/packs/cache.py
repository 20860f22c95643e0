"""The compiled form of a pack file, kept on disk by the hash of the file's bytes.

Outside the core: it reads the environment and writes files (issue 13).

Validating a pack takes Pydantic, and importing Pydantic and building the pack models
costs about 0.1 s of a process's start — a tenth of a 100k-encounter batch run
(DECISIONS 0090). A pack that validated once is kept here compiled (a ``Policy`` as a
pickle), under the sha256 of the file's exact bytes and a fingerprint of the code that
parses and compiles packs; the next process reading the same bytes with the same code
takes the compiled form and never imports Pydantic. A pack that fails validation is
never kept, so its error is given again each time.

Where: ``$YIBAO_PACK_CACHE`` (``off`` turns the cache off), else
``$XDG_CACHE_HOME/yibao/packs``, else ``~/.cache/yibao/packs``; the folder is created
private (0700) and a file not owned by the current user is not read. A folder that
cannot be written only means no cache: loading works as without one.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pickle
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from yibao.core.policy.model import Policy

__all__ = ["cache_dir", "get", "put"]

_FORMAT = 1  # bump when the kept form changes in a way the code fingerprint cannot see
_CORE = ("schema.py", "model.py", "load.py", "strict_yaml.py")  # in yibao/core/policy
_HERE = ("cache.py", "files.py")  # in this folder
_LIBRARIES = (("pydantic", "version.py"), ("yaml", "__init__.py"))  # their version strings
_fingerprint: str | None = None


def cache_dir() -> Path | None:
    """The cache folder, or None when the cache is off."""
    where = os.environ.get("YIBAO_PACK_CACHE", "")
    if where.lower() == "off":
        return None
    if where:
        return Path(where)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "yibao" / "packs"


def _code_fingerprint() -> str:
    """sha256 over the source of the modules that parse and compile packs, the files that
    carry Pydantic's and PyYAML's versions (found, not imported: validation and the
    canonical dump behind the pack's hash are theirs), the Python version and the kept
    form's version: change any of them and old entries are unused."""
    global _fingerprint
    if _fingerprint is None:
        h = hashlib.sha256(f"{_FORMAT}|{sys.version_info[:2]}|".encode())
        here = Path(__file__).parent
        core = here.parent / "core" / "policy"
        for path in [core / n for n in _CORE] + [here / n for n in _HERE]:
            h.update(path.read_bytes())
        for lib, name in _LIBRARIES:
            spec = importlib.util.find_spec(lib)
            origin = spec.origin if spec is not None else None
            h.update(Path(origin).with_name(name).read_bytes() if origin else b"-")
        _fingerprint = h.hexdigest()[:16]
    return _fingerprint


def _entry(raw: bytes) -> Path | None:
    folder = cache_dir()
    if folder is None:
        return None
    return folder / f"{hashlib.sha256(raw).hexdigest()}-{_code_fingerprint()}.pickle"


def get(raw: bytes) -> Policy | None:
    """The compiled pack of these file bytes, if it was kept; None otherwise."""
    from yibao.core.policy.model import Policy

    try:
        path = _entry(raw)
        if path is None or path.stat().st_uid != os.getuid():
            return None
        policy = pickle.loads(path.read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return None
    return policy if isinstance(policy, Policy) else None


def put(raw: bytes, policy: Policy) -> None:
    """Keep ``policy`` as the compiled form of these bytes (atomically; errors ignored)."""
    try:
        path = _entry(raw)
        if path is None:
            return
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(pickle.dumps(policy, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(tmp, path)
    except OSError:
        return
