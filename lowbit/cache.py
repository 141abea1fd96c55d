"""The build cache: results keyed by a content hash, written atomically.

A cache entry is a directory ``<root>/<category>/<key>``. It is built in a temporary sibling
and renamed into place only when complete, so an interrupted build leaves nothing that looks
finished, and two processes building the same key both end with one good entry. A temporary
directory names its host and process; one whose process is gone (killed) is deleted by the next
build of the same key.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import platformdirs


def cache_root() -> Path:
    """``$LOWBIT_CACHE`` if set, else the user cache directory (e.g. ``~/.cache/lowbit``)."""
    env = os.environ.get("LOWBIT_CACHE")
    return Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("lowbit"))


def digest(*parts: Any) -> str:
    """SHA-256 over the canonical JSON of ``parts`` (strings, numbers, lists, dicts)."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def discard(entry: Path) -> None:
    """Remove a cache entry: renamed aside first (one atomic step), so no reader ever sees it
    half-deleted, then deleted."""
    aside = entry.with_name(f".{entry.name[:16]}.{os.getpid()}.discarded")
    try:
        os.rename(entry, aside)
    except FileNotFoundError:
        return   # another process discarded it first
    shutil.rmtree(aside, ignore_errors=True)


def cached_dir(category: str, key: str, build: Callable[[Path], None],
               valid: Callable[[Path], bool] | None = None) -> tuple[Path, bool]:
    """The entry for ``key``, building it with ``build(tmpdir)`` if absent; returns (path, hit).

    An entry that ``valid`` rejects (damaged after it was written: a truncated file, a deleted
    one) is discarded and built again.
    """
    final = cache_root() / category / key
    if final.is_dir():
        if valid is None or valid(final):
            return final, True
        discard(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    _remove_orphans(final.parent, key)
    tmp = Path(tempfile.mkdtemp(prefix=f"{_tmp_prefix(key)}{os.getpid()}.", suffix=".tmp",
                                dir=final.parent))
    try:
        build(tmp)
        try:
            os.rename(tmp, final)
        except OSError:
            if not final.is_dir():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another process finished first
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final, False


def _tmp_prefix(key: str) -> str:
    """How the temporary directories building ``key`` on this host start (the builder's pid
    follows)."""
    return f".{key[:16]}.{socket.gethostname()}."


def _remove_orphans(folder: Path, key: str) -> None:
    """Delete temporary build directories of ``key`` whose builder on this host is gone
    (killed before it could clean up, e.g. a lost Dask worker)."""
    prefix = _tmp_prefix(key)
    for tmp in folder.glob(f"{glob.escape(prefix)}*.tmp"):
        pid = tmp.name[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(tmp, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write ``path`` through a temporary file in the same directory and a rename.

    The file gets the permissions a plain ``open(path, "w")`` would give (mkstemp's are 0600).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def source_digest(*packages: str) -> str:
    """Hash of every ``.py`` file in the given installed packages (for cache keys)."""
    import importlib

    h = hashlib.sha256()
    for name in packages:
        root = Path(importlib.import_module(name).__file__).parent
        for file in sorted(root.rglob("*.py")):
            h.update(str(file.relative_to(root)).encode())
            h.update(file.read_bytes())
    return h.hexdigest()
