"""Flower strategies with zkagg commitments and verified aggregation (``pip install 'zkagg[flower]'``).

For Flower's message API (flwr 1.21 or newer): :class:`ZkFedAvg`, :class:`ZkFedMedian` and
:class:`ZkFedTrimmedAvg` are Flower's FedAvg, FedMedian and FedTrimmedAvg whose train replies must
carry a commitment to their arrays (clients add it with :func:`commit_arrays`). Each strategy drops a
reply whose arrays do not match its commitment, aggregates the rest with zkagg and verifies the
aggregate (homomorphically for FedAvg, EZKL proofs for the median and the trimmed mean) before
using it. :mod:`zkagg.integrations.flower.example` is an app that runs offline in Flower's
simulation.

Flower's telemetry is switched off here (``FLWR_TELEMETRY_ENABLED=0``) unless the environment
already sets it: zkagg never reaches the network on its own.
"""

from __future__ import annotations

import os

os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")

try:
    import flwr  # noqa: F401
except ImportError as exc:  # pragma: no cover - only without the extra
    raise ImportError("zkagg.integrations.flower needs Flower: pip install 'zkagg[flower]'") from exc

from zkagg.integrations.flower._records import (
    COMMITMENT_KEY,
    RECORD_KEY,
    SPEC_KEY,
    commit_arrays,
    flatten_arrays,
    spec_from_config,
    unflatten_arrays,
)
from zkagg.integrations.flower._verifier import Rejection, RoundRecord, ZkaggVerifier
from zkagg.integrations.flower.fedavg import ZkFedAvg
from zkagg.integrations.flower.fedmedian import ZkFedMedian
from zkagg.integrations.flower.fedtrimmedavg import ZkFedTrimmedAvg

__all__ = [
    "COMMITMENT_KEY",
    "RECORD_KEY",
    "SPEC_KEY",
    "Rejection",
    "RoundRecord",
    "ZkFedAvg",
    "ZkFedMedian",
    "ZkFedTrimmedAvg",
    "ZkaggVerifier",
    "commit_arrays",
    "flatten_arrays",
    "spec_from_config",
    "unflatten_arrays",
]
