from __future__ import annotations

import json
import multiprocessing as mp
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from zkagg import ArtifactError, CircuitError, InvalidArgument, RunArgs, build_circuit, load_artifacts
from zkagg._prover.artifacts import export_artifacts, find_cached_artifacts


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"input_visibility": "secret"}, "input_visibility must be one of"),
        ({"param_visibility": "open"}, "param_visibility must be one of"),
        ({"input_scale": 31}, "input_scale must be an integer in"),
        ({"logrows": 12}, "logrows must be None"),
        ({"num_inner_cols": 0}, "num_inner_cols"),
    ],
)
def test_run_args_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        RunArgs(**kwargs)  # type: ignore[arg-type]


def test_run_args_round_trip() -> None:
    args = RunArgs(input_visibility="polycommit", logrows=16)
    assert RunArgs.from_dict(args.canonical()) == args
    with pytest.raises(InvalidArgument, match="unknown run arguments: bogus"):
        RunArgs.from_dict({"bogus": 1})


def test_not_an_onnx_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"definitely not protobuf \xff\xff")
    with pytest.raises(CircuitError, match="not an ONNX file"):
        build_circuit(bad)
    with pytest.raises(InvalidArgument, match="no such file"):
        build_circuit(tmp_path / "missing.onnx")
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(CircuitError, match="empty"):
        build_circuit(empty)


@pytest.mark.slow
def test_cache_hit_and_manifest(example_proven) -> None:  # type: ignore[no-untyped-def]
    first = example_proven.artifacts
    again = build_circuit(EXAMPLES / "mlp.onnx", RunArgs(input_scale=10, param_scale=10))
    assert again.cached and again.key == first.key and again.directory == first.directory
    manifest = json.loads((first.directory / "manifest.json").read_text())
    assert manifest["ezkl_version"] == "23.0.5"
    assert set(manifest["files"]) == {"model.onnx", "settings.json", "model.compiled", "vk.key", "pk.key"}
    assert manifest["srs"]["insecure"] is True
    assert find_cached_artifacts(first.key).vk_sha256 == first.vk_sha256


def _build_in_child(home: str, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    import os

    os.environ["ZKAGG_HOME"] = home
    artifacts = build_circuit(EXAMPLES / "mlp.onnx", RunArgs(input_scale=9, param_scale=9, logrows=15))
    queue.put((artifacts.key, artifacts.cached))


@pytest.mark.slow
def test_concurrent_builders_share_one_entry(zkagg_home: Path) -> None:
    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    procs = [ctx.Process(target=_build_in_child, args=(str(zkagg_home), queue)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
        assert p.exitcode == 0
    results = [queue.get(timeout=5) for _ in procs]
    assert results[0][0] == results[1][0]
    assert sorted(cached for _, cached in results) == [False, True], "exactly one process builds"
    leftovers = [p.name for p in (zkagg_home / "artifacts").iterdir() if p.name.startswith(".")]
    assert leftovers == [], "no temporary build directories are left behind"


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_corrupted_cache_entry_is_rebuilt(zkagg_home: Path, damage: str) -> None:
    args = RunArgs(input_scale=8, param_scale=8, logrows=15)
    built = build_circuit(EXAMPLES / "mlp.onnx", args)
    pk = built.directory / "pk.key"
    data = pk.read_bytes()
    if damage == "truncate":
        pk.write_bytes(data[: len(data) // 2])
    else:
        flipped = bytearray(data)
        flipped[len(data) // 2] ^= 0x01
        pk.write_bytes(bytes(flipped))
    rebuilt = build_circuit(EXAMPLES / "mlp.onnx", args)
    assert not rebuilt.cached, "a damaged entry must be rebuilt, not trusted"
    assert (rebuilt.directory / "pk.key").stat().st_size == len(data)


@pytest.mark.slow
def test_export_and_load_verify_only_directory(example_proven, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dest = export_artifacts(example_proven.artifacts, tmp_path / "verifier")
    assert not (dest / "pk.key").exists()
    loaded = load_artifacts(dest)
    assert loaded.pk_path is None and loaded.vk_sha256 == example_proven.artifacts.vk_sha256
    (dest / "vk.key").write_bytes((dest / "vk.key").read_bytes()[:100])
    with pytest.raises(ArtifactError, match="do not match their manifest"):
        load_artifacts(dest)
    with pytest.raises(ArtifactError, match="does not exist"):
        load_artifacts(tmp_path / "nowhere")


@pytest.mark.slow
def test_calibrated_build_keeps_settings_and_srs_in_step(tmp_path: Path) -> None:
    from zkagg import prove, verify

    artifacts = build_circuit(
        EXAMPLES / "mlp.onnx",
        RunArgs(input_scale=11, param_scale=11),
        calibration_data=EXAMPLES / "mlp_input.json",
    )
    assert "calibrate" in artifacts.timings
    assert artifacts.settings["run_args"]["logrows"] == artifacts.logrows >= 15
    assert artifacts.srs is not None and artifacts.srs.logrows == artifacts.logrows
    assert artifacts.manifest["calibration_sha256"] is not None
    proof = prove(artifacts, EXAMPLES / "mlp_input.json")
    verify(proof, artifacts)
    with pytest.raises(InvalidArgument, match="calibration_data must be an existing JSON file"):
        build_circuit(EXAMPLES / "mlp.onnx", calibration_data=tmp_path / "none.json")
