"""A zkagg proof file has one form: what it holds is what ezkl verifies, written one way.

These tests need no circuit: they read and write proof files (tests/prover/test_prover.py verifies
real proofs, and shows that ezkl itself ignores every field refused here).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zkagg import FIELD_MODULUS, InvalidProof, Proof
from zkagg._field import felt_to_hex

HEX64 = st.binary(min_size=32, max_size=32).map(bytes.hex)
FELTS = st.integers(0, FIELD_MODULUS - 1).map(felt_to_hex)
SECONDS = st.floats(min_value=0, max_value=1e6, allow_nan=False)

proofs = st.builds(
    Proof,
    ezkl_proof=st.fixed_dictionaries(
        {
            "proof": st.lists(st.integers(0, 255), min_size=1, max_size=64),
            "instances": st.lists(st.lists(FELTS, max_size=4), max_size=3),
        }
    ),
    artifact_key=HEX64,
    model_sha256=HEX64,
    settings_sha256=HEX64,
    vk_sha256=HEX64,
    srs=st.fixed_dictionaries(
        {"sha256": HEX64, "logrows": st.integers(15, 24)},
        optional={
            "insecure": st.booleans(),
            "source": st.sampled_from(["dev", "file"]),
            "warning": st.text(),
        },
    ),
    ezkl_version=st.sampled_from(["23.0.5", ""]),
    created=SECONDS,
    timings=st.dictionaries(st.sampled_from(["witness", "prove", "self_verify"]), SECONDS),
)


def _proof() -> Proof:
    return Proof(
        ezkl_proof={"instances": [[felt_to_hex(5), felt_to_hex(FIELD_MODULUS - 1)]], "proof": [1, 2, 3, 255]},
        artifact_key="a" * 64,
        model_sha256="b" * 64,
        settings_sha256="c" * 64,
        vk_sha256="d" * 64,
        srs={"sha256": "e" * 64, "logrows": 15, "insecure": True, "source": "dev"},
        created=1700000000.5,
        timings={"prove": 1.25},
    )


def _canonical(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def _edited(edit: Callable[[dict[str, Any]], object]) -> bytes:
    obj = _proof().to_json()
    edit(obj)
    return _canonical(obj)


# -- round trips -----------------------------------------------------------------------------------


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(proofs)
def test_decode_of_encode_is_the_identity(proof: Proof) -> None:
    # Execute
    data = proof.to_bytes()
    back = Proof.from_bytes(data)
    # Assert
    assert back == proof
    assert back.to_bytes() == data


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(proofs, st.data())
def test_every_accepted_file_is_the_one_zkagg_writes(proof: Proof, data: st.DataObject) -> None:
    # Prepare: change, insert or delete a few bytes of the file
    raw = bytearray(proof.to_bytes())
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(raw) - 1))
        action = data.draw(st.sampled_from(["set", "insert", "delete"]))
        if action == "set":
            raw[at] = data.draw(st.sampled_from(b'0123456789abcdefABCDEF ,:"{}[]-.eE'))
        elif action == "insert":
            raw[at:at] = data.draw(st.sampled_from([b" ", b"0", b",0", b'"x":1,', b"\\u0030", b"e0"]))
        else:
            del raw[at]
    # Execute
    try:
        decoded = Proof.from_bytes(bytes(raw))
    except InvalidProof:
        return
    # Assert
    assert decoded.to_bytes() == bytes(raw)


# -- every other form is refused, naming what is wrong ---------------------------------------------


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        # ezkl's copies and notes: ezkl's verify reads none of them
        (
            lambda d: d["proof"].update(hex_proof="0x01020304ff"),
            "proof field 'hex_proof' is not read by ezkl's verify, so it could show values that were never verified",
        ),
        (
            lambda d: d["proof"].update(pretty_public_inputs={"rescaled_outputs": [["0.5"]]}),
            "proof field 'pretty_public_inputs' is not read by ezkl's verify",
        ),
        (lambda d: d["proof"].update(timestamp=1), "proof field 'timestamp' is not read by ezkl's verify"),
        (lambda d: d["proof"].update(version="23.0.5"), "proof field 'version' is not read by ezkl's verify"),
        (lambda d: d["proof"].update(protocol=None), "proof field 'protocol' is not read by ezkl's verify"),
        # instances as ezkl writes them: 64 lowercase hex digits of a reduced field element
        (
            lambda d: d["proof"]["instances"][0].__setitem__(0, felt_to_hex(0xABC).upper()),
            r"instances\[0\]\[0\] must be 64 lowercase hex digits of a little-endian field element below p",
        ),
        (
            lambda d: d["proof"]["instances"][0].__setitem__(1, "0x" + felt_to_hex(5)),
            r"instances\[0\]\[1\] must be 64 lowercase hex digits",
        ),
        (
            lambda d: d["proof"]["instances"][0].__setitem__(1, FIELD_MODULUS.to_bytes(32, "little").hex()),
            r"instances\[0\]\[1\] must be .* below p",
        ),
        (lambda d: d["proof"]["instances"].append("00"), r"instances\[1\] is not a list"),
        (lambda d: d["proof"]["proof"].__setitem__(0, True), r"proof bytes must be integers in \[0, 255\]"),
        (lambda d: d["proof"]["proof"].__setitem__(0, 1.0), r"proof bytes must be integers in \[0, 255\]"),
        # the file's own fields: exactly those zkagg writes, each in its one form
        (
            lambda d: d.update(comment="hi"),
            "proof file field 'comment' is not a field of zkagg-proof/1 files",
        ),
        (lambda d: d.pop("timings"), "proof file is missing the field 'timings'"),
        (
            lambda d: d.update(vk_sha256="D" * 64),
            "proof file field vk_sha256 must be 64 lowercase hex digits",
        ),
        (
            lambda d: d.update(model_sha256=""),
            "proof file field model_sha256 must be 64 lowercase hex digits",
        ),
        (lambda d: d["srs"].update(path="/tmp/srs"), "proof file field srs.path is not an SRS field"),
        (lambda d: d["srs"].update(logrows="15"), "proof file field srs.logrows must be an integer"),
        (lambda d: d.update(created=17), "proof file field created must be a finite float, not 17"),
        (
            lambda d: d.update(timings={"prove": 1}),
            "proof file field timings must map phases to finite floats",
        ),
    ],
)
def test_another_form_is_refused_naming_the_field(
    edit: Callable[[dict[str, Any]], object], message: str
) -> None:
    with pytest.raises(InvalidProof, match=message):
        Proof.from_bytes(_edited(edit))


@pytest.mark.parametrize(
    "reformat",
    [
        lambda raw: json.dumps(json.loads(raw)).encode(),  # spaces
        lambda raw: json.dumps(dict(reversed(json.loads(raw).items())), separators=(",", ":")).encode(),
        lambda raw: json.dumps(json.loads(raw), indent=2, sort_keys=True).encode(),
        lambda raw: raw.replace(
            b'{"artifact_key"', b'{"artifact_key":"x","artifact_key"', 1
        ),  # a repeated key
        lambda raw: raw.replace(b'"format"', b'"\\u0066ormat"', 1),  # an escape
        lambda raw: raw.replace(b"[1,2,3,255]", b"[1,2,3,2.55e2]", 1),
        lambda raw: raw + b"\n",
    ],
    ids=["spaces", "key-order", "indented", "repeated-key", "escape", "number-form", "newline"],
)
def test_the_same_json_in_another_form_is_refused(reformat: Callable[[bytes], bytes]) -> None:
    # Prepare
    raw = _proof().to_bytes()
    other = reformat(raw)
    assert other != raw
    # Execute / Assert
    with pytest.raises(
        InvalidProof, match=r"proof file is not in the one form zkagg writes|proof bytes must be"
    ):
        Proof.from_bytes(other)


def test_a_proof_object_holds_only_what_ezkl_verifies() -> None:
    # An in-memory Proof is held to the same rule as a file
    with pytest.raises(InvalidProof, match="proof field 'hex_proof' is not read by ezkl's verify"):
        Proof({"proof": [1], "instances": [], "hex_proof": "0x01"}, "", "", "", "", {})
