"""Client commitments: the measured facts of DESIGN.md §3, checked against ezkl itself."""

from __future__ import annotations

import json

import numpy as np
import pytest
from py_ecc.optimized_bn128.optimized_curve import add, eq, multiply

from zkagg import CommitmentMismatch, InvalidArgument
from zkagg._field import FIELD_MODULUS, quantize
from zkagg._kzg.commit import (
    CommitmentDomain,
    UpdateCommitment,
    column_capacity,
    commit_chunk,
    commit_update,
    commitment_domain,
    zero_commitment,
)
from zkagg._kzg.points import point_from_py_ecc, point_to_py_ecc


@pytest.fixture(scope="session")
def domain() -> CommitmentDomain:
    return commitment_domain(logrows=15, chunk_size=256, scale=13)


def test_column_holds_capacity_values_and_no_more(domain: CommitmentDomain) -> None:
    # Prepare
    from zkagg._kzg.commit import _felt_hex, _reference
    from zkagg._prover.ezkl import call_ezkl

    cap = column_capacity(15)
    # Execute
    one = call_ezkl("kzg_commit", _felt_hex(np.ones(cap, dtype=np.int64)), *_reference(domain))
    two = call_ezkl("kzg_commit", _felt_hex(np.ones(cap + 1, dtype=np.int64)), *_reference(domain))
    # Assert
    assert cap == 32761
    assert (len(one), len(two)) == (1, 2)


def test_commitment_is_affine_with_offset_b(domain: CommitmentDomain) -> None:
    # Prepare
    rng = np.random.default_rng(3)
    xs = [rng.integers(-(2**20), 2**20, 256) for _ in range(3)]
    weights = [3, 1, 7]
    b = point_to_py_ecc(zero_commitment(domain))
    # Execute
    commits = [point_to_py_ecc(commit_chunk(domain, x)) for x in xs]
    total = np.sum([w * x for w, x in zip(weights, xs, strict=True)], axis=0)
    acc = multiply(b, (-(sum(weights) - 1)) % FIELD_MODULUS)
    for w, c in zip(weights, commits, strict=True):
        acc = add(acc, multiply(c, w))
    # Assert
    assert eq(acc, point_to_py_ecc(commit_chunk(domain, total)))
    assert zero_commitment(domain) != bytes(64)
    assert commit_chunk(domain, [0] * 256) == zero_commitment(domain)
    assert commit_chunk(domain, [5, -2]) == commit_chunk(domain, [5, -2, 0, 0])
    assert point_from_py_ecc(point_to_py_ecc(commit_chunk(domain, [9]))) == commit_chunk(domain, [9])


def test_commit_update_chunks_pads_and_round_trips(domain: CommitmentDomain) -> None:
    # Prepare
    x = np.linspace(-1, 1, 600)
    # Execute
    c = commit_update(domain, x)
    back = UpdateCommitment.from_bytes(c.to_bytes())
    # Assert
    q = quantize(x, 13)
    assert len(c.points) == 3
    assert c.points[2] == commit_chunk(domain, q[512:])
    assert back == c
    assert len(c.to_bytes()) == 4 + 1 + 40 + 8 + 3 * 64


def test_update_commitment_rejects_truncation_and_corruption(domain: CommitmentDomain) -> None:
    # Prepare
    data = commit_update(domain, np.ones(300)).to_bytes()
    corrupted = bytearray(data)
    corrupted[-5] ^= 0xFF
    # Execute / Assert
    with pytest.raises(CommitmentMismatch, match="needs"):
        UpdateCommitment.from_bytes(data[:-1])
    with pytest.raises(CommitmentMismatch, match="not a point"):
        UpdateCommitment.from_bytes(bytes(corrupted))
    with pytest.raises(CommitmentMismatch, match="magic"):
        UpdateCommitment.from_bytes(b"XXXX" + data[4:])


def test_salted_commitments_hide_and_differ_by_seed() -> None:
    # Prepare
    salted = commitment_domain(logrows=15, chunk_size=256, scale=13, salted=True)
    x = np.ones(10)
    # Execute
    a = commit_update(salted, x, salt_seed=b"a" * 32)
    b = commit_update(salted, x, salt_seed=b"b" * 32)
    again = commit_update(salted, x, salt_seed=b"a" * 32)
    # Assert
    assert a.points != b.points
    assert a == again
    assert salted.domain_id() != commitment_domain(15, 256, 13).domain_id()
    with pytest.raises(InvalidArgument, match="salt_seed is required"):
        commit_update(salted, x)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"chunk_size": 1000}, "chunk_size must be a power of two in \\[1, 16384\\] at logrows 15, not 1000"),
        ({"chunk_size": 32768}, "chunk_size must be a power of two"),
        ({"scale": 70}, "scale must be an integer in \\[0, 62\\], not 70"),
    ],
)
def test_domain_validation_names_the_argument(kwargs: dict[str, int], message: str) -> None:
    # Execute / Assert
    args = {"logrows": 15, "chunk_size": 256, "scale": 13, "srs_sha256": "0" * 64} | kwargs
    with pytest.raises(InvalidArgument, match=message):
        CommitmentDomain(**args)  # type: ignore[arg-type]


@pytest.mark.slow
def test_commitment_is_the_point_in_a_polycommit_proof(domain: CommitmentDomain, tmp_path: object) -> None:
    # Prepare: a circuit over one chunk with a polycommit input, proven for real
    from onnx import TensorProto, helper

    from zkagg import RunArgs, build_circuit, prove

    x_in = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 256])
    y_out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1])
    graph = helper.make_graph([helper.make_node("ReduceSum", ["x"], ["y"], keepdims=1)], "g", [x_in], [y_out])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    artifacts = build_circuit(
        model.SerializeToString(),
        RunArgs(input_visibility="polycommit", input_scale=13, param_scale=13, logrows=15),
    )
    x = np.random.default_rng(5).normal(size=256)
    path = tmp_path / "in.json"  # type: ignore[operator]
    path.write_text(json.dumps({"input_data": [x.tolist()]}))
    # Execute
    proof = prove(artifacts, path)
    # Assert
    proof_bytes = bytes(proof.ezkl_proof["proof"])
    assert proof_bytes[:64] == commit_update(domain, x).points[0]


def test_commit_in_a_domain_of_an_unknown_srs_says_how_to_supply_it() -> None:
    # Prepare
    from zkagg import ArtifactError

    foreign = CommitmentDomain(logrows=15, chunk_size=64, scale=13, srs_sha256="ee" * 32)
    # Execute / Assert
    with pytest.raises(ArtifactError, match=r"load it with zkagg\.load_srs"):
        commit_update(foreign, np.ones(3))
    assert foreign.domain_id() != commitment_domain(15, 64, 13).domain_id()
