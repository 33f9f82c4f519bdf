"""The four round messages: round trips, every decode failure, and signatures over every byte."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.protocol.conftest import DEPLOYMENT, Deployment, signing_key
from zkagg._errors import InvalidArgument, ProtocolError
from zkagg._protocol.messages import (
    BlobRef,
    CircuitRef,
    ClientUpdate,
    GlobalResult,
    IncludedUpdate,
    Message,
    RoundManifest,
    SeedReveal,
    ShardKeys,
    ShardResult,
    ShardVerdict,
    VerdictReason,
    decode_message,
)
from zkagg._protocol.seed import make_reveal
from zkagg.da import Namespace, PayloadRef

MESSAGE_TYPES = [RoundManifest, ClientUpdate, ShardResult, GlobalResult, SeedReveal]

# -- strategies ------------------------------------------------------------------------------------

u64 = st.integers(0, 2**64 - 1)
heights = st.integers(1, 2**64 - 1)
key32 = st.binary(min_size=32, max_size=32)
sig64 = st.binary(min_size=64, max_size=64)
names = st.text(min_size=1, max_size=16)
namespaces = st.binary(min_size=1, max_size=10).map(Namespace.v0)
payload_refs = st.builds(PayloadRef, heights, namespaces, key32)
client_ids = st.binary(min_size=1, max_size=64)


@st.composite
def manifests(draw: st.DrawFn) -> RoundManifest:
    n = draw(st.integers(1, 6))
    seed = draw(st.integers(1, 2**40))
    reveal_by = draw(st.integers(seed + 1, seed + 2**10))
    updates_by = draw(st.integers(reveal_by + 1, reveal_by + 2**20))
    circuits = draw(st.lists(st.builds(CircuitRef, names, st.binary(min_size=1, max_size=64)), max_size=4))
    unique = tuple({c.circuit_id: c for c in circuits}.values())
    return RoundManifest(
        deployment=draw(key32),
        round=draw(u64),
        global_model_commitment=draw(st.binary(max_size=200)),
        global_model=draw(st.none() | payload_refs),
        aggregation_rule=draw(names),
        aggregation_spec=draw(st.binary(max_size=100)),
        quantization_scale=draw(st.integers(0, 62)),
        chunk_size=draw(st.integers(1, 2**24)),
        circuits=unique,
        num_shards=n,
        seed_height=seed,
        reveal_by=reveal_by,
        updates_by=updates_by,
        results_by=draw(st.integers(updates_by + 1, updates_by + 2**20)),
        quorum=draw(st.integers(1, n)),
        quality_threshold_ppm=draw(st.integers(0, 1_000_000)),
        coordinator_key=draw(key32),
        shard_keys=tuple(draw(st.lists(st.builds(ShardKeys, key32, key32, key32), min_size=n, max_size=n))),
        signature=draw(sig64),
    )


client_updates = st.builds(
    ClientUpdate,
    deployment=key32,
    round=u64,
    shard=st.integers(0, 1023),
    client_id=client_ids,
    client_key=key32,
    commitments=st.binary(min_size=1, max_size=200),
    sample_count=st.integers(1, 2**64 - 1),
    ciphertext=st.binary(min_size=48, max_size=300),
    ephemeral_proof=st.binary(min_size=64, max_size=64),
    proofs=st.none() | st.binary(min_size=1, max_size=100),
    signature=sig64,
)


@st.composite
def shard_results(draw: st.DrawFn) -> ShardResult:
    ids = draw(st.lists(client_ids, max_size=5, unique=True))  # none: an empty result
    return ShardResult(
        deployment=draw(key32),
        round=draw(u64),
        shard=draw(st.integers(0, 1023)),
        included=tuple(IncludedUpdate(cid, draw(heights), draw(key32)) for cid in ids),
        aggregate=draw(st.binary(min_size=1, max_size=200) | payload_refs) if ids else b"",
        quality_proof=draw(st.binary(max_size=100)) if ids else b"",
        aggregator_key=draw(key32),
        signature=draw(sig64),
    )


@st.composite
def global_results(draw: st.DrawFn) -> GlobalResult:
    shards = sorted(draw(st.sets(st.integers(0, 1023), min_size=1, max_size=6)))
    verdicts = []
    for s in shards:
        reason = draw(st.sampled_from(VerdictReason))
        result = draw(st.builds(BlobRef, heights, key32)) if reason is VerdictReason.ACCEPTED else None
        result = result or draw(st.none() | st.builds(BlobRef, heights, key32))
        verdicts.append(ShardVerdict(s, reason, draw(st.text(max_size=40)), result))
    model = draw(st.none() | payload_refs)
    return GlobalResult(
        deployment=draw(key32),
        round=draw(u64),
        verdicts=tuple(verdicts),
        global_model=model,
        global_model_commitment=draw(st.binary(min_size=1, max_size=100)) if model else b"",
        coordinator_key=draw(key32),
        signature=draw(sig64),
    )


seed_reveals = st.builds(
    SeedReveal,
    deployment=key32,
    round=u64,
    shard=st.integers(0, 1023),
    value=key32,
    aggregator_key=key32,
    signature=sig64,
)

ANY_MESSAGE = st.one_of(manifests(), client_updates, shard_results(), global_results(), seed_reveals)


# -- round trips -----------------------------------------------------------------------------------


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(ANY_MESSAGE)
def test_round_trip(message: Message) -> None:
    # Execute
    data = message.to_bytes()
    decoded = type(message).from_bytes(data)
    # Assert
    assert decoded == message
    assert decode_message(data) == message
    assert decoded.to_bytes() == data  # one value, one encoding


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(ANY_MESSAGE, st.data())
def test_every_strict_prefix_fails_to_decode(message: Message, data: st.DataObject) -> None:
    encoded = message.to_bytes()
    cut = data.draw(st.integers(0, len(encoded) - 1))
    with pytest.raises(ProtocolError):
        type(message).from_bytes(encoded[:cut])


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(ANY_MESSAGE, st.data())
def test_mutated_encodings_decode_or_raise_protocol_error(message: Message, data: st.DataObject) -> None:
    # Any change to any bytes: the decoder either returns a message or raises ProtocolError, never
    # anything else (no IndexError, ValueError, InvalidArgument, UnicodeDecodeError...).
    encoded = bytearray(message.to_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(encoded) - 1))
        encoded[i] = data.draw(st.integers(0, 255))
    try:
        decoded = decode_message(bytes(encoded))
    except ProtocolError:
        return
    assert decoded.to_bytes() == bytes(encoded)


# -- decode failures -------------------------------------------------------------------------------


def test_truncated_at_every_offset(deployment: Deployment) -> None:
    # Prepare
    manifest = deployment.manifest()
    encoded = deployment.update(manifest, deployment.clients[0]).to_bytes()
    for cut in range(len(encoded)):
        # Execute / Assert
        with pytest.raises(ProtocolError, match=r"ClientUpdate: (truncated at \S+|magic)"):
            ClientUpdate.from_bytes(encoded[:cut])


@pytest.mark.parametrize("kind", ["manifest", "update", "result", "global"])
def test_trailing_bytes(deployment: Deployment, kind: str) -> None:
    message = _one(deployment, kind)
    with pytest.raises(ProtocolError, match="1 trailing bytes follow"):
        type(message).from_bytes(message.to_bytes() + b"\x00")


def test_wrong_magic_type_and_version(deployment: Deployment) -> None:
    # Prepare
    encoded = deployment.manifest().to_bytes()
    # Execute / Assert
    with pytest.raises(ProtocolError, match="RoundManifest: magic must be b'ZKAG', not b'ZKAX'"):
        RoundManifest.from_bytes(b"ZKAX" + encoded[4:])
    with pytest.raises(ProtocolError, match="RoundManifest: message type must be 1, not 2"):
        RoundManifest.from_bytes(encoded[:4] + b"\x02" + encoded[5:])
    with pytest.raises(ProtocolError, match=r"RoundManifest: version must be one of \[2\].*, not 9"):
        RoundManifest.from_bytes(encoded[:5] + b"\x09" + encoded[6:])
    with pytest.raises(ProtocolError, match=r"message: type must be one of \[1, 2, 3, 4, 5\], not 9"):
        decode_message(encoded[:4] + b"\x09" + encoded[5:])
    with pytest.raises(ProtocolError, match="message: magic must be b'ZKAG', not b'JUNK'"):
        decode_message(b"JUNK\x02" + encoded[5:])


def test_oversize_length(deployment: Deployment) -> None:
    # Prepare: the client_id length field (after header, deployment, round and shard) set to 2**32-1
    encoded = bytearray(deployment.update(deployment.manifest(), deployment.clients[0]).to_bytes())
    offset = 6 + 32 + 8 + 2
    encoded[offset : offset + 4] = b"\xff\xff\xff\xff"
    # Execute / Assert
    with pytest.raises(
        ProtocolError, match="ClientUpdate: client_id must be 1 to 64 bytes long, not 4294967295"
    ):
        ClientUpdate.from_bytes(bytes(encoded))


def test_semantic_checks_apply_on_decode(deployment: Deployment) -> None:
    # Prepare: quorum (u16 after ... num_shards, seed, updates_by, results_by) above num_shards
    manifest = deployment.manifest()
    encoded = manifest.signing_bytes()
    good_quorum = manifest.quorum.to_bytes(2, "big")
    tail = (
        manifest.results_by.to_bytes(8, "big")
        + good_quorum
        + manifest.quality_threshold_ppm.to_bytes(4, "big")
    )
    at = encoded.index(tail) + 8
    bad = encoded[:at] + (9).to_bytes(2, "big") + encoded[at + 2 :] + manifest.signature
    # Execute / Assert
    with pytest.raises(ProtocolError, match=r"RoundManifest: quorum must be an integer in \[1, 4\], not 9"):
        RoundManifest.from_bytes(bad)


def test_unknown_verdict_reason_and_aggregate_kind(deployment: Deployment) -> None:
    manifest = deployment.manifest()
    encoded = deployment.global_result(manifest, [0, 1, 2]).to_bytes()
    bad = encoded.replace(b"accepted", b"accepteX", 1)
    with pytest.raises(ProtocolError, match=r"verdicts\[0\]\.reason must be one of .*, not 'accepteX'"):
        GlobalResult.from_bytes(bad)
    result = deployment.result(manifest, 0, [IncludedUpdate(b"c", 12, bytes(32))]).to_bytes()
    at = 6 + 32 + 8 + 2 + 4 + 4 + 1 + 8 + 32 + 4  # after the empty excluded list
    with pytest.raises(ProtocolError, match=r"aggregate kind must be 0 .* or 1 .*, not 7"):
        ShardResult.from_bytes(result[:at] + b"\x07" + result[at + 1 :])


def test_bad_namespace_inside_a_payload_ref_is_a_protocol_error(deployment: Deployment) -> None:
    manifest = deployment.manifest(global_model=PayloadRef(7, Namespace.v0(b"m"), bytes(32)))
    encoded = manifest.to_bytes()
    ns = Namespace.v0(b"m").to_bytes()
    at = encoded.index(ns)
    bad = encoded[:at] + b"\x00\x01" + encoded[at + 2 :]  # v0 namespace without its zero prefix
    with pytest.raises(ProtocolError, match="RoundManifest: "):
        RoundManifest.from_bytes(bad)


# -- building --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"deployment": b"short"}, "deployment must be exactly 32 bytes long, not 5"),
        ({"quantization_scale": 63}, r"quantization_scale must be an integer in \[0, 62\], not 63"),
        ({"reveal_by": 10}, r"reveal_by must be an integer in \[11, "),
        ({"updates_by": 11}, r"updates_by must be an integer in \[12, "),
        ({"results_by": 15}, r"results_by must be an integer in \[16, "),
        ({"quorum": 0}, r"quorum must be an integer in \[1, 4\], not 0"),
        ({"quality_threshold_ppm": 1_000_001}, r"quality_threshold_ppm must be .*not 1000001"),
        ({"shard_keys": ()}, "shard_keys must have 4 to 4 items, not 0"),
        ({"aggregation_rule": ""}, "aggregation_rule must be 1 to 64 bytes long in UTF-8, not 0"),
        (
            {"circuits": (CircuitRef("a", b"1"), CircuitRef("a", b"2"))},
            r"circuits must have unique circuit ids, not \['a', 'a'\]",
        ),
    ],
)
def test_manifest_field_checks(deployment: Deployment, changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        deployment.manifest(**changes)


def test_other_field_checks(deployment: Deployment) -> None:
    manifest = deployment.manifest()
    update = deployment.update(manifest, deployment.clients[0])
    with pytest.raises(InvalidArgument, match="ciphertext must be 48 to 8388608 bytes long, not 3"):
        dataclasses.replace(update, ciphertext=b"abc")
    with pytest.raises(InvalidArgument, match=r"sample_count must be an integer in \[1, "):
        dataclasses.replace(update, sample_count=0)
    with pytest.raises(
        InvalidArgument, match="included and excluded must list each client once, not client 63 twice"
    ):
        deployment.result(manifest, 0, [IncludedUpdate(b"c", 1, bytes(32))] * 2)
    with pytest.raises(InvalidArgument, match=r"verdicts must be in strictly increasing shard order"):
        GlobalResult(
            DEPLOYMENT,
            1,
            (ShardVerdict(1, VerdictReason.MISSING), ShardVerdict(0, VerdictReason.MISSING)),
            None,
            b"",
            bytes(32),
        )
    with pytest.raises(InvalidArgument, match="circuit_id must be encodable as UTF-8"):
        CircuitRef("\ud800", b"1")
    with pytest.raises(InvalidArgument, match="result of accepted shard 0 must be a BlobRef, not None"):
        ShardVerdict(0, VerdictReason.ACCEPTED)
    with pytest.raises(InvalidArgument, match="global_model_commitment must be empty exactly when"):
        dataclasses.replace(deployment.global_result(manifest, [0, 1, 2]), global_model_commitment=b"")


def test_unsigned_messages_do_not_encode(deployment: Deployment) -> None:
    unsigned = dataclasses.replace(deployment.manifest(), signature=b"")
    with pytest.raises(InvalidArgument, match="RoundManifest must be signed before encoding"):
        unsigned.to_bytes()
    with pytest.raises(ProtocolError, match="RoundManifest is not signed"):
        unsigned.verify_signature()


# -- signatures ------------------------------------------------------------------------------------


def _one(deployment: Deployment, kind: str) -> Message:
    manifest = deployment.manifest()
    if kind == "manifest":
        return manifest
    if kind == "update":
        return deployment.update(manifest, deployment.clients[0])
    if kind == "result":
        return deployment.result(manifest, 1, [IncludedUpdate(b"client", 12, bytes(32))])
    return deployment.global_result(manifest, [0, 1, 2])


@pytest.mark.parametrize("kind", ["manifest", "update", "result", "global"])
def test_any_changed_byte_breaks_the_signature(deployment: Deployment, kind: str) -> None:
    # Prepare
    message = _one(deployment, kind)
    message.verify_signature(message.signer_key)
    encoded = message.to_bytes()
    for i in range(len(encoded)):
        changed = bytearray(encoded)
        changed[i] ^= 0x01
        # Execute / Assert: either it no longer decodes, or its signature no longer verifies
        with pytest.raises(ProtocolError):
            type(message).from_bytes(bytes(changed)).verify_signature(message.signer_key)


@pytest.mark.parametrize("kind", ["manifest", "update", "result", "global"])
def test_signatures_are_domain_separated_by_type(deployment: Deployment, kind: str) -> None:
    # The digest covers the class name and the header: it differs from the plain hash of the body.
    message = _one(deployment, kind)
    import hashlib

    assert message.signing_digest() != hashlib.sha256(message.signing_bytes()).digest()
    assert message.to_bytes()[:6] == b"ZKAG" + bytes([type(message).TYPE, type(message).VERSION])


def test_signing_and_expected_keys(deployment: Deployment) -> None:
    manifest = deployment.manifest()
    other = signing_key("someone else")
    with pytest.raises(InvalidArgument, match="key must be the private key of the message's signer"):
        manifest.sign(other)
    with pytest.raises(ProtocolError, match=f"RoundManifest signer must be {other.public_key.hex()}"):
        manifest.verify_signature(other.public_key)
    # A message re-signed by an impostor under its own key verifies only against that key.
    forged = dataclasses.replace(manifest, coordinator_key=other.public_key, signature=b"").sign(other)
    forged.verify_signature()
    with pytest.raises(ProtocolError, match="signer must be"):
        forged.verify_signature(deployment.coordinator.public_key)


def test_message_sizes_are_compact(deployment: Deployment) -> None:
    # Header 6 + fields + signature 64: no text encoding, no base64.
    manifest = deployment.manifest()
    update = deployment.update(manifest, deployment.clients[0], plaintext=b"x" * 1000)
    # ... ciphertext (4 + 1048), the proof of its ephemeral key (64), no proofs flag, signature
    assert len(update.to_bytes()) == 6 + 32 + 8 + 2 + 4 + 16 + 32 + 4 + 64 + 8 + 4 + 1048 + 64 + 1 + 64
    # header, deployment, round, commitment (4 + 64), no model ref, rule, spec, scale, chunk size,
    # two circuits, shards, four heights, quorum, threshold, coordinator key, four shard key triples
    # (signing, encryption, seed anchor), signature
    circuits = 4 + (2 + 9 + 4 + 32) + (2 + 7 + 4 + 32)
    expected = 6 + 32 + 8 + 68 + 1 + 8 + 8 + 1 + 4 + circuits + 2 + 32 + 2 + 4 + 32 + 4 + 4 * 96 + 64
    assert len(manifest.to_bytes()) == expected == 756
    # header, deployment, round, shard, value, aggregator key, signature
    reveal = make_reveal(manifest, 0, deployment.aggregators[0])
    assert len(reveal.to_bytes()) == 6 + 32 + 8 + 2 + 32 + 32 + 64


# -- one encoding per message (issue 12) -----------------------------------------------------------
#
# Every field has one form (tests/protocol/test_wire.py shows it for each primitive): fixed-width
# integers, exact lengths, flags and bools 0 or 1, strings in strict UTF-8, enums by their exact
# value. test_round_trip and test_mutated_encodings_decode_or_raise_protocol_error check that
# decode -> encode is the identity on every accepted input; here each other form of a field is
# refused with its own message.

_L = 2**252 + 27742317777372353535851937790883648493  # the order of the Ed25519 base point


def _replaced(data: bytes, old: bytes, new: bytes) -> bytes:
    assert data.count(old) == 1, old
    return data.replace(old, new)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (  # a presence flag of 2 for an absent optional field
            lambda d: (
                d.update(d.manifest(), d.clients[0]).to_bytes()[:-65]
                + b"\x02"
                + d.update(d.manifest(), d.clients[0]).to_bytes()[-64:]
            ),
            r"ClientUpdate: proofs presence flag must be 0 or 1, not 2",
        ),
        (  # "fedavg" with its "g" written as an overlong two-byte UTF-8 sequence
            lambda d: _replaced(d.manifest().to_bytes(), b"\x00\x06fedavg", b"\x00\x07fedav\xc1\xa7"),
            r"RoundManifest: aggregation_rule must be valid UTF-8",
        ),
        (  # a surrogate code point encoded as UTF-8 (CESU-8 style)
            lambda d: _replaced(
                d.global_result(d.manifest(), [0, 1, 2]).to_bytes(),
                b"\x00\x17no result by results_by",
                b"\x00\x1ano result by results_by\xed\xa0\x80",
            ),
            r"GlobalResult: verdicts\[3\]\.detail must be valid UTF-8",
        ),
        (  # a verdict reason in another case: enums travel as their exact value
            lambda d: _replaced(
                d.global_result(d.manifest(), [0, 1, 2]).to_bytes(), b"\x00\x07missing", b"\x00\x07Missing"
            ),
            r"GlobalResult: verdicts\[3\]\.reason must be one of .*, not 'Missing'",
        ),
        (  # the global model's presence flag set to 2
            lambda d: _replaced(
                d.global_result(d.manifest(), [0, 1, 2]).to_bytes(),
                b"\x01" + (25).to_bytes(8, "big"),
                b"\x02" + (25).to_bytes(8, "big"),
            ),
            r"GlobalResult: global_model presence flag must be 0 or 1, not 2",
        ),
    ],
    ids=["flag", "overlong-utf8", "surrogate-utf8", "enum-case", "optional-flag"],
)
def test_another_form_of_a_field_is_refused(deployment: Deployment, build: Any, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        decode_message(build(deployment))


@pytest.mark.parametrize("kind", ["manifest", "update", "result", "global"])
def test_a_signature_with_s_plus_l_is_refused(deployment: Deployment, kind: str) -> None:
    # Prepare: (R, S + L) satisfies the verification equation too; RFC 8032 requires S < L
    message = _one(deployment, kind)
    s = int.from_bytes(message.signature[32:], "little")
    other = message.signature[:32] + (s + _L).to_bytes(32, "little")
    malleated = type(message).from_bytes(message.to_bytes()[:-64] + other)
    # Execute / Assert
    with pytest.raises(ProtocolError, match="the signature does not verify"):
        malleated.verify_signature(message.signer_key)


@pytest.mark.parametrize(
    ("aggregate", "quality_proof"),
    [(b"\x01", b""), (b"", b"\x01"), (PayloadRef(3, Namespace.v0(b"p"), b"\x02" * 32), b"")],
)
def test_an_empty_result_carries_no_aggregate_and_no_quality_proof(
    aggregate: bytes | PayloadRef, quality_proof: bytes
) -> None:
    fields = {
        "deployment": b"\x01" * 32,
        "round": 1,
        "shard": 0,
        "included": (),
        "aggregator_key": b"\x02" * 32,
        "signature": b"\x05" * 64,
    }
    empty = ShardResult(**fields, aggregate=b"", quality_proof=b"")  # type: ignore[arg-type]
    assert empty.is_empty and decode_message(empty.to_bytes()) == empty
    with pytest.raises(InvalidArgument, match="a result that includes no update must carry no aggregate"):
        ShardResult(**fields, aggregate=aggregate, quality_proof=quality_proof)  # type: ignore[arg-type]
