"""Circuit builders: code that turns an aggregation step or a shard model into an ONNX graph.

Installed as ``zkagg.circuits``. One module per step; each builder returns ONNX bytes and the run
arguments the step is meant to be compiled with. Compilation, keys and proving live in
:mod:`zkagg._prover.artifacts` and :mod:`zkagg._prover.proof`.

Aggregation steps (all ``polycommit`` inputs, working on the committed integers at scale 0; see
:mod:`zkagg.circuits._graph`), proven per chunk by :mod:`zkagg._aggregation.rules` and :mod:`zkagg._aggregation.norm`:

* :mod:`~zkagg.circuits.median`: coordinate-wise median by a sign-count check of the claimed value;
* :mod:`~zkagg.circuits.trimmed_mean`: trimmed sum (Yin et al. 2018) by checked cut points;
* :mod:`~zkagg.circuits.clipped_fedavg`: FedAvg with per-client L2 clipping, factors checked by the verifier;
* :mod:`~zkagg.circuits.fedavg`: the exact integer weighted sum, for a SNARK of every step;
* :mod:`~zkagg.circuits.norm_bound`: a client's partial sums of squares (and L-infinity check);
* :mod:`~zkagg.circuits.baselines`: the direct formulations (TopK, MatMul) the benchmark compares with.
"""
