"""The digits workload: data, the model and its local training, the reference loop, and quality proofs.

Everything specific to the federated-learning task lives here (the protocol reaches it through
:mod:`zkagg._protocol.workload` only). :mod:`zkagg._fl.model` and :mod:`zkagg._fl.sim` import torch;
:mod:`zkagg._fl.data`, :mod:`zkagg._fl.flat` and :mod:`zkagg._fl.quality` do not.
"""
