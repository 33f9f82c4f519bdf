"""zkagg: verifiable sharded federated learning.

Clients commit to their updates (KZG, the commitments EZKL uses), shards aggregate and prove their
aggregate with EZKL circuits or homomorphic checks, and everything travels as blobs through a
Celestia-compatible data-availability layer. Assumes ezkl 23.0.5 (pinned).
"""

from __future__ import annotations

import importlib as _importlib
from typing import TYPE_CHECKING as _TYPE_CHECKING

from zkagg._artifacts import (
    CircuitArtifacts,
    RunArgs,
    build_circuit,
    export_artifacts,
    load_artifacts,
)
from zkagg._audit import AuditReport, audit
from zkagg._commit import CommitmentDomain, UpdateCommitment, commit_update, commitment_domain
from zkagg._deployment import Deployment, DeploymentKeys
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
from zkagg._executors import LocalExecutor, RayExecutor, SerialExecutor, make_executor
from zkagg._field import FIELD_MODULUS, dequantize, quantize
from zkagg._fl_data import DigitsData, load_digits_task
from zkagg._guard import MessageGuard
from zkagg._keys import EncryptionKey, Identity, SigningKey
from zkagg._messages import (
    ClientUpdate,
    GlobalResult,
    RoundManifest,
    ShardResult,
    ShardVerdict,
    VerdictReason,
    decode_message,
)
from zkagg._norm import NormProof, prove_norm, verify_norm
from zkagg._prover import Proof, is_valid, load_input, prove, public_values, verify
from zkagg._round import ClientParty, Coordinator, RoundJudgement, ShardAggregator, judge_round
from zkagg._run import RunConfig, RunReport, run_deployment
from zkagg._shard import ChunkProof, ShardAggregate, aggregate_shard, combine_shards, verify_shard
from zkagg._sharding import assign_shard, deployment_namespaces
from zkagg._spec import AggregationSpec
from zkagg._srs import SRS, dev_srs, load_srs

# The federated-learning workload needs torch: its names load on first use, so that `import zkagg`
# (and `zkagg --help`) stays fast.
_LAZY: dict[str, str] = {
    "DigitsMLP": "zkagg._fl_model",
    "TrainConfig": "zkagg._fl_model",
    "local_train": "zkagg._fl_model",
    "FLConfig": "zkagg._fl_sim",
    "run_reference": "zkagg._fl_sim",
    "QualityProof": "zkagg._quality",
    "QualitySpec": "zkagg._quality",
    "prove_quality": "zkagg._quality",
    "verify_quality": "zkagg._quality",
}

if _TYPE_CHECKING:
    from zkagg._fl_model import DigitsMLP, TrainConfig, local_train
    from zkagg._fl_sim import FLConfig, run_reference
    from zkagg._quality import QualityProof, QualitySpec, prove_quality, verify_quality


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'zkagg' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


__version__ = "0.1.0"

__all__ = [
    "AggregationSpec",
    "ArtifactError",
    "AuditReport",
    "BlobNotFound",
    "ChunkProof",
    "CircuitArtifacts",
    "CircuitError",
    "ClientParty",
    "ClientUpdate",
    "CommitmentDomain",
    "CommitmentMismatch",
    "Coordinator",
    "DAAuthError",
    "DAConnectionError",
    "DAError",
    "DARPCError",
    "Deployment",
    "DeploymentKeys",
    "DigitsData",
    "DigitsMLP",
    "EncryptionKey",
    "FIELD_MODULUS",
    "FLConfig",
    "GlobalResult",
    "Identity",
    "InvalidArgument",
    "InvalidProof",
    "LocalExecutor",
    "MessageGuard",
    "NormProof",
    "Proof",
    "ProtocolError",
    "ProvingError",
    "QualityProof",
    "QualitySpec",
    "QuantizationError",
    "RayExecutor",
    "RoundJudgement",
    "RoundManifest",
    "RunArgs",
    "RunConfig",
    "RunReport",
    "SRS",
    "SerialExecutor",
    "ShardAggregate",
    "ShardAggregator",
    "ShardResult",
    "ShardVerdict",
    "SigningKey",
    "TrainConfig",
    "UpdateCommitment",
    "VerdictReason",
    "ZkaggError",
    "__version__",
    "aggregate_shard",
    "assign_shard",
    "audit",
    "build_circuit",
    "combine_shards",
    "commit_update",
    "commitment_domain",
    "decode_message",
    "deployment_namespaces",
    "dequantize",
    "dev_srs",
    "export_artifacts",
    "is_valid",
    "judge_round",
    "load_artifacts",
    "load_digits_task",
    "load_input",
    "load_srs",
    "local_train",
    "make_executor",
    "prove",
    "prove_norm",
    "prove_quality",
    "public_values",
    "quantize",
    "run_deployment",
    "run_reference",
    "verify",
    "verify_norm",
    "verify_quality",
    "verify_shard",
]
