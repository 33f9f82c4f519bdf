"""The one exception tree of zkagg.

Every error zkagg raises on purpose is a :class:`ZkaggError`. Each class carries the exit code that
the CLI returns for it, so a script can tell a forged proof from a missing file without parsing text::

    ZkaggError (1)
    ├── InvalidArgument (2)            also a ValueError: an argument outside its domain
    ├── QuantizationError (3)          also a ValueError: NaN, infinity, field overflow
    ├── CircuitError (4)               an ONNX model ezkl cannot compile or calibrate
    ├── ProvingError (5)               witness generation, setup or proving failed
    ├── InvalidProof (6)               a proof, its instances or its key do not verify
    ├── ArtifactError (7)              a missing, corrupted or mismatched key, SRS or settings file
    ├── CommitmentMismatch (8)         data that does not open its commitment
    ├── DAError (9)                    the data-availability layer
    │   ├── DAConnectionError (10)     the DA node cannot be reached
    │   ├── DAAuthError (11)           HTTP 401, or a token without the permission
    │   ├── BlobNotFound (12)          "blob: not found"
    │   └── DARPCError (13)            any other JSON-RPC error, with its code and message
    └── ProtocolError (14)             a bad, misbound or replayed round message

Foreign errors (ezkl's ``RuntimeError`` strings, httpx exceptions, celestia-node messages) are
translated at one boundary each, with ``raise ... from exc`` so the original stays attached.
"""

from __future__ import annotations

__all__ = [
    "ArtifactError",
    "BlobNotFound",
    "CircuitError",
    "CommitmentMismatch",
    "DAAuthError",
    "DAConnectionError",
    "DAError",
    "DARPCError",
    "InvalidArgument",
    "InvalidProof",
    "ProtocolError",
    "ProvingError",
    "QuantizationError",
    "ZkaggError",
]


class ZkaggError(Exception):
    """Base class of every error zkagg raises on purpose."""

    exit_code: int = 1


class InvalidArgument(ZkaggError, ValueError):
    """An argument outside its domain: the message names it, what it must be and what it was."""

    exit_code = 2


class QuantizationError(ZkaggError, ValueError):
    """A value that cannot be quantized: NaN, infinity, or a magnitude that could overflow the field."""

    exit_code = 3


class CircuitError(ZkaggError):
    """An ONNX model that cannot be turned into a circuit (settings, calibration, compilation)."""

    exit_code = 4


class ProvingError(ZkaggError):
    """Witness generation, key generation or proving failed."""

    exit_code = 5


class InvalidProof(ZkaggError):
    """A proof that does not verify against its verification key and public instances."""

    exit_code = 6


class ArtifactError(ZkaggError):
    """A circuit artifact (settings, compiled circuit, keys, SRS, proof file) is missing or corrupt."""

    exit_code = 7


class CommitmentMismatch(ZkaggError):
    """Data that does not open the commitment it is claimed to open."""

    exit_code = 8


class DAError(ZkaggError):
    """Base class of data-availability layer errors."""

    exit_code = 9


class DAConnectionError(DAError):
    """The DA node could not be reached, or the connection broke."""

    exit_code = 10


class DAAuthError(DAError):
    """The DA node refused the token (HTTP 401) or the token lacks a permission."""

    exit_code = 11


class BlobNotFound(DAError):
    """No blob with that namespace and commitment at that height (celestia-node: ``blob: not found``)."""

    exit_code = 12


class DARPCError(DAError):
    """A JSON-RPC error from the DA node other than the ones above.

    Parameters
    ----------
    message
        The node's error message, verbatim.
    code
        The JSON-RPC error code (celestia-node uses 1 for every application error).
    """

    exit_code = 13

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code
        self.rpc_message = message


class ProtocolError(ZkaggError):
    """A round message that is malformed, bound to another round or shard, or replayed."""

    exit_code = 14
