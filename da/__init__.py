"""Celestia-compatible data-availability layer, installed as ``zkagg.da``.

Namespaces, shares and blob commitments byte-identical to Celestia's (go-square, ADR-013), the
``DABackend`` protocol, the celestia-node JSON-RPC client, the embedded node and its server.
"""
