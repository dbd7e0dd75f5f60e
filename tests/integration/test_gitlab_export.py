"""The GitLab CI export, run for real by gitlab-ci-local (shell executor) against
docker-registry on 127.0.0.1 with TLS and htpasswd auth (marker ``scale_out``: minutes).

Each job is a build host of its own (an empty storage root and state dir under
``.orchestrate/<job>``): the base, the wheels image and two keystone images are built by four
different jobs, each pulling what its parents' jobs pushed, and the promote job, last, moves
the release tags. gitlab-ci-local comes from the npm registry (``nox -s scale_out`` installs
it; ``GITLAB_CI_LOCAL`` names the binary).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import ROOT
from tests.registry_server import PASSWORD, TlsRegistry

pytestmark = pytest.mark.scale_out

GITLAB_CI_LOCAL = os.environ.get(
    "GITLAB_CI_LOCAL",
    str(ROOT / ".nox" / "gitlab-ci-local" / "node_modules" / ".bin" / "gitlab-ci-local"),
)

SDIST = (
    "{pypi: keystone==29.1.0, "
    "sha256: 9090a34976c48b518dec21d73260d3af76029c05bd40bfe2cb097dfd7d343bc1}"
)
PIPELINE = f"""\
# Two services of one project, built by two jobs from one wheels image.
name: gitlab-export
release: "2026.1"
tags: ["{{release}}"]
toolchain: {{pip: "25.3", setuptools: "80.9.0", wheel: "0.45.1", uv: "0.13.9"}}
constraints:
  upper: ../constraints/2026.1/upper-constraints.txt
  global: ../constraints/2026.1/global-requirements.txt
base:
  bootstrap: mmdebstrap
  suite: bookworm
images:
  keystone:
    source: {SDIST}
  keystone-lean:
    project: keystone
    profiles: []
    source: {SDIST}
"""


@pytest.fixture
def checkout(tmp_path: Path) -> Iterator[Path]:
    """A clone of this repository with the pipeline and its export; job storages removed
    afterwards."""
    clone = tmp_path / "checkout"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    (clone / "pipelines" / "gitlab-export.yaml").write_text(PIPELINE)
    yield clone
    for conf in (clone / ".orchestrate").glob("*/storage/storage.conf"):
        env = dict(os.environ, CONTAINERS_STORAGE_CONF=str(conf))
        for argv in (["buildah", "rm", "--all"], ["buildah", "rmi", "--all", "--force"]):
            subprocess.run(argv, env=env, capture_output=True, check=False)
    shutil.rmtree(clone / ".orchestrate", ignore_errors=True)


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[TlsRegistry]:
    server = TlsRegistry(tmp_path / "registry")
    server.prepare()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_the_gitlab_export_runs_green_under_gitlab_ci_local(
    checkout: Path, registry: TlsRegistry
) -> None:
    if not Path(GITLAB_CI_LOCAL).is_file():
        pytest.fail(f"gitlab-ci-local not found at {GITLAB_CI_LOCAL}: run `nox -s scale_out`")
    env = dict(
        os.environ,
        PATH=f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}",
        ORCHESTRATE_REGISTRY=f"{registry.address}/ci",
    )
    export = subprocess.run(
        [
            "orchestrate", "export", "--format", "gitlab", "pipelines/gitlab-export.yaml",
            "-o", ".gitlab-ci.yml",
        ],
        cwd=checkout, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert export.returncode == 0, export.stderr
    exported = (checkout / ".gitlab-ci.yml").read_text()
    assert str(registry.authfile) not in exported and PASSWORD not in exported
    # The CI/CD variables a project would set: the registry, its CA and the authfile (File).
    # gitlab-ci-local turns a variable whose value is a file's path into a File variable.
    (checkout / ".gitlab-ci-local-variables.yml").write_text(
        f"ORCHESTRATE_REGISTRY: {registry.address}/ci\n"
        f"REGISTRY_AUTH_JSON: {registry.authfile}\n"
        f"REGISTRY_CA_CERT: {registry.cert_dir / 'ca.crt'}\n"
    )
    proc = subprocess.run(
        [GITLAB_CI_LOCAL, "--force-shell-executor", "--concurrency", "2"],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=3000,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    for job in (
        "build-base",
        "build-wheel-builder",
        "build-requirements",
        "build-openstack-base",
        "build-keystone",
        "build-keystone-lean",
        "promote",
    ):
        assert f"PASS  {job}" in out, out[-6000:]
    # Each node was built by its own job, on an empty storage that pulled its parents.
    nodes = ("base", "wheel-builder", "requirements", "openstack-base", "keystone", "keystone-lean")
    for node in nodes:
        assert registry.digest(f"ci/{node}", "2026.1") is not None, node
    for job, built in (("build-keystone", "keystone"), ("build-keystone-lean", "keystone-lean")):
        # gitlab-ci-local prefixes each line with the job's name, padded.
        assert re.search(rf"^{job}\s+> {built}\s+built", out, re.M), out[-6000:]
    # Only the promote job moved release tags: every build job passed --no-promote.
    assert re.findall(r"^(\S+)\s+> promoted: ", out, re.M) == ["promote"] * len(nodes), out[-6000:]
    assert PASSWORD not in out
