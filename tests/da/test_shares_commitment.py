"""Shares, NMT, commitments and Blob JSON: behaviour and every failure path."""

from __future__ import annotations

import base64
import hashlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkagg._errors import CommitmentMismatch, InvalidArgument
from zkagg.da._blob import Blob
from zkagg.da._commitment import (
    blob_commitment,
    blob_min_square_size,
    merkle_mountain_range_sizes,
    round_up_pow2,
    subtree_roots,
    subtree_width,
)
from zkagg.da._namespace import PARITY_SHARES_NAMESPACE, TX_NAMESPACE, Namespace
from zkagg.da._nmt import (
    EMPTY_NMT_ROOT,
    NmtProof,
    largest_pow2_below,
    nmt_leaf,
    nmt_node,
    nmt_root,
    prove_range,
    root_from_range,
    verify_range,
)
from zkagg.da._shares import (
    SHARE_SIZE,
    available_bytes_from_sparse_shares,
    info_byte,
    namespace_padding_share,
    parse_sparse_shares,
    reserved_padding_share,
    shares_needed,
    split_blob,
    tail_padding_share,
)

NS = Namespace.v0(b"zkagg-test")
SIGNER = bytes(range(20))


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


# -- shares ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "signer", "expected"),
    [
        (0, False, 0),
        (1, False, 1),
        (478, False, 1),
        (479, False, 2),
        (478 + 482, False, 2),
        (478 + 482 + 1, False, 3),
        (458, True, 1),
        (459, True, 2),
    ],
)
def test_shares_needed(length: int, signer: bool, expected: int) -> None:
    assert shares_needed(length, signer) == expected


def test_shares_needed_and_available_bytes_agree() -> None:
    for count in range(1, 50):
        assert shares_needed(available_bytes_from_sparse_shares(count)) == count
        assert shares_needed(available_bytes_from_sparse_shares(count) + 1) == count + 1
    assert available_bytes_from_sparse_shares(0) == 0


@pytest.mark.parametrize("bad", [-1])
def test_share_counters_reject_negative(bad: int) -> None:
    with pytest.raises(InvalidArgument, match="length must be >= 0, not -1"):
        shares_needed(bad)
    with pytest.raises(InvalidArgument, match="count must be >= 0, not -1"):
        available_bytes_from_sparse_shares(bad)


@pytest.mark.parametrize("share_version", [0, 1])
@pytest.mark.parametrize("length", [1, 457, 458, 459, 478, 479, 960, 961, 5000])
def test_split_blob_layout_and_round_trip(share_version: int, length: int) -> None:
    # Prepare
    data = random.Random(length).randbytes(length)
    signer = SIGNER if share_version else None

    # Execute
    shares = split_blob(NS, data, share_version, signer)
    parsed = parse_sparse_shares(shares)

    # Assert
    assert len(shares) == shares_needed(length, signer is not None)
    assert all(len(s) == SHARE_SIZE for s in shares)
    assert shares[0][:29] == NS.to_bytes()
    assert shares[0][29] == info_byte(share_version, True)
    assert int.from_bytes(shares[0][30:34], "big") == length
    assert all(s[29] == info_byte(share_version, False) for s in shares[1:])
    if signer:
        assert shares[0][34:54] == signer
    assert len(parsed) == 1
    assert parsed[0].data == data
    assert parsed[0].signer == signer
    assert parsed[0].namespace == NS
    assert parsed[0].share_count == len(shares)


def test_split_blob_accepts_raw_namespace_bytes() -> None:
    assert split_blob(NS.to_bytes(), b"abc") == split_blob(NS, b"abc")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data": b""}, "data can not be empty"),
        ({"share_version": 3}, r"share_version must be one of \[0, 1, 2\], not 3"),
        ({"share_version": True}, "share_version must be an int, not bool"),
        ({"signer": SIGNER}, "share version 0 does not support signer"),
        ({"share_version": 1}, "share version 1 requires signer of size 20 bytes .got none."),
        (
            {"share_version": 1, "signer": bytes(19)},
            "share version 1 requires signer of size 20 bytes .got 19 bytes.",
        ),
        ({"share_version": 2, "signer": bytes(21)}, "share version 2 requires signer of size 20 bytes"),
        ({"namespace": bytes(28)}, r"invalid namespace length: 28\. Must be 29 bytes"),
    ],
    ids=["empty", "version-3", "version-bool", "v0-signer", "v1-no-signer", "v1-short", "v2-long", "ns-28"],
)
def test_split_blob_rejects(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"namespace": NS, "data": b"x", "share_version": 0, "signer": None}
    args.update(kwargs)
    with pytest.raises(InvalidArgument, match=message):
        split_blob(**args)  # type: ignore[arg-type]


def test_info_byte_rejects_large_version() -> None:
    with pytest.raises(InvalidArgument, match=r"share_version must be in \[0, 127\], not 128"):
        info_byte(128, True)


def test_padding_shares() -> None:
    # Execute
    pads = [namespace_padding_share(NS), reserved_padding_share(), tail_padding_share()]

    # Assert: start flag, share version 0, length 0, zeros
    for pad in pads:
        assert len(pad) == SHARE_SIZE
        assert pad[29] == 1
        assert pad[30:] == bytes(SHARE_SIZE - 30)
    assert pads[0][:29] == NS.to_bytes()
    assert pads[1][:29].hex() == "00" * 28 + "ff"
    assert pads[2][:29].hex() == "ff" * 28 + "fe"
    assert parse_sparse_shares(pads) == []


def test_parse_sparse_shares_skips_padding_between_blobs() -> None:
    # Prepare
    a, b = b"a" * 1000, b"b" * 10
    shares = [*split_blob(NS, a), namespace_padding_share(NS), *split_blob(NS, b, 1, SIGNER)]

    # Execute
    parsed = parse_sparse_shares(shares)

    # Assert
    assert [(p.data, p.start, p.share_version) for p in parsed] == [(a, 0, 0), (b, 4, 1)]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda s: [s[0][:100]], "share 0 must be 512 bytes, not 100"),
        (lambda s: s[1:], "share 0 continues a sequence but no sequence started before it"),
        (lambda s: s[:1], "needs 3 shares, but only 1 shares remain"),
        (lambda s: [s[0], s[0], s[2]], "share 1 must continue the sequence started at share 0"),
        (lambda s: [s[0], s[1][:10], s[2]], "share 1 must be 512 bytes, not 10"),
        (lambda s: [s[0][:29] + bytes([7 << 1 | 1]) + s[0][30:]], "share 0 has unsupported share version 7"),
    ],
    ids=["short", "continuation-first", "truncated", "second-start", "short-continuation", "version-7"],
)
def test_parse_sparse_shares_rejects(mutate: object, message: str) -> None:
    shares = split_blob(NS, b"z" * 1000)
    with pytest.raises(InvalidArgument, match=message):
        parse_sparse_shares(mutate(shares))  # type: ignore[operator]


# -- NMT ---------------------------------------------------------------------------------------


def _leaves(count: int, namespaces: list[bytes] | None = None) -> list[bytes]:
    out = []
    for i in range(count):
        ns = namespaces[i] if namespaces else NS.to_bytes()
        out.append(nmt_leaf(ns + bytes([i]) * 8))
    return out


def test_nmt_leaf_and_node_hashing() -> None:
    # Prepare
    ns = NS.to_bytes()
    data = ns + b"payload"

    # Execute
    leaf = nmt_leaf(data)
    node = nmt_node(leaf, leaf)

    # Assert
    assert leaf == ns + ns + hashlib.sha256(b"\x00" + data).digest()
    assert node == ns + ns + hashlib.sha256(b"\x01" + leaf + leaf).digest()


def test_nmt_node_ignores_max_namespace_on_the_right() -> None:
    # Prepare
    low = nmt_leaf(NS.to_bytes() + b"a")
    parity = nmt_leaf(PARITY_SHARES_NAMESPACE.to_bytes() + b"b")
    tx = nmt_leaf(TX_NAMESPACE.to_bytes() + b"c")

    # Execute / Assert: the parity subtree does not raise the max namespace
    assert nmt_node(low, parity)[29:58] == NS.to_bytes()
    assert nmt_node(tx, low)[29:58] == NS.to_bytes()
    assert nmt_node(tx, low)[:29] == TX_NAMESPACE.to_bytes()


def test_nmt_leaf_rejects_short_data() -> None:
    with pytest.raises(InvalidArgument, match="leaf data must be at least 29 bytes, not 3"):
        nmt_leaf(b"abc")


def test_nmt_root_empty_and_split() -> None:
    # Prepare
    leaves = _leaves(5)

    # Execute / Assert: 5 leaves split 4 + 1
    assert nmt_root([]) == EMPTY_NMT_ROOT
    assert nmt_root(leaves[:1]) == leaves[0]
    expected = nmt_node(
        nmt_node(nmt_node(leaves[0], leaves[1]), nmt_node(leaves[2], leaves[3])),
        leaves[4],
    )
    assert nmt_root(leaves) == expected


def test_largest_pow2_below() -> None:
    assert [largest_pow2_below(n) for n in (2, 3, 4, 5, 8, 9)] == [1, 2, 2, 4, 4, 8]
    with pytest.raises(InvalidArgument, match="n must be >= 2 to split a tree, not 1"):
        largest_pow2_below(1)


@pytest.mark.parametrize("total", [1, 2, 3, 5, 8, 13])
def test_range_proofs_verify_for_every_range(total: int) -> None:
    # Prepare
    leaves = _leaves(total)
    root = nmt_root(leaves)

    for start in range(total):
        for end in range(start + 1, total + 1):
            # Execute
            proof = prove_range(leaves, start, end)
            again = NmtProof.from_json(proof.to_json())

            # Assert
            assert again == proof
            assert verify_range(root, again, leaves[start:end], total)
            if start > 0:
                assert not verify_range(root, again, leaves[start - 1 : end - 1], total)


def test_proof_json_omits_zero_fields() -> None:
    # Prepare
    leaves = _leaves(4)

    # Execute
    full = prove_range(leaves, 0, 4).to_json()
    partial = prove_range(leaves, 1, 2).to_json()

    # Assert: Go omitempty
    assert full == {"end": 4, "is_max_namespace_ignored": True}
    assert partial["start"] == 1 and partial["end"] == 2
    assert len(partial["nodes"]) == 2  # type: ignore[arg-type]
    assert "leaf_hash" not in partial


def test_proof_from_json_accepts_nulls_and_leaf_hash() -> None:
    obj = {
        "start": None,
        "end": 1,
        "nodes": None,
        "leaf_hash": _b64(b"x" * 90),
        "is_max_namespace_ignored": True,
    }
    proof = NmtProof.from_json(obj)
    assert (proof.start, proof.end, proof.nodes, proof.leaf_hash) == (0, 1, (), b"x" * 90)
    assert proof.to_json()["leaf_hash"] == _b64(b"x" * 90)


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ([], "an NMT proof must be a JSON object, not list"),
        ({"start": -1, "end": 1}, "proof start must be a non-negative integer, not -1"),
        ({"end": "2"}, "proof end must be a non-negative integer, not '2'"),
        ({"end": 1, "nodes": "AA=="}, "proof nodes must be a list, not str"),
        ({"end": 1, "nodes": [_b64(b"short")]}, "proof node 0 must be 90 bytes, not 5"),
        ({"end": 1, "nodes": ["***"]}, "proof node 0 must be standard base64"),
        ({"end": 1, "nodes": [5]}, "proof node 0 must be a base64 string, not int"),
        ({"end": 1, "is_max_namespace_ignored": "yes"}, "proof is_max_namespace_ignored must be a bool"),
    ],
    ids=[
        "list",
        "negative-start",
        "string-end",
        "nodes-str",
        "short-node",
        "bad-b64",
        "node-int",
        "flag-str",
    ],
)
def test_proof_from_json_rejects(obj: object, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        NmtProof.from_json(obj)


def test_prove_and_verify_reject_bad_ranges() -> None:
    # Prepare
    leaves = _leaves(4)
    proof = prove_range(leaves, 1, 3)

    # Execute / Assert
    with pytest.raises(InvalidArgument, match=r"0 <= start < end <= 4, not \[2, 2\)"):
        prove_range(leaves, 2, 2)
    with pytest.raises(InvalidArgument, match=r"0 <= start < end <= 2, not \[1, 3\)"):
        root_from_range(proof, leaves[1:3], 2)
    with pytest.raises(InvalidArgument, match="needs 2 leaf hashes, not 1"):
        root_from_range(proof, leaves[1:2], 4)
    with pytest.raises(InvalidArgument, match="too few"):
        root_from_range(NmtProof(1, 3, proof.nodes[:1]), leaves[1:3], 4)
    with pytest.raises(InvalidArgument, match="more than the 2"):
        root_from_range(NmtProof(1, 3, (*proof.nodes, proof.nodes[0])), leaves[1:3], 4)
    assert not verify_range(nmt_root(leaves), NmtProof(1, 3, ()), leaves[1:3], 4)


# -- commitment helpers ------------------------------------------------------------------------


def test_round_up_pow2_and_min_square_size() -> None:
    assert [round_up_pow2(x) for x in (-3, 0, 1, 2, 3, 4, 5, 64, 65)] == [1, 1, 1, 2, 4, 4, 8, 64, 128]
    assert [blob_min_square_size(n) for n in (0, 1, 2, 4, 5, 16, 17, 352)] == [1, 1, 2, 2, 4, 4, 8, 32]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: subtree_width(-1), "share_count must be >= 0, not -1"),
        (lambda: subtree_width(4, 0), "threshold must be >= 1, not 0"),
        (lambda: blob_min_square_size(-2), "share_count must be >= 0, not -2"),
        (lambda: merkle_mountain_range_sizes(-1, 4), "total must be >= 0, not -1"),
        (lambda: merkle_mountain_range_sizes(5, 3), "max_tree must be a power of two >= 1, not 3"),
        (lambda: subtree_roots(NS, []), "shares must not be empty"),
        (lambda: subtree_roots(bytes(5), [bytes(512)]), r"invalid namespace length: 5\. Must be 29 bytes"),
        (lambda: blob_commitment(NS.to_bytes(), b"x"), "namespace must be a Namespace, not bytes"),  # type: ignore[arg-type]
        (lambda: blob_commitment(NS, b""), "data can not be empty"),
    ],
    ids=[
        "width-neg",
        "threshold-0",
        "min-square-neg",
        "mmr-neg",
        "mmr-not-pow2",
        "no-shares",
        "ns-5",
        "ns-bytes",
        "empty",
    ],
)
def test_commitment_helpers_reject(call: object, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        call()  # type: ignore[operator]


@pytest.mark.parametrize("count", [1, 2, 3, 64, 65, 129, 352])
def test_specialised_subtree_roots_equal_generic_nmt(count: int) -> None:
    # Prepare
    data = random.Random(count).randbytes(available_bytes_from_sparse_shares(count))
    shares = split_blob(NS, data)
    ns = NS.to_bytes()

    # Execute
    fast = subtree_roots(NS, shares)

    # Assert
    width = subtree_width(count)
    generic, pos = [], 0
    for size in merkle_mountain_range_sizes(count, width):
        generic.append(nmt_root([nmt_leaf(ns + s) for s in shares[pos : pos + size]]))
        pos += size
    assert fast == generic


def test_single_share_commitment_shape() -> None:
    # CELESTIA.md §6: one share -> commitment = SHA256(0x00 || leaf90)
    share = split_blob(NS, b"hello")[0]
    leaf = nmt_leaf(NS.to_bytes() + share)
    assert blob_commitment(NS, b"hello") == hashlib.sha256(b"\x00" + leaf).digest()


# -- Blob --------------------------------------------------------------------------------------


def test_blob_new_and_json_round_trip() -> None:
    # Prepare / Execute
    blob = Blob.new(NS, b"payload", 1, SIGNER)
    obj = blob.to_json()

    # Assert
    assert list(obj) == ["namespace", "data", "share_version", "commitment", "signer", "index"]
    assert obj["signer"] == _b64(SIGNER)
    assert obj["index"] == -1
    assert Blob.from_json(obj) == blob
    assert blob.share_count == 1
    blob.verify_commitment()


def test_blob_json_omits_empty_signer() -> None:
    assert "signer" not in Blob.new(NS, b"x").to_json()


def test_blob_from_json_accepts_nulls_and_absent_commitment() -> None:
    # Prepare
    obj = {
        "namespace": _b64(NS.to_bytes()),
        "data": _b64(b"x"),
        "share_version": 0,
        "signer": None,
        "index": None,
    }

    # Execute
    blob = Blob.from_json(obj)

    # Assert
    assert blob.index == -1
    assert blob.signer is None
    assert blob.commitment == blob_commitment(NS, b"x")


def test_blob_from_json_keeps_index() -> None:
    obj = Blob.new(NS, b"x").with_index(42).to_json()
    assert Blob.from_json(obj).index == 42


def test_blob_from_json_commitment_mismatch_names_namespace_and_both() -> None:
    # Prepare
    obj = Blob.new(NS, b"x").to_json()
    wrong = bytes(32)
    obj["commitment"] = _b64(wrong)

    # Execute / Assert
    with pytest.raises(CommitmentMismatch) as info:
        Blob.from_json(obj)
    message = str(info.value)
    assert str(NS) in message
    assert _b64(wrong) in message
    assert _b64(blob_commitment(NS, b"x")) in message
    # Without the check the JSON's commitment is kept, as celestia-node does.
    assert Blob.from_json(obj, check_commitment=False).commitment == wrong


def test_verify_commitment_detects_tampering() -> None:
    blob = Blob.new(NS, b"x")
    forged = Blob(blob.namespace, b"y", 0, None, blob.commitment)
    with pytest.raises(CommitmentMismatch, match="does not match its commitment"):
        forged.verify_commitment()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            (TX_NAMESPACE, b"x"),
            r"^invalid user namespace: invalid data namespace\(0+1\): reserved data is forbidden$",
        ),
        ((PARITY_SHARES_NAMESPACE, b"x"), "parity and tail padding namespace are forbidden"),
        ((NS, b""), "^data can not be empty$"),
        ((NS, b"x", 0, SIGNER), "^share version 0 does not support signer$"),
        ((NS, b"x", 1, None), "share version 1 requires signer of size 20 bytes"),
        ((NS, b"x", 1, b"short"), "share version 1 requires signer of size 20 bytes"),
        ((NS, b"x", 2, SIGNER), r"share_version must be one of \[0, 1\], not 2"),
        ((NS, b"x", "0"), "share_version must be an int, not str"),
        ((NS.to_bytes(), b"x"), "namespace must be a Namespace, not bytes"),
        ((NS, "text"), "data must be bytes, not str"),
        ((NS, b"x", 1, "signer"), "signer must be bytes or None, not str"),
    ],
    ids=[
        "reserved",
        "parity",
        "empty",
        "v0-signer",
        "v1-none",
        "v1-short",
        "v2-user",
        "version-str",
        "ns-bytes",
        "data-str",
        "signer-str",
    ],
)
def test_blob_new_rejects(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        Blob.new(*args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ([], "a blob must be a JSON object, not list"),
        (
            {"namespace": _b64(bytes(28)), "data": _b64(b"x")},
            r"^invalid namespace length: 28\. Must be 29 bytes$",
        ),
        ({"data": _b64(b"x")}, r"^invalid namespace length: 0\. Must be 29 bytes$"),
        ({"namespace": _b64(NS.to_bytes())}, "^data can not be empty$"),
        ({"namespace": _b64(NS.to_bytes()), "data": "not base64!"}, "blob data must be standard base64"),
        ({"namespace": _b64(NS.to_bytes()), "data": 5}, "blob data must be a base64 string, not int"),
        (
            {"namespace": _b64(NS.to_bytes()), "data": _b64(b"x"), "share_version": -1},
            "blob share_version must be a non-negative integer, not -1",
        ),
        (
            {"namespace": _b64(NS.to_bytes()), "data": _b64(b"x"), "index": -2},
            "blob index must be an integer >= -1, not -2",
        ),
        (
            {"namespace": _b64(TX_NAMESPACE.to_bytes()), "data": _b64(b"x")},
            "invalid user namespace: invalid data namespace",
        ),
        (
            {"namespace": _b64(NS.to_bytes()), "data": _b64(b"x"), "share_version": 1},
            "share version 1 requires signer of size 20 bytes",
        ),
    ],
    ids=[
        "list",
        "ns-28",
        "ns-absent",
        "data-absent",
        "data-bad-b64",
        "data-int",
        "version-neg",
        "index-neg",
        "reserved",
        "v1-no-signer",
    ],
)
def test_blob_from_json_rejects(obj: object, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        Blob.from_json(obj)


# -- properties --------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=1, max_size=3000), st.sampled_from([0, 1]))
def test_split_and_parse_round_trip(data: bytes, share_version: int) -> None:
    signer = SIGNER if share_version else None
    shares = split_blob(NS, data, share_version, signer)
    (parsed,) = parse_sparse_shares(shares)
    assert (parsed.data, parsed.signer, parsed.share_count) == (data, signer, len(shares))
    assert len(shares) == shares_needed(len(data), signer is not None)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=20), st.data())
def test_range_proofs_over_sorted_namespaces_with_parity(ns_choices: list[int], data: st.DataObject) -> None:
    # Prepare: leaves in namespace order, the last group possibly under the parity namespace
    spaces = [Namespace.v0(b"\x01\x00").to_bytes(), NS.to_bytes(), Namespace.v0(b"\xff" * 10).to_bytes()]
    spaces.append(PARITY_SHARES_NAMESPACE.to_bytes())
    leaves = _leaves(len(ns_choices), [spaces[i] for i in sorted(ns_choices)])
    root = nmt_root(leaves)
    start = data.draw(st.integers(0, len(leaves) - 1))
    end = data.draw(st.integers(start + 1, len(leaves)))

    # Execute
    proof = prove_range(leaves, start, end)

    # Assert
    assert root_from_range(proof, leaves[start:end], len(leaves)) == root
    assert root[:29] == leaves[0][:29]


def test_blob_repr_does_not_dump_the_data() -> None:
    blob = Blob.new(NS, b"\xab" * 100_000)
    text = repr(blob)
    assert "<100000 bytes>" in text
    assert blob.commitment.hex() in text
    assert len(text) < 300
