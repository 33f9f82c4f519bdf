"""Circuit builders: code that turns an aggregation step or a shard model into an ONNX graph.

Installed as ``zkagg.circuits``. One module per step; each builder returns ONNX bytes and the run
arguments the step is meant to be compiled with. Compilation, keys and proving live in
:mod:`zkagg._artifacts` and :mod:`zkagg._prover`.
"""
