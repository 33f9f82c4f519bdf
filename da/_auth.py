"""celestia-node's RPC auth: HS256 JWTs carrying ``Allow`` permissions, the secret in the node's home.

Follows celestia-node ``libs/authtoken`` and ``api/rpc/perms`` and go-jsonrpc ``auth`` (CELESTIA.md
§1): claims ``{"Allow": [...], "Nonce": <base64 of 32 random bytes>, "ExpiresAt": <RFC 3339>}``
where the zero time ``0001-01-01T00:00:00Z`` means no expiry; the 32-byte secret is kept in
``<home>/keys/jwt-secret.jwt`` (mode 0600) and created the first time it is needed.
"""

from __future__ import annotations

import base64
import contextlib
import math
import os
import secrets
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import jwt

from zkagg._errors import DAAuthError, InvalidArgument
from zkagg.da._backend import ZERO_TIME, format_rfc3339_nanos

__all__ = [
    "ADMIN",
    "METHOD_PERMISSIONS",
    "PERMISSION_SETS",
    "TokenVerifier",
    "load_or_create_secret",
    "new_token",
    "verify_token",
]

#: celestia-node's permission sets (``api/rpc/perms/permissions.go``).
PERMISSION_SETS: Final[dict[str, tuple[str, ...]]] = {
    "public": ("public",),
    "read": ("public", "read"),
    "write": ("public", "read", "write"),
    "admin": ("public", "read", "write", "admin"),
}
ADMIN: Final = PERMISSION_SETS["admin"]
#: What an unauthenticated caller holds (go-jsonrpc's default permissions).
DEFAULT_PERMISSIONS: Final = PERMISSION_SETS["public"]

#: The ``perm`` tag of each served method, as in celestia-node's module definitions.
METHOD_PERMISSIONS: Final[dict[str, str]] = {
    "blob.Submit": "write",
    "blob.Get": "read",
    "blob.GetAll": "read",
    "blob.GetProof": "read",
    "blob.Included": "read",
    "blob.GetCommitmentProof": "read",
    "blob.Subscribe": "read",
    "header.LocalHead": "read",
    "header.NetworkHead": "read",
    "header.GetByHeight": "read",
    "header.WaitForHeight": "read",
    "header.GetByHash": "read",
    "header.GetRangeByHeight": "read",
    "header.SyncState": "read",
    "header.SyncWait": "read",
    "header.Tail": "read",
    "header.Subscribe": "read",
    "state.AccountAddress": "read",
    "state.Balance": "read",
    "state.BalanceForAddress": "read",
    "share.SharesAvailable": "read",
    "share.GetShare": "read",
    "share.GetSamples": "read",
    "share.GetEDS": "read",
    "share.GetRange": "read",
    "share.GetNamespaceData": "read",
    "node.Info": "admin",
    "node.Ready": "read",
    "node.AuthNew": "admin",
    "node.AuthNewWithExpiry": "admin",
    "node.AuthVerify": "admin",
}

SECRET_FILE: Final = Path("keys") / "jwt-secret.jwt"
SECRET_SIZE: Final = 32


def load_or_create_secret(home: Path) -> bytes:
    """Return the node's JWT secret, creating ``<home>/keys/jwt-secret.jwt`` (0600) if absent.

    The file is created with ``O_EXCL`` and mode 0600, so the secret is never readable by others
    even for an instant, and two processes starting at once agree on one secret.

    Raises
    ------
    InvalidArgument
        If the file exists but does not hold a secret of 32 bytes.
    """
    path = Path(home) / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        # Write a private temporary file, then link it into place: the secret appears whole or
        # not at all (a crash cannot leave an empty key file), and a concurrent start keeps the
        # first one linked.
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(SECRET_SIZE))
                fh.flush()
                os.fsync(fh.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    secret = path.read_bytes()
    if len(secret) != SECRET_SIZE:
        raise InvalidArgument(f"JWT secret {path} must hold {SECRET_SIZE} bytes, not {len(secret)}")
    return secret


def _expand(permissions: str | Sequence[str]) -> list[str]:
    if isinstance(permissions, str):
        if permissions not in PERMISSION_SETS:
            raise InvalidArgument(
                f"permission level must be one of {', '.join(PERMISSION_SETS)}, not {permissions!r}"
            )
        return list(PERMISSION_SETS[permissions])
    perms = list(permissions)
    for perm in perms:
        if perm not in PERMISSION_SETS:
            raise InvalidArgument(
                f"each permission must be one of {', '.join(PERMISSION_SETS)}, not {perm!r}"
            )
    return perms


def new_token(secret: bytes, permissions: str | Sequence[str], ttl: float | None = None) -> str:
    """Sign a token as ``celestia <node> auth <level>`` does.

    Parameters
    ----------
    secret
        The node's 32-byte secret (:func:`load_or_create_secret`).
    permissions
        A level (``"read"``, ``"write"``, ``"admin"``, ``"public"``) expanded to its set, or an
        explicit list of permissions as ``node.AuthNew`` takes.
    ttl
        Lifetime in seconds; ``None`` or 0 for a token that never expires.
    """
    perms = _expand(permissions)
    expires = ZERO_TIME
    if ttl:
        if ttl < 0:
            raise InvalidArgument(f"ttl must be a positive number of seconds or None, not {ttl}")
        expires = format_rfc3339_nanos(time.time_ns() + int(ttl * 1e9))
    claims = {
        "Allow": perms,
        "Nonce": base64.b64encode(secrets.token_bytes(32)).decode("ascii"),
        "ExpiresAt": expires,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def _parse_time(text: str) -> datetime:
    """Parse an RFC 3339 time with up to nanosecond precision (Python keeps microseconds)."""
    head, _, frac = text.rstrip("Z").partition(".")
    parsed = datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    if frac:
        parsed = parsed.replace(microsecond=int((frac + "000000")[:6]))
    return parsed


def verify_token(secret: bytes, token: str) -> list[str]:
    """Check a token's signature and expiry and return its permissions.

    Raises
    ------
    DAAuthError
        If the signature, the algorithm, the claims or the expiry are wrong, with the reason
        (``token expired 1.500s ago``, as celestia-node words it).
    """
    perms, expires = _verify(secret, token)
    late = time.time() - expires
    if late > 0:
        raise DAAuthError(f"token expired {late:.3f}s ago")
    return perms


def _verify(secret: bytes, token: str) -> tuple[list[str], float]:
    """Check a token's signature and claims; return its permissions and expiry (epoch seconds)."""
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"verify_exp": False})
    except jwt.PyJWTError as exc:
        raise DAAuthError(f"JWT verification failed: {exc}") from exc
    allow = claims.get("Allow")
    if not isinstance(allow, list) or not all(isinstance(p, str) for p in allow):
        raise DAAuthError("JWT verification failed: claim 'Allow' must be a list of strings")
    expires = claims.get("ExpiresAt", ZERO_TIME)
    if expires in (None, "", ZERO_TIME):
        return list(allow), math.inf
    if not isinstance(expires, str):
        raise DAAuthError(f"JWT verification failed: claim 'ExpiresAt' must be RFC 3339, not {expires!r}")
    try:
        when = _parse_time(expires)
    except ValueError as exc:
        raise DAAuthError(f"JWT verification failed: claim 'ExpiresAt' is not RFC 3339: {expires!r}") from exc
    return list(allow), when.timestamp()


class TokenVerifier:
    """:func:`verify_token` with a bounded cache of verified tokens (signature checked once).

    The expiry is still checked on every call; a token that failed is not cached.

    Parameters
    ----------
    secret
        The node's JWT secret.
    size
        Most tokens remembered.
    """

    def __init__(self, secret: bytes, size: int = 1024) -> None:
        self._secret = secret
        self._size = size
        self._cache: dict[str, tuple[list[str], float]] = {}

    def __call__(self, token: str) -> list[str]:
        """Return the token's permissions (DAAuthError if it is bad or expired)."""
        entry = self._cache.get(token)
        if entry is None:
            entry = _verify(self._secret, token)
            if len(self._cache) >= self._size:
                self._cache.pop(next(iter(self._cache)))
            self._cache[token] = entry
        perms, expires = entry
        late = time.time() - expires
        if late > 0:
            raise DAAuthError(f"token expired {late:.3f}s ago")
        return perms
