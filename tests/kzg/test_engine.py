"""The commitment engine against ezkl itself: every commitment byte-identical to ``ezkl.kzg_commit``.

ezkl is the oracle (``ezkl_commit_chunk``); the native backend (mcl) must give the same 64 bytes for
random messages of every shape the domains allow, on seeded dev SRS files and on an SRS that
``ezkl.gen_srs`` wrote itself, and the same group arithmetic as the plain-integer fallback. Both
backends run the shard check and refuse forged sums.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ezkl
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from py_ecc.optimized_bn128.optimized_curve import G1, add, multiply, neg

from zkagg import AggregationSpec, CommitmentMismatch, InvalidArgument, aggregate_shard, verify_shard
from zkagg._aggregation.records import fedavg_aggregate
from zkagg._errors import ArtifactError, InvalidProof
from zkagg._field import FIELD_MODULUS
from zkagg._home import sha256_file
from zkagg._kzg import engine
from zkagg._kzg.commit import (
    CommitmentDomain,
    chunk_salts,
    commit_chunk,
    commit_update,
    commitment_domain,
    ezkl_commit_chunk,
    first_false_opening,
    zero_commitment,
)
from zkagg._kzg.points import point_from_py_ecc
from zkagg._prover.srs import SRS, load_srs

INT64_MAX = 2**63 - 1


@pytest.fixture(params=["mcl", "ezkl"])
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    with engine.forced_backend(request.param) as name:
        yield name


@pytest.fixture(scope="module")
def gen_srs_file(tmp_path_factory: pytest.TempPathFactory) -> SRS:
    """An SRS written by ``ezkl.gen_srs`` itself (not by zkagg's seeded writer), registered by hash."""
    path = tmp_path_factory.mktemp("gen-srs") / "k15.srs"
    ezkl.gen_srs(str(path), 15)
    return load_srs(path, sha256=sha256_file(path))


def _messages(domain: CommitmentDomain, rng: np.random.Generator) -> list[np.ndarray]:
    cap = domain.message_size
    messages = [
        np.array([0]),
        np.array([1]),
        np.array([-1]),
        np.zeros(cap, dtype=np.int64),
        rng.integers(-(2**15), 2**15, cap),
        rng.integers(-(2**40), 2**40, max(1, cap // 3)),
        np.array([INT64_MAX, -INT64_MAX, 0, 7, -(2**31)]),
        np.array(
            [int.from_bytes(rng.bytes(32), "big") % FIELD_MODULUS for _ in range(min(cap, 33))], dtype=object
        ),
        np.array(
            [FIELD_MODULUS - 1, FIELD_MODULUS // 2, FIELD_MODULUS // 2 + 1, 2**64, -(2**64)], dtype=object
        ),
    ]
    return [m[:cap] for m in messages]


@pytest.mark.parametrize(
    ("logrows", "chunk_size", "salted"),
    [
        (15, 1, False),
        (15, 1024, True),
        (15, 16384, False),
        (16, 4096, True),
        (16, 32768, False),
        (17, 65536, False),
    ],
)
def test_native_commitments_are_ezkls_bytes(logrows: int, chunk_size: int, salted: bool) -> None:
    # Prepare
    domain = commitment_domain(logrows=logrows, chunk_size=chunk_size, salted=salted)
    rng = np.random.default_rng(logrows * 1000 + chunk_size)
    # Execute
    with engine.forced_backend("mcl"):
        native = [commit_chunk(domain, m) for m in _messages(domain, rng)]
        b = zero_commitment(domain)
    oracle = [
        ezkl_commit_chunk(domain, m)
        for m in _messages(domain, np.random.default_rng(logrows * 1000 + chunk_size))
    ]
    # Assert
    assert native == oracle
    assert b == ezkl_commit_chunk(domain, [0])


def test_native_commitments_on_an_srs_from_ezkl_gen_srs(gen_srs_file: SRS) -> None:
    # Prepare
    domain = commitment_domain(logrows=15, chunk_size=2048, srs=gen_srs_file)
    x = np.random.default_rng(3).normal(scale=0.2, size=5000)
    # Execute
    with engine.forced_backend("mcl"):
        native = commit_update(domain, x)
    with engine.forced_backend("ezkl"):
        oracle = commit_update(domain, x)
    # Assert
    assert native == oracle
    assert native.domain.srs_sha256 == gen_srs_file.sha256 != commitment_domain(15, 2048).srs_sha256


@given(
    values=st.lists(st.integers(min_value=-INT64_MAX, max_value=INT64_MAX), min_size=1, max_size=64),
    big=st.lists(st.integers(min_value=0, max_value=FIELD_MODULUS - 1), max_size=3),
)
def test_random_messages_match_ezkl(values: list[int], big: list[int]) -> None:
    # Prepare
    domain = commitment_domain(logrows=15, chunk_size=64, salted=True)
    message = np.array(values + big, dtype=object)[: domain.message_size]
    # Execute
    with engine.forced_backend("mcl"):
        native = commit_chunk(domain, message)
    # Assert
    assert native == ezkl_commit_chunk(domain, message)


def test_salted_updates_match_on_both_backends() -> None:
    # Prepare
    domain = commitment_domain(logrows=15, chunk_size=256, salted=True)
    x = np.random.default_rng(8).normal(size=700)
    seed = b"s" * 32
    # Execute
    commits = {}
    for name in ("mcl", "ezkl"):
        with engine.forced_backend(name):
            commits[name] = commit_update(domain, x, salt_seed=seed)
    # Assert
    assert commits["mcl"] == commits["ezkl"]
    assert len(chunk_salts(domain, seed, 3)) == len(commits["mcl"].points) == 3


@pytest.mark.parametrize("name", ["mcl", "ezkl"])
def test_msm_matches_py_ecc(name: str) -> None:
    # Prepare
    pts = [multiply(G1, k) for k in (3, 5, 11, 0)]
    encoded = [point_from_py_ecc(p) for p in pts]
    scalars = [7, -2, 2**200 + 9, 5]
    want = add(add(multiply(pts[0], 7), neg(multiply(pts[1], 2))), multiply(pts[2], 2**200 + 9))
    # Execute
    with engine.forced_backend(name):
        got = engine.msm(encoded, scalars)
        nested = engine.msm_nested([(encoded[:2], [7, -2]), (encoded[2:3], [1])], [1, 2**200 + 9])
        zero = engine.msm(encoded[:1], [FIELD_MODULUS])
    # Assert
    assert got == nested == point_from_py_ecc(want)
    assert zero == bytes(64)


@pytest.mark.parametrize(
    ("point", "message"),
    [
        ((1).to_bytes(32, "big") + (3).to_bytes(32, "big"), "is not a point of BN254 G1"),
        (
            point_from_py_ecc(G1)[:32]
            + (
                int.from_bytes(point_from_py_ecc(G1)[32:], "big")
                + 21888242871839275222246405745257275088696311157297823662689037894645226208583
            ).to_bytes(32, "big"),
            "is not a point of BN254 G1",
        ),
        (b"\x01" * 63, "must be 64 bytes"),
    ],
)
def test_msm_refuses_points_off_the_curve_on_both_backends(backend: str, point: bytes, message: str) -> None:
    # Execute / Assert
    with pytest.raises(CommitmentMismatch, match=message):
        engine.msm([point_from_py_ecc(G1), point], [1, 1], "commitment")


def test_forced_backend_names_a_known_backend() -> None:
    with (
        pytest.raises(InvalidArgument, match="backend must be 'mcl' or 'ezkl', not 'gpu'"),
        engine.forced_backend("gpu"),
    ):
        pass


def test_a_truncated_srs_file_is_refused(tmp_path: Path) -> None:
    # Prepare: a header saying logrows 15 and half the points
    path = tmp_path / "short.srs"
    path.write_bytes((15).to_bytes(4, "little") + bytes(64 * 2**15 + 100))
    # Execute / Assert: named by its own hash it is truncated; named by another it is not the file
    with engine.forced_backend("mcl"):
        with pytest.raises(ArtifactError, match="truncated"):
            engine.lagrange_basis(path, 15, sha256_file(path))
        with pytest.raises(ArtifactError, match="does not have the SHA-256"):
            engine.lagrange_basis(path, 15, "ab" * 32)


def test_messages_are_taken_exactly_or_refused(backend: str) -> None:
    # Prepare
    domain = commitment_domain(logrows=15, chunk_size=64)
    # Execute
    exact = commit_chunk(domain, [2**63 + 1, 1])  # np.asarray would round this list to floats
    big_u64 = commit_chunk(domain, np.array([2**64 - 1, 3], dtype=np.uint64))
    # Assert
    assert exact == commit_chunk(domain, np.array([2**63 + 1, 1], dtype=object))
    assert exact != commit_chunk(domain, np.array([2**63, 1], dtype=object))
    assert (
        big_u64
        == commit_chunk(domain, np.array([2**64 - 1, 3], dtype=object))
        != commit_chunk(domain, [-1, 3])
    )
    bad_messages: list[tuple[Any, str]] = [
        ([1.5, 2], r"a chunk message\[0\] must be an integer, not 1.5"),
        (np.array([1.0, 2.0]), "must hold integers, not float64"),
        ([True, 2], r"must be an integer, not True"),
        (np.zeros((2, 3), dtype=np.int64), r"must be 1-D, not of shape \(2, 3\)"),
    ]
    for bad, message in bad_messages:
        with pytest.raises(InvalidArgument, match=message):
            commit_chunk(domain, bad)
    with pytest.raises(CommitmentMismatch, match="must be 64 bytes, not a str"):
        engine.msm(["ab" * 32], [1], "commitment")  # type: ignore[list-item]


def test_shard_check_refuses_a_forged_sum_on_both_backends(backend: str) -> None:
    # Prepare: a shard of three clients over three chunks, then one value of chunk 1 moved by one
    spec = AggregationSpec(rule="fedavg", chunk_size=64, scale=13)
    updates = np.random.default_rng(4).normal(scale=0.1, size=(3, 150))
    weights = [3, 1, 2]
    commitments = [commit_update(spec, x) for x in updates]
    honest = aggregate_shard(spec, updates, weights)
    sums = [list(chunk) for chunk in honest.sums]
    sums[1][5] = (sums[1][5] + 1) % FIELD_MODULUS
    forged_sums = tuple(tuple(c) for c in sums)
    aggregate = fedavg_aggregate(forged_sums, sum(weights), 13, 150, 64)
    forged = dataclasses.replace(honest, sums=forged_sums, aggregate=aggregate)
    # Execute
    verify_shard(spec, commitments, weights, honest)
    # Assert: the rescale matches the forged sums, so only the commitments catch it, by chunk
    with pytest.raises(CommitmentMismatch, match="the fedavg sum of chunk 1 does not open"):
        verify_shard(spec, commitments, weights, forged)
    with pytest.raises(InvalidProof, match="is not the rescale"):
        verify_shard(spec, commitments, weights, dataclasses.replace(honest, sums=forged_sums))
    fractional: tuple[tuple[Any, ...], ...] = (
        (sums[0][0] + 0.75, *sums[0][1:]),
        *(tuple(c) for c in sums[1:]),
    )
    with pytest.raises(InvalidProof, match="fedavg sums must be Python integers"):
        verify_shard(spec, commitments, weights, dataclasses.replace(honest, sums=fractional))


_WITHOUT_WHEEL = """
import sys
sys.modules["mclbn256"] = None  # what a machine without the wheel sees: ImportError on import
import numpy as np
from zkagg._kzg import engine
from zkagg._kzg.commit import commit_update, commitment_domain
d = commitment_domain(logrows=15, chunk_size=256)
c = commit_update(d, np.linspace(-1, 1, 300))
commit_update(d, np.ones(3))
print(engine.backend(), c.points[0].hex())
"""


@pytest.mark.parametrize(("env", "backend_name"), [({}, "ezkl"), ({engine.BACKEND_ENV: "mcl"}, None)])
def test_without_the_wheel_commitments_fall_back_to_ezkl_and_say_so_once(
    env: dict[str, str], backend_name: str | None
) -> None:
    # Prepare
    domain = commitment_domain(logrows=15, chunk_size=256)
    with engine.forced_backend("mcl"):
        want = commit_update(domain, np.linspace(-1, 1, 300)).points[0].hex()
    # Execute
    run = subprocess.run(
        [sys.executable, "-c", _WITHOUT_WHEEL],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
    )
    # Assert
    if backend_name is None:  # forced to mcl: an error, not a silent fallback
        assert run.returncode != 0
        assert "ZKAGG_COMMIT_BACKEND=mcl but mclbn256 cannot be used" in run.stderr
        return
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == [backend_name, want]
    assert run.stderr.count("the native commitment backend is unavailable") == 1


@pytest.mark.parametrize("count", [1, 3, 9])
def test_first_false_opening_names_the_false_equation(backend: str, count: int) -> None:
    # Prepare: messages of unequal length, each opening to its own commitment (and, as a
    # combination, to twice a message minus the same message: a point from two scalars)
    domain = commitment_domain(logrows=15, chunk_size=64)
    rng = np.random.default_rng(count)
    messages = [rng.integers(-3000, 3000, 64 - k) for k in range(count)]
    points = [commit_chunk(domain, m) for m in messages]
    openings = [([p, p], [2, -1]) for p in points]
    wrong = [m.copy() for m in messages]
    wrong[count - 1][3] += 1
    # Execute / Assert
    assert first_false_opening(domain, messages, openings, b"ctx") is None
    assert first_false_opening(domain, wrong, openings, b"ctx") == count - 1
    with pytest.raises(InvalidArgument, match="one opening per message"):
        first_false_opening(domain, messages, openings[:-1] if count > 1 else [], b"ctx")


def test_an_unknown_backend_in_the_environment_is_refused_by_name() -> None:
    # Execute: a fresh process, where the choice is read from the environment
    code = "from zkagg._kzg import engine; engine.backend()"
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, engine.BACKEND_ENV: "gpu"},
        check=False,
    )
    # Assert
    assert run.returncode != 0
    assert "$ZKAGG_COMMIT_BACKEND must be auto, mcl or ezkl, not 'gpu'" in run.stderr
