"""Write the golden encodings in tests/aggregation/data/ (seeded; run only when the format version changes).

Run: ``.venv/bin/python tests/aggregation/make_vectors.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zkagg import FIELD_MODULUS, AggregationSpec, ShardAggregate
from zkagg._aggregation.records import ChunkProof

DATA = Path(__file__).parent / "data"
SRS_SHA = "11" * 32  # a fixed SRS identity: no SRS is needed to encode or decode


def vectors() -> dict[str, ShardAggregate]:
    rng = np.random.default_rng(20261122)
    fedavg = AggregationSpec(rule="fedavg", chunk_size=4, scale=13, srs_sha256=SRS_SHA)
    values = [int(v) for v in rng.integers(-(2**40), 2**40, 8)]
    sums = (tuple(v % FIELD_MODULUS for v in values[:4]), tuple(v % FIELD_MODULUS for v in values[4:]))
    weights = (3, 1, 7)
    from zkagg._aggregation.records import fedavg_aggregate

    agg = fedavg_aggregate(sums, sum(weights), 13, 7, 4)
    salted = AggregationSpec(rule="fedavg", chunk_size=4, scale=13, salted=True, srs_sha256=SRS_SHA)
    salted_sums = tuple((*s, int(rng.integers(0, 2**62)) * 2**190 % FIELD_MODULUS) for s in sums)
    median = AggregationSpec(rule="median", chunk_size=4, scale=10, srs_sha256=SRS_SHA)
    proofs = (ChunkProof(0, "ab" * 32, b"proof of chunk 0"), ChunkProof(1, "cd" * 32, bytes(range(40))))
    return {
        "fedavg": ShardAggregate(fedavg, weights, 7, agg, sums=sums),
        "fedavg_salted": ShardAggregate(salted, weights, 7, agg, sums=salted_sums),
        "median": ShardAggregate(median, (1, 1, 1), 7, np.linspace(-1, 1, 7), proofs=proofs),
    }


def main() -> None:
    DATA.mkdir(exist_ok=True)
    for name, result in vectors().items():
        (DATA / f"shard_aggregate_v1_{name}.hex").write_text(result.to_bytes().hex() + "\n")


if __name__ == "__main__":
    main()
