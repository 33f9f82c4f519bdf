"""The prover wing: the only place that calls ezkl (ezkl 23.0.5, pinned).

``ezkl`` translates ezkl's errors at one boundary; ``srs`` makes dev SRS files offline (labelled
insecure) and loads ceremony files by hash; ``artifacts`` compiles circuits and caches their keys,
content-addressed; ``proof`` proves and verifies (:class:`~zkagg.Proof`, one verification rule:
``verify(...) -> None`` raises :class:`~zkagg.InvalidProof`). Imports only the ground floor.
"""
