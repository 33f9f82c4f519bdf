"""zkagg: verifiable sharded federated learning.

Clients commit to their updates (KZG, the commitments EZKL uses), shards aggregate and prove their
aggregate with EZKL circuits or homomorphic checks, and everything travels as blobs through a
Celestia-compatible data-availability layer. Assumes ezkl 23.0.5 (pinned).
"""

from __future__ import annotations

from zkagg._artifacts import (
    CircuitArtifacts,
    RunArgs,
    build_circuit,
    export_artifacts,
    load_artifacts,
)
from zkagg._commit import CommitmentDomain, UpdateCommitment, commit_update, commitment_domain
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
from zkagg._field import FIELD_MODULUS, dequantize, quantize
from zkagg._prover import Proof, is_valid, load_input, prove, public_values, verify
from zkagg._shard import ChunkProof, ShardAggregate, aggregate_shard, combine_shards, verify_shard
from zkagg._spec import AggregationSpec
from zkagg._srs import SRS, dev_srs, load_srs

__version__ = "0.1.0"

__all__ = [
    "AggregationSpec",
    "ArtifactError",
    "BlobNotFound",
    "ChunkProof",
    "CircuitArtifacts",
    "CircuitError",
    "CommitmentDomain",
    "CommitmentMismatch",
    "DAAuthError",
    "DAConnectionError",
    "DAError",
    "DARPCError",
    "FIELD_MODULUS",
    "InvalidArgument",
    "InvalidProof",
    "Proof",
    "ProtocolError",
    "ProvingError",
    "QuantizationError",
    "RunArgs",
    "SRS",
    "ShardAggregate",
    "UpdateCommitment",
    "ZkaggError",
    "__version__",
    "aggregate_shard",
    "build_circuit",
    "combine_shards",
    "commit_update",
    "commitment_domain",
    "dequantize",
    "dev_srs",
    "export_artifacts",
    "is_valid",
    "load_artifacts",
    "load_input",
    "load_srs",
    "prove",
    "public_values",
    "quantize",
    "verify",
    "verify_shard",
]
