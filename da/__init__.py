"""Celestia-compatible data-availability layer, installed as ``zkagg.da``.

Namespaces, shares and blob commitments byte-identical to Celestia's (go-square, ADR-013); blob
inclusion and commitment proofs; large payloads split over blobs with a manifest; the
:class:`DABackend` protocol and its three implementations (:class:`MemoryBackend`,
:class:`EmbeddedNode`, :class:`CelestiaClient`); the embedded node's JSON-RPC server
(``zkagg da serve``; :mod:`zkagg.da._rpc`, run by :mod:`zkagg.da._runner`).
"""

from __future__ import annotations

from zkagg.da._backend import DABackend, Header, TxConfig, parse_height
from zkagg.da._blob import Blob
from zkagg.da._client import CelestiaClient
from zkagg.da._commitment import blob_commitment
from zkagg.da._commitment_proof import CommitmentProof
from zkagg.da._memory import MemoryBackend
from zkagg.da._namespace import Namespace
from zkagg.da._node import EmbeddedNode, SteppedClock
from zkagg.da._payload import Manifest, PayloadRef, read_payload, write_payload
from zkagg.da._square import is_blob_proof_valid, verify_blob_proof

__all__ = [
    "Blob",
    "CelestiaClient",
    "CommitmentProof",
    "DABackend",
    "EmbeddedNode",
    "Header",
    "Manifest",
    "MemoryBackend",
    "Namespace",
    "PayloadRef",
    "SteppedClock",
    "TxConfig",
    "blob_commitment",
    "is_blob_proof_valid",
    "parse_height",
    "read_payload",
    "verify_blob_proof",
    "write_payload",
]
