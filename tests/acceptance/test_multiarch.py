"""One tag, two architectures: keystone built for linux/amd64 and linux/arm64 (emulated on an
amd64 host), pushed to a TLS docker-registry on 127.0.0.1 as a manifest list, pulled back
with ``podman pull --arch`` for each, and each served: a token issued, projects listed.

Runs in ``nox -s multiarch`` after its benchmark built the images (reused here, pushed to
this test's own registry); alone it builds them (half an hour and more under emulation).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.acceptance.serving import serve
from tests.acceptance.test_keystone import KEYSTONE, admin_session
from tests.registry_server import TlsRegistry

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = os.environ.get("ORCHESTRATE_MULTIARCH_NAMESPACE", "localhost/orchestrate-multiarch")
# keystone-manage db_sync and uwsgi's start under qemu: minutes, not seconds.
EMULATED_READY_SECONDS = 900

pytestmark = pytest.mark.multiarch


def run(*argv: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, env=env, cwd=ROOT)
    assert done.returncode == 0, f"{argv}: {done.stdout[-3000:]}{done.stderr[-3000:]}"
    return done.stdout.strip()


def test_one_tag_serves_keystone_on_both_architectures(tmp_path: Path) -> None:
    registry = TlsRegistry(tmp_path / "registry")
    registry.prepare()
    registry.start()
    tag = f"{registry.address}/openstack/keystone:2026.1"
    try:
        env = dict(
            os.environ,
            ORCHESTRATE_NAMESPACE=NAMESPACE,
            ORCHESTRATE_STATE_DIR=os.environ.get("ORCHESTRATE_STATE_DIR")
            or str(tmp_path / "state"),
            ORCHESTRATE_REGISTRY=f"{registry.address}/openstack",
            ORCHESTRATE_CERT_DIR=str(registry.cert_dir),
            ORCHESTRATE_AUTHFILE=str(registry.authfile),
        )
        summary = tmp_path / "summary.json"
        run(
            sys.executable, "-m", "orchestrator", "--progress", "plain", "--parallel", "4",
            "build", "pipelines/keystone-multiarch.yaml", "--push",
            "--summary-json", str(summary), env=env,
        )  # fmt: skip
        images = {n["node"]: n["image"] for n in json.loads(summary.read_text())["nodes"]}
        listed = json.loads(run("skopeo", "inspect", "--raw", *registry.client_options(),
                                f"docker://{tag}"))  # fmt: skip
        platforms = {m["platform"]["architecture"]: m["digest"] for m in listed["manifests"]}
        assert set(platforms) == {"amd64", "arm64"}
        for arch in ("arm64", "amd64"):
            # Pulled by the tag alone, as an operator on a host of that architecture would.
            image_id = run("podman", "pull", "-q", "--arch", arch, *registry.client_options(), tag)
            got = run("podman", "image", "inspect", "--format", "{{.Architecture}}", image_id)
            assert got == arch
            # The very image built for that platform (its key image's id).
            built = run(
                "podman", "image", "inspect", "--format", "{{.Id}}", images[f"keystone@{arch}"]
            )
            assert image_id == built
            machine = run("podman", "run", "--rm", image_id, "uname", "-m")
            assert machine == {"amd64": "x86_64", "arm64": "aarch64"}[arch]
            workdir = tmp_path / arch
            workdir.mkdir()
            with serve(KEYSTONE, image_id, workdir, ready_seconds=EMULATED_READY_SECONDS) as ks:
                sess = admin_session(ks.url)
                token = sess.get_token()
                assert token and len(token) > 100  # a fernet token
                projects = sess.get(f"{ks.url}/v3/projects").json()["projects"]
                assert "admin" in {p["name"] for p in projects}
    finally:
        registry.stop()
        # The pulled name only: the images are the namespace's.
        subprocess.run(["podman", "untag", tag, tag], capture_output=True, check=False)
