"""What a shard must compute: the aggregation rule, its parameters and the commitment domain.

An :class:`AggregationSpec` is agreed per deployment (or per round) and is what every commitment,
aggregate and proof is checked against. It is validated on construction, with messages that name the
argument, what it must be and what it was.
"""

from __future__ import annotations

import math
import struct
import threading
from dataclasses import dataclass, field

from zkagg._errors import InvalidArgument
from zkagg._home import zkagg_home
from zkagg._kzg.commit import DOMAIN_SIZE, CommitmentDomain, commitment_domain
from zkagg._prover.srs import SRS, dev_srs

__all__ = ["RULES", "AggregationSpec"]

#: The aggregation rules, in the order of their one-byte codes in encodings. New rules are only
#: ever appended, so every encoding made before one was added decodes unchanged (same version).
RULES = ("fedavg", "median", "trimmed_mean", "clipped_fedavg", "fedavg_snark")

_SPEC_VERSION = 1
#: Encoded spec: version, rule code, beta (f64), clip_norm (f64), commitment domain.
SPEC_SIZE = 2 + 8 + 8 + DOMAIN_SIZE

#: How an absent float parameter is written: the one NaN ``struct`` packs ``float("nan")`` as.
_ABSENT = struct.pack(">d", float("nan"))

_DOMAINS: dict[tuple[object, ...], CommitmentDomain] = {}
_DOMAINS_LOCK = threading.Lock()


@dataclass(frozen=True)
class AggregationSpec:
    """An aggregation rule with its parameters and the commitment domain of its inputs.

    Parameters
    ----------
    rule
        ``"fedavg"`` (weighted mean, checked homomorphically without a SNARK), ``"median"``,
        ``"trimmed_mean"``, ``"clipped_fedavg"`` (proven with EZKL circuits by ``zkagg._aggregation.rules``), or
        ``"fedavg_snark"``: the same weighted mean as ``"fedavg"`` with an EZKL proof per chunk
        (:mod:`zkagg.circuits.fedavg`), for users who need a SNARK for every step (for example to
        verify on chain). Its aggregate is bit for bit the ``"fedavg"`` aggregate; it costs one
        proof per chunk instead of a few group operations.
    chunk_size
        Values per committed chunk (a power of two, at most ``2**(logrows - 1)``).
    scale
        Quantization scale: values become ``round(x * 2**scale)``.
    logrows
        KZG domain of the commitments and of every proof linked to them.
    salted
        One random salt slot per chunk, making commitments hiding.
    beta
        ``trimmed_mean`` only: fraction trimmed at each end, in ``(0, 0.5)``.
    clip_norm
        ``clipped_fedavg`` only: L2 bound ``C > 0`` of each client's update.
    srs_sha256
        SHA-256 of the SRS; ``None`` means the INSECURE dev SRS of ``logrows`` on this machine.
    srs
        The ceremony SRS object to use (not compared; its hash becomes ``srs_sha256``).
    """

    rule: str = "fedavg"
    chunk_size: int = 1024
    scale: int = 13
    logrows: int = 15
    salted: bool = False
    beta: float | None = None
    clip_norm: float | None = None
    srs_sha256: str | None = None
    srs: SRS | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise InvalidArgument(f"rule must be one of {', '.join(RULES)}, not {self.rule!r}")
        if self.rule == "trimmed_mean":
            if (
                self.beta is None
                or isinstance(self.beta, bool)
                or not isinstance(self.beta, int | float)
                or not 0 < self.beta < 0.5
            ):
                raise InvalidArgument(
                    f"beta must be a number in (0, 0.5) for rule trimmed_mean, not {self.beta!r}"
                )
        elif self.beta is not None:
            raise InvalidArgument(
                f"beta is only for rule trimmed_mean, not {self.rule} (got beta={self.beta!r})"
            )
        if self.rule == "clipped_fedavg":
            c = self.clip_norm
            if (
                c is None
                or isinstance(c, bool)
                or not isinstance(c, int | float)
                or not (math.isfinite(c) and c > 0)
            ):
                raise InvalidArgument(
                    f"clip_norm must be a positive finite number for rule clipped_fedavg, not {c!r}"
                )
        elif self.clip_norm is not None:
            raise InvalidArgument(
                f"clip_norm is only for rule clipped_fedavg, not {self.rule} (got clip_norm={self.clip_norm!r})"
            )
        if self.srs is not None:
            if self.srs_sha256 is not None and self.srs_sha256 != self.srs.sha256:
                raise InvalidArgument(
                    f"srs_sha256 ({self.srs_sha256[:16]}...) differs from the srs given ({self.srs.sha256[:16]}...)"
                )
            object.__setattr__(self, "srs_sha256", self.srs.sha256)
        # Validates logrows, chunk_size, scale and salted with the domain's own messages.
        CommitmentDomain(self.logrows, self.chunk_size, self.scale, self.srs_sha256 or "0" * 64, self.salted)

    def matches(self, expected: AggregationSpec) -> bool:
        """Whether this spec is ``expected``, without resolving this spec's own domain.

        For specs decoded from untrusted bytes: every field is compared first, and only
        ``expected``'s domain (the verifier's own) is resolved to learn its SRS hash, so a spec that
        names, say, logrows 24 costs nothing to refuse.
        """
        fields = ("rule", "chunk_size", "scale", "logrows", "salted", "beta", "clip_norm")
        if any(getattr(self, f) != getattr(expected, f) for f in fields):
            return False
        mine = self.srs_sha256 if self.srs_sha256 is not None else self.domain().srs_sha256
        return mine == expected.domain().srs_sha256

    def domain(self) -> CommitmentDomain:
        """The commitment domain (its reference circuit prepared on first use, then cached)."""
        # The dev SRS is per cache root, so an unnamed SRS is resolved per ZKAGG_HOME.
        where = str(zkagg_home()) if self.srs_sha256 is None else ""
        key = (self.logrows, self.chunk_size, self.scale, self.salted, self.srs_sha256, where)
        with _DOMAINS_LOCK:
            hit = _DOMAINS.get(key)
        if hit is not None:
            return hit
        if self.srs is not None:
            domain = commitment_domain(self.logrows, self.chunk_size, self.scale, self.salted, self.srs)
        elif self.srs_sha256 is None or self.srs_sha256 == dev_srs(self.logrows).sha256:
            domain = commitment_domain(self.logrows, self.chunk_size, self.scale, self.salted)
        else:
            # A spec decoded from bytes naming a ceremony SRS: the domain is known, and committing
            # needs the SRS registered (CommitmentDomain raises a clear error when it is missing).
            domain = CommitmentDomain(self.logrows, self.chunk_size, self.scale, self.srs_sha256, self.salted)
        with _DOMAINS_LOCK:
            _DOMAINS[key] = domain
        return domain

    def to_bytes(self) -> bytes:
        """Fixed-size encoding: version, rule code, beta, clip_norm (NaN when absent), domain.

        Encoding a spec that names its SRS does no work (no SRS is read or made), so a spec decoded
        from untrusted bytes can be re-encoded and compared before anything trusts it; only a spec
        without ``srs_sha256`` resolves the dev SRS of this machine to learn its hash.
        """
        nan = float("nan")
        head = struct.pack(
            ">BBdd",
            _SPEC_VERSION,
            RULES.index(self.rule),
            nan if self.beta is None else float(self.beta),
            nan if self.clip_norm is None else float(self.clip_norm),
        )
        if self.srs_sha256 is None:
            return head + self.domain().to_bytes()
        fields = (self.logrows, self.chunk_size, self.scale, self.srs_sha256, self.salted)
        return head + CommitmentDomain(*fields).to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> AggregationSpec:
        """Inverse of :meth:`to_bytes` (raises :class:`InvalidArgument` on a malformed encoding).

        Only the form :meth:`to_bytes` writes is accepted: an absent ``beta`` or ``clip_norm`` is the
        one NaN ``7ff8000000000000`` (every other NaN bit pattern, which would decode to the same
        spec, is refused), so ``to_bytes(from_bytes(b)) == b``.
        """
        if len(data) != SPEC_SIZE:
            raise InvalidArgument(f"an encoded spec has {SPEC_SIZE} bytes, not {len(data)}")
        version, code, beta, clip = struct.unpack(">BBdd", data[:18])
        if version != _SPEC_VERSION:
            raise InvalidArgument(f"spec encoding version must be {_SPEC_VERSION}, not {version}")
        if code >= len(RULES):
            raise InvalidArgument(f"rule code must be below {len(RULES)}, not {code}")
        for name, offset, value in (("beta", 2, beta), ("clip_norm", 10, clip)):
            raw = data[offset : offset + 8]
            if math.isnan(value) and raw != _ABSENT:
                raise InvalidArgument(
                    f"an absent {name} is encoded as the NaN {_ABSENT.hex()}, not {bytes(raw).hex()}"
                )
        d = CommitmentDomain.from_bytes(data[18:])
        return cls(
            rule=RULES[code],
            chunk_size=d.chunk_size,
            scale=d.scale,
            logrows=d.logrows,
            salted=d.salted,
            beta=None if math.isnan(beta) else beta,
            clip_norm=None if math.isnan(clip) else clip,
            srs_sha256=d.srs_sha256,
        )
