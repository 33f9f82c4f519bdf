"""The embedded node's block store: SQLite in WAL mode with ``synchronous=FULL``.

One transaction per block writes its header and all its blobs; the block is acknowledged only
after ``COMMIT`` returns, and with ``synchronous=FULL`` the WAL is fsynced before that, so every
acknowledged blob survives ``kill -9`` and power loss (SQLite's documented guarantee for WAL mode
with FULL synchronous). Readers use their own connections (one per thread) and never block the
writer.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

from zkagg._errors import DAError
from zkagg.da._blob import Blob
from zkagg.da._namespace import Namespace

__all__ = ["BlockStore"]

SCHEMA_VERSION: Final = 1

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS headers (
    height INTEGER PRIMARY KEY,
    json   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS blobs (
    height        INTEGER NOT NULL,
    position      INTEGER NOT NULL,
    namespace     BLOB NOT NULL,
    commitment    BLOB NOT NULL,
    share_version INTEGER NOT NULL,
    signer        BLOB,
    eds_index     INTEGER NOT NULL,
    data          BLOB NOT NULL,
    PRIMARY KEY (height, position)
);
CREATE INDEX IF NOT EXISTS blobs_by_namespace ON blobs (height, namespace, commitment);
"""

_COLUMNS: Final = "namespace, commitment, share_version, signer, eds_index, data"


def _row_to_blob(row: Sequence[Any]) -> Blob:
    ns, commitment, share_version, signer, index, data = row
    return Blob(
        namespace=Namespace.from_bytes(bytes(ns)),
        data=bytes(data),
        share_version=int(share_version),
        signer=bytes(signer) if signer is not None else None,
        commitment=bytes(commitment),
        index=int(index),
    )


class BlockStore:
    """Durable storage of headers and blobs, one SQLite file.

    Parameters
    ----------
    path
        The database file; created (with its parent folder) when absent.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._writer = self._connect()
        # Checkpoints run in their own thread (checkpoint()), so that a commit never pays for
        # copying the WAL into the database and fsyncing it.
        self._writer.execute("PRAGMA wal_autocheckpoint=0")
        self._writer.executescript(_SCHEMA)
        self._writer.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
        )
        self._writer_lock = threading.Lock()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._checkpointer: sqlite3.Connection | None = None
        self._checkpoint_lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=10000")
        except sqlite3.Error as exc:
            raise DAError(f"cannot open the block store {self.path}: {exc}") from exc
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only=1")
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    # -- writes -----------------------------------------------------------------------------

    def write_block(self, height: int, header_json: dict[str, Any], blobs: Iterable[Blob]) -> None:
        """Write one block atomically and durably (returns after the fsynced COMMIT).

        Raises
        ------
        DAError
            If SQLite fails; nothing of the block is then stored.
        """
        rows = [
            (
                height,
                pos,
                blob.namespace.to_bytes(),
                blob.commitment,
                blob.share_version,
                blob.signer,
                blob.index,
                blob.data,
            )
            for pos, blob in enumerate(blobs)
        ]
        text = json.dumps(header_json, separators=(",", ":"))
        with self._writer_lock:
            conn = self._writer
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("INSERT INTO headers (height, json) VALUES (?, ?)", (height, text))
                conn.executemany(
                    "INSERT INTO blobs (height, position, namespace, commitment, share_version, signer,"
                    " eds_index, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise DAError(f"cannot write block {height} to {self.path}: {exc}") from exc

    def checkpoint(self, mode: str = "PASSIVE") -> None:
        """Copy the WAL into the database file (``PASSIVE`` never blocks the writer).

        Raises
        ------
        DAError
            If SQLite fails.
        """
        if mode not in ("PASSIVE", "FULL", "RESTART", "TRUNCATE"):
            raise ValueError(f"mode must be PASSIVE, FULL, RESTART or TRUNCATE, not {mode!r}")
        with self._checkpoint_lock:
            if self._checkpointer is None:
                self._checkpointer = self._connect()
            try:
                self._checkpointer.execute(f"PRAGMA wal_checkpoint({mode})").fetchall()
            except sqlite3.Error as exc:
                raise DAError(f"cannot checkpoint the block store {self.path}: {exc}") from exc

    # -- reads ------------------------------------------------------------------------------

    def head_height(self) -> int:
        """Return the highest stored height, 0 for an empty store."""
        row = self._reader().execute("SELECT MAX(height) FROM headers").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def header_json(self, height: int) -> dict[str, Any] | None:
        """Return the stored header JSON at ``height``, or ``None``."""
        row = self._reader().execute("SELECT json FROM headers WHERE height = ?", (height,)).fetchone()
        if row is None:
            return None
        value: dict[str, Any] = json.loads(row[0])
        return value

    def blobs(self, height: int, namespace: Namespace | None = None) -> list[Blob]:
        """Return the blobs at ``height`` in square order, optionally only one namespace's."""
        conn = self._reader()
        if namespace is None:
            cur = conn.execute(f"SELECT {_COLUMNS} FROM blobs WHERE height = ? ORDER BY position", (height,))
        else:
            cur = conn.execute(
                f"SELECT {_COLUMNS} FROM blobs WHERE height = ? AND namespace = ? ORDER BY position",
                (height, namespace.to_bytes()),
            )
        return [_row_to_blob(r) for r in cur.fetchall()]

    def find(self, height: int, namespace: Namespace, commitment: bytes) -> Blob | None:
        """Return the first blob with ``commitment`` in ``namespace`` at ``height``, or ``None``."""
        row = (
            self._reader()
            .execute(
                f"SELECT {_COLUMNS} FROM blobs WHERE height = ? AND namespace = ? AND commitment = ?"
                " ORDER BY position LIMIT 1",
                (height, namespace.to_bytes(), commitment),
            )
            .fetchone()
        )
        return _row_to_blob(row) if row is not None else None

    def close(self) -> None:
        """Close every connection (readers of other threads included)."""
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
        with self._checkpoint_lock:
            if self._checkpointer is not None:
                self._checkpointer.close()
                self._checkpointer = None
        with self._writer_lock:
            with contextlib.suppress(sqlite3.Error):  # else the WAL stays; the next open replays it
                self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._writer.close()
