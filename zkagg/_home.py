"""Where zkagg keeps its caches: ``$ZKAGG_HOME``, by default ``~/.cache/zkagg``.

Layout::

    $ZKAGG_HOME/
        srs/dev/k15.srs, k15.srs.json      dev SRS per logrows (INSECURE), with its hash
        srs/registered/<sha256>.json       ceremony SRS files the user named, by hash
        artifacts/<key>/                   compiled circuits and keys, content-addressed
        artifacts/<key>.lock               file lock held while an entry is built
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write_bytes", "atomic_write_text", "sha256_file", "sha256_file_memo", "zkagg_home"]


def zkagg_home(home: str | os.PathLike[str] | None = None) -> Path:
    """Resolve the cache root: the argument, else ``$ZKAGG_HOME``, else ``~/.cache/zkagg``."""
    if home is not None:
        root = Path(home)
    elif os.environ.get("ZKAGG_HOME"):
        root = Path(os.environ["ZKAGG_HOME"])
    else:
        root = Path.home() / ".cache" / "zkagg"
    return root.expanduser()


def sha256_file(path: str | os.PathLike[str], *, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


_HASH_MEMO: dict[tuple[str, int, int], str] = {}


def sha256_file_memo(path: str | os.PathLike[str]) -> str:
    """:func:`sha256_file`, remembered per process for a file of unchanged path, size and mtime.

    Cache checks hash the same keys and SRS files on every use; a file that is rewritten gets a new
    mtime (or size) and is hashed again, so corruption written after the first check is still seen.
    """
    st = os.stat(path)
    key = (str(path), st.st_size, st.st_mtime_ns)
    digest = _HASH_MEMO.get(key)
    if digest is None:
        digest = sha256_file(path)
        _HASH_MEMO[key] = digest
    return digest


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, mode: int | None = None) -> None:
    """Write a file so that readers see either the old content or the whole new one.

    The data goes to a temporary file in the same directory, is flushed and fsynced, and is then
    renamed over ``path`` (atomic on POSIX).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Text version of :func:`atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))
