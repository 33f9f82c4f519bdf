"""The aggregation wing: what a shard computes and how anyone verifies it (DESIGN.md §3).

``spec`` the aggregation spec; ``reference`` the float and integer reference rules; ``records`` the
shard aggregate and proof records; ``rules`` the EZKL-proven rules (median, trimmed mean, clipped
FedAvg, fedavg_snark) in a plain table; ``shard`` aggregates a shard and verifies it (FedAvg
homomorphically); ``norm`` client norm-bound proofs; ``compose`` the cross-shard composition with
exact rounding. Imports the commitment and prover wings, never the protocol.
"""
