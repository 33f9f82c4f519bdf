"""Build and write the round-protocol test vectors (``data/vectors_v1.json``).

Run ``python -m tests.protocol.vectors`` from the repository root to regenerate the file; the tests
load the file and check that today's code reproduces every vector byte for byte, so a change to
the wire format, the signature digest, the assignment or the namespaces shows up as a failing test
and a diff of this file. Everything is deterministic: keys come from labels, Ed25519 signatures
are deterministic, and the client update's ciphertext is fixed bytes (the wire format treats it
as opaque).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from tests.protocol.conftest import DEPLOYMENT, SEED, Deployment, encryption_key
from zkagg._protocol.keys import client_id_for, seal_with, update_aad
from zkagg._protocol.messages import (
    ClientUpdate,
    ExcludedUpdate,
    ExclusionReason,
    IncludedUpdate,
    Message,
    ShardResult,
)
from zkagg._protocol.seed import make_reveal
from zkagg._protocol.sharding import assign_shard, deployment_namespaces
from zkagg.da import Namespace, PayloadRef

PATH = Path(__file__).parent / "data" / "vectors_v1.json"


def build_messages() -> dict[str, Message]:
    """Return one deterministic, signed message of each type."""
    d = Deployment()
    manifest = d.manifest(global_model=PayloadRef(7, Namespace.v0(b"payloads"), b"\x07" * 32))
    client = d.clients[0]
    update = ClientUpdate(
        deployment=DEPLOYMENT,
        round=manifest.round,
        shard=2,
        client_id=client_id_for(client.public_key),
        client_key=client.public_key,
        commitments=b"\x04" * 64,
        sample_count=123,
        ciphertext=bytes(range(64)),
        ephemeral_proof=b"\x05" * 64,
        proofs=b"norm-bound proof",
    ).sign(client)
    result = d.result(manifest, 2, [IncludedUpdate(update.client_id, 12, b"\x08" * 32)])
    large = ShardResult(
        deployment=DEPLOYMENT,
        round=manifest.round,
        shard=1,
        included=(IncludedUpdate(b"c1", 12, b"\x09" * 32), IncludedUpdate(b"c2", 13, b"\x0a" * 32)),
        aggregate=PayloadRef(16, Namespace.v0(b"payloads"), b"\x0b" * 32),
        quality_proof=b"",
        aggregator_key=d.aggregators[1].public_key,
        excluded=(
            ExcludedUpdate(b"c3", 13, b"\x0c" * 32, ExclusionReason.BAD_NORM_PROOF),
            ExcludedUpdate(b"c4", 14, b"\x0d" * 32, ExclusionReason.UNDECRYPTABLE, bytes(range(96))),
        ),
    ).sign(d.aggregators[1])
    return {
        "RoundManifest": manifest,
        "ClientUpdate": update,
        "ShardResult": result,
        "ShardResult(payload)": large,
        "GlobalResult": d.global_result(manifest, [0, 1, 2]),
        "SeedReveal": make_reveal(manifest, 1, d.aggregators[1]),
    }


def sealed_box() -> dict[str, str]:
    """Return a sealed-box vector made with a fixed ephemeral key."""
    recipient = encryption_key("vector recipient")
    ephemeral = encryption_key("vector ephemeral")
    aad = update_aad(DEPLOYMENT, 3, 2, b"vector client")
    plaintext = b"a quantized update"
    return {
        "recipient_private": recipient.to_bytes().hex(),
        "ephemeral_private": ephemeral.to_bytes().hex(),
        "aad": aad.hex(),
        "plaintext": plaintext.hex(),
        "box": seal_with(ephemeral, recipient.public_key, plaintext, aad).hex(),
    }


def build() -> dict[str, Any]:
    """Return every vector as JSON-ready data."""
    ids = [hashlib.sha256(f"client {i}".encode()).digest()[:16] for i in range(12)]
    ns = deployment_namespaces(DEPLOYMENT, 3)
    key = Deployment().clients[0].public_key
    return {
        "source": "tests/protocol/vectors.py (python -m tests.protocol.vectors)",
        "assignment": [
            {
                "seed": SEED.hex(),
                "deployment": DEPLOYMENT.hex(),
                "round": r,
                "client_id": cid.hex(),
                "num_shards": n,
                "shard": assign_shard(SEED, DEPLOYMENT, r, cid, n),
            }
            for r, n in ((3, 4), (4, 4), (3, 7))
            for cid in ids
        ],
        "namespaces": {
            "deployment": DEPLOYMENT.hex(),
            "control": ns.control.hex(),
            "payloads": ns.payloads.hex(),
            "shards": [s.hex() for s in ns.shards],
        },
        "client_id": {"public_key": key.hex(), "client_id": client_id_for(key).hex()},
        "sealed_box": sealed_box(),
        "messages": {
            name: {"encoding": m.to_bytes().hex(), "signing_digest": m.signing_digest().hex()}
            for name, m in build_messages().items()
        },
    }


def main() -> None:
    """Write the vectors file."""
    PATH.write_text(json.dumps(build(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {PATH}")


if __name__ == "__main__":
    main()
