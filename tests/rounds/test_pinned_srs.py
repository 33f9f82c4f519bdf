"""Issue 12, attack 9: a deployment that pins its SRS, on real rounds, with the CLI around it.

``zkagg init --srs FILE`` pins a ceremony SRS per logrows into deployment.json and its id; every
party commits, proves and verifies with that SRS only; a shard result made under another SRS is
excluded as ``wrong-srs`` and ``zkagg audit`` names it; commands on a dev SRS say so once.

The "ceremony" file here is a copy of the session's dev SRS (generating a second real SRS takes
seconds and would need every circuit's keys made again); the "other" SRS is that copy with one
byte changed: a file of the right format and size whose hash differs, which is all a label needs.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.rounds.world import N_CLIENTS, World, make_world, mismatches, open_with_honest_clients
from zkagg._aggregation.records import ShardAggregate
from zkagg._aggregation.shard import aggregate_shard
from zkagg._errors import ArtifactError, InvalidArgument, ProtocolError
from zkagg._field import dequantize
from zkagg._home import sha256_file
from zkagg._kzg.commit import UpdateCommitment
from zkagg._protocol import workload
from zkagg._protocol.deployment import Deployment, DeploymentKeys
from zkagg._protocol.guard import check_manifest_rules
from zkagg._protocol.judge import judge_round
from zkagg._protocol.messages import ClientUpdate, RoundManifest, VerdictReason
from zkagg._protocol.reading import read_range
from zkagg._protocol.shard import ShardAggregator
from zkagg._protocol.sharding import deployment_namespaces
from zkagg._prover import srs as srs_module
from zkagg._prover.srs import SEEDED_WARNING, dev_srs, srs_file_size
from zkagg.cli.app import app
from zkagg.da._runner import spawn_server

runner = CliRunner()
WARNING_LINE = f"warning: {SEEDED_WARNING}"


@dataclasses.dataclass(frozen=True)
class SrsFiles:
    """The pinned "ceremony" file and another SRS file of the same logrows."""

    pinned: Path
    other: Path

    @property
    def pinned_sha256(self) -> str:
        return sha256_file(self.pinned)

    @property
    def other_sha256(self) -> str:
        return sha256_file(self.other)


@pytest.fixture(scope="module")
def srs_files(tmp_path_factory: pytest.TempPathFactory) -> SrsFiles:
    folder = tmp_path_factory.mktemp("srs")
    pinned = folder / "ceremony-k15.srs"
    shutil.copyfile(dev_srs(15).path, pinned)
    data = bytearray(pinned.read_bytes())
    data[-1] ^= 0x01
    other = folder / "other-k15.srs"
    other.write_bytes(bytes(data))
    return SrsFiles(pinned, other)


@pytest.fixture
def fresh_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each CLI invocation in this process may print the once-per-process warning again."""
    monkeypatch.setattr(srs_module, "_WARNED", False)


@pytest.fixture
def pinned_world(tmp_path: Path, srs_files: SrsFiles) -> Iterator[World]:
    srs_module.register_srs(srs_files.pinned)
    yield from make_world(tmp_path, srs_sha256={15: srs_files.pinned_sha256})


# -- the deployment ---------------------------------------------------------------------------------


def test_pins_enter_the_id_and_the_specs_and_nothing_changes_without_them() -> None:
    keys = DeploymentKeys.generate(3, 1)
    plain = keys.deployment()
    pinned = keys.deployment(srs_sha256={15: "ab" * 32})
    assert "srs_sha256" not in plain.to_json() and not plain.srs_pinned
    assert plain.spec().srs_sha256 is None and workload.quality_spec(plain).srs_sha256 is None
    assert pinned.deployment_id != plain.deployment_id
    assert pinned.to_json()["srs_sha256"] == {"15": "ab" * 32}
    assert Deployment.from_json(json.loads(pinned.canonical_bytes())) == pinned
    assert pinned.required_srs_logrows == (15,)
    assert pinned.spec().srs_sha256 == "ab" * 32
    assert workload.quality_spec(pinned).srs_sha256 == "ab" * 32
    other = keys.deployment(srs_sha256={15: "cd" * 32})
    assert other.deployment_id != pinned.deployment_id


@pytest.mark.parametrize(
    ("pins", "message"),
    [
        ({}, "must pin an SRS file for every logrows the deployment's circuits use \\(15\\): logrows 15"),
        ({15: "ab" * 32, 16: "cd" * 32}, "pins logrows 16, which no circuit of this deployment uses"),
        ({15: "AB" * 32}, r"srs_sha256\[15\] must be 64 lowercase hex digits"),
        ({15: "ab"}, r"srs_sha256\[15\] must be 64 lowercase hex digits"),
        ({"15": "ab" * 32}, r"srs_sha256 logrows must be an integer in \[15, 24\], not '15'"),
        ("ab" * 32, "srs_sha256 must map logrows to SHA-256 or be None"),
    ],
)
def test_bad_pins_are_named(pins: object, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        DeploymentKeys.generate(2, 1).deployment(srs_sha256=pins)


def test_pins_in_json_have_one_form() -> None:
    obj = DeploymentKeys.generate(2, 1).deployment(srs_sha256={15: "ab" * 32}).to_json()
    obj["srs_sha256"] = {"015": "ab" * 32}
    with pytest.raises(InvalidArgument, match="srs_sha256 must be an object from logrows"):
        Deployment.from_json(obj)


# -- zkagg init --srs and the roles' --srs ---------------------------------------------------------


def test_init_pins_the_srs_file_into_the_id(tmp_path: Path, srs_files: SrsFiles) -> None:
    result = runner.invoke(
        app,
        [
            "init",
            str(tmp_path / "d"),
            "--clients",
            "2",
            "--shards",
            "1",
            "--srs",
            str(srs_files.pinned),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    dep = Deployment.load(tmp_path / "d" / "deployment.json")
    assert dep.srs_sha256 == {15: srs_files.pinned_sha256}
    assert json.loads(result.stdout)["deployment"] == dep.deployment_id.hex()
    assert dep.deployment_id != dataclasses.replace(dep, srs_sha256=None).deployment_id


@pytest.mark.parametrize("case", ["not-an-srs", "missing-file", "only-logrows-16", "two-of-logrows-15"])
def test_init_refuses_what_cannot_be_pinned(tmp_path: Path, srs_files: SrsFiles, case: str) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("these are not the points you are looking for")
    k16 = tmp_path / "k16.srs"
    k16.write_bytes((16).to_bytes(4, "little") + bytes(srs_file_size(16) - 4))
    files, message = {
        "not-an-srs": ([text], "--srs .*notes.txt: SRS file .*not an SRS"),
        "missing-file": ([tmp_path / "nope.srs"], "--srs .*nope.srs: cannot read SRS file"),
        "only-logrows-16": (
            [k16],
            "srs_sha256 must pin an SRS file for every logrows .*: logrows 15 is missing",
        ),
        "two-of-logrows-15": ([srs_files.pinned, srs_files.other], "--srs names two SRS files of logrows 15"),
    }[case]
    args = ["init", str(tmp_path / "d"), "--clients", "2", "--shards", "1"]
    for f in files:
        args += ["--srs", str(f)]
    result = runner.invoke(app, args)
    assert result.exit_code == InvalidArgument.exit_code, result.output
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert re.search(message, result.stderr), result.stderr
    assert not (tmp_path / "d" / "deployment.json").exists()


def test_roles_take_only_the_pinned_srs(tmp_path: Path, srs_files: SrsFiles, fresh_warning: None) -> None:
    # Prepare: a pinned deployment and an unpinned one
    assert (
        runner.invoke(
            app,
            ["init", str(tmp_path / "p"), "--clients", "2", "--shards", "1", "--srs", str(srs_files.pinned)],
        ).exit_code
        == 0
    )
    assert runner.invoke(app, ["init", str(tmp_path / "u"), "--clients", "2", "--shards", "1"]).exit_code == 0

    def shard(folder: str, *extra: str) -> Any:
        args = ["shard", "--deployment", str(tmp_path / folder / "deployment.json"), "--keys"]
        args += [str(tmp_path / folder / "keys" / "shard-0"), "--index", "0", "--da", "http://127.0.0.1:9"]
        return runner.invoke(app, [*args, "--timeout", "1", *extra])

    # Execute / Assert: another SRS file is refused by name, before any DA traffic
    wrong = shard("p", "--srs", str(srs_files.other))
    assert wrong.exit_code == ArtifactError.exit_code
    assert f"--srs {srs_files.other} is not the SRS the deployment pins for logrows 15" in wrong.stderr
    # an unpinned deployment takes no --srs
    unpinned = shard("u", "--srs", str(srs_files.pinned))
    assert unpinned.exit_code == InvalidArgument.exit_code and "pins no SRS" in unpinned.stderr
    # a pinned SRS unknown in this cache root: the coordinator names it and says how to supply it
    lost = runner.invoke(
        app,
        [
            "coordinator",
            "--deployment",
            str(tmp_path / "p" / "deployment.json"),
            "--keys",
            str(tmp_path / "p" / "keys" / "coordinator"),
            "--state",
            str(tmp_path / "state"),
            "--home",
            str(tmp_path / "empty-home"),
        ],
    )
    assert lost.exit_code == ArtifactError.exit_code
    assert f"pins SRS {srs_files.pinned_sha256} for logrows 15" in lost.stderr and "--srs" in lost.stderr
    assert WARNING_LINE not in wrong.stderr + lost.stderr


# -- rounds ------------------------------------------------------------------------------------------


def _client_updates(w: World, manifest: RoundManifest) -> list[ClientUpdate]:
    ns = deployment_namespaces(w.dep.deployment_id, w.dep.n_shards)
    posted = read_range(w.node, list(ns.shards), manifest.seed_height + 1, manifest.updates_by)
    return [p.message for p in posted if isinstance(p.message, ClientUpdate)]


def test_honest_pinned_round_audits_clean(pinned_world: World, srs_files: SrsFiles) -> None:
    w = pinned_world
    coordinator, manifest = open_with_honest_clients(w, skip=-1)
    try:
        w.tick(manifest.updates_by)
        report = ShardAggregator(w.dep, 0, w.keys.shards[0], w.node).run_round(manifest)
        outcome = coordinator.close_round(1)
    finally:
        coordinator.close()
    # Assert: the manifest, every client commitment and the verdict are under the pinned SRS
    check_manifest_rules(manifest, w.dep)
    assert srs_files.pinned_sha256 in manifest.aggregation_spec.hex()
    updates = _client_updates(w, manifest)
    assert len(updates) == N_CLIENTS
    for u in updates:
        assert UpdateCommitment.from_bytes(u.commitments).domain.srs_sha256 == srs_files.pinned_sha256
    assert report.included == N_CLIENTS
    assert outcome.global_result.verdicts[0].reason is VerdictReason.ACCEPTED
    assert w.audit().ok


class _OtherSrsShard(ShardAggregator):
    """Shard 0's real aggregator, aggregating under another SRS than the deployment pins."""

    other_sha256 = ""

    def _aggregate(self, manifest: RoundManifest, cohort: Any) -> tuple[ShardAggregate, bytes]:
        dep = self.deployment
        spec = dataclasses.replace(dep.spec(), srs_sha256=self.other_sha256)
        updates = [dequantize(q, dep.scale) for q in cohort.updates]
        return aggregate_shard(spec, updates, weights=cohort.weights), b""


def test_shard_result_under_another_srs_is_wrong_srs(
    pinned_world: World,
    srs_files: SrsFiles,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    fresh_warning: None,
) -> None:
    w = pinned_world
    coordinator, manifest = open_with_honest_clients(w, skip=-1)
    try:
        w.tick(manifest.updates_by)
        shard = _OtherSrsShard(w.dep, 0, w.keys.shards[0], w.node)
        shard.other_sha256 = srs_files.other_sha256
        assert shard.run_round(manifest).height is not None
        # Execute: a coordinator that colludes, reading every aggregate as if made under the pinned SRS
        with monkeypatch.context() as m:
            real = ShardAggregate.from_bytes

            def relabelled(cls: type[ShardAggregate], data: bytes) -> ShardAggregate:
                return dataclasses.replace(real(data), spec=w.dep.spec())

            m.setattr(ShardAggregate, "from_bytes", classmethod(relabelled))
            outcome = coordinator.close_round(1)
    finally:
        coordinator.close()
    assert outcome.global_result.verdicts[0].reason is VerdictReason.ACCEPTED  # the collusion happened
    # Assert: judging (an honest coordinator) and the audit refuse it, naming both SRS hashes
    verdict = judge_round(w.node, w.dep, manifest, timeout=5).verdicts[0]
    assert verdict.reason is VerdictReason.WRONG_SRS
    assert (
        srs_files.other_sha256 in verdict.detail and f"pinned SRS {srs_files.pinned_sha256}" in verdict.detail
    )
    report = w.audit()
    assert "shard 0: the coordinator says accepted, the audit finds wrong-srs" in mismatches(report)
    # and `zkagg audit`, from the DA layer alone with the pinned file, exits non-zero naming it
    w.node.close()
    server, url = spawn_server(tmp_path / "da", instant=True, skip_auth=True)
    try:
        control = deployment_namespaces(w.dep.deployment_id, w.dep.n_shards).control.hex()
        audit = ["audit", "--da", url, "--namespace", control]
        result = runner.invoke(app, [*audit, "--srs", str(srs_files.pinned)])
        refused = runner.invoke(app, [*audit, "--srs", str(srs_files.other)])
    finally:
        server.kill()
        server.wait()
    assert result.exit_code == ProtocolError.exit_code, result.output
    assert "the coordinator says accepted, the audit finds wrong-srs" in result.stdout
    assert "0:wrong-srs" in result.stdout
    assert WARNING_LINE not in result.stderr  # a pinned deployment is no dev SRS
    assert refused.exit_code == ArtifactError.exit_code
    assert "is not the SRS the deployment pins for logrows 15" in refused.stderr


# -- the warning ----------------------------------------------------------------------------------


def test_dev_srs_run_warns_once_on_stderr_and_a_pinned_run_not_at_all(
    tmp_path: Path, srs_files: SrsFiles, fresh_warning: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["run", "--clients", "2", "--shards", "1", "--rounds", "2", "--no-quality", "--json"]
    dev = runner.invoke(app, [*args, "--state", str(tmp_path / "dev")])
    monkeypatch.setattr(srs_module, "_WARNED", False)
    pinned = runner.invoke(app, [*args, "--state", str(tmp_path / "pinned"), "--srs", str(srs_files.pinned)])
    assert dev.exit_code == 0 and pinned.exit_code == 0, dev.output + pinned.output
    assert dev.stderr.splitlines().count(WARNING_LINE) == 1 and "INSECURE" not in dev.stdout
    assert json.loads(dev.stdout)["ok"]  # stdout stays one JSON object
    assert "INSECURE" not in pinned.stderr + pinned.stdout
    assert json.loads(pinned.stdout)["ok"]
    assert Deployment.load(tmp_path / "pinned" / "deployment.json").srs_sha256 == {
        15: srs_files.pinned_sha256
    }
    assert Deployment.load(tmp_path / "dev" / "deployment.json").srs_sha256 is None


def test_audit_of_a_dev_srs_deployment_warns_once(tmp_path: Path, fresh_warning: None) -> None:
    ran = runner.invoke(
        app,
        [
            "run",
            "--clients",
            "2",
            "--shards",
            "1",
            "--rounds",
            "1",
            "--no-quality",
            "--json",
            "--state",
            str(tmp_path / "s"),
        ],
    )
    assert ran.exit_code == 0, ran.output
    srs_module._WARNED = False  # the fixture restores it
    server, url = spawn_server(tmp_path / "s" / "da", instant=True, skip_auth=True)
    try:
        control = json.loads(ran.stdout)["control_namespace"]
        audit = runner.invoke(app, ["audit", "--da", url, "--namespace", control, "--json"])
    finally:
        server.kill()
        server.wait()
    assert audit.exit_code == 0, audit.output
    assert audit.stderr.splitlines() == [WARNING_LINE]
    assert json.loads(audit.stdout)["ok"]


def test_quality_proofs_use_the_srs_the_spec_names_and_no_other(srs_files: SrsFiles) -> None:
    # Prepare: the quality spec of a deployment that pins an SRS nobody registered here
    dep = DeploymentKeys.generate(2, 1).deployment(srs_sha256={15: "ab" * 32})
    spec = workload.quality_spec(dep)
    model = workload.initial_model(dep)
    # Execute / Assert: no fallback to this machine's dev SRS, and no other SRS passed in by hand
    with pytest.raises(ArtifactError, match="no SRS with sha256 abababababababab"):
        workload.quality_artifacts(spec)
    with pytest.raises(ArtifactError, match="no SRS with sha256 abababababababab"):
        workload.model_commitments(model, spec)
    with pytest.raises(InvalidArgument, match="must be the SRS the quality spec names"):
        workload.quality_artifacts(spec, srs=dev_srs(15))
