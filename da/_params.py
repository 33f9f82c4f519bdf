"""Request and parameter decoding as celestia-node's Go server does it (``encoding/json`` shapes).

What the JSON-RPC server (:mod:`zkagg.da._rpc`) reads before it calls a method, with the errors Go
would give (CELESTIA.md §1-2; go-jsonrpc ``handler.go``, Go's ``encoding/json`` and
``encoding/base64``, celestia-node ``blob/blob.go``):

* the request body: :func:`loads_bounded` refuses JSON nested deeper than :data:`MAX_JSON_DEPTH`;
  :func:`request_shape_ok` says whether ``encoding/json`` could fill go-jsonrpc's ``request``
  struct from it;
* the parameters, one decoder per Go type: ``uint64`` heights, ``[]byte`` fields as standard base64
  with padding (:func:`go_b64decode`, on :func:`zkagg.da._b64.b64decode_strict`), namespaces,
  commitments, ``blob.Blob`` (rebuilt and its commitment recomputed, as ``Blob.UnmarshalJSON``),
  ``state.TxConfig``, ``blob.Proof`` and ``auth.Permission`` lists. A value that does not decode
  raises :class:`~zkagg._errors.InvalidArgument` with Go's text: ``json: cannot unmarshal string into
  Go value of type uint64``, ``illegal base64 data at input byte 3``.

Deliberate differences from celestia-node: heights may also be decimal strings (Go accepts only
numbers), and Go's ``encoding/json`` type-error texts are reproduced for common cases only.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from zkagg._errors import InvalidArgument
from zkagg.da._b64 import b64decode_strict
from zkagg.da._blob import Blob
from zkagg.da._namespace import Namespace

__all__ = [
    "MAX_JSON_DEPTH",
    "decode_any",
    "decode_blobs",
    "decode_commitment",
    "decode_duration",
    "decode_header",
    "decode_height",
    "decode_hex",
    "decode_int",
    "decode_string",
    "decode_namespace",
    "decode_namespaces",
    "decode_permissions",
    "decode_proof",
    "decode_tx_config",
    "go_b64decode",
    "json_kind",
    "loads_bounded",
    "request_shape_ok",
]

# -- the request body ------------------------------------------------------------------------------

#: Deepest JSON nesting accepted. json.loads recurses in C; with a raised recursion limit (py_ecc
#: raises it to 100000 on import) a deeply nested body would overflow a server thread's C stack.
MAX_JSON_DEPTH: Final = 256
_JSON_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _json_depth_ok(raw: bytes) -> bool:
    """Whether the nesting depth of ``raw`` stays within :data:`MAX_JSON_DEPTH` (brackets in strings ignored)."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_JSON_DEPTH:
        return True  # the common case: a request has a handful of brackets
    depth = 0
    for token in _JSON_TOKEN.finditer(raw):
        char = token.group()[:1]
        if char in (b"[", b"{"):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return False
        elif char in (b"]", b"}"):
            depth -= 1
    return True


def loads_bounded(text: bytes | str) -> Any:
    """``json.loads`` that refuses nesting deeper than :data:`MAX_JSON_DEPTH` with ``ValueError``."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if not _json_depth_ok(raw):
        raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return json.loads(text)


def request_shape_ok(req: dict[str, Any]) -> bool:
    """Whether encoding/json could decode ``req`` into go-jsonrpc's ``request`` struct."""
    method = req.get("method")
    if method is not None and not isinstance(method, str):
        return False
    version = req.get("jsonrpc")
    if version is not None and not isinstance(version, str):
        return False
    meta = req.get("meta")
    return meta is None or (isinstance(meta, dict) and all(isinstance(v, str) for v in meta.values()))


# -- parameters -----------------------------------------------------------------------------------


def json_kind(value: object) -> str:
    """Name the JSON kind as encoding/json does in its errors (``string``, ``number``, ``object``...)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _type_error(value: object, go_type: str, field_path: str | None = None) -> InvalidArgument:
    kind = json_kind(value)
    if kind == "number":
        kind = f"number {json.dumps(value)}"
    where = f"Go struct field {field_path} of type" if field_path else "Go value of type"
    return InvalidArgument(f"json: cannot unmarshal {kind} into {where} {go_type}")


_B64_ALPHABET: Final = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def go_b64decode(value: object, go_type: str = "[]uint8", field_path: str | None = None) -> bytes:
    """Decode a Go ``[]byte`` JSON field: standard base64 with padding; ``null`` is empty.

    Raises
    ------
    InvalidArgument
        ``illegal base64 data at input byte N`` (Go's ``base64.CorruptInputError``) or a type error.
    """
    if value is None:
        return b""
    if not isinstance(value, str):
        raise _type_error(value, go_type, field_path)
    raw = value.encode("utf-8", "surrogatepass")
    if b"\r" in raw or b"\n" in raw:
        raw = raw.replace(b"\r", b"").replace(b"\n", b"")  # Go skips newlines
    try:
        return b64decode_strict(raw)
    except ValueError:
        raise InvalidArgument(f"illegal base64 data at input byte {_b64_error_offset(raw)}") from None


def _b64_error_offset(raw: bytes) -> int:
    """Where Go's decoder reports malformed base64 (the slow path, for the message only)."""
    body = raw.rstrip(b"=")
    for i, ch in enumerate(body):
        if ch not in _B64_ALPHABET:
            return i
    # A truncated or over-padded final quantum: Go reports the offset where it starts.
    return (len(body) // 4) * 4


def decode_height(value: object) -> int:
    """``uint64``; decimal strings are accepted too (a documented leniency)."""
    if value is None:
        return 0
    if isinstance(value, bool):
        raise _type_error(value, "uint64")
    if isinstance(value, int):
        if 0 <= value < 1 << 64:
            return value
        raise _type_error(value, "uint64")
    if isinstance(value, float):
        if value.is_integer() and 0 <= value < 2.0**64:
            return int(value)
        raise _type_error(value, "uint64")
    if isinstance(value, str) and value.isascii() and value.isdigit() and int(value) < 1 << 64:
        return int(value)
    raise _type_error(value, "uint64")


def decode_namespace(value: object) -> Namespace:
    raw = go_b64decode(value, "[]uint8")
    return Namespace.from_bytes(raw)


def decode_commitment(value: object) -> bytes:
    return go_b64decode(value, "blob.Commitment")


def _decode_blob(value: object) -> Blob:
    """celestia-node ``blob.Blob.UnmarshalJSON``: rebuild and validate; the commitment is recomputed."""
    if value is None:
        raise InvalidArgument("blob must not be null")
    if not isinstance(value, dict):
        raise _type_error(value, "blob.jsonBlob")
    ns_raw = go_b64decode(value.get("namespace"), "[]uint8", "jsonBlob.namespace")
    data = go_b64decode(value.get("data"), "[]uint8", "jsonBlob.data")
    version = value.get("share_version", 0)
    if version is None:
        version = 0
    if isinstance(version, bool) or not isinstance(version, int) or not 0 <= version < 1 << 32:
        raise _type_error(version, "uint32", "jsonBlob.share_version")
    go_b64decode(value.get("commitment"), "blob.Commitment", "jsonBlob.commitment")
    signer = go_b64decode(value.get("signer"), "[]uint8", "jsonBlob.signer") or None
    index = value.get("index")
    if index is not None and (isinstance(index, bool) or not isinstance(index, int)):
        raise _type_error(index, "int", "jsonBlob.index")
    namespace = Namespace.from_bytes(ns_raw)
    return Blob.new(namespace, data, version, signer)


def _go_slice(value: object, go_type: str) -> list[Any]:
    """The items of a JSON array decoded into a Go slice; ``null`` is an empty slice."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _type_error(value, go_type)
    return value


def decode_blobs(value: object) -> list[Blob]:
    return [_decode_blob(item) for item in _go_slice(value, "[]*blob.Blob")]


def decode_tx_config(value: object) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _type_error(value, "state.TxConfig")
    for key in ("gas_price", "max_gas_price"):
        if (
            key in value
            and value[key] is not None
            and (isinstance(value[key], bool) or not isinstance(value[key], (int, float)))
        ):
            raise _type_error(value[key], "float64", f"TxConfig.{key}")
    for key in ("gas", "tx_priority"):
        if (
            key in value
            and value[key] is not None
            and (isinstance(value[key], bool) or not isinstance(value[key], int) or value[key] < 0)
        ):
            raise _type_error(value[key], "uint64" if key == "gas" else "int", f"TxConfig.{key}")
    return value


def decode_namespaces(value: object) -> list[Namespace]:
    return [decode_namespace(v) for v in _go_slice(value, "[]share.Namespace")]


def decode_proof(value: object) -> list[dict[str, Any]] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise _type_error(value, "blob.Proof")
    out = []
    for item in value:
        if item is not None and not isinstance(item, dict):
            raise _type_error(item, "nmt.Proof")
        out.append(item or {})
    return out


def decode_permissions(value: object) -> list[str]:
    items = _go_slice(value, "[]auth.Permission")
    for item in items:
        if not isinstance(item, str):
            raise _type_error(item, "auth.Permission")
    return list(items)


def _go_int(value: object, go_type: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not float(value).is_integer():
        raise _type_error(value, go_type)
    return int(value)


def decode_int(value: object) -> int:
    """``int`` (a JSON number)."""
    return _go_int(value, "int")


def decode_duration(value: object) -> int:
    """``time.Duration``: nanoseconds as a JSON number."""
    return _go_int(value, "time.Duration")


def decode_string(value: object) -> str:
    if not isinstance(value, str):
        raise _type_error(value, "string")
    return value


def decode_hex(value: object) -> bytes:
    """``bytes.HexBytes`` (a header hash): a hex string, either case."""
    if not isinstance(value, str):
        raise _type_error(value, "header.Hash")
    try:
        return bytes.fromhex(value)
    except ValueError as exc:
        raise InvalidArgument(f"encoding/hex: invalid byte in {value!r}") from exc


def decode_header(value: object) -> int:
    """An ``*header.ExtendedHeader`` argument; only its height is used, so only that is returned."""
    if not isinstance(value, dict):
        raise _type_error(value, "header.ExtendedHeader")
    inner = value.get("header")
    height = inner.get("height") if isinstance(inner, dict) else None
    if height is None:
        raise InvalidArgument("header.ExtendedHeader must have header.height")
    return decode_height(height)


def decode_any(value: object) -> object:
    """A parameter the method does not read (it answers an error whatever it is)."""
    return value
