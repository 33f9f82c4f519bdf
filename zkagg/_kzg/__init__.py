"""The commitment wing: KZG commitments exactly as EZKL makes them, and the group arithmetic on them.

``points`` is the one 64-byte point encoding (decoding checks the curve), ezkl's and py-ecc's forms,
and the commitments inside ``polycommit`` proofs; ``g1`` the G1 arithmetic on plain integers;
``commit`` the commitment domain, committing to chunks and updates. Imports the prover wing (the
reference circuit whose keys ``kzg_commit`` needs) and the ground floor.
"""
