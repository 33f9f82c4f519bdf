"""The protocol wing: a round on the DA layer, one module per role (DESIGN.md §1).

Messages and keys (``messages``, ``keys``), the deployment (``deployment``, ``announce``), where
messages go (``sharding``), what a message must satisfy (``guard``), reading the DA layer
(``reading``, ``vectors``); the roles ``client``, ``shard``, ``judge``, ``coordinator`` (with its
durable ``state``) and ``audit``; ``run`` plays a whole deployment in one process; ``faults`` holds
the attack switches for tests and benchmarks; ``workload`` is the one door to the digits task
(:mod:`zkagg._fl`). Imports the aggregation, commitment and prover wings and :mod:`zkagg.da`.
"""
