"""The full stack released with provenance (``nox -s provenance``, minutes): every node of
pipelines/full-stack.yaml pushed to a TLS docker-registry with htpasswd auth, keystone
rebuilt on the way (the build path) and every other node reused (the push path), then each
node's key tag and release tag verified from the registry alone by
``orchestrate provenance verify``, as a consumer with the public key would.

``ORCHESTRATE_ACCEPTANCE_NAMESPACE`` (the nox session: ``localhost/orchestrate``) names the
local images to reuse; the default is the tests' own namespace.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.integration.conftest import orchestrate
from tests.integration.test_provenance import key_pair
from tests.registry_server import TlsRegistry

pytestmark = pytest.mark.provenance_release


def test_every_node_of_the_full_stack_pushed_has_provenance_that_verifies(
    tls_registry: TlsRegistry, state_dir: Path, tmp_path: Path
) -> None:
    key, pub = key_pair(tmp_path, "site")
    namespace = os.environ.get("ORCHESTRATE_ACCEPTANCE_NAMESPACE", "localhost/orchestrate-test")
    env = {"ORCHESTRATE_NAMESPACE": namespace}
    prefix = f"{tls_registry.address}/openstack"
    summary = tmp_path / "summary.json"
    access = tls_registry.client_options()
    started = time.monotonic()
    proc = orchestrate(
        "build", "pipelines/full-stack.yaml", "--parallel", "9", "--push", "--registry", prefix,
        *access, "--provenance-key", str(key), "--no-cache-for", "keystone",
        "--summary-json", str(summary), state_dir=state_dir, extra_env=env, timeout=3600,
    )  # fmt: skip
    pushed_in = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    nodes = json.loads(summary.read_text())["nodes"]
    statuses = {n["node"]: n["status"] for n in nodes}
    assert statuses["keystone"] == "built", statuses
    print(f"\nbuilt and pushed {len(nodes)} nodes in {pushed_in:.1f} s: {statuses}")
    for node in nodes:
        key_tag = node["image"].rsplit(":", 1)[1]
        for ref in (f"{prefix}/{node['node']}:{key_tag}", f"{prefix}/{node['node']}:2026.1"):
            began = time.monotonic()
            ok = orchestrate(
                "provenance", "verify", ref, "--key", str(pub), *access, state_dir=state_dir
            )
            assert ok.returncode == 0, f"{ref}: {ok.stderr}"
            assert "the SBOM it names, which agrees" in ok.stdout, ok.stdout
            print(f"{time.monotonic() - began:5.1f} s  {ok.stdout.strip()}")
