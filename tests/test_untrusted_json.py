"""Every JSON decoder that reads bytes from the DA layer or a peer refuses Python's hard cases with a ZkaggError.

Python's ``json`` raises ``RecursionError`` (a ``RuntimeError``) for deep nesting and a plain
``ValueError`` (not a ``JSONDecodeError``) for an integer literal of more than 4,300 digits, and
``float()`` of a large integer raises ``OverflowError`` (proof files now refuse non-float numbers
before any conversion): none of them is what the decoders caught.
Found by the round fuzz test (``tests/rounds/test_fuzz_round.py``: an announcement and a payload
manifest of nested arrays) and by reading every other decoder of untrusted JSON.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from zkagg._errors import ArtifactError, InvalidArgument, InvalidProof, ProtocolError, ZkaggError
from zkagg._fl.quality import QualityProof
from zkagg._protocol.announce import find_deployment
from zkagg._prover.proof import Proof
from zkagg.da import Blob, Header, Manifest, MemoryBackend, Namespace

HARD_JSON = {
    "deep-arrays": b"[" * 100_000 + b"]" * 100_000,
    "deep-objects": b'{"a":' * 50_000 + b"0" + b"}" * 50_000,
    "5000-digit-integer": b"7" * 5000,
}


def _announced(raw: bytes) -> object:
    backend = MemoryBackend()
    control = Namespace.v0(b"control")
    backend.submit([Blob.new(control, b"zkagg-deployment/1\n" + raw)])
    return find_deployment(backend, control)


DECODERS: dict[str, tuple[Callable[[bytes], object], type[ZkaggError]]] = {
    "payload manifest": (Manifest.from_bytes, ArtifactError),
    "proof file": (Proof.from_bytes, InvalidProof),
    "quality proof": (QualityProof.from_bytes, InvalidProof),
    "deployment announcement": (_announced, ProtocolError),  # "no zkagg deployment is announced"
}


@pytest.mark.parametrize("raw", HARD_JSON.values(), ids=HARD_JSON.keys())
@pytest.mark.parametrize("decoder", DECODERS.keys())
def test_hard_json_is_refused_with_a_zkagg_error(decoder: str, raw: bytes) -> None:
    decode, error = DECODERS[decoder]
    with pytest.raises(error):
        decode(raw)


def test_a_header_whose_roots_are_not_a_list_is_an_invalid_argument() -> None:
    header = {"header": {"height": "3"}, "dah": {"row_roots": [], "column_roots": []}}
    assert Header.from_json(header).height == 3
    with pytest.raises(InvalidArgument, match=r"dah\.column_roots must be a list of base64 roots, not int"):
        Header.from_json(header | {"dah": {"row_roots": [], "column_roots": 412}})
