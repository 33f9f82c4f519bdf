"""The one boundary with ezkl (23.0.5): calls, captured chatter, and error translation.

Every call into ezkl goes through :func:`call_ezkl`. It

* captures what ezkl's Rust code prints on the process's stdout and stderr (the calibration's
  fidelity table, ONNX opset warnings), so that ``--json`` output stays parseable; the text is kept
  and attached to errors. Set ``ZKAGG_EZKL_VERBOSE=1`` to let it through instead;
* translates ezkl's ``RuntimeError`` strings into the zkagg exception tree (``raise ... from exc``),
  by the table :data:`KNOWN_MESSAGES`, falling back to a per-function default.

ezkl's ``verify`` never returns ``False``: an invalid proof raises (DESIGN.md §4), so a verify that
returns normally is the only success.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import Any

from zkagg._errors import (
    ArtifactError,
    CircuitError,
    InvalidArgument,
    InvalidProof,
    ProvingError,
    ZkaggError,
)

__all__ = ["EZKL_VERSION", "KNOWN_MESSAGES", "call_ezkl", "ezkl_module", "translate_ezkl_error"]

#: The ezkl version zkagg is written and measured against (pinned exactly in pyproject.toml).
EZKL_VERSION = "23.0.5"

#: Substrings of ezkl error messages, in priority order, and the zkagg class each maps to.
#: ``tests/test_ezkl_boundary.py`` checks every entry against the message ezkl really gives.
KNOWN_MESSAGES: tuple[tuple[str, type[ZkaggError]], ...] = (
    ("The constraint system is not satisfied", InvalidProof),
    ("Transcript error", InvalidProof),
    ("Invalid elliptic curve point", InvalidProof),
    ("invalid multi-opening", InvalidProof),
    ("failed to load the proof", InvalidProof),
    ("failed to load vk", ArtifactError),
    ("failed to load pk", ArtifactError),
    ("failed to load srs", ArtifactError),
    ("failed to ser/deser model", ArtifactError),
    ("No such file or directory", ArtifactError),
    ("Failed to run verify: [io]", ArtifactError),  # settings.json unreadable
    ("Reading proto model", CircuitError),
    ("Cannot reshape tensor", InvalidArgument),
    ("dimensionality error", InvalidArgument),
    ("[json] invalid type", InvalidArgument),
    ("Failed to quantize input", InvalidArgument),
)

#: What an unrecognised failure of each ezkl function means.
_DEFAULTS: dict[str, type[ZkaggError]] = {
    "gen_settings": CircuitError,
    "calibrate_settings": CircuitError,
    "compile_circuit": CircuitError,
    "gen_srs": ArtifactError,
    "setup": ProvingError,
    "gen_witness": ProvingError,
    "prove": ProvingError,
    "mock": ProvingError,
    "verify": InvalidProof,
    "kzg_commit": ProvingError,
}

_CALL_LOCK = threading.RLock()


def ezkl_module() -> Any:
    """Import ezkl lazily (it takes a while) and check its version."""
    import ezkl

    version = getattr(ezkl, "__version__", EZKL_VERSION)
    if version != EZKL_VERSION:  # pragma: no cover - pinned in pyproject.toml
        raise ArtifactError(f"zkagg needs ezkl {EZKL_VERSION}, found {version}")
    return ezkl


def translate_ezkl_error(function: str, exc: BaseException, captured: str = "") -> ZkaggError:
    """Map an exception raised inside ezkl to the zkagg exception it means."""
    message = str(exc).strip() or type(exc).__name__
    cls: type[ZkaggError] = _DEFAULTS.get(function, ProvingError)
    for needle, mapped in KNOWN_MESSAGES:
        if needle in message:
            cls = mapped
            break
    detail = _interesting_line(captured)
    text = f"ezkl.{function}: {message}"
    if detail and detail not in message:
        text += f" ({detail})"
    return cls(text)


def _interesting_line(captured: str) -> str:
    lines = [ln.strip() for ln in captured.splitlines() if ln.strip()]
    for line in reversed(lines):
        if "error" in line.lower() and "Numerical Fidelity" not in line:
            return line[:300]
    return ""


@contextlib.contextmanager
def _captured_fds() -> Iterator[Callable[[], str]]:
    """Redirect file descriptors 1 and 2 into a temporary file for the duration of the block."""
    if os.environ.get("ZKAGG_EZKL_VERBOSE"):
        yield lambda: ""
        return
    with tempfile.TemporaryFile(mode="w+b") as sink:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        saved = [os.dup(1), os.dup(2)]
        try:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)

            def read() -> str:
                sink.seek(0)
                return sink.read().decode("utf-8", "replace")

            yield read
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def call_ezkl(function: str, *args: Any, **kwargs: Any) -> Any:
    """Call ``ezkl.<function>(*args, **kwargs)`` with its output captured and errors translated.

    Calls are serialized in this process: ezkl parallelizes internally, two proofs at once on the
    same cores are slower than in series (DESIGN.md §4), and the descriptor redirection is global.
    """
    ezkl = ezkl_module()
    fn = getattr(ezkl, function)
    with _CALL_LOCK, _captured_fds() as captured:
        try:
            return fn(*args, **kwargs)
        except ZkaggError:
            raise
        except (RuntimeError, OSError, ValueError, TypeError) as exc:
            raise translate_ezkl_error(function, exc, captured()) from exc
        except BaseException as exc:
            if type(exc).__name__ == "PanicException":  # pyo3 turns Rust panics into this
                raise translate_ezkl_error(function, exc, captured()) from exc
            raise
