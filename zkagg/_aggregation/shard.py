"""Aggregate a shard's updates and verify the result against the clients' commitments.

``fedavg`` is checked without a SNARK. The shard publishes the exact weighted sum
``S_j = sum_i n_i q_ij`` of every chunk ``j`` (field elements; with salts, the salt slot sums like
any value), and since ``commit`` is affine, ``commit(v) = L(v) + B`` (DESIGN.md §3),

    commit(S_j) == sum_i n_i C_ij - (N - 1) B,        N = sum_i n_i.

The verifier asks the commitment engine whether every ``S_j`` opens
``E_j = sum_i n_i C_ij - (N - 1) B`` (:func:`zkagg._kzg.commit.first_false_opening`, every client
point checked on the curve): one Fiat-Shamir random linear combination of the chunk equations
(``r_j`` a hash of the weights, the published sums, every client point and ``B``; soundness error
``2**-128``) is checked, then each chunk alone to name a false one. The left side is the
commitment of the combined sums (one MSM of a chunk with long scalars, or one ``kzg_commit`` on
the ezkl fallback), or on the native backend for fewer than 8 chunks every chunk sum committed
with its short scalars and the points combined.

The float aggregate is a documented deterministic rescale: the float nearest to
``S / (N * 2**scale)`` (:func:`zkagg._aggregation.reference.fedavg_rescale`).

Other rules are proven by EZKL circuits: :func:`aggregate_shard` and :func:`verify_shard` look the
rule up in :data:`zkagg._aggregation.rules.RULE_BACKENDS` (a plain table) and call its backend after
the checks common to all rules (domain, clients, weights, lengths).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from zkagg._aggregation.records import (
    RuleBackend,
    ShardAggregate,
    fedavg_aggregate,
    rescale_signed,
    signed_values,
)
from zkagg._aggregation.reference import fedavg_rescale
from zkagg._aggregation.rules import RULE_BACKENDS
from zkagg._aggregation.spec import AggregationSpec
from zkagg._errors import CommitmentMismatch, InvalidArgument, InvalidProof
from zkagg._executors._base import Executor
from zkagg._field import FIELD_MODULUS, quantize
from zkagg._kzg.commit import (
    CommitmentDomain,
    UpdateCommitment,
    chunk_salts,
    first_false_opening,
    zero_commitment,
)

__all__ = ["aggregate_shard", "combine_shards", "verify_shard"]


def _backend(rule: str) -> RuleBackend:
    try:
        return RULE_BACKENDS[rule]
    except KeyError:
        raise InvalidArgument(f"no backend is registered for rule {rule!r}") from None


# -- validation common to all rules --------------------------------------------------------------


def _check_weights(weights: Sequence[int] | None, n: int) -> tuple[int, ...]:
    if weights is None:
        return (1,) * n
    out = []
    for i, w in enumerate(weights):
        if isinstance(w, bool) or not isinstance(w, int | np.integer) or not 1 <= int(w) < 2**63:
            raise InvalidArgument(f"weights[{i}] must be a positive integer (a sample count), not {w!r}")
        out.append(int(w))
    if len(out) != n:
        raise InvalidArgument(f"weights must have one entry per client ({n}), not {len(out)}")
    return tuple(out)


def _check_updates(updates: Sequence[npt.ArrayLike] | npt.ArrayLike) -> npt.NDArray[np.float64]:
    try:
        x = np.asarray(updates, dtype=np.float64)
    except ValueError as exc:
        raise InvalidArgument(f"updates must be equal-length 1-D float arrays: {exc}") from exc
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise InvalidArgument(
            f"updates must be a non-empty list of equal-length non-empty 1-D arrays, not of shape {x.shape}"
        )
    return x


def aggregate_shard(
    spec: AggregationSpec,
    updates: Sequence[npt.ArrayLike] | npt.ArrayLike,
    weights: Sequence[int] | None = None,
    *,
    salt_seeds: Sequence[bytes] | None = None,
    commitments: Sequence[UpdateCommitment] | None = None,
    executor: Executor | None = None,
) -> ShardAggregate:
    """Aggregate a shard's updates under ``spec``, with the sums or proofs that verify it.

    Parameters
    ----------
    spec
        The agreed rule and commitment domain.
    updates
        One equal-length 1-D float array per client, in commitment order.
    weights
        Integer weights (sample counts); default 1 each.
    salt_seeds
        Salted domains: every client's ``salt_seed`` (the shard must know the salts to open sums).
    commitments
        The clients' commitments, handed to rule backends that want them.
    executor
        Proven rules: where the chunk proofs run (:mod:`zkagg._executors`: serial, local process
        pool, Ray); ``None`` proves them in this process, one after the other. Unused by ``fedavg``.

    Returns
    -------
    ShardAggregate
    """
    x = _check_updates(updates)
    w = _check_weights(weights, x.shape[0])
    domain = spec.domain()
    n_clients, length = x.shape
    n_chunks = domain.n_chunks(length)
    q = quantize(x, spec.scale, n_terms=sum(w))
    padded = np.zeros((n_clients, n_chunks * spec.chunk_size), dtype=np.int64)
    padded[:, :length] = q
    salts = None
    if spec.salted:
        if salt_seeds is None or len(salt_seeds) != n_clients:
            raise InvalidArgument(
                f"salt_seeds must give one seed per client ({n_clients}) in a salted domain, not "
                f"{None if salt_seeds is None else len(salt_seeds)}"
            )
        salts = [chunk_salts(domain, seed, n_chunks) for seed in salt_seeds]
    elif salt_seeds is not None:
        raise InvalidArgument("salt_seeds must be None in an unsalted domain")
    if spec.rule != "fedavg":
        out = _backend(spec.rule).prove(spec, padded, w, length, salts, commitments, executor)
        return ShardAggregate(spec, w, length, np.asarray(out.aggregate, dtype=np.float64), proofs=out.proofs)
    total = _weighted_sum(padded, w)
    sums = []
    for j in range(n_chunks):
        chunk = [v % FIELD_MODULUS for v in total[j * spec.chunk_size : (j + 1) * spec.chunk_size]]
        if salts is not None:
            chunk.append(sum(wi * s[j] for wi, s in zip(w, salts, strict=True)) % FIELD_MODULUS)
        sums.append(tuple(chunk))
    aggregate = fedavg_rescale(total[:length], sum(w), spec.scale)
    return ShardAggregate(spec, w, length, aggregate, sums=tuple(sums))


def _weighted_sum(q: npt.NDArray[np.int64], w: tuple[int, ...]) -> list[int]:
    """Exact ``sum_i w_i q_i`` as Python ints (int64 numpy when it cannot overflow)."""
    peak = int(np.abs(q).max()) if q.size else 0
    if peak * sum(w) < 2**63:
        return [int(v) for v in (np.asarray(w, dtype=np.int64) @ q).tolist()]
    return [int(v) for v in (np.asarray(w, dtype=object) @ q.astype(object)).tolist()]


def combine_shards(results: Sequence[ShardAggregate]) -> ShardAggregate:
    """Compose ``fedavg`` shard results into one (the global model): exact sums add up.

    The combined result has the shards' weights concatenated in order and the sums of their sums,
    so it verifies with :func:`verify_shard` against the shards' commitments concatenated in the same
    order (DESIGN.md §3: composition is linear and checked the same way).

    Raises
    ------
    InvalidArgument
        No results, a rule other than ``fedavg``, or results under different specs or lengths.
    """
    if not results:
        raise InvalidArgument("results must contain at least one shard result")
    first = results[0]
    if first.spec.rule != "fedavg":
        raise InvalidArgument(f"only fedavg results compose linearly, not {first.spec.rule}")
    for k, r in enumerate(results):
        if r.spec.to_bytes() != first.spec.to_bytes() or r.length != first.length:
            raise InvalidArgument(f"results[{k}] has another spec or length than results[0]")
    sums = tuple(
        tuple(sum(col) % FIELD_MODULUS for col in zip(*chunks, strict=True))
        for chunks in zip(*(r.sums for r in results), strict=True)
    )
    weights = tuple(w for r in results for w in r.weights)
    aggregate = fedavg_aggregate(sums, sum(weights), first.spec.scale, first.length, first.spec.chunk_size)
    return ShardAggregate(first.spec, weights, first.length, aggregate, sums=sums)


def verify_shard(
    spec: AggregationSpec,
    commitments: Sequence[UpdateCommitment],
    weights: Sequence[int] | None,
    result: ShardAggregate,
) -> None:
    """Check that ``result`` is ``spec``'s rule applied to exactly the committed updates.

    Returns ``None`` or raises.

    Raises
    ------
    CommitmentMismatch
        A commitment from another commitment domain or of another length; sums that do not open the
        combination of the commitments (the message names the chunk).
    InvalidProof
        A result computed under another spec, for another set or number of clients, with other
        weights, or whose float aggregate is not the documented rescale of its sums; a chunk proof
        that fails (rule backends).
    InvalidArgument
        Commitments and weights of different lengths.
    """
    if not commitments:
        raise InvalidArgument("commitments must name at least one client")
    w = _check_weights(weights, len(commitments))
    domain = spec.domain()
    if result.spec.to_bytes() != spec.to_bytes():
        raise InvalidProof(f"the result was computed under another spec ({result.spec!r}), not {spec!r}")
    for i, c in enumerate(commitments):
        domain.require_same(c.domain, f"the commitment of client {i}")
    length = commitments[0].length
    for i, c in enumerate(commitments):
        if c.length != length:
            raise CommitmentMismatch(
                f"the commitment of client {i} covers {c.length} values, client 0's covers {length}"
            )
    if result.n_clients != len(commitments):
        raise InvalidProof(
            f"the result aggregates {result.n_clients} clients, but {len(commitments)} commitments are given "
            "(a client dropped or added)"
        )
    if result.weights != w:
        i = next(k for k, (a, b) in enumerate(zip(result.weights, w, strict=True)) if a != b)
        raise InvalidProof(f"the result uses weight {result.weights[i]} for client {i}, not {w[i]}")
    if result.length != length:
        raise InvalidProof(f"the result has {result.length} values per update, the commitments {length}")
    if np.asarray(result.aggregate).shape != (length,):
        raise InvalidProof(f"the aggregate must have {length} values, not shape {np.shape(result.aggregate)}")
    if spec.rule != "fedavg":
        _backend(spec.rule).verify(spec, commitments, w, result)
        return
    _verify_fedavg(domain, commitments, w, result)


def _verify_fedavg(
    domain: CommitmentDomain,
    commitments: Sequence[UpdateCommitment],
    w: tuple[int, ...],
    result: ShardAggregate,
) -> None:
    n_chunks = domain.n_chunks(result.length)
    size = domain.message_size
    if len(result.sums) != n_chunks or any(len(s) != size for s in result.sums):
        raise InvalidProof(f"fedavg sums must be {n_chunks} chunks of {size} field elements")
    if not all(type(v) is int for chunk in result.sums for v in chunk):  # not floats, bools, numpy types
        raise InvalidProof("fedavg sums must be Python integers")
    matrix = np.array([list(chunk) for chunk in result.sums], dtype=object)
    if matrix.size and not ((matrix >= 0).all() and (matrix < FIELD_MODULUS).all()):
        raise InvalidProof("fedavg sums must be field elements in [0, p)")
    signed = signed_values(result.sums, domain.chunk_size)  # once: the rescale and the messages
    expected = rescale_signed(signed, sum(w), domain.scale, result.length)
    got = np.asarray(result.aggregate, dtype=np.float64)
    if not np.array_equal(expected, got):
        k = int(np.flatnonzero(expected != got)[0])
        raise InvalidProof(
            f"aggregate[{k}] = {got[k]!r} is not the rescale of the published sum ({expected[k]!r})"
        )
    b = zero_commitment(domain)
    total = sum(w)
    # commit(S_j) must be E_j = sum_i n_i C_ij - (N - 1) B (each client point checked on the curve).
    openings = [([c.points[j] for c in commitments] + [b], [*w, -(total - 1)]) for j in range(n_chunks)]
    messages = _sum_messages(result, domain, signed)
    bad = first_false_opening(domain, messages, openings, _weights_context(w))
    if bad is not None:
        raise CommitmentMismatch(
            f"the fedavg sum of chunk {bad} does not open sum_i n_i C_i - (N - 1) B of the "
            f"{len(w)} client commitments (N = {total})"
        )


def _weights_context(w: tuple[int, ...]) -> bytes:
    return struct.pack(f">I{len(w)}Q", len(w), *w)


def _sum_messages(
    result: ShardAggregate, domain: CommitmentDomain, signed: npt.NDArray[Any]
) -> list[npt.NDArray[Any]]:
    """The chunk messages of the published sums (``signed``: their :func:`signed_values`), with the salt slot."""
    if not domain.salted:
        return list(signed)
    return [
        np.array([*row.tolist(), chunk[-1]], dtype=object)
        for row, chunk in zip(signed, result.sums, strict=True)
    ]
