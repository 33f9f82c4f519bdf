"""The benchmark wing behind ``zkagg bench``: measurement apart from reporting.

The top wing: it may import every other one, and only the CLI and ``benchmarks/`` import it.
Modules, lower first:

* :mod:`~zkagg._bench.machine`: the machine description named in every output (shared with
  ``benchmarks/harness.py``);
* :mod:`~zkagg._bench.child`: a measurement in a fresh spawned process with its own cache root;
* :mod:`~zkagg._bench.workloads`: the timed workloads (native, EZKL used directly, zkagg, monolithic versus
  sharded, the quality model);
* :mod:`~zkagg._bench.measure`: what a run measures (``BenchConfig``), what it measured
  (``BenchResults``) and the run (``run_bench``);
* :mod:`~zkagg._bench.plots` and :mod:`~zkagg._bench.report`: the PNG plots, the markdown report
  and results.json.
"""
