"""The seeded dev SRS: halo2's raw ParamsKZG layout, the right Lagrange basis, the same bytes everywhere.

The whole test session runs on seeded dev SRS files (tests/conftest.py), so every real EZKL proof,
commitment and verification in the suite checks that EZKL accepts them; these tests pin the layout
against a file ``ezkl.gen_srs`` writes and the algebra of both bases.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import ezkl
import pytest
from py_ecc.fields import optimized_bn128_FQ as FQ
from py_ecc.optimized_bn128.optimized_curve import G1, Z1, add, curve_order, eq, multiply
from py_ecc.optimized_bn128.optimized_curve import field_modulus as q

from tests.conftest import DEV_SRS_SEED
from zkagg import InvalidArgument, dev_srs
from zkagg._kzg.points import PyEccPoint
from zkagg._prover.seeded_srs import seeded_tau, write_seeded_srs
from zkagg._prover.srs import DEV_SRS_SEED_ENV, SEEDED_WARNING, srs_file_size

K = 4
N = 1 << K
#: halo2curves' BN254 ``ROOT_OF_UNITY`` (2-adicity 28), squared down to order 2**K.
OMEGA = pow(0x03DDB9F5166D18B798865EA93DD31F743215CF6DD39329C8D34F1ED960C37C9C, 1 << (28 - K), curve_order)
_R_INV = pow(2**256, -1, q)


def g1_points(data: bytes, offset: int, count: int) -> list[PyEccPoint]:
    """``count`` G1 points of a raw SRS file (Montgomery form, little-endian) from ``offset``."""
    out = []
    for i in range(count):
        at = offset + 64 * i
        x = int.from_bytes(data[at : at + 32], "little") * _R_INV % q
        y = int.from_bytes(data[at + 32 : at + 64], "little") * _R_INV % q
        out.append((FQ(x), FQ(y), FQ(1)))
    return out


def check_bases(data: bytes) -> None:
    """Monomial ``tau^i G``, Lagrange ``L_i(tau) G``: sum_i L_i = G and sum_i omega^i L_i = tau G."""
    monomial = g1_points(data, 4, N)
    lagrange = g1_points(data, 4 + 64 * N, N)
    total, shifted = Z1, Z1
    for i, point in enumerate(lagrange):
        total = add(total, point)
        shifted = add(shifted, multiply(point, pow(OMEGA, i, curve_order)))
    assert eq(monomial[0], G1)
    assert eq(total, G1)
    assert eq(shifted, monomial[1])


def test_the_layout_and_bases_are_those_ezkl_writes(tmp_path: Path) -> None:
    # Prepare: a file from ezkl.gen_srs and a seeded one of the same logrows
    theirs = tmp_path / "ezkl.srs"
    ezkl.gen_srs(str(theirs), K)
    ours = write_seeded_srs(tmp_path / "seeded.srs", K, b"layout")
    a, b = theirs.read_bytes(), ours.read_bytes()
    # Assert: same size and header, the same G2 generator bytes, both bases right in both files
    assert len(a) == len(b) == srs_file_size(K)
    assert a[:4] == b[:4]
    assert a[-256:-128] == b[-256:-128]
    check_bases(a)
    check_bases(b)
    tau = seeded_tau(K, b"layout")
    assert eq(g1_points(b, 4, N)[5], multiply(G1, pow(tau, 5, curve_order)))


def test_the_same_seed_gives_the_same_bytes_and_another_seed_others(tmp_path: Path) -> None:
    one = write_seeded_srs(tmp_path / "a.srs", K, b"seed").read_bytes()
    two = write_seeded_srs(tmp_path / "b.srs", K, b"seed").read_bytes()
    other = write_seeded_srs(tmp_path / "c.srs", K, b"seed!").read_bytes()
    assert one == two != other


@pytest.mark.parametrize(("logrows", "seed"), [(0, b"s"), (27, b"s"), (True, b"s"), (4, b"")])
def test_bad_arguments_are_refused_by_name(tmp_path: Path, logrows: int, seed: bytes) -> None:
    with pytest.raises(InvalidArgument, match=r"logrows must be|seed must be"):
        write_seeded_srs(tmp_path / "x.srs", logrows, seed)
    assert not list(tmp_path.iterdir())


def test_dev_srs_follows_the_seed_of_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Prepare: the session's seeded dev SRS, copied into a home of its own with its record
    assert os.environ[DEV_SRS_SEED_ENV] == DEV_SRS_SEED
    session = dev_srs(15)
    home = tmp_path / "home"
    (home / "srs" / "dev").mkdir(parents=True)
    for suffix in (".srs", ".srs.json"):
        (home / "srs" / "dev" / f"k15{suffix}").write_bytes(session.path.with_suffix(suffix).read_bytes())
    record = json.loads((home / "srs" / "dev" / "k15.srs.json").read_text())
    assert record["seed"] == DEV_SRS_SEED and record["insecure"] is True
    # Execute / Assert: the same seed reuses it; another seed replaces it, and is labelled insecure
    same = dev_srs(15, home=home)
    assert same.sha256 == session.sha256 and same.seed == DEV_SRS_SEED and same.warning == SEEDED_WARNING
    assert same.describe()["warning"] == SEEDED_WARNING
    monkeypatch.setenv(DEV_SRS_SEED_ENV, "another seed")
    other = dev_srs(15, home=home)
    assert other.sha256 != session.sha256 and other.insecure and other.seed == "another seed"
    assert json.loads((home / "srs" / "dev" / "k15.srs.json").read_text())["seed"] == "another seed"
    # a process without the variable uses what is cached (never replacing a seeded process's file)
    monkeypatch.delenv(DEV_SRS_SEED_ENV)
    assert dev_srs(15, home=home) == other
