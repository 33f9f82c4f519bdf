from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from zkagg import ArtifactError, InvalidArgument, dev_srs, load_srs
from zkagg._home import sha256_file
from zkagg._prover import srs as srs_module
from zkagg._prover.srs import (
    DEV_SRS_SEED_ENV,
    INSECURE_WARNING,
    SEEDED_WARNING,
    find_srs,
    pinned_srs,
    read_srs_logrows,
    register_srs,
    srs_by_hash,
    srs_file_size,
    srs_pins,
    warn_insecure,
)


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
    damaged = sha256_file(srs.path)
    again = dev_srs(15, home=home)
    assert damaged != shared.sha256 and again.sha256 != damaged, "a damaged SRS is regenerated, not trusted"
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


# -- pinned SRS (issue 12): registering files, finding pins, the one warning ------------------------


def _fake_srs(path: Path, logrows: int) -> Path:
    """A file of an SRS's format and size (header and length only: for checks that read no points)."""
    path.write_bytes(logrows.to_bytes(4, "little") + bytes(srs_file_size(logrows) - 4))
    return path


def test_srs_pins_registers_each_file_by_hash(tmp_path: Path) -> None:
    # Prepare: a copy of the session's dev SRS stands in for a ceremony file
    ceremony = tmp_path / "ceremony-k15.srs"
    shutil.copyfile(dev_srs(15).path, ceremony)
    # Execute
    pins = srs_pins([ceremony], home=tmp_path / "h")
    # Assert
    assert pins == {15: sha256_file(ceremony)}
    found = find_srs(pins[15], 15, home=tmp_path / "h")
    assert found.source == "ceremony" and found.path == ceremony.resolve()


def test_srs_pins_refuses_what_is_not_one_srs_per_logrows(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not an SRS")
    ceremony = tmp_path / "a.srs"
    shutil.copyfile(dev_srs(15).path, ceremony)
    with pytest.raises(InvalidArgument, match=r"--srs .*notes.txt: SRS file .* not an SRS"):
        srs_pins([text], home=tmp_path)
    with pytest.raises(InvalidArgument, match=r"--srs .*missing.srs: cannot read SRS file"):
        srs_pins([tmp_path / "missing.srs"], home=tmp_path)
    with pytest.raises(InvalidArgument, match="--srs names two SRS files of logrows 15"):
        srs_pins([ceremony, ceremony], home=tmp_path)


def test_pinned_srs_takes_only_the_pinned_files(tmp_path: Path) -> None:
    # Prepare: the pinned file, and another of the same logrows with different bytes
    pinned = tmp_path / "pinned.srs"
    shutil.copyfile(dev_srs(15).path, pinned)
    other = tmp_path / "other.srs"
    data = bytearray(pinned.read_bytes())
    data[-1] ^= 0x01
    other.write_bytes(bytes(data))
    pins = {15: sha256_file(pinned)}
    home = tmp_path / "h"
    # Execute / Assert: the pinned file is taken and registered; any other is named and refused
    assert pinned_srs(pins, [pinned], home=home)[15].sha256 == pins[15]
    assert pinned_srs(pins, home=home)[15].path == pinned.resolve()  # found again by hash
    with pytest.raises(
        ArtifactError, match=r"--srs .*other.srs is not the SRS the deployment pins for logrows 15"
    ):
        pinned_srs(pins, [other], home=home)
    with pytest.raises(
        InvalidArgument,
        match="is an SRS of logrows 16, but the deployment pins SRS files for logrows 15 only",
    ):
        pinned_srs(pins, [_fake_srs(tmp_path / "k16.srs", 16)], home=home)
    with pytest.raises(
        ArtifactError, match=r"pins SRS .* for logrows 15, and no such file is known here: pass it with --srs"
    ):
        pinned_srs({15: "ab" * 32}, home=home)


def test_a_registered_srs_is_found_without_making_a_dev_srs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ceremony = tmp_path / "c.srs"
    shutil.copyfile(dev_srs(15).path, ceremony)
    home = tmp_path / "empty-home"
    digest = register_srs(ceremony, home=home).sha256

    def no_dev(*args: object, **kwargs: object) -> object:
        raise AssertionError("a dev SRS was generated for a registered ceremony SRS")

    monkeypatch.setattr(srs_module, "dev_srs", no_dev)
    found = srs_by_hash(digest, 15, home=home)
    assert found.source == "ceremony" and not found.insecure


def test_the_insecure_warning_is_one_line_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(srs_module, "_WARNED", False)
    out = io.StringIO()
    assert warn_insecure(stream=out) is True
    assert warn_insecure(stream=out) is False
    assert warn_insecure(dev_srs(15), stream=out) is False
    assert out.getvalue() == f"warning: {SEEDED_WARNING}\n"  # the test session's SRS is seeded
    # without $ZKAGG_DEV_SRS_SEED, a command warns of a dev SRS generated on this machine
    monkeypatch.setattr(srs_module, "_WARNED", False)
    monkeypatch.delenv(DEV_SRS_SEED_ENV)
    plain = io.StringIO()
    assert warn_insecure(stream=plain) is True
    assert plain.getvalue() == f"warning: {INSECURE_WARNING}\n"
