"""zkagg: verifiable sharded federated learning.

Clients commit to their updates (KZG, the commitments EZKL uses), shards aggregate and prove their
aggregate with EZKL circuits or homomorphic checks, and everything travels as blobs through a
Celestia-compatible data-availability layer. Assumes ezkl 23.0.5 (pinned).
"""

from __future__ import annotations

from zkagg._errors import (
    ArtifactError,
    BlobNotFound,
    CircuitError,
    CommitmentMismatch,
    DAAuthError,
    DAConnectionError,
    DAError,
    DARPCError,
    InvalidArgument,
    InvalidProof,
    ProtocolError,
    ProvingError,
    QuantizationError,
    ZkaggError,
)

__version__ = "0.1.0"

__all__ = [
    "ArtifactError",
    "BlobNotFound",
    "CircuitError",
    "CommitmentMismatch",
    "DAAuthError",
    "DAConnectionError",
    "DAError",
    "DARPCError",
    "InvalidArgument",
    "InvalidProof",
    "ProtocolError",
    "ProvingError",
    "QuantizationError",
    "ZkaggError",
    "__version__",
]
