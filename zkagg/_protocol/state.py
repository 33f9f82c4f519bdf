"""The coordinator's durable state: one SQLite file, so that a restarted coordinator posts exactly once."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from zkagg._protocol.messages import (
    GlobalResult,
    RoundManifest,
)

__all__ = ["CoordinatorState"]


class CoordinatorState:
    """The coordinator's durable state: one SQLite file (WAL, ``synchronous=FULL``).

    Table ``rounds``: per round, the manifest (bytes and height) and, once posted, the global
    result (bytes and height). Written after each DA submission is acknowledged; on restart the
    coordinator also looks on the DA layer for what it posted but did not record.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS rounds (deployment BLOB NOT NULL, round INTEGER NOT NULL, "
            "manifest BLOB NOT NULL, manifest_height INTEGER NOT NULL, result BLOB, result_height INTEGER, "
            "PRIMARY KEY (deployment, round))"
        )
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)")

    def start_height(self, head: int) -> int:
        """The chain head when this state was created (recorded on first use): where searches begin."""
        self._db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('start_height', ?)", (head,))
        row = self._db.execute("SELECT value FROM meta WHERE key = 'start_height'").fetchone()
        return int(row[0])

    def manifest(self, deployment: bytes, round_: int) -> tuple[RoundManifest, int] | None:
        """The recorded manifest of a round and its height."""
        row = self._db.execute(
            "SELECT manifest, manifest_height FROM rounds WHERE round = ? AND deployment = ?",
            (round_, deployment),
        ).fetchone()
        if row is None:
            return None
        return RoundManifest.from_bytes(row[0]), int(row[1])

    def result(self, deployment: bytes, round_: int) -> tuple[GlobalResult, int] | None:
        """The recorded global result of a round and its height."""
        row = self._db.execute(
            "SELECT result, result_height FROM rounds WHERE round = ? AND deployment = ? AND result IS NOT NULL",
            (round_, deployment),
        ).fetchone()
        if row is None:
            return None
        return GlobalResult.from_bytes(row[0]), int(row[1])

    def record_manifest(self, deployment: bytes, manifest: RoundManifest, height: int) -> None:
        """Record a posted manifest."""
        self._db.execute(
            "INSERT OR REPLACE INTO rounds (round, deployment, manifest, manifest_height) VALUES (?, ?, ?, ?)",
            (manifest.round, deployment, manifest.to_bytes(), height),
        )

    def record_result(self, deployment: bytes, result: GlobalResult, height: int) -> None:
        """Record a posted global result."""
        self._db.execute(
            "UPDATE rounds SET result = ?, result_height = ? WHERE round = ? AND deployment = ?",
            (result.to_bytes(), height, result.round, deployment),
        )

    def close(self) -> None:
        """Close the database."""
        self._db.close()
