"""Can a DA operator or a shard steer the cohorts? Grinding the assignment seed (issue 12, attack 8).

Pure hashing, no proofs: the protocol's own functions (:func:`zkagg._protocol.seed.round_seed`,
:func:`~zkagg._protocol.sharding.assign_shard`, the shards' real seed chains) on a deployment of
16 clients and 4 shards in which 5 clients are Byzantine. For every simulated round the program asks
whether some shard's cohort has a Byzantine majority (more Byzantine than honest clients: the
median, say, is then theirs) and whether all five land in one shard (what issue 12 found by trying
451 block times). Scenarios, each over the same rounds:

* **honest randomness**: nobody grinds; the protocol's seed (block hash and all four reveals);
* **old scheme, operator grinds**: the seed is the block hash alone (before issue 12) and the DA
  operator tries up to ``--tries`` block hashes (block times, blob orders) per round, keeping the
  first that gives a Byzantine majority;
* **new scheme, operator grinds**: the same operator and tries, but it must fix the block at the
  seed height before any honest shard reveals; it keeps the first block hash that gives a Byzantine
  majority under what it knows (no reveal; or, colluding with Byzantine shard 3, that shard's
  value); then the honest shards reveal;
* **withholding shard**: Byzantine shard 3 sees the block hash and the other reveals, then reveals
  or withholds, whichever gives a Byzantine majority (2 outcomes);
* **censoring operator**: the DA operator sees every reveal before it builds the blocks of the
  reveal window and includes any subset of them (16 outcomes; the worst case of one party that
  builds every block of the window).

Run: ``.venv/bin/python -m benchmarks.seed_grinding [--rounds 2000] [--tries 10000]``. Writes
``benchmarks/results/seed_grinding.{json,md}``. About a minute on a 2-core machine.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import math
import time
from collections.abc import Callable
from typing import Any

from benchmarks.harness import describe_machine, markdown_table, write_results
from zkagg._protocol.keys import SigningKey, client_id_for
from zkagg._protocol.seed import SEED_CHAIN_LENGTH, chain_anchor, chain_secret, round_seed
from zkagg._protocol.sharding import assign_shard

N_CLIENTS = 16
N_SHARDS = 4
N_BYZANTINE = 5
BYZANTINE_SHARD = 3
DEPLOYMENT = hashlib.sha256(b"zkagg benchmark: seed grinding").digest()


def _key(label: str) -> SigningKey:
    return SigningKey.from_bytes(hashlib.sha256(label.encode()).digest())


CLIENTS = [client_id_for(_key(f"client {i}").public_key) for i in range(N_CLIENTS)]
BYZANTINE = set(CLIENTS[:N_BYZANTINE])
AGGREGATORS = [_key(f"aggregator {k}") for k in range(N_SHARDS)]


def _chain(key: SigningKey, rounds: int) -> list[bytes]:
    """The values ``v_1 .. v_rounds`` of a shard's seed chain (walked once, from the secret up)."""
    prefix = hashlib.sha256(b"zkagg/seed-chain/v1\x00" + key.public_key)
    value, values = chain_secret(key), {}
    for i in range(SEED_CHAIN_LENGTH + 1):  # value == H^i(s) == v_(L - i)
        if 1 <= SEED_CHAIN_LENGTH - i <= rounds:
            values[SEED_CHAIN_LENGTH - i] = value
        h = prefix.copy()
        h.update(value)
        value = h.digest() if i < SEED_CHAIN_LENGTH else value
    assert value == chain_anchor(key), "the walked chain must end at the protocol's anchor"
    return [values[r] for r in range(1, rounds + 1)]


def outcome(seed: bytes, round_: int) -> tuple[bool, bool]:
    """(some shard has a Byzantine majority, all Byzantine clients share a shard) under ``seed``."""
    byz = [0] * N_SHARDS
    honest = [0] * N_SHARDS
    for c in CLIENTS:
        k = assign_shard(seed, DEPLOYMENT, round_, c, N_SHARDS)
        if c in BYZANTINE:
            byz[k] += 1
        else:
            honest[k] += 1
    return any(b > h for b, h in zip(byz, honest, strict=True)), max(byz) == N_BYZANTINE


def _block(round_: int, attempt: int) -> bytes:
    return hashlib.sha256(b"block %d %d" % (round_, attempt)).digest()


def _grind(round_: int, tries: int, seed_of: Callable[[bytes], bytes]) -> bytes:
    """The first of ``tries`` block hashes whose seed (as the operator can compute it) is bad, else the last."""
    block = _block(round_, 0)
    for attempt in range(tries):
        block = _block(round_, attempt)
        if outcome(seed_of(block), round_)[0]:
            break
    return block


def simulate(rounds: int, tries: int) -> dict[str, dict[str, Any]]:
    chains = [_chain(k, rounds) for k in AGGREGATORS]
    # name -> (block hashes tried, seeds chosen among knowing the final seed, outcomes per round)
    scenarios: dict[str, tuple[int, int, list[tuple[bool, bool]]]] = {
        "honest randomness": (1, 1, []),
        "old scheme: operator grinds the block hash": (tries, tries, []),
        "new scheme: operator grinds the block hash": (tries, 1, []),
        "new scheme: operator and Byzantine shard 3 grind": (tries, 1, []),
        "new scheme: shard 3 withholds or reveals": (1, 2, []),
        "new scheme: operator censors any reveals": (1, 2**N_SHARDS, []),
    }
    for r in range(1, rounds + 1):
        reveals = tuple(chains[k][r - 1] for k in range(N_SHARDS))
        honest_block = hashlib.sha256(b"honest block %d" % r).digest()
        scenarios["honest randomness"][2].append(outcome(round_seed(honest_block, reveals), r))
        old = _grind(r, tries, lambda b: b)
        scenarios["old scheme: operator grinds the block hash"][2].append(outcome(old, r))
        blind = _grind(r, tries, lambda b: round_seed(b, (None,) * N_SHARDS))
        scenarios["new scheme: operator grinds the block hash"][2].append(
            outcome(round_seed(blind, reveals), r)
        )
        known = (None,) * BYZANTINE_SHARD + (reveals[BYZANTINE_SHARD],)
        colluding = _grind(r, tries, lambda b, known=known: round_seed(b, known))
        scenarios["new scheme: operator and Byzantine shard 3 grind"][2].append(
            outcome(round_seed(colluding, reveals), r)
        )
        withheld = (*reveals[:BYZANTINE_SHARD], None)
        both = [outcome(round_seed(honest_block, v), r) for v in (reveals, withheld)]
        scenarios["new scheme: shard 3 withholds or reveals"][2].append(
            (any(o[0] for o in both), any(o[1] for o in both))
        )
        subsets = [
            outcome(
                round_seed(
                    honest_block, tuple(v if keep else None for v, keep in zip(reveals, mask, strict=True))
                ),
                r,
            )
            for mask in itertools.product((True, False), repeat=N_SHARDS)
        ]
        scenarios["new scheme: operator censors any reveals"][2].append(
            (any(o[0] for o in subsets), any(o[1] for o in subsets))
        )
    out: dict[str, dict[str, Any]] = {}
    base = sum(m for m, _ in scenarios["honest randomness"][2]) / rounds
    for name, (tried, choices, results) in scenarios.items():
        majority = sum(m for m, _ in results)
        together = sum(t for _, t in results)
        lo, hi = wilson(majority, rounds)
        independent = 1 - (1 - base) ** choices
        out[name] = {
            "scenario": name,
            "block_hashes_tried": tried,
            "seeds_chosen_among": choices,
            "rounds": rounds,
            "byzantine_majority_rate": majority / rounds,
            "ci95_low": lo,
            "ci95_high": hi,
            "if_each_choice_independent": independent,
            "all_five_in_one_shard_rate": together / rounds,
        }
    return out


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson's 95% interval for a binomial rate."""
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--tries", type=int, default=10_000)
    args = parser.parse_args()
    t0 = time.perf_counter()
    results = simulate(args.rounds, args.tries)
    seconds = time.perf_counter() - t0
    rows = list(results.values())
    columns = [
        ("scenario", "scenario"),
        ("block_hashes_tried", "block hashes tried"),
        ("seeds_chosen_among", "seeds it chooses among, knowing them"),
        ("byzantine_majority_rate", "Byzantine majority in some shard"),
        ("ci95_low", "95% CI low"),
        ("ci95_high", "95% CI high"),
        ("if_each_choice_independent", "1 - (1 - p_honest)^seeds"),
        ("all_five_in_one_shard_rate", "all 5 Byzantine in one shard"),
    ]
    notes = (
        f"\n\n{N_CLIENTS} clients, {N_SHARDS} shards, {N_BYZANTINE} Byzantine clients, {args.rounds} "
        f"rounds, up to {args.tries:,} block hashes per round for a grinding operator (it stops at the "
        "first that works for it). A Byzantine majority: more Byzantine than honest clients in a "
        "shard's cohort. The reveal-less operator cannot do better than honest randomness: the "
        "honest shards' values, fixed at key generation and unknown to it, are mixed in after it "
        "fixed the block. What remains is a choice among few outcomes made after the reveals: one "
        "withholding shard picks between 2 seeds, a DA operator that builds every block of the "
        "reveal window and censors reveals picks among 2**shards subsets (both are listed by the "
        "audit as absent reveals). The column `1 - (1 - p_honest)^seeds` is what choosing "
        f"among that many independent seeds would give. Took {seconds:.1f} s.\n"
    )
    payload = {
        "machine": describe_machine(),
        "config": {
            "clients": N_CLIENTS,
            "shards": N_SHARDS,
            "byzantine_clients": N_BYZANTINE,
            "rounds": args.rounds,
            "tries": args.tries,
        },
        "seconds": seconds,
        "rows": rows,
    }
    json_path, md_path = write_results("seed_grinding", payload, markdown_table(rows, columns) + notes)
    for row in rows:
        print(
            f"{row['scenario']:52s} {row['byzantine_majority_rate']:.3f} "
            f"[{row['ci95_low']:.3f}, {row['ci95_high']:.3f}]  all five together {row['all_five_in_one_shard_rate']:.3f}"
        )
    print(f"wrote {json_path} and {md_path} ({seconds:.1f} s)")


if __name__ == "__main__":
    main()
