"""Structured reference strings (KZG parameters) for BN254 circuits.

Two kinds, never confused:

* **dev SRS**: generated offline on this machine with ``ezkl.gen_srs`` and cached per logrows under
  ``$ZKAGG_HOME/srs/dev``. Whoever generated it knows its trapdoor and can open commitments to
  anything and forge proofs, so it is always reported as INSECURE.
* **ceremony SRS**: a file from a powers-of-tau ceremony that the user names, checked against the
  SHA-256 the user gives (or, for ``zkagg init --srs``, hashed and pinned into the deployment).
  Either way it is registered by hash under ``$ZKAGG_HOME/srs/registered``, where every later
  lookup by hash (:func:`find_srs`, :func:`srs_by_hash`) finds it. Nothing is ever downloaded.

A deployment pins its SRS by hash, per logrows (``Deployment.srs_sha256``); every party then finds
the file with :func:`pinned_srs`, from the files the user names (``--srs``) or from the registry,
and verifies with that SRS only, whatever SRS a message names. Commands that run on a dev SRS say so
once per process with :func:`warn_insecure` (one plain line on stderr).

A circuit needs an SRS of exactly its logrows (DESIGN.md §4: a smaller one fails at setup, a larger
one made prove and verify hang with ezkl 23.0.5), so the logrows is read from the file and checked.
The file format (halo2 ``ParamsKZG``) is a little-endian u32 ``k``, ``2**k`` G1 points in monomial
and ``2**k`` in Lagrange form (64 bytes each, uncompressed) and two G2 points: ``4 + 128 * 2**k + 256``
bytes in all.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from filelock import FileLock

from zkagg._errors import ArtifactError, InvalidArgument
from zkagg._home import atomic_write_text, sha256_file, sha256_file_memo, zkagg_home
from zkagg._prover.ezkl import call_ezkl
from zkagg._prover.seeded_srs import write_seeded_srs

__all__ = [
    "INSECURE_WARNING",
    "MAX_LOGROWS",
    "MIN_LOGROWS",
    "SEEDED_WARNING",
    "SRS",
    "dev_srs",
    "find_srs",
    "load_srs",
    "pinned_srs",
    "register_srs",
    "srs_by_hash",
    "srs_file_size",
    "srs_pins",
    "warn_insecure",
]

#: ezkl's default range-check table has 2**14 rows, so no circuit goes below 2**15.
MIN_LOGROWS = 15
#: Beyond 2**24 rows the keys alone need tens of gigabytes.
MAX_LOGROWS = 24

INSECURE_WARNING = "INSECURE dev SRS: generated on this machine; whoever holds it can forge proofs"
#: The warning for a dev SRS derived from a public seed (:mod:`zkagg._prover.seeded_srs`).
SEEDED_WARNING = (
    "INSECURE dev SRS: derived from the public seed in $ZKAGG_DEV_SRS_SEED; anyone can forge proofs "
    "(for reproducible tests only)"
)
#: The same warning for an SRS found beside exported artifacts whose hash nobody vouched for.
UNVERIFIED_WARNING = "INSECURE SRS: not registered by its hash here; whoever made it can forge proofs"


@dataclass(frozen=True)
class SRS:
    """An SRS file and what is known of it.

    Attributes
    ----------
    path
        The file.
    logrows
        ``k``: the SRS supports circuits of ``2**k`` rows.
    sha256
        Hex SHA-256 of the file.
    insecure
        True for a dev SRS generated locally.
    source
        ``"dev"`` or ``"ceremony"``.
    seed
        For a dev SRS derived from a seed (``$ZKAGG_DEV_SRS_SEED``), that seed: its trapdoor is
        public.
    """

    path: Path
    logrows: int
    sha256: str
    insecure: bool
    source: str
    seed: str | None = None

    @property
    def warning(self) -> str | None:
        """What :func:`warn_insecure` and :meth:`describe` say of this SRS (``None`` if it is trusted)."""
        if not self.insecure:
            return None
        if self.seed is not None:
            return SEEDED_WARNING
        return UNVERIFIED_WARNING if self.source == "unverified" else INSECURE_WARNING

    def describe(self) -> dict[str, Any]:
        """JSON-ready description, as recorded in proofs and printed by the CLI."""
        return {
            "logrows": self.logrows,
            "sha256": self.sha256,
            "insecure": self.insecure,
            "source": self.source,
            "path": str(self.path),
            **({"warning": self.warning} if self.warning else {}),
        }


def srs_file_size(logrows: int) -> int:
    """Exact size in bytes of an SRS file of ``logrows``."""
    return 4 + 128 * (1 << logrows) + 256


def _check_logrows(logrows: int) -> int:
    if isinstance(logrows, bool) or not isinstance(logrows, int):
        raise InvalidArgument(
            f"logrows must be an integer in [{MIN_LOGROWS}, {MAX_LOGROWS}], not {logrows!r}"
        )
    if not MIN_LOGROWS <= logrows <= MAX_LOGROWS:
        raise InvalidArgument(f"logrows must be an integer in [{MIN_LOGROWS}, {MAX_LOGROWS}], not {logrows}")
    return logrows


def read_srs_logrows(path: Path) -> int:
    """Read ``k`` from an SRS file's header and check the file's size against it."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise ArtifactError(f"cannot read SRS file {path}: {exc.strerror or exc}") from exc
    if len(head) < 4:
        raise ArtifactError(f"SRS file {path} is truncated: {size} bytes")
    k = int(struct.unpack("<I", head)[0])
    if not 1 <= k <= 28:
        raise ArtifactError(f"SRS file {path} does not start with a valid logrows (read {k}): not an SRS")
    if size != srs_file_size(k):
        raise ArtifactError(
            f"SRS file {path} has {size} bytes but an SRS of logrows {k} has {srs_file_size(k)}: "
            "truncated or not an SRS"
        )
    return k


def _dev_dir(home: Path) -> Path:
    return home / "srs" / "dev"


#: When set, dev SRS files are derived from this seed (:mod:`zkagg._prover.seeded_srs`) instead of
#: drawn at random: the same file on every machine, so that test runs are reproducible.
DEV_SRS_SEED_ENV = "ZKAGG_DEV_SRS_SEED"


def dev_srs(logrows: int, *, home: str | os.PathLike[str] | None = None) -> SRS:
    """Return the cached dev SRS of ``logrows``, generating it offline the first time.

    Generation takes seconds to minutes (6 s at k=15, 47 s at k=17 on 2 cores) and happens once per
    cache: concurrent callers wait on a file lock and then reuse the file. A cached file whose size
    or hash no longer matches its record is regenerated, not trusted. With ``$ZKAGG_DEV_SRS_SEED``
    set, the SRS is derived from that seed (:func:`~zkagg._prover.seeded_srs.write_seeded_srs`):
    a cached file made from another seed (or at random) is replaced, and the SRS carries its seed
    and :data:`SEEDED_WARNING`. Without it, whatever intact dev SRS is cached is used (so that a
    process without the variable never replaces the file a seeded process shares with it).

    The result is INSECURE by construction (see the module docstring).
    """
    k = _check_logrows(logrows)
    seed = os.environ.get(DEV_SRS_SEED_ENV) or None
    root = zkagg_home(home)
    directory = _dev_dir(root)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"k{k}.srs"
    meta_path = directory / f"k{k}.srs.json"
    with FileLock(str(directory / f"k{k}.lock")):
        cached = _load_dev_record(path, meta_path, k)
        if cached is not None and (seed is None or cached.seed == seed):
            return cached
        fd, tmp = tempfile.mkstemp(prefix=f".k{k}.", suffix=".srs.tmp", dir=directory)
        os.close(fd)
        try:
            if seed is None:
                call_ezkl("gen_srs", tmp, k)
            else:
                write_seeded_srs(tmp, k, seed.encode())
            if read_srs_logrows(Path(tmp)) != k:
                raise ArtifactError(f"the dev SRS generated for k={k} has another logrows")
            digest = sha256_file(tmp)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        record = {"logrows": k, "sha256": digest, "insecure": True, "created": time.time(), "seed": seed}
        atomic_write_text(meta_path, json.dumps(record, sort_keys=True))
        return SRS(path=path, logrows=k, sha256=digest, insecure=True, source="dev", seed=seed)


def _load_dev_record(path: Path, meta_path: Path, k: int) -> SRS | None:
    """The cached dev SRS (with the seed it was derived from, if any), if it is intact."""
    if not path.exists() or not meta_path.exists():
        return None
    try:
        record = json.loads(meta_path.read_text())
        digest = str(record["sha256"])
        seed = record.get("seed")
        if read_srs_logrows(path) != k or sha256_file_memo(path) != digest:
            return None
    except (ValueError, KeyError, OSError, ArtifactError):
        return None
    return SRS(
        path=path,
        logrows=k,
        sha256=digest,
        insecure=True,
        source="dev",
        seed=seed if isinstance(seed, str) else None,
    )


def _check_sha256(sha256: str, name: str = "sha256") -> str:
    want = sha256.lower().removeprefix("0x") if isinstance(sha256, str) else ""
    if len(want) != 64 or any(c not in "0123456789abcdef" for c in want):
        raise InvalidArgument(f"{name} must be 64 hex digits, not {sha256!r}")
    return want


def register_srs(
    path: str | os.PathLike[str],
    *,
    sha256: str | None = None,
    home: str | os.PathLike[str] | None = None,
) -> SRS:
    """Register an SRS file the user names, by its SHA-256, as a ceremony SRS.

    The file must be an SRS (:func:`read_srs_logrows`: its header's logrows and its exact size).
    With ``sha256`` (a hash published with the ceremony, or pinned by a deployment) the file must
    have it; without, the file's own hash is taken (``zkagg init --srs``: the deployment then pins
    it, and every other party checks its copy against the pin). The file is recorded under
    ``$ZKAGG_HOME/srs/registered/<sha256>.json`` so that lookups by hash find it later.

    Raises
    ------
    ArtifactError
        The file is missing, not an SRS, or its hash differs from ``sha256``.
    InvalidArgument
        ``sha256`` is not 64 hex digits.
    """
    p = Path(path).expanduser()
    want = None if sha256 is None else _check_sha256(sha256)
    k = read_srs_logrows(p)
    got = sha256_file(p)
    if want is not None and got != want:
        raise ArtifactError(f"SRS file {p} has sha256 {got}, expected {want}")
    srs = SRS(path=p.resolve(), logrows=k, sha256=got, insecure=False, source="ceremony")
    registry = zkagg_home(home) / "srs" / "registered"
    record = {"path": str(srs.path), "logrows": k, "sha256": got}
    atomic_write_text(registry / f"{got}.json", json.dumps(record, sort_keys=True))
    return srs


def load_srs(
    path: str | os.PathLike[str],
    *,
    sha256: str,
    home: str | os.PathLike[str] | None = None,
) -> SRS:
    """Load a ceremony SRS from a file the user names, checked against its expected SHA-256.

    Parameters
    ----------
    path
        The SRS file (halo2 ``ParamsKZG`` format, as ezkl reads it).
    sha256
        The hex SHA-256 the file must have (published with the ceremony).
    home
        Cache root where the file is registered by hash, so that ``verify`` can find it later.

    Raises
    ------
    ArtifactError
        The file is missing, not an SRS, or its hash differs from ``sha256``.
    """
    return register_srs(path, sha256=_check_sha256(sha256), home=home)


def srs_pins(
    files: Iterable[str | os.PathLike[str]], *, home: str | os.PathLike[str] | None = None
) -> dict[int, str]:
    """Register ceremony SRS files (``--srs``, one per logrows) and return ``{logrows: sha256}``.

    What ``zkagg init --srs`` pins into a deployment. Each file is checked as :func:`register_srs`
    does; the errors name ``--srs`` and the file.

    Raises
    ------
    InvalidArgument
        A file is missing or not an SRS, or two files have the same logrows.
    """
    pins: dict[int, str] = {}
    paths: dict[int, Path] = {}
    for f in files:
        try:
            srs = register_srs(f, home=home)
        except ArtifactError as exc:
            raise InvalidArgument(f"--srs {f}: {exc}") from exc
        if srs.logrows in pins:
            raise InvalidArgument(
                f"--srs names two SRS files of logrows {srs.logrows} ({paths[srs.logrows]} and {f}): "
                "give one file per logrows"
            )
        pins[srs.logrows] = srs.sha256
        paths[srs.logrows] = Path(f)
    return pins


def pinned_srs(
    pins: Mapping[int, str],
    files: Iterable[str | os.PathLike[str]] = (),
    *,
    home: str | os.PathLike[str] | None = None,
) -> dict[int, SRS]:
    """The SRS of every pinned logrows: from ``files`` (checked against the pins) or found by hash.

    Every party of a deployment that pins its SRS calls this before it commits, proves or
    verifies: a file the user names (``--srs``) must have exactly the pinned hash of its logrows
    and is registered, so that every later lookup by hash finds it; a logrows without a named file
    must already be known here (registered earlier, or this machine's dev SRS when that is what
    was pinned). Nothing is downloaded, and no SRS named by a message is ever used instead.

    Raises
    ------
    InvalidArgument
        A file's logrows is not pinned.
    ArtifactError
        A file is not an SRS or differs from the pinned hash of its logrows; no file with a pinned
        hash is known here (the message names the logrows and says to pass ``--srs``).
    """
    found: dict[int, SRS] = {}
    for f in files:
        try:
            k = read_srs_logrows(Path(f).expanduser())
        except ArtifactError as exc:
            raise ArtifactError(f"--srs {f}: {exc}") from exc
        if k not in pins:
            pinned = ", ".join(str(x) for x in sorted(pins)) or "none"
            raise InvalidArgument(
                f"--srs {f} is an SRS of logrows {k}, but the deployment pins SRS files for logrows "
                f"{pinned} only"
            )
        try:
            found[k] = register_srs(f, sha256=pins[k], home=home)
        except ArtifactError as exc:
            raise ArtifactError(
                f"--srs {f} is not the SRS the deployment pins for logrows {k} (sha256 {pins[k]}): {exc}"
            ) from exc
    for k, digest in sorted(pins.items()):
        if k not in found:
            try:
                found[k] = find_srs(digest, k, home=home)
            except ArtifactError as exc:
                raise ArtifactError(
                    f"the deployment pins SRS {digest} for logrows {k}, and no such file is known here: "
                    "pass it with --srs FILE (nothing is downloaded)"
                ) from exc
    return found


_WARN_LOCK = threading.Lock()
_WARNED = False


def warn_insecure(srs: SRS | None = None, *, stream: TextIO | None = None) -> bool:
    """Say once per process, on stderr, that proofs are made or checked with an INSECURE SRS.

    One plain line, ``warning: `` and :data:`INSECURE_WARNING` (or :data:`UNVERIFIED_WARNING` for an
    SRS found beside artifacts, ``srs.source == "unverified"``; :data:`SEEDED_WARNING` for a seeded
    one, or with ``$ZKAGG_DEV_SRS_SEED`` set), never on stdout (which may carry
    JSON). Commands call it when they run on a dev SRS, whatever the number of proofs; a second
    call in the same process writes nothing. Returns whether this call wrote the line.
    """
    global _WARNED
    with _WARN_LOCK:
        if _WARNED:
            return False
        _WARNED = True
    if srs is not None and srs.warning is not None:
        text = srs.warning
    else:  # a command about to make dev SRS files (or use them): seeded ones if the variable says so
        text = SEEDED_WARNING if os.environ.get(DEV_SRS_SEED_ENV) else INSECURE_WARNING
    out = stream if stream is not None else sys.stderr
    out.write(f"warning: {text}\n")
    out.flush()
    return True


def find_srs(
    sha256: str,
    logrows: int,
    *,
    home: str | os.PathLike[str] | None = None,
    search: list[Path] | None = None,
) -> SRS:
    """Find an SRS by hash: registered ceremony files, the dev cache, or ``search`` directories.

    Only a file registered with :func:`load_srs` (a ceremony SRS whose hash the user vouched for)
    is reported as secure; the dev cache and files found in ``search`` directories (for example an
    SRS shipped beside exported artifacts) are reported as INSECURE, since nothing says who made them.

    Raises
    ------
    ArtifactError
        No file with that hash is known; the message says how to supply one.
    """
    root = zkagg_home(home)
    candidates: list[tuple[Path, bool, str]] = []
    record_path = root / "srs" / "registered" / f"{sha256}.json"
    if record_path.exists():
        with contextlib.suppress(ValueError, KeyError, OSError):
            candidates.append((Path(json.loads(record_path.read_text())["path"]), False, "ceremony"))
    candidates.append((_dev_dir(root) / f"k{logrows}.srs", True, "dev"))
    for directory in search or []:
        for candidate in sorted(Path(directory).glob("*.srs")):
            candidates.append((candidate, True, "unverified"))
    for candidate, insecure, source in candidates:
        if not candidate.exists():
            continue
        try:
            if read_srs_logrows(candidate) != logrows:
                continue
        except ArtifactError:
            continue
        if sha256_file_memo(candidate) == sha256:
            return SRS(path=candidate, logrows=logrows, sha256=sha256, insecure=insecure, source=source)
    raise ArtifactError(
        f"no SRS with sha256 {sha256[:16]}... (logrows {logrows}) is known here: pass the SRS file "
        "with --srs (or put it in the --artifacts directory)"
    )


def srs_by_hash(sha256: str, logrows: int, *, home: str | os.PathLike[str] | None = None) -> SRS:
    """The SRS a commitment domain or circuit names by hash.

    The dev SRS of this cache when it has that hash, else a registered ceremony SRS
    (:func:`find_srs`); the dev SRS is generated only when neither is on disk yet, so a deployment
    that pins a ceremony SRS never makes one. Raises :class:`~zkagg.ArtifactError` when nothing
    matches.
    """
    k = _check_logrows(logrows)
    directory = _dev_dir(zkagg_home(home))
    cached = _load_dev_record(directory / f"k{k}.srs", directory / f"k{k}.srs.json", k)
    if cached is not None and cached.sha256 == sha256:
        return cached
    with contextlib.suppress(ArtifactError):
        return find_srs(sha256, k, home=home)
    dev = dev_srs(k, home=home)
    if dev.sha256 == sha256:
        return dev
    return find_srs(sha256, k, home=home)
