"""The deployment on the DA layer: announced once in its control namespace, found by auditors."""

from __future__ import annotations

import json
from typing import Final

from zkagg._errors import ProtocolError, ZkaggError
from zkagg._protocol.deployment import Deployment
from zkagg._protocol.reading import read_range
from zkagg._protocol.sharding import deployment_namespaces
from zkagg.da import Blob, DABackend, Namespace

__all__ = ["announce_deployment", "find_deployment"]

# -- the deployment on the DA layer ------------------------------------------------------------------

_ANNOUNCE_HEADER: Final = b"zkagg-deployment/1\n"


def announce_deployment(backend: DABackend, deployment: Deployment, *, start: int = 1) -> int:
    """Post the deployment's public configuration in its control namespace (once); return the height.

    An auditor that knows only the control namespace finds it there, and checks that it hashes to
    the deployment id the namespace is derived from (:func:`find_deployment`). Heights from ``start``
    are searched for an earlier announcement first (a coordinator restarted after posting it).
    """
    control = deployment_namespaces(deployment.deployment_id, deployment.n_shards).control
    for dep, height in _scan_announcements(backend, control, start):
        if dep.deployment_id == deployment.deployment_id:
            return height
    return backend.submit([Blob.new(control, _ANNOUNCE_HEADER + deployment.canonical_bytes())])


def _scan_announcements(
    backend: DABackend, control: Namespace, start: int = 1
) -> list[tuple[Deployment, int]]:
    found = []
    for posted in read_range(backend, [control], start, backend.local_head().height):
        data = posted.blob.data
        if not data.startswith(_ANNOUNCE_HEADER):
            continue
        try:
            dep = Deployment.from_json(json.loads(data[len(_ANNOUNCE_HEADER) :]))
        except (ValueError, RecursionError, ZkaggError):  # anyone may post here; deep JSON recurses
            continue
        if deployment_namespaces(dep.deployment_id, dep.n_shards).control == control:
            found.append((dep, posted.height))
    return found


def find_deployment(
    backend: DABackend, control: Namespace, deployment_id: bytes | None = None, *, start: int = 1
) -> Deployment:
    """The deployment announced in ``control`` at or after height ``start`` (whose id derives that namespace).

    Raises
    ------
    ProtocolError
        None is announced there, or several are and ``deployment_id`` does not pick one.
    """
    found = _scan_announcements(backend, control, start)
    if deployment_id is not None:
        found = [(d, h) for d, h in found if d.deployment_id == deployment_id]
    ids = {d.deployment_id for d, _ in found}
    if not ids:
        raise ProtocolError(f"no zkagg deployment is announced in namespace {control.hex()}")
    if len(ids) > 1:
        raise ProtocolError(
            f"{len(ids)} deployments are announced in namespace {control.hex()}; name one with its id"
        )
    return found[0][0]
