"""A client nobody here wrote: pycelestia 0.1.7 (async, WebSocket) against ``zkagg da serve``.

pycelestia is installed in its own virtual environment made by this test and cached under
``build/pycelestia-0.1.7`` (it pins websockets and ajsonrpc versions of its own and ships a Rust
extension as a cp311 wheel). The session below runs in that environment against a ``zkagg da
serve`` child process: blobs of several sizes through every blob call, ``signer_address=True``,
every header call pycelestia offers, both subscriptions, and the state and share calls it makes.
The test is skipped, with pip's reason, only where the package cannot be installed.
"""

from __future__ import annotations

import json
import subprocess
import venv
from collections.abc import Iterator
from pathlib import Path

import filelock
import pytest

from zkagg.da._account import DEV_ADDRESS, DEV_BALANCE_UTIA
from zkagg.da._auth import load_or_create_secret, new_token
from zkagg.da._runner import spawn_server

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "pycelestia==0.1.7"
VENV = ROOT / "build" / "pycelestia-0.1.7"

SESSION = r"""
import asyncio, json, os, sys
from celestia.node_api import Client
from celestia.types import Namespace
from celestia.types.blob import Blob

SIZES = [1, 478, 479, 5000, 100_000, 700_000]

async def main(url, token):
    out = {"blobs": []}
    ns = Namespace(b"pycelestia")
    async with Client(url).connect(token) as api:
        for size in SIZES:
            data = os.urandom(size)
            blob = Blob(ns, data)
            res = await api.blob.submit(blob)
            got = await api.blob.get(res.height, ns, blob.commitment)
            every = await api.blob.get_all(res.height, ns)
            proof = await api.blob.get_proof(res.height, ns, blob.commitment)
            included = await api.blob.included(res.height, ns, proof, blob.commitment)
            cproof = await api.blob.get_commitment_proof(res.height, ns, blob.commitment)
            out["blobs"].append({
                "size": size, "height": res.height, "same": got.data == data,
                "commitment": got.commitment == blob.commitment, "in_all": any(b.data == data for b in every),
                "proof_rows": len(proof), "included": included, "cproof": cproof is not None,
            })
        missing = await api.blob.get(out["blobs"][0]["height"], ns, bytes(32))
        out["missing_is_none"] = missing is None

        address = await api.state.account_address()
        balance = await api.state.balance()
        signed = await api.blob.submit(Blob(ns, b"signed by the node"), signer_address=True)
        got = await api.blob.get(signed.height, ns, signed.commitments[0])
        out["state"] = {"address": address, "amount": balance.amount, "denom": balance.denom,
                        "signed_version": got.share_version, "signer_ok": got.signer is not None}

        head = await api.header.local_head()
        net = await api.header.network_head()
        by_height = await api.header.get_by_height(int(head.header.height))
        by_hash = await api.header.get_by_hash(head.commit.block_id.hash)
        first = await api.header.get_by_height(1)
        rng = await api.header.get_range_by_height(first, int(head.header.height))
        waited = await api.header.wait_for_height(int(head.header.height))
        state = await api.header.sync_state()
        await api.header.sync_wait()
        out["headers"] = {
            "height": int(head.header.height), "network": int(net.header.height),
            "by_height": by_height.commit.block_id.hash == head.commit.block_id.hash,
            "by_hash": by_hash is not None and by_hash.header.height == head.header.height,
            "proposer": head.validator_set.proposer.address == head.header.proposer_address,
            "signatures": len(head.commit.signatures),
            "range": [int(h.header.height) for h in rng], "waited": int(waited.header.height),
            "sync": [state.from_height, state.to_height, state.height],
        }
        out["available"] = await api.share.get_available(int(head.header.height))

        async def first_of(iterator):
            async for item in iterator:
                return item

        headers = asyncio.create_task(first_of(api.header.subscribe()))
        blobs = asyncio.create_task(first_of(api.blob.subscribe(ns)))
        await asyncio.sleep(0.5)
        sent = await api.blob.submit(Blob(ns, b"to subscribers"))
        header_event = await asyncio.wait_for(headers, 30)
        blob_event = await asyncio.wait_for(blobs, 30)
        out["subscribe"] = {"sent": sent.height, "header": int(header_event.header.height),
                            "blob_height": blob_event.height,
                            "blob_data": [b.data.decode() for b in blob_event.blobs]}
    print(json.dumps(out))

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def _pycelestia_python() -> Path:
    """Return the python of a venv holding pycelestia, creating it once (skip if pip cannot)."""
    VENV.parent.mkdir(parents=True, exist_ok=True)
    python = VENV / "bin" / "python"
    marker = VENV / ".installed"
    with filelock.FileLock(str(VENV) + ".lock"):
        if not marker.exists():
            venv.EnvBuilder(clear=True, with_pip=True).create(VENV)
            proc = subprocess.run(
                [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", PACKAGE],
                capture_output=True,
                text=True,
                timeout=600,
            )
            if proc.returncode != 0:
                reason = (proc.stderr.strip().splitlines() or ["no output"])[-1]
                pytest.skip(f"{PACKAGE} cannot be installed here (pip: {reason})")
            marker.write_text(PACKAGE + "\n")
    return python


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    python = _pycelestia_python()
    home = tmp_path_factory.mktemp("pycelestia-node")
    proc, url = spawn_server(home)
    try:
        token = new_token(load_or_create_secret(home), "admin")
        ws_url = url.replace("http://", "ws://")
        run = subprocess.run(
            [str(python), "-c", SESSION, ws_url, token], capture_output=True, text=True, timeout=240
        )
        assert run.returncode == 0, run.stderr[-4000:]
        yield json.loads(run.stdout.strip().splitlines()[-1])
    finally:
        proc.terminate()
        proc.wait(30)


def test_blobs_of_several_sizes_through_every_blob_call(session: dict[str, object]) -> None:
    blobs = session["blobs"]
    assert isinstance(blobs, list) and len(blobs) == 6
    for entry in blobs:
        assert entry["same"] and entry["commitment"] and entry["in_all"], entry
        assert entry["included"] is True and entry["cproof"] and entry["proof_rows"] >= 1, entry
    assert session["missing_is_none"] is True


def test_signer_address_true_uses_the_node_account(session: dict[str, object]) -> None:
    assert session["state"] == {
        "address": DEV_ADDRESS,
        "amount": DEV_BALANCE_UTIA,
        "denom": "utia",
        "signed_version": 1,
        "signer_ok": True,
    }


def test_every_header_call_parses(session: dict[str, object]) -> None:
    headers = session["headers"]
    assert isinstance(headers, dict)
    height = headers["height"]
    assert headers["network"] == headers["waited"] == height
    assert headers["by_height"] and headers["by_hash"] and headers["proposer"]
    assert headers["signatures"] == 1
    assert headers["range"] == list(range(2, height))  # go-header: [from+1, to)
    assert headers["sync"] == [1, height, height]
    assert session["available"] is None


def test_header_and_blob_subscriptions(session: dict[str, object]) -> None:
    sub = session["subscribe"]
    assert isinstance(sub, dict)
    assert sub["header"] == sub["blob_height"] == sub["sent"]
    assert sub["blob_data"] == ["to subscribers"]
