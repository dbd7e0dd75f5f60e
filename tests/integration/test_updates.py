"""``refresh: updates`` against a real archive: a site's own Debian repository (made with
dpkg-deb, dpkg-scanpackages and apt-ftparchive, served on loopback) is one of the base's
sources; two services (the site project site-echo, twice) install packages from it.

Publishing a newer version of a package only ``echo-a`` installs (a dependency of what it
asks for, in the repository's -security suite) makes ``outdated`` report it and the next run
rebuild ``echo-a`` alone; ``plan`` says why. A newer version of a package both services
install (openstack-base holds it) would rebuild that node and the two services, and one in
the base everything: ``plan`` shows both, nothing more is built.

Minutes (a base, the wheel-builder and the wheels of a new base): ``nox -s security_updates``.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.errors import EXIT_OK, EXIT_OUTDATED
from tests.integration.archive_server import Archive
from tests.integration.conftest import ROOT, orchestrate, run_in

pytestmark = pytest.mark.security_updates

NAMESPACE = f"localhost/orchestrate-test/updates{os.getpid()}"
SUITE, SECURITY = "site", "site-security"
SOURCE = ROOT / "tests" / "integration" / "site-echo"
VERSIONS = {"orch-base-extra": "1.0", "orch-common": "1.0", "orch-a": "1.0", "orch-a-lib": "1.0"}
VERSIONS["orch-b"] = "1.0"
DEPENDS = {"orch-a": "orch-a-lib"}


def pipeline_text(archive: Archive) -> str:
    header = (ROOT / "pipelines" / "keystone.yaml").read_text()
    header = header.replace("../constraints", str(ROOT / "constraints"))
    header = header.replace("name: keystone\n", "name: updates\n").split("base:\n")[0]
    sources = [f"deb [trusted=yes] {archive.url} {suite} main" for suite in (SUITE, SECURITY)]
    return header + (
        "base:\n"
        "  bootstrap: mmdebstrap\n"
        "  suite: bookworm\n"
        "  include: [python3, python3-venv, ca-certificates, orch-base-extra]\n"
        f"  sources: {json.dumps(sources)}\n"
        "  refresh: updates\n"
        "images:\n"
        "  echo-a:\n"
        "    project: site-echo\n"
        f"    source: {{local: {SOURCE}}}\n"
        "    dist_packages: [orch-a, orch-common]\n"
        "  echo-b:\n"
        "    project: site-echo\n"
        f"    source: {{local: {SOURCE}}}\n"
        "    dist_packages: [orch-b, orch-common]\n"
    )


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    served = Archive(tmp_path / "archive")
    served.publish(SUITE, VERSIONS, DEPENDS)
    served.publish(SECURITY, {})
    yield served
    served.close()


@pytest.fixture
def ours() -> Iterator[None]:
    """Removes every image of this test's namespace afterwards."""
    yield
    names = subprocess.run(
        ["buildah", "images", "--format", "{{.Name}}:{{.Tag}}"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    mine = [name for name in names if name.startswith(NAMESPACE + "/")]
    if mine:
        subprocess.run(["buildah", "rmi", "-f", *mine], capture_output=True, check=False)


def orch(*args: str, state_dir: Path) -> subprocess.CompletedProcess[str]:
    """The CLI, on this test's namespace."""
    env = {"ORCHESTRATE_NAMESPACE": NAMESPACE}
    return orchestrate(*args, state_dir=state_dir, extra_env=env, timeout=2400)


def build(pipeline: Path, state_dir: Path, out: Path) -> dict[str, str]:
    proc = orch("build", str(pipeline), "--summary-json", str(out), state_dir=state_dir)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return {n["node"]: n["status"] for n in json.loads(out.read_text())["nodes"]}


def plan_rows(pipeline: Path, state_dir: Path) -> dict[str, tuple[str, str]]:
    """``plan``'s table: {node: (action, why)}."""
    proc = orch("plan", str(pipeline), state_dir=state_dir)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    table = proc.stdout[proc.stdout.rindex("NODE ") :].splitlines()[1:]
    rows = {}
    for line in table:
        words = line.split(None, 3)
        if len(words) == 4:
            rows[words[0]] = (words[1], words[3])
    return rows


def test_a_fix_in_the_archive_rebuilds_exactly_the_images_that_install_it(
    archive: Archive, ours: None, state_dir: Path, tmp_path: Path
) -> None:
    pipeline = tmp_path / "updates.yaml"
    pipeline.write_text(pipeline_text(archive))
    first = build(pipeline, state_dir, tmp_path / "first.json")
    assert set(first) == {
        "base", "wheel-builder", "requirements", "openstack-base", "echo-a", "echo-b",
    }  # fmt: skip
    assert first["echo-a"] == "built"
    a_image = f"{NAMESPACE}/echo-a:2026.1"
    held = run_in(a_image, "dpkg-query", "-W", "-f", "${Package}=${Version}\\n", "orch-a-lib")
    assert held.stdout.strip() == "orch-a-lib=1.0", held.stderr

    same = orch("outdated", str(pipeline), state_dir=state_dir)
    assert same.returncode == EXIT_OK, same.stdout + same.stderr
    # Nothing changed in the archive: every node is reused.
    assert {action for action, _ in plan_rows(pipeline, state_dir).values()} == {"reuse"}

    # A security fix of a package only echo-a installs (a dependency of orch-a).
    archive.publish(SECURITY, {"orch-a-lib": "1.0+fix1"})
    found = orch("outdated", str(pipeline), "--json", state_dir=state_dir)
    assert found.returncode == EXIT_OUTDATED, found.stdout + found.stderr
    reports = {r["name"]: r for r in json.loads(found.stdout)["images"]}
    assert reports["echo-a"]["packages"] == [
        {
            "name": "orch-a-lib",
            "installed": "1.0",
            "available": "1.0+fix1",
            "suite": SECURITY,
            "security": True,
        }
    ]
    assert all(r["packages"] == [] for name, r in reports.items() if name != "echo-a")
    rows = plan_rows(pipeline, state_dir)
    assert {node: action for node, (action, _) in rows.items() if action != "reuse"} == {
        "echo-a": "build"
    }
    assert rows["echo-a"][1].endswith(f"archive orch-a-lib 1.0 -> 1.0+fix1 in {SECURITY}")

    second = build(pipeline, state_dir, tmp_path / "second.json")
    assert [node for node, status in second.items() if status == "built"] == ["echo-a"]
    held = run_in(a_image, "dpkg-query", "-W", "-f", "${Package}=${Version}\\n", "orch-a-lib")
    assert held.stdout.strip() == "orch-a-lib=1.0+fix1", held.stderr
    again = orch("outdated", str(pipeline), state_dir=state_dir)
    assert again.returncode == EXIT_OK, again.stdout + again.stderr

    # One both services install: openstack-base (which holds it) and both services.
    archive.publish(SECURITY, {"orch-a-lib": "1.0+fix1", "orch-common": "1.0+fix1"})
    rows = plan_rows(pipeline, state_dir)
    builds = {node for node, (action, _) in rows.items() if action == "build"}
    assert builds == {"openstack-base", "echo-a", "echo-b"}
    assert rows["openstack-base"][1].endswith(f"archive orch-common 1.0 -> 1.0+fix1 in {SECURITY}")
    # One the base installs: everything, the base saying why.
    archive.publish(
        SECURITY, {"orch-a-lib": "1.0+fix1", "orch-common": "1.0+fix1", "orch-base-extra": "1.1"}
    )
    rows = plan_rows(pipeline, state_dir)
    assert {action for action, _ in rows.values()} == {"build"}
    assert rows["base"][1].endswith(f"archive orch-base-extra 1.0 -> 1.1 in {SECURITY}")
