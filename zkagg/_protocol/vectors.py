"""Integer vectors on the wire: the model and update codec, reading a vector payload, its commitment.

Models and updates are integer vectors at the deployment's scale ``s`` (a value ``v`` stands for
``v / 2**s``).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from zkagg._errors import InvalidArgument, ProtocolError
from zkagg._field import IntArray
from zkagg._kzg.commit import UpdateCommitment, chunk_messages, commit_chunk
from zkagg._protocol.deployment import Deployment
from zkagg._wire import Reader, Writer
from zkagg.da import DABackend, PayloadRef, read_payload

__all__ = ["IntArray", "decode_vector", "encode_vector", "read_vector", "vector_commitment"]

_VECTOR_TYPE: Final = 16


def encode_vector(values: npt.ArrayLike, scale: int) -> bytes:
    """``ZKAG`` header (type 16, version 1), scale (u8), count (u32), then int64 big-endian values."""
    q = np.asarray(values)
    if q.ndim != 1 or q.dtype.kind not in "iu":
        raise InvalidArgument(f"values must be a 1-D integer array, not {q.dtype} {q.shape}")
    w = Writer(_VECTOR_TYPE, 1)
    w.u8("scale", scale)
    w.u32("count", q.size)
    return w.getvalue() + q.astype(">i8").tobytes()


def decode_vector(data: bytes, *, what: str = "vector") -> tuple[IntArray, int]:
    """Decode :func:`encode_vector`; returns ``(values, scale)`` or raises :class:`~zkagg.ProtocolError`."""
    r = Reader(data, what)
    r.header(_VECTOR_TYPE, (1,))
    scale = r.u8("scale")
    count = r.u32("count")
    body = data[r.offset :]
    if len(body) != 8 * count:
        raise ProtocolError(f"{what}: {count} values need {8 * count} bytes, not {len(body)}")
    return np.frombuffer(body, dtype=">i8").astype(np.int64), scale


def read_vector(backend: DABackend, ref: PayloadRef, expected_len: int, scale: int, what: str) -> IntArray:
    """The vector behind payload ``ref``, or :class:`~zkagg.ProtocolError` unless it has ``expected_len`` values at ``scale``."""
    data = read_payload(backend, ref)
    q, s = decode_vector(data, what=what)
    if q.size != expected_len or s != scale:
        raise ProtocolError(f"{what} must hold {expected_len} values at scale {scale}, not {q.size} at {s}")
    return q


def vector_commitment(deployment: Deployment, q: IntArray) -> UpdateCommitment:
    """The commitment of an integer vector in the deployment's domain (one point per chunk)."""
    domain = deployment.spec().domain()
    points = tuple(commit_chunk(domain, m) for m in chunk_messages(domain, q, None))
    return UpdateCommitment(domain, int(q.size), points)
