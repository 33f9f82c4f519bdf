from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from zkagg import ArtifactError, InvalidArgument, dev_srs, load_srs
from zkagg._home import sha256_file
from zkagg._prover.srs import find_srs, read_srs_logrows, srs_file_size


def test_dev_srs_is_generated_once_and_insecure(zkagg_home: Path) -> None:
    first = dev_srs(15)
    second = dev_srs(15)
    assert first == second
    assert first.insecure and first.source == "dev"
    assert first.path.stat().st_size == srs_file_size(15)
    assert read_srs_logrows(first.path) == 15
    assert "INSECURE" in first.describe()["warning"]


def test_corrupted_dev_srs_is_regenerated(tmp_path: Path) -> None:
    # Prepare: a copy of the session's dev SRS and its record in a home of its own
    home = tmp_path / "home"
    shared = dev_srs(15)
    (home / "srs" / "dev").mkdir(parents=True)
    for suffix in (".srs", ".srs.json"):
        shutil.copyfile(shared.path.with_suffix(suffix), home / "srs" / "dev" / f"k15{suffix}")
    srs = dev_srs(15, home=home)
    assert srs.sha256 == shared.sha256, "an intact cached SRS is reused"
    data = bytearray(srs.path.read_bytes())
    data[1000] ^= 0xFF
    srs.path.write_bytes(bytes(data))
    again = dev_srs(15, home=home)
    assert again.sha256 != shared.sha256, "a damaged SRS is regenerated, not trusted"
    assert again.sha256 == sha256_file(again.path)
    assert again.path.stat().st_size == srs_file_size(15)


def test_truncated_srs_is_refused(tmp_path: Path) -> None:
    src = dev_srs(15).path
    bad = tmp_path / "k15.srs"
    bad.write_bytes(src.read_bytes()[:5000])
    with pytest.raises(ArtifactError, match="truncated or not an SRS"):
        read_srs_logrows(bad)


def test_ceremony_srs_checked_by_hash(tmp_path: Path) -> None:
    src = dev_srs(15).path
    ceremony = tmp_path / "ceremony-k15.srs"
    shutil.copyfile(src, ceremony)
    digest = sha256_file(ceremony)
    srs = load_srs(ceremony, sha256=digest, home=tmp_path / "h")
    assert not srs.insecure and srs.source == "ceremony" and srs.logrows == 15
    assert find_srs(digest, 15, home=tmp_path / "h").source == "ceremony"
    with pytest.raises(ArtifactError, match="expected"):
        load_srs(ceremony, sha256="00" * 32, home=tmp_path / "h")
    with pytest.raises(InvalidArgument, match="sha256 must be 64 hex digits"):
        load_srs(ceremony, sha256="abc", home=tmp_path / "h")
    with pytest.raises(ArtifactError, match="cannot read SRS file"):
        load_srs(tmp_path / "missing.srs", sha256=digest)


def test_unknown_srs_hash_says_how_to_supply_it(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="--srs"):
        find_srs("ab" * 32, 15, home=tmp_path)


@pytest.mark.parametrize("logrows", [14, 25, "15", True])
def test_bad_logrows(logrows: object) -> None:
    with pytest.raises(InvalidArgument, match="logrows must be an integer in"):
        dev_srs(logrows)  # type: ignore[arg-type]
