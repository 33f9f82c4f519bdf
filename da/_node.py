"""``EmbeddedNode``: a durable single-node Celestia-like chain, used in-process or behind the server.

Block production
    One producer thread makes the blocks. With a ``block_time`` (default 6 s, celestia-app v8's
    cadence) it makes one every ``block_time`` seconds, empty or not, as a chain does. With
    ``block_time=None`` (instant mode, for tests and benchmarks) it makes a block as soon as a
    submission is pending, and every submission that arrives while a block is being written goes
    into the next one together: a group commit, so one fsync serves many submissions.

Durability
    A submission is acknowledged (:meth:`EmbeddedNode.submit` returns, or its future resolves) only
    after the block holding it is committed to SQLite in WAL mode with ``synchronous=FULL``
    (:class:`~zkagg.da._store.BlockStore`). A crash loses only unacknowledged submissions.

Limits
    celestia-app's: 8 MiB per submission, empty data refused, squares of at most 256 x 256 shares
    (a submission that does not fit the current block waits for the next).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import filelock

from zkagg._errors import DAConnectionError, DAError, InvalidArgument
from zkagg.da._backend import Header, TxConfig
from zkagg.da._blob import Blob
from zkagg.da._chain import (
    MAX_SQUARE_SIZE,
    ChainReader,
    default_tx_config,
    layout_block,
    make_header,
    validate_submission,
)
from zkagg.da._commitment import subtree_width
from zkagg.da._namespace import Namespace
from zkagg.da._store import BlockStore

__all__ = ["DEFAULT_BLOCK_TIME", "EmbeddedNode", "SteppedClock"]

#: celestia-app v8: DelayedPrecommitTimeout 5850 ms + TimeoutCommit 1 ms.
DEFAULT_BLOCK_TIME: Final = 6.0
#: Shares a block may hold; a few rows are left for the transactions a real square carries.
_BLOCK_SHARE_BUDGET: Final = MAX_SQUARE_SIZE * MAX_SQUARE_SIZE - 4 * MAX_SQUARE_SIZE
_HEADER_CACHE: Final = 4096
#: Instant mode: how long a block waits for more submissions, unless it has this many already.
_LINGER: Final = 0.002
_LINGER_BATCH: Final = 32
#: WAL checkpoints wait for a quiet moment (no block for this long) ...
_CHECKPOINT_IDLE: Final = 0.5
#: ... unless this many bytes of blobs were written since the last one.
_CHECKPOINT_BYTES: Final = 64 * 1024 * 1024

Listener = Callable[[Header], None]


@dataclass
class _Pending:
    blobs: list[Blob]
    shares: int
    future: concurrent.futures.Future[int]


def _share_footprint(blobs: Sequence[Blob]) -> int:
    """Shares a submission may take in a square, alignment padding included (an upper bound)."""
    total = 0
    for blob in blobs:
        n = blob.share_count
        total += n + subtree_width(n) - 1
    return total


class SteppedClock:
    """A clock for :class:`EmbeddedNode` that starts at ``start_ns`` and advances ``step_ns`` per reading.

    Block times, and so block hashes, then depend only on what was submitted, in which order: a
    chain replayed with the same submissions gets the same hashes.
    """

    def __init__(self, start_ns: int = 1_700_000_000 * 10**9, step_ns: int = 6 * 10**9) -> None:
        if not isinstance(start_ns, int) or isinstance(start_ns, bool) or start_ns < 0:
            raise InvalidArgument(f"start_ns must be a non-negative int, not {start_ns!r}")
        if not isinstance(step_ns, int) or isinstance(step_ns, bool) or step_ns <= 0:
            raise InvalidArgument(f"step_ns must be a positive int, not {step_ns!r}")
        self._next = start_ns
        self._step = step_ns
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            now = self._next
            self._next += self._step
            return now


class EmbeddedNode(ChainReader):
    """A durable local chain implementing :class:`~zkagg.da.DABackend`.

    Parameters
    ----------
    home
        The node's folder: ``blocks.sqlite`` (and, for the server, ``keys/``) live there. Created
        when absent; an existing chain is continued.
    block_time
        Seconds between blocks (> 0), or ``None`` for instant mode (a block per batch of pending
        submissions).
    chain_id
        Written in headers; a store keeps the chain ID it was created with.
    clock
        The block time, in nanoseconds since the Unix epoch, read once per block (default
        :func:`time.time_ns`). A :class:`SteppedClock` makes block hashes, and with them cohort
        seeds, reproducible: for tests and replayable simulations.

    Raises
    ------
    InvalidArgument
        For a ``block_time`` that is not positive.
    DAError
        If the store cannot be opened.
    """

    def __init__(
        self,
        home: Path | str,
        block_time: float | None = DEFAULT_BLOCK_TIME,
        chain_id: str = "zkagg-local",
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        super().__init__()
        if block_time is not None and not block_time > 0:
            raise InvalidArgument(
                f"block_time must be a positive number of seconds or None, not {block_time!r}"
            )
        self.home = Path(home).expanduser()
        self.home.mkdir(parents=True, exist_ok=True)
        self.block_time = block_time
        self.chain_id = chain_id
        self._clock = clock
        # One node per home: a second producer would fork the chain. The OS drops the lock when
        # the process dies, even by kill -9.
        self._lock = filelock.FileLock(str(self.home / "node.lock"))
        try:
            self._lock.acquire(timeout=0)
        except filelock.Timeout as exc:
            raise DAError(f"another embedded node is running on {self.home} (node.lock is held)") from exc
        try:
            self._store = BlockStore(self.home / "blocks.sqlite")
        except BaseException:
            self._lock.release()
            raise
        self._headers: OrderedDict[int, Header] = OrderedDict()
        self._headers_lock = threading.Lock()
        self._listeners: list[Listener] = []
        self._pending: list[_Pending] = []
        self._work = threading.Condition()
        self._stopping = False
        self._blocks_made = 0
        self._last_block_at = time.monotonic()
        self._bytes_since_checkpoint = 0
        self._head = self._store.head_height()
        if self._head == 0:
            self._produce([])  # height 1: the empty genesis block
        else:
            stored = self._header(self._head)
            self.chain_id = stored.chain_id or chain_id
        self._producer = threading.Thread(target=self._run, name="zkagg-da-producer", daemon=True)
        self._producer.start()
        self._checkpoint_wake = threading.Event()
        self._checkpointer = threading.Thread(
            target=self._checkpoints, name="zkagg-da-checkpoint", daemon=True
        )
        self._checkpointer.start()

    # -- submission -------------------------------------------------------------------------

    def submit_future(
        self, blobs: Sequence[Blob], config: TxConfig | None = None
    ) -> concurrent.futures.Future[int]:
        """Queue a submission; the future resolves to its height once the block is durable.

        Raises
        ------
        DARPCError
            For an empty or oversized submission (celestia-app's messages), at once.
        DAConnectionError
            If the node is closed.
        """
        blobs = list(blobs)
        validate_submission(blobs, default_tx_config(config))
        item = _Pending(blobs, _share_footprint(blobs), concurrent.futures.Future())
        with self._work:
            if self._stopping:
                raise DAConnectionError(f"the embedded node at {self.home} is closed")
            self._pending.append(item)
            self._work.notify()
        return item.future

    def submit(self, blobs: Sequence[Blob], config: TxConfig | None = None) -> int:
        """Submit blobs; return the height of their block once it is durable."""
        return self.submit_future(blobs, config).result()

    # -- block production -------------------------------------------------------------------

    def _take_batch(self) -> list[_Pending]:
        """Pop the pending submissions that fit in one square (at least one)."""
        batch: list[_Pending] = []
        used = 0
        while self._pending:
            item = self._pending[0]
            if batch and used + item.shares > _BLOCK_SHARE_BUDGET:
                break
            batch.append(self._pending.pop(0))
            used += item.shares
        return batch

    def _run(self) -> None:
        next_tick = time.monotonic() + (self.block_time or 0.0)
        while True:
            with self._work:
                if self.block_time is None:
                    while not self._pending and not self._stopping:
                        self._work.wait()
                    # Group commit: give concurrent submitters a moment to join this block.
                    linger_until = time.monotonic() + _LINGER
                    while len(self._pending) < _LINGER_BATCH and not self._stopping:
                        left = linger_until - time.monotonic()
                        if left <= 0:
                            break
                        self._work.wait(left)
                else:
                    while not self._stopping and time.monotonic() < next_tick:
                        self._work.wait(max(0.0, next_tick - time.monotonic()))
                    next_tick = max(next_tick + self.block_time, time.monotonic())
                if self._stopping:
                    return
                batch = self._take_batch()
            futures = [item.future for item in batch if item.future.set_running_or_notify_cancel()]
            live = [item for item in batch if not item.future.cancelled()]
            blobs = [blob for item in live for blob in item.blobs]
            try:
                height = self._produce(blobs)
            except Exception as exc:
                error = exc if isinstance(exc, DAError) else DAError(f"block production failed: {exc}")
                for fut in futures:
                    fut.set_exception(error)
                continue
            for fut in futures:
                fut.set_result(height)

    def _produce(self, blobs: list[Blob]) -> int:
        """Lay out, store durably and announce one block; return its height."""
        height = self._head + 1
        layout = layout_block(blobs)
        last = self._header(self._head) if self._head else None
        header = make_header(self.chain_id, height, self._clock(), last, layout)
        self._store.write_block(height, header.to_json(), layout.blobs)
        self._cache(header)
        with self._cond:
            self._head = height
            self._blocks_made += 1
            self._last_block_at = time.monotonic()
            self._bytes_since_checkpoint += sum(len(b.data) for b in blobs) + 16384
            self._cond.notify_all()
        if self._bytes_since_checkpoint > _CHECKPOINT_BYTES and hasattr(self, "_checkpoint_wake"):
            self._checkpoint_wake.set()
        for listener in list(self._listeners):
            with contextlib.suppress(Exception):  # a listener's failure is its own
                listener(header)
        return height

    def _checkpoints(self) -> None:
        """Checkpoint the WAL off the commit path, when the node is quiet or the WAL is large.

        On ext4 (``data=ordered``) an fsync of the WAL also flushes the database pages a concurrent
        checkpoint has just written, so checkpointing during a burst makes commits stall; waiting
        for a quiet moment keeps commit latency flat, and the size bound keeps the WAL small.
        """
        while not self._stopping:
            self._checkpoint_wake.wait(0.25)
            self._checkpoint_wake.clear()
            if self._stopping:
                return
            quiet = time.monotonic() - self._last_block_at > _CHECKPOINT_IDLE
            if self._bytes_since_checkpoint and (quiet or self._bytes_since_checkpoint > _CHECKPOINT_BYTES):
                self._bytes_since_checkpoint = 0
                with contextlib.suppress(DAError):  # retried at the next wake-up
                    self._store.checkpoint("PASSIVE")

    # -- listeners (the server's subscriptions and waiters) -----------------------------------

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(header)`` from the producer thread after each new block."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        """Stop calling ``listener``."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    # -- storage hooks ------------------------------------------------------------------------

    def _cache(self, header: Header) -> None:
        with self._headers_lock:
            self._headers[header.height] = header
            self._headers.move_to_end(header.height)
            while len(self._headers) > _HEADER_CACHE:
                self._headers.popitem(last=False)

    def _head_height(self) -> int:
        return self._head

    def _header(self, height: int) -> Header:
        with self._headers_lock:
            cached = self._headers.get(height)
        if cached is not None:
            return cached
        raw = self._store.header_json(height)
        if raw is None:
            raise DAError(f"header {height} is missing from the block store {self._store.path}")
        header = Header.from_json(raw)
        self._cache(header)
        return header

    def _blobs(self, height: int, namespace: Namespace | None = None) -> list[Blob]:
        return self._store.blobs(height, namespace)

    def _find(self, height: int, namespace: Namespace, commitment: bytes) -> Blob | None:
        return self._store.find(height, namespace, commitment)

    def close(self) -> None:
        """Stop producing blocks, fail queued submissions, and close the store."""
        with self._work:
            if self._stopping:
                return
            self._stopping = True
            pending, self._pending = self._pending, []
            self._work.notify_all()
        self._producer.join()
        self._checkpoint_wake.set()
        self._checkpointer.join()
        for item in pending:
            if item.future.set_running_or_notify_cancel():
                item.future.set_exception(DAConnectionError(f"the embedded node at {self.home} closed"))
        self._closed = True
        self._announce()
        self._store.close()
        self._lock.release()

    def __enter__(self) -> EmbeddedNode:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
