"""How zkagg data travels in Flower's records, and the client-side helper.

A client that trains under a zkagg strategy receives the agreed :class:`~zkagg.AggregationSpec` in
its train config (``config["zkagg-spec"]``, :meth:`~zkagg.AggregationSpec.to_bytes`), commits to the
arrays it replies with, and puts the commitment in a ``ConfigRecord`` named ``"zkagg"`` next to its
``ArrayRecord`` and ``MetricRecord`` (:func:`commit_arrays`). The arrays are committed as one flat
vector: every array of the ``ArrayRecord`` in key order, each flattened in C order, as float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from zkagg._aggregation.spec import AggregationSpec
from zkagg._errors import InvalidArgument
from zkagg._kzg.commit import UpdateCommitment, commit_update

__all__ = [
    "COMMITMENT_KEY",
    "RECORD_KEY",
    "SPEC_KEY",
    "commit_arrays",
    "flatten_arrays",
    "spec_from_config",
    "unflatten_arrays",
]

#: Train-config key of the encoded spec the server sends.
SPEC_KEY = "zkagg-spec"
#: Name of the reply's ConfigRecord that carries zkagg data.
RECORD_KEY = "zkagg"
#: Key of the encoded :class:`~zkagg.UpdateCommitment` in that record.
COMMITMENT_KEY = "commitment"


def flatten_arrays(arrays: Any) -> tuple[npt.NDArray[np.float64], list[tuple[str, tuple[int, ...], str]]]:
    """One float64 vector of every array in an ``ArrayRecord`` (key order), and how to undo it."""
    layout: list[tuple[str, tuple[int, ...], str]] = []
    parts = []
    for key in arrays:
        arr = np.asarray(arrays[key].numpy())
        layout.append((str(key), tuple(int(s) for s in arr.shape), arr.dtype.str))
        parts.append(arr.astype(np.float64).ravel())
    if not parts:
        raise InvalidArgument("arrays must hold at least one array, not an empty ArrayRecord")
    return np.concatenate(parts), layout


def unflatten_arrays(vector: npt.ArrayLike, layout: list[tuple[str, tuple[int, ...], str]]) -> Any:
    """The ``ArrayRecord`` with ``layout``'s keys, shapes and dtypes holding ``vector``'s values."""
    from flwr.app import Array, ArrayRecord

    flat = np.asarray(vector, dtype=np.float64)
    out = ArrayRecord()
    offset = 0
    for key, shape, dtype in layout:
        size = int(np.prod(shape)) if shape else 1
        out[key] = Array(
            np.ascontiguousarray(flat[offset : offset + size].reshape(shape).astype(np.dtype(dtype)))
        )
        offset += size
    if offset != flat.size:
        raise InvalidArgument(f"vector must have {offset} values for this layout, not {flat.size}")
    return out


def spec_from_config(config: Any) -> AggregationSpec:
    """The spec the server sent in a train config (``config["zkagg-spec"]``)."""
    if SPEC_KEY not in config:
        raise InvalidArgument(
            f"the train config has no {SPEC_KEY!r} entry: is the server using a zkagg strategy?"
        )
    return AggregationSpec.from_bytes(bytes(config[SPEC_KEY]))


def commit_arrays(arrays: Any, spec: AggregationSpec) -> Any:
    """The ``ConfigRecord`` a client adds to its reply: the commitment to exactly these arrays."""
    from flwr.app import ConfigRecord

    flat, _ = flatten_arrays(arrays)
    commitment: UpdateCommitment = commit_update(spec, flat)
    return ConfigRecord({COMMITMENT_KEY: commitment.to_bytes()})
