"""zkagg: verifiable sharded federated learning.

Clients commit to their updates (KZG, the commitments EZKL uses), shards aggregate and prove their
aggregate with EZKL circuits or homomorphic checks, and everything travels as blobs through a
Celestia-compatible data-availability layer. Assumes ezkl 23.0.5 (pinned).
"""

from __future__ import annotations

import importlib as _importlib
from typing import TYPE_CHECKING as _TYPE_CHECKING

from zkagg._aggregation.norm import NormProof, prove_norm, verify_norm
from zkagg._aggregation.records import ChunkProof, ShardAggregate
from zkagg._aggregation.shard import aggregate_shard, combine_shards, verify_shard
from zkagg._aggregation.spec import AggregationSpec
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
from zkagg._fl.data import DigitsData, load_digits_task
from zkagg._kzg.commit import CommitmentDomain, UpdateCommitment, commit_update, commitment_domain
from zkagg._protocol.audit import AuditReport, audit
from zkagg._protocol.client import ClientParty
from zkagg._protocol.coordinator import Coordinator
from zkagg._protocol.deployment import Deployment, DeploymentKeys
from zkagg._protocol.guard import MessageGuard
from zkagg._protocol.judge import RoundJudgement, judge_round
from zkagg._protocol.keys import EncryptionKey, Identity, SigningKey
from zkagg._protocol.messages import (
    ClientUpdate,
    GlobalResult,
    RoundManifest,
    ShardResult,
    ShardVerdict,
    VerdictReason,
    decode_message,
)
from zkagg._protocol.run import RunConfig, RunReport, run_deployment
from zkagg._protocol.shard import ShardAggregator
from zkagg._protocol.sharding import assign_shard, deployment_namespaces
from zkagg._prover.artifacts import CircuitArtifacts, RunArgs, build_circuit, export_artifacts, load_artifacts
from zkagg._prover.proof import Proof, is_valid, load_input, prove, public_values, verify
from zkagg._prover.srs import SRS, dev_srs, load_srs

# The federated-learning workload needs torch: its names load on first use, so that `import zkagg`
# (and `zkagg --help`) stays fast.
_LAZY: dict[str, str] = {
    "DigitsMLP": "zkagg._fl.model",
    "TrainConfig": "zkagg._fl.model",
    "local_train": "zkagg._fl.model",
    "FLConfig": "zkagg._fl.sim",
    "run_reference": "zkagg._fl.sim",
    "QualityProof": "zkagg._fl.quality",
    "QualitySpec": "zkagg._fl.quality",
    "prove_quality": "zkagg._fl.quality",
    "verify_quality": "zkagg._fl.quality",
}

if _TYPE_CHECKING:
    from zkagg._fl.model import DigitsMLP, TrainConfig, local_train
    from zkagg._fl.quality import QualityProof, QualitySpec, prove_quality, verify_quality
    from zkagg._fl.sim import FLConfig, run_reference


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
