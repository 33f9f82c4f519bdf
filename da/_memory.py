"""``MemoryBackend``: the embedded node's semantics kept in memory, for unit tests.

Every :meth:`MemoryBackend.submit` becomes one block at once; nothing survives the process.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Sequence

from zkagg._errors import DAConnectionError
from zkagg.da._backend import Header, TxConfig
from zkagg.da._blob import Blob
from zkagg.da._chain import (
    ChainReader,
    default_tx_config,
    layout_block,
    make_header,
    validate_submission,
)
from zkagg.da._namespace import Namespace

__all__ = ["MemoryBackend"]


class MemoryBackend(ChainReader):
    """An in-memory chain implementing :class:`~zkagg.da.DABackend`.

    Parameters
    ----------
    chain_id
        The chain ID written in headers.

    Examples
    --------
    >>> from zkagg.da import Blob, MemoryBackend, Namespace
    >>> da = MemoryBackend()
    >>> blob = Blob.new(Namespace.v0(b"zkagg"), b"hello")
    >>> height = da.submit([blob])
    >>> da.get(height, blob.namespace, blob.commitment).data
    b'hello'
    """

    def __init__(self, chain_id: str = "zkagg-memory") -> None:
        super().__init__()
        self.chain_id = chain_id
        self._lock = threading.Lock()
        self._headers: list[Header] = []
        self._by_height: list[list[Blob]] = []
        self._by_ns: list[dict[Namespace, list[Blob]]] = []
        self._append([])  # height 1: the empty genesis block

    def _append(self, blobs: Sequence[Blob]) -> int:
        layout = layout_block(blobs)
        height = len(self._headers) + 1
        last = self._headers[-1] if self._headers else None
        self._headers.append(make_header(self.chain_id, height, time.time_ns(), last, layout))
        self._by_height.append(list(layout.blobs))
        index: dict[Namespace, list[Blob]] = defaultdict(list)
        for blob in layout.blobs:
            index[blob.namespace].append(blob)
        self._by_ns.append(dict(index))
        return height

    def submit(self, blobs: Sequence[Blob], config: TxConfig | None = None) -> int:
        """Put ``blobs`` in a new block and return its height."""
        blobs = list(blobs)
        validate_submission(blobs, default_tx_config(config))
        if self._closed:
            raise DAConnectionError("MemoryBackend is closed")
        with self._lock:
            height = self._append(blobs)
        self._announce()
        return height

    def _head_height(self) -> int:
        return len(self._headers)

    def _header(self, height: int) -> Header:
        return self._headers[height - 1]

    def _blobs(self, height: int, namespace: Namespace | None = None) -> list[Blob]:
        if namespace is None:
            return list(self._by_height[height - 1])
        return list(self._by_ns[height - 1].get(namespace, ()))

    def close(self) -> None:
        """Mark the backend closed; waiters in :meth:`wait_for_height` are released."""
        self._closed = True
        self._announce()
