"""Blobs as celestia-node's ``blob.Blob`` represents them, with its JSON form.

Validation follows celestia-node ``blob.NewBlob`` and go-square ``share.NewBlob``; the JSON form is
celestia-node's custom ``MarshalJSON``/``UnmarshalJSON`` (``shared/da/CELESTIA.md`` §2, "Blob
JSON"): byte fields in standard base64 with padding, ``signer`` omitted when empty, ``index`` the
blob's first share in the extended data square (``-1`` when not read from a block).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Final

from zkagg._errors import CommitmentMismatch, InvalidArgument
from zkagg.da._b64 import b64 as _b64
from zkagg.da._commitment import blob_commitment
from zkagg.da._namespace import Namespace
from zkagg.da._shares import check_signer, shares_needed

__all__ = ["COMMITMENT_SIZE", "USER_SHARE_VERSIONS", "Blob"]

COMMITMENT_SIZE: Final = 32
#: Share versions a user may submit (version 2 is the protocol-internal Fibre blob).
USER_SHARE_VERSIONS: Final = (0, 1)


def _field_bytes(obj: dict[str, object], key: str) -> bytes | None:
    """Decode a base64 byte field as Go's ``[]byte`` does: absent or null is ``None``."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidArgument(f"blob {key} must be a base64 string, not {type(value).__name__}")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidArgument(f"blob {key} must be standard base64 with padding, not {value[:40]!r}") from exc


@dataclass(frozen=True)
class Blob:
    """One blob: a namespace, data, a share version, an optional signer and the commitment.

    Build blobs with :meth:`new` (which validates and computes the commitment) or
    :meth:`from_json`; the constructor itself does not check anything.

    Attributes
    ----------
    namespace
        The blob's namespace.
    data
        The blob's data (not empty).
    share_version
        0, or 1 with a 20-byte ``signer`` (CIP-21).
    signer
        The raw 20-byte signer address for share version 1, else ``None``.
    commitment
        The 32-byte share commitment (:func:`zkagg.da._commitment.blob_commitment`).
    index
        First share of the blob in the extended data square, ``row x 2k + col``; -1 when the blob
        was not read from a block.
    """

    namespace: Namespace
    data: bytes
    share_version: int
    signer: bytes | None
    commitment: bytes
    index: int = -1

    @staticmethod
    def _validate(namespace: Namespace, data: bytes, share_version: int, signer: bytes | None) -> None:
        if not isinstance(namespace, Namespace):
            raise InvalidArgument(f"namespace must be a Namespace, not {type(namespace).__name__}")
        try:
            namespace.validate_for_blob()
        except InvalidArgument as exc:
            raise InvalidArgument(f"invalid user namespace: {exc}") from exc
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise InvalidArgument(f"data must be bytes, not {type(data).__name__}")
        if len(data) == 0:
            raise InvalidArgument("data can not be empty")
        if not isinstance(share_version, int) or isinstance(share_version, bool):
            raise InvalidArgument(f"share_version must be an int, not {type(share_version).__name__}")
        if share_version not in USER_SHARE_VERSIONS:
            raise InvalidArgument(
                f"share_version must be one of {list(USER_SHARE_VERSIONS)}, not {share_version}"
            )
        if signer is not None and not isinstance(signer, (bytes, bytearray)):
            raise InvalidArgument(f"signer must be bytes or None, not {type(signer).__name__}")
        check_signer(share_version, signer)

    @classmethod
    def new(
        cls, namespace: Namespace, data: bytes, share_version: int = 0, signer: bytes | None = None
    ) -> Blob:
        """Validate a blob and compute its commitment (celestia-node ``blob.NewBlob``).

        Raises
        ------
        InvalidArgument
            ``invalid user namespace: ...`` (go-square's ``ValidateForBlob`` message), ``data can
            not be empty``, an unsupported share version, ``share version 0 does not support
            signer`` or ``share version 1 requires signer of size 20 bytes``.
        """
        cls._validate(namespace, data, share_version, signer)
        data = bytes(data)
        signer_bytes = bytes(signer) if signer else None
        commitment = blob_commitment(namespace, data, share_version, signer_bytes)
        return cls(namespace, data, share_version, signer_bytes, commitment)

    def __repr__(self) -> str:
        signer = self.signer.hex() if self.signer else None
        return (
            f"Blob(namespace={self.namespace.hex()}, data=<{len(self.data)} bytes>, "
            f"share_version={self.share_version}, signer={signer}, commitment={self.commitment.hex()}, "
            f"index={self.index})"
        )

    # -- derived ------------------------------------------------------------------------------

    @property
    def share_count(self) -> int:
        """Number of sparse shares the blob occupies."""
        return shares_needed(len(self.data), self.signer is not None)

    def with_index(self, index: int) -> Blob:
        """Return a copy of this blob with ``index`` set (as read from a block)."""
        return Blob(self.namespace, self.data, self.share_version, self.signer, self.commitment, index)

    def verify_commitment(self) -> None:
        """Recompute the commitment and compare.

        Raises
        ------
        CommitmentMismatch
            Naming the namespace and both commitments (base64).
        """
        actual = blob_commitment(self.namespace, self.data, self.share_version, self.signer)
        if actual != self.commitment:
            raise CommitmentMismatch(
                f"blob in namespace {self.namespace} does not match its commitment: "
                f"claimed {_b64(self.commitment)}, computed {_b64(actual)}"
            )

    # -- JSON ---------------------------------------------------------------------------------

    def to_json(self) -> dict[str, object]:
        """celestia-node's Blob JSON (key order as the Go struct emits it)."""
        out: dict[str, object] = {
            "namespace": _b64(self.namespace.to_bytes()),
            "data": _b64(self.data),
            "share_version": self.share_version,
            "commitment": _b64(self.commitment),
        }
        if self.signer:
            out["signer"] = _b64(self.signer)
        out["index"] = self.index
        return out

    @classmethod
    def from_json(cls, obj: object, *, check_commitment: bool = True) -> Blob:
        """Parse celestia-node's Blob JSON, validating it as ``blob.Blob.UnmarshalJSON`` does.

        A null or absent ``signer`` is no signer; a null or absent ``index`` is -1 (celestia-node
        would leave Go's zero value 0, which is a real share position; -1 is the safer reading);
        an absent or null ``commitment`` is recomputed. With ``check_commitment`` a commitment
        present in the JSON must equal the recomputed one; without it, the JSON's commitment is
        kept as celestia-node does.

        Raises
        ------
        InvalidArgument
            Not an object, a bad field type or encoding, or any :meth:`new` validation error
            (``invalid namespace length: N. Must be 29 bytes`` for a bad namespace).
        CommitmentMismatch
            With ``check_commitment``, when the JSON's commitment is not the blob's.
        """
        if not isinstance(obj, dict):
            raise InvalidArgument(f"a blob must be a JSON object, not {type(obj).__name__}")
        ns_raw = _field_bytes(obj, "namespace") or b""
        namespace = Namespace.from_bytes(ns_raw)
        data = _field_bytes(obj, "data") or b""
        share_version = obj.get("share_version", 0)
        if share_version is None:
            share_version = 0
        if not isinstance(share_version, int) or isinstance(share_version, bool) or share_version < 0:
            raise InvalidArgument(f"blob share_version must be a non-negative integer, not {share_version!r}")
        signer = _field_bytes(obj, "signer") or None
        index = obj.get("index")
        if index is None:
            index = -1
        if not isinstance(index, int) or isinstance(index, bool) or index < -1:
            raise InvalidArgument(f"blob index must be an integer >= -1, not {index!r}")
        blob = cls.new(namespace, data, share_version, signer)
        claimed = _field_bytes(obj, "commitment")
        if claimed:
            if check_commitment and claimed != blob.commitment:
                raise CommitmentMismatch(
                    f"blob in namespace {namespace} does not match its commitment: "
                    f"claimed {_b64(claimed)}, computed {_b64(blob.commitment)}"
                )
            blob = cls(namespace, blob.data, share_version, blob.signer, claimed)
        return blob.with_index(index)
