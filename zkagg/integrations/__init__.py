"""Integrations with federated-learning frameworks (each behind its own optional extra).

* :mod:`zkagg.integrations.flower`: Flower strategies (``pip install 'zkagg[flower]'``).
"""
