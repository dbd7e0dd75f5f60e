"""What LOCI users carry over, on real builds (marker ``carry_over``: minutes; `nox -s
carry_over`): LOCI's bindep.txt and pydep.txt, unchanged, drive keystone's and nova's
packages; services build from a wheels image pulled from a registry by digest."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import ROOT, orchestrate, run_in

pytestmark = pytest.mark.carry_over

NAMESPACE = "localhost/orchestrate-test"


def test_without_the_rename_file_every_missing_name_is_said_at_once(
    state_dir: Path, tmp_path: Path
) -> None:
    text = (ROOT / "pipelines" / "loci-bindep.yaml").read_text()
    text = text.replace("  rename: loci/debian-names.yaml\n", "")
    text = text.replace("loci/", str(ROOT / "pipelines" / "loci") + "/")
    text = text.replace("../constraints", str(ROOT / "constraints"))
    path = tmp_path / "no-rename.yaml"
    path.write_text(text)
    proc = orchestrate("build", str(path), "--only", "keystone", state_dir=state_dir)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "not in debian bookworm: libmariadbclient-dev" in proc.stderr  # the wheels image


def test_loci_files_build_keystone_and_nova(state_dir: Path) -> None:
    proc = orchestrate("build", "pipelines/loci-bindep.yaml", state_dir=state_dir, timeout=3000)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert re.search(r"^nova\s+(built|reused)", proc.stdout, re.M)
    keystone, nova = f"{NAMESPACE}/keystone:2026.1", f"{NAMESPACE}/nova:2026.1"
    # [platform:dpkg apache] and [platform:dpkg (keystone ldap !jammy !noble)], renamed.
    for package in ("apache2", "libapache2-mod-wsgi-py3", "libldap-2.5-0"):
        assert run_in(keystone, "dpkg", "-s", package).returncode == 0, package
    # pydep: [(keystone ldap)] and [fluent], installed from the wheels.
    check = run_in(keystone, "/var/lib/openstack/bin/python", "-c", "import ldappool, fluent")
    assert check.returncode == 0, check.stderr
    # nova's: [platform:dpkg nova], [(ceph nova)], [(nova configdrive)].
    for package in ("libvirt0", "libosinfo-bin", "ceph-common", "genisoimage"):
        assert run_in(nova, "dpkg", "-s", package).returncode == 0, package
    assert run_in(nova, "/var/lib/openstack/bin/python", "-c", "import libvirt").returncode == 0


def test_services_build_from_a_wheels_image_pulled_by_digest(
    keystone_run: dict[str, object], registry: str, state_dir: Path, tmp_path: Path
) -> None:
    # The session's wheels image, published elsewhere: a registry, by digest.
    remote = f"{registry}/elsewhere/requirements:published"
    subprocess.run(
        [
            "skopeo", "copy", "--dest-tls-verify=false",
            f"containers-storage:{NAMESPACE}/requirements:2026.1", f"docker://{remote}",
        ],
        check=True, capture_output=True,
    )  # fmt: skip
    raw = subprocess.run(
        ["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{remote}"],
        check=True,
        capture_output=True,
    ).stdout
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    text = (ROOT / "pipelines" / "keystone.yaml").read_text()
    text = text.replace("../constraints", str(ROOT / "constraints"))
    text = text.replace(
        "\nimages:", f"\nrequirements:\n  from: {registry}/elsewhere/requirements@{digest}\nimages:"
    )
    text = text.replace("name: keystone", "name: keystone-elsewhere")
    path = tmp_path / "elsewhere.yaml"
    path.write_text(text)
    proc = orchestrate("build", str(path), "--no-tls-verify", state_dir=state_dir, timeout=3000)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert re.search(r"^requirements\s+built", proc.stdout, re.M), proc.stdout
    assert re.search(r"^keystone\s+built", proc.stdout, re.M), proc.stdout
    check = run_in(f"{NAMESPACE}/keystone:2026.1", "keystone-manage", "--version")
    assert check.returncode == 0, check.stderr


def test_services_build_from_an_exported_wheels_index(
    keystone_run: dict[str, object], state_dir: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    exported = orchestrate(
        "wheels", "export", str(keystone_run["run_id"]), str(index), state_dir=state_dir
    )
    assert exported.returncode == 0, exported.stderr
    text = (ROOT / "pipelines" / "keystone.yaml").read_text()
    text = text.replace("../constraints", str(ROOT / "constraints"))
    text = text.replace(
        "\nimages:",
        f"\nrequirements:\n  index: file://{index}/simple\n  pins: {index}/resolved.txt\n"
        f"  runtime_packages: {index}/runtime-packages.txt\nimages:",
    )
    text = text.replace("name: keystone", "name: keystone-from-index")
    path = tmp_path / "from-index.yaml"
    path.write_text(text)
    proc = orchestrate("build", str(path), state_dir=state_dir, timeout=3000)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert re.search(r"^requirements\s+built", proc.stdout, re.M), proc.stdout
    assert re.search(r"^keystone\s+built", proc.stdout, re.M), proc.stdout
    check = run_in(f"{NAMESPACE}/keystone:2026.1", "keystone-manage", "--version")
    assert check.returncode == 0, check.stderr
