"""A deployment: the public configuration every party of a sharded FL deployment shares, and its keys.

A :class:`Deployment` is what parties agree on before the first round: who the coordinator, the
shard aggregators and the clients are (their public keys), the aggregation rule and commitment
domain, the model and data of the workload, the quality gate, the quorum and the round windows (in
DA blocks). It is written as one JSON file (``deployment.json``) that every process reads; its
SHA-256 over a canonical encoding is the 32-byte deployment id that every round message carries,
so a message of another deployment, or of a deployment whose parameters were changed, is rejected.

The deployment may pin its SRS (``srs_sha256``: the SHA-256 of a ceremony SRS file per logrows,
``zkagg init --srs FILE``). Every commitment and every proof of a round is made and checked with the
SRS of the deployment's logrows: whoever knows an SRS's trapdoor can open commitments to anything and
forge proofs, so which SRS is used must not be left to a message or to whatever a machine generated
for itself. With a pin, the hash is part of the id, the spec every party uses names it, and each
party finds the file by that hash (``--srs`` or the local registry, :func:`zkagg._prover.srs.pinned_srs`);
a result or proof made under another SRS is refused. Without one, every party uses its own INSECURE
dev SRS (fine for a simulation in one process or on one machine, and said so by the CLI).

Private keys never enter that file: :class:`DeploymentKeys` generates one identity per party and
saves each into its own directory (``coordinator/``, ``shard-<i>/``, ``client-<i>/``) so that a
party started on another machine gets only its own directory.

The workload is the digits task (:mod:`zkagg._fl.data`): client ``i`` trains on part ``i`` of a
seeded Dirichlet split of the training set. Real clients would bring their own data; in this
simulation the split stands in for it and every process derives it from ``data_seed``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from zkagg._aggregation.norm import chunks_per_proof
from zkagg._aggregation.spec import AggregationSpec
from zkagg._errors import ArtifactError, InvalidArgument
from zkagg._home import atomic_write_bytes
from zkagg._kzg.commit import CommitmentDomain
from zkagg._protocol.keys import KEY_SIZE, Identity, client_id_for
from zkagg._protocol.messages import DEPLOYMENT_SIZE, MAX_SHARDS, ShardKeys
from zkagg._protocol.seed import chain_anchor
from zkagg._prover.srs import MAX_LOGROWS, MIN_LOGROWS

__all__ = ["DEPLOYMENT_FORMAT", "Deployment", "DeploymentKeys"]

DEPLOYMENT_FORMAT: Final = "zkagg-deployment/1"
_ID_TAG: Final = b"zkagg/deployment/v1\x00"
#: Rules a deployment can run (the spec's rules).
RULES: Final = ("fedavg", "median", "trimmed_mean", "clipped_fedavg", "fedavg_snark")
MAX_CLIENTS: Final = 4096
#: Fields added after the first release: absent from the canonical form while ``None``.
_OMITTED_WHEN_NONE: Final = frozenset({"client_norm_bound", "max_sample_count", "srs_sha256"})
#: The largest sample count a client may declare when the deployment sets none.
DEFAULT_MAX_SAMPLE_COUNT: Final = 2**32 - 1


def _int(name: str, value: object, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InvalidArgument(f"{name} must be an integer in [{lo}, {hi}], not {value!r}")
    return value


def _number(name: str, value: object, lo: float, hi: float, *, open_low: bool = False) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok and (value > lo if open_low else value >= lo) and value <= hi:  # type: ignore[operator]
        return float(value)  # type: ignore[arg-type]
    bracket = "(" if open_low else "["
    raise InvalidArgument(f"{name} must be a number in {bracket}{lo}, {hi}], not {value!r}")


def _key(name: str, value: object) -> bytes:
    if not isinstance(value, bytes) or len(value) != KEY_SIZE:
        raise InvalidArgument(f"{name} must be a {KEY_SIZE}-byte public key, not {value!r}")
    return value


@dataclass(frozen=True)
class Deployment:
    """The public configuration of a deployment (see the module docstring).

    Attributes
    ----------
    name
        A label (part of the id, so two deployments with equal parameters still differ).
    rule, beta, clip_norm, chunk_size, scale, logrows
        The aggregation rule and its commitment domain (:class:`~zkagg.AggregationSpec`).
    hidden, data_seed, alpha, epochs, lr
        The workload: MLP width, the seed of the digits split and of the initial model, the
        Dirichlet concentration of the non-IID split, local epochs and learning rate.
    quality
        Whether shards prove their shard model's accuracy on the probe set (the quality gate).
    probe_size
        Public probe samples (held out of the training split; baked into the quality circuit).
    quality_floor, quality_margin
        The quality threshold of a round is ``max(floor, global probe accuracy - margin)``
        (defaults 0.3 and 0.1: with the default 16 probe samples, one sample is 0.0625, so a
        shard model may classify one probe sample fewer than the global model. A margin of 0.05
        allowed none, and in proven runs under 30% sign-flipping clients left every shard of a
        round, honest ones too, below the threshold; with 0.1 the proven median, trimmed mean and
        honest runs met issue 12's targets, ``benchmarks/results/fl_rounds.md``, rows ``-m10``).
    quorum
        Shards that must make a verified result *available* for a round to publish a global
        model: accepted, or proven correct but below the quality threshold; the model is composed
        from the accepted ones, and at least one must be (quorum on availability, not on verdicts:
        :func:`~zkagg._protocol.sharding.has_quorum` says why). ``0`` (the default) means a
        majority of the shards, ``n_shards // 2 + 1``.
    reveal_window, update_window, result_window
        DA blocks for the shards' seed reveals after the seed height (:mod:`zkagg._protocol.seed`;
        on a real chain a few blocks: enough for every shard to post one small blob, not so many
        that clients wait long to learn their shard), for client updates after that, and for shard
        results after that.
    client_norm_bound
        ``None`` (the default): clients prove nothing about their updates. A positive number ``C``:
        every client proves ``||update||_2 <= C`` (float units) for the update it committed to
        (:func:`~zkagg.prove_norm`), shards exclude clients without a valid proof and the
        coordinator and the auditor exclude a shard that included one (:mod:`zkagg._protocol.coordinator`). The
        field is left out of the canonical form while it is ``None``, so deployments without it
        keep their ids.
    max_sample_count
        The largest sample count (FedAvg weight) a client may declare. Sample counts are claims,
        not facts: nothing proves how much data a client trained on, so a client may declare any
        count up to this bound and weigh its update by it (within the bound a liar can make its
        update up to ``max_sample_count / (max_sample_count + rest of its shard)`` of its shard's
        mean). An update declaring more is refused by the guard, with a reason, and never stops
        its shard. ``None`` (the default) means :data:`DEFAULT_MAX_SAMPLE_COUNT` and is left out
        of the canonical form, so deployments without it keep their ids; set it near the largest
        honest count.
    srs_sha256
        ``None`` (the default): every party uses its own INSECURE dev SRS of ``logrows``
        (:func:`~zkagg.dev_srs`). Otherwise ``{logrows: SHA-256 of the ceremony SRS file}`` for
        every logrows the deployment's circuits use (:attr:`required_srs_logrows`; refused when one
        is missing or one more is given): the spec (:meth:`spec`) and the quality circuit name that
        SRS, so clients commit, shards prove and every verifier checks with it alone, and a shard
        result made under another SRS is excluded (``wrong-srs``). Left out of the canonical form
        while ``None``, so deployments without it keep their ids.
    coordinator_key
        The coordinator's Ed25519 public key.
    shard_keys
        Each shard aggregator's Ed25519 and X25519 public keys and the anchor of its seed chain
        (:func:`~zkagg._protocol.seed.chain_anchor`; JSON ``signing``, ``encryption``, ``anchor``).
    client_keys
        Each client's Ed25519 public key (the client registry; client ``i`` trains on part ``i``).
    """

    coordinator_key: bytes
    shard_keys: tuple[ShardKeys, ...]
    client_keys: tuple[bytes, ...]
    name: str = "zkagg"
    rule: str = "fedavg"
    beta: float | None = None
    clip_norm: float | None = None
    chunk_size: int = 1024
    scale: int = 13
    logrows: int = 15
    hidden: int = 16
    data_seed: int = 0
    alpha: float = 1.0
    epochs: int = 10
    lr: float = 0.05
    quality: bool = True
    probe_size: int = 16
    quality_floor: float = 0.3
    quality_margin: float = 0.1
    quorum: int = 0
    reveal_window: int = 10
    update_window: int = 60
    result_window: int = 120
    client_norm_bound: float | None = None
    max_sample_count: int | None = None
    srs_sha256: Mapping[int, str] | None = field(default=None, hash=False)
    _registry: dict[bytes, bytes] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _key("coordinator_key", self.coordinator_key)
        if not isinstance(self.shard_keys, tuple) or not 1 <= len(self.shard_keys) <= MAX_SHARDS:
            raise InvalidArgument(f"shard_keys must be a tuple of 1 to {MAX_SHARDS} ShardKeys")
        for i, k in enumerate(self.shard_keys):
            if not isinstance(k, ShardKeys):
                raise InvalidArgument(f"shard_keys[{i}] must be ShardKeys, not {type(k).__name__}")
        if not isinstance(self.client_keys, tuple) or not 1 <= len(self.client_keys) <= MAX_CLIENTS:
            raise InvalidArgument(f"client_keys must be a tuple of 1 to {MAX_CLIENTS} public keys")
        for i, ck in enumerate(self.client_keys):
            _key(f"client_keys[{i}]", ck)
        if len(set(self.client_keys)) != len(self.client_keys):
            raise InvalidArgument("client_keys must be distinct")
        if self.n_shards > self.n_clients:
            raise InvalidArgument(
                f"the number of shards ({self.n_shards}) must be at most the number of clients ({self.n_clients})"
            )
        if not isinstance(self.name, str) or not 1 <= len(self.name.encode()) <= 64:
            raise InvalidArgument(f"name must be a string of 1 to 64 bytes, not {self.name!r}")
        if self.rule not in RULES:
            raise InvalidArgument(f"rule must be one of {', '.join(RULES)}, not {self.rule!r}")
        if self.srs_sha256 is not None:
            object.__setattr__(self, "srs_sha256", _srs_pins(self.srs_sha256))
        self.spec()  # validates rule parameters and the domain with the spec's own messages
        if self.srs_sha256 is not None:
            self._check_srs_pins(self.srs_sha256)
        _int("hidden", self.hidden, 1, 256)
        _int("data_seed", self.data_seed, 0, 2**32 - 1)
        _number("alpha", self.alpha, 0.0, 1e6, open_low=True)
        _int("epochs", self.epochs, 1, 1000)
        _number("lr", self.lr, 0.0, 10.0, open_low=True)
        if not isinstance(self.quality, bool):
            raise InvalidArgument(f"quality must be true or false, not {self.quality!r}")
        _int("probe_size", self.probe_size, 10, 400)
        _number("quality_floor", self.quality_floor, 0.0, 1.0)
        _number("quality_margin", self.quality_margin, 0.0, 1.0)
        if self.quorum == 0:
            object.__setattr__(self, "quorum", self.n_shards // 2 + 1)
        _int("quorum", self.quorum, 1, self.n_shards)
        _int("reveal_window", self.reveal_window, 1, 10**6)
        _int("update_window", self.update_window, 1, 10**6)
        _int("result_window", self.result_window, 1, 10**6)
        if self.client_norm_bound is not None:
            bound = _number("client_norm_bound", self.client_norm_bound, 0.0, 1e9, open_low=True)
            object.__setattr__(self, "client_norm_bound", bound)
            self._check_norm_domain()
        if self.max_sample_count is not None:
            _int("max_sample_count", self.max_sample_count, 1, 2**63 - 1)
        object.__setattr__(self, "_registry", {client_id_for(k): k for k in self.client_keys})

    def _check_srs_pins(self, pins: Mapping[int, str]) -> None:
        """Refuse pins that leave a logrows of the deployment's circuits unpinned, or pin one more."""
        needed = self.required_srs_logrows
        missing = [k for k in needed if k not in pins]
        if missing:
            raise InvalidArgument(
                f"srs_sha256 must pin an SRS file for every logrows the deployment's circuits use "
                f"({', '.join(map(str, needed))}): logrows {', '.join(map(str, missing))} is missing "
                "(zkagg init --srs FILE, one file per logrows)"
            )
        extra = [k for k in pins if k not in needed]
        if extra:
            raise InvalidArgument(
                f"srs_sha256 pins logrows {', '.join(map(str, extra))}, which no circuit of this deployment "
                f"uses (they use {', '.join(map(str, needed))})"
            )

    def _check_norm_domain(self) -> None:
        """Refuse a norm bound that the commitment domain cannot prove (one chunk per proof at least)."""
        # Only logrows and chunk_size matter here: no SRS is needed (nor made) to size a proof.
        shape = CommitmentDomain(self.logrows, self.chunk_size, self.scale, "0" * 64)
        try:
            chunks_per_proof(shape, method="decomposition")
        except InvalidArgument as exc:
            raise InvalidArgument(f"client_norm_bound cannot be proven in this deployment: {exc}") from exc

    # -- derived --------------------------------------------------------------------------------

    @property
    def n_clients(self) -> int:
        """Number of registered clients."""
        return len(self.client_keys)

    @property
    def n_shards(self) -> int:
        """Number of shards."""
        return len(self.shard_keys)

    @property
    def client_registry(self) -> dict[bytes, bytes]:
        """``{client id: Ed25519 public key}`` of the registered clients."""
        return dict(self._registry)

    @property
    def sample_count_bound(self) -> int:
        """The largest sample count a client may declare (``max_sample_count`` or the default)."""
        return self.max_sample_count if self.max_sample_count is not None else DEFAULT_MAX_SAMPLE_COUNT

    @property
    def required_srs_logrows(self) -> tuple[int, ...]:
        """The logrows of every SRS a round of this deployment uses (what ``srs_sha256`` must pin).

        All at ``logrows``: the commitment domain (client commitments, the global model's
        commitment), every proof linked to those commitments (the rule proofs of median, trimmed
        mean, clipped and SNARK FedAvg, :func:`~zkagg._aggregation.rules.domain_artifacts`; the
        clients' norm proofs, :func:`~zkagg._aggregation.norm.norm_circuit`) and the shard-model
        quality circuit (:func:`zkagg._protocol.workload.quality_spec`, compiled at exactly the
        domain's logrows so that its committed inputs compare with the clients'). A circuit at
        another logrows would need its own SRS, hence its own pin.
        """
        return (self.logrows,)

    @property
    def srs_pinned(self) -> bool:
        """Whether the deployment pins its SRS (else every party uses its own INSECURE dev SRS)."""
        return self.srs_sha256 is not None

    def client_index(self, client_id: bytes) -> int:
        """The index of a registered client (its data part)."""
        key = self._registry.get(client_id)
        if key is None:
            raise InvalidArgument(f"client {client_id.hex()} is not registered in this deployment")
        return self.client_keys.index(key)

    def spec(self) -> AggregationSpec:
        """The aggregation spec: the pinned SRS of ``logrows``, or the dev SRS of this machine."""
        return AggregationSpec(
            rule=self.rule,
            chunk_size=self.chunk_size,
            scale=self.scale,
            logrows=self.logrows,
            beta=self.beta,
            clip_norm=self.clip_norm,
            srs_sha256=self.srs_sha256.get(self.logrows) if self.srs_sha256 is not None else None,
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON form (keys as hex)."""
        out: dict[str, Any] = {"format": DEPLOYMENT_FORMAT}
        for f in dataclasses.fields(self):
            if f.name.startswith("_"):
                continue
            value = getattr(self, f.name)
            if f.name in _OMITTED_WHEN_NONE and value is None:
                continue  # keeps the canonical form, and the id, of deployments without it
            if f.name == "coordinator_key":
                value = value.hex()
            elif f.name == "shard_keys":
                value = [
                    {
                        "signing": k.signing_key.hex(),
                        "encryption": k.encryption_key.hex(),
                        "anchor": k.seed_anchor.hex(),
                    }
                    for k in value
                ]
            elif f.name == "client_keys":
                value = [k.hex() for k in value]
            elif f.name == "srs_sha256":
                value = {str(k): v for k, v in sorted(value.items())}
            out[f.name] = value
        return out

    def canonical_bytes(self) -> bytes:
        """Sorted-key, compact JSON: what the id hashes."""
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")).encode()

    @property
    def deployment_id(self) -> bytes:
        """SHA-256 of the tag and :meth:`canonical_bytes` (32 bytes)."""
        digest = hashlib.sha256(_ID_TAG + self.canonical_bytes()).digest()
        assert len(digest) == DEPLOYMENT_SIZE
        return digest

    @classmethod
    def from_json(cls, obj: object) -> Deployment:
        """Parse :meth:`to_json`'s form; raises :class:`~zkagg.InvalidArgument` naming the bad field."""
        if not isinstance(obj, dict):
            raise InvalidArgument(f"a deployment must be a JSON object, not {type(obj).__name__}")
        if obj.get("format") != DEPLOYMENT_FORMAT:
            raise InvalidArgument(
                f"deployment format must be {DEPLOYMENT_FORMAT!r}, not {obj.get('format')!r}"
            )
        known = {f.name for f in dataclasses.fields(cls) if not f.name.startswith("_")}
        unknown = sorted(set(obj) - known - {"format"})
        if unknown:
            raise InvalidArgument(f"deployment has unknown fields {unknown}")
        kwargs = {k: v for k, v in obj.items() if k in known}
        try:
            kwargs["coordinator_key"] = bytes.fromhex(str(obj["coordinator_key"]))
            kwargs["shard_keys"] = tuple(
                ShardKeys(
                    bytes.fromhex(k["signing"]), bytes.fromhex(k["encryption"]), bytes.fromhex(k["anchor"])
                )
                for k in obj["shard_keys"]
            )
            kwargs["client_keys"] = tuple(bytes.fromhex(k) for k in obj["client_keys"])
        except KeyError as exc:
            raise InvalidArgument(
                f"deployment keys are malformed: missing {exc} (a deployment made before seed "
                "anchors has none: run zkagg init again)"
            ) from exc
        except (TypeError, ValueError) as exc:
            raise InvalidArgument(f"deployment keys are malformed: {exc!r}") from exc
        if obj.get("srs_sha256") is not None:
            pins = obj["srs_sha256"]
            if not isinstance(pins, dict) or not all(
                isinstance(k, str) and k.isdecimal() and str(int(k)) == k for k in pins
            ):
                raise InvalidArgument(
                    f"srs_sha256 must be an object from logrows (decimal) to SHA-256, not {pins!r:.200}"
                )
            kwargs["srs_sha256"] = {int(k): v for k, v in pins.items()}
        return cls(**kwargs)

    def save(self, path: Path | str) -> Path:
        """Write ``deployment.json`` atomically; return its path."""
        target = Path(path)
        atomic_write_bytes(target, json.dumps(self.to_json(), indent=2, sort_keys=True).encode() + b"\n")
        return target

    @classmethod
    def load(cls, path: Path | str) -> Deployment:
        """Read a file written by :meth:`save`.

        Raises
        ------
        ArtifactError
            The file is missing or not JSON.
        InvalidArgument
            A field is invalid (the message names it).
        """
        p = Path(path)
        try:
            obj = json.loads(p.read_text())
        except FileNotFoundError as exc:
            raise ArtifactError(f"deployment file {p} does not exist") from exc
        except (OSError, ValueError) as exc:
            raise ArtifactError(f"deployment file {p} is not readable JSON: {exc}") from exc
        return cls.from_json(obj)


def _srs_pins(value: object) -> dict[int, str]:
    """``srs_sha256`` checked and in its one form: ``{logrows: lowercase hex SHA-256}``, sorted."""
    if not isinstance(value, Mapping):
        raise InvalidArgument(f"srs_sha256 must map logrows to SHA-256 or be None, not {value!r:.200}")
    pins: dict[int, str] = {}
    for k, digest in sorted(value.items(), key=lambda kv: str(kv[0])):
        _int("srs_sha256 logrows", k, MIN_LOGROWS, MAX_LOGROWS)
        if (
            not isinstance(digest, str)
            or len(digest) != 64
            or any(c not in "0123456789abcdef" for c in digest)
        ):
            raise InvalidArgument(
                f"srs_sha256[{k}] must be 64 lowercase hex digits (an SRS file's SHA-256), not {digest!r:.100}"
            )
        pins[k] = digest
    return dict(sorted(pins.items()))


@dataclass(frozen=True)
class DeploymentKeys:
    """The private identities of every party of a deployment (generated together for a simulation)."""

    coordinator: Identity
    shards: tuple[Identity, ...]
    clients: tuple[Identity, ...]

    @classmethod
    def generate(cls, n_clients: int, n_shards: int, *, seed: bytes | None = None) -> DeploymentKeys:
        """Fresh keys for a coordinator, ``n_shards`` aggregators (with X25519) and ``n_clients``.

        With ``seed``, the keys are derived from it instead (:meth:`Identity.derive`): INSECURE,
        for tests and replayable simulations only.
        """
        _int("n_clients", n_clients, 1, MAX_CLIENTS)
        _int("n_shards", n_shards, 1, MAX_SHARDS)
        if seed is None:
            return cls(
                Identity.generate(),
                tuple(Identity.generate(encryption=True) for _ in range(n_shards)),
                tuple(Identity.generate() for _ in range(n_clients)),
            )
        return cls(
            Identity.derive(seed, "coordinator"),
            tuple(Identity.derive(seed, f"shard {k}", encryption=True) for k in range(n_shards)),
            tuple(Identity.derive(seed, f"client {i}") for i in range(n_clients)),
        )

    def deployment(self, **params: Any) -> Deployment:
        """The public :class:`Deployment` of these keys with ``params`` (its other fields)."""
        shard_keys = []
        for s in self.shards:
            assert s.encryption is not None
            shard_keys.append(
                ShardKeys(s.signing.public_key, s.encryption.public_key, chain_anchor(s.signing))
            )
        return Deployment(
            coordinator_key=self.coordinator.signing.public_key,
            shard_keys=tuple(shard_keys),
            client_keys=tuple(c.signing.public_key for c in self.clients),
            **params,
        )

    def save(self, directory: Path | str, *, overwrite: bool = False) -> Path:
        """Write ``coordinator/``, ``shard-<i>/`` and ``client-<i>/`` identity directories."""
        root = Path(directory)
        self.coordinator.save(root / "coordinator", overwrite=overwrite)
        for i, s in enumerate(self.shards):
            s.save(root / f"shard-{i}", overwrite=overwrite)
        for i, c in enumerate(self.clients):
            c.save(root / f"client-{i}", overwrite=overwrite)
        return root
