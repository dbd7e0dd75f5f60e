"""What LOCI users carry over, on real builds (marker ``carry_over``: minutes; `nox -s
carry_over`): LOCI's bindep.txt and pydep.txt, unchanged, drive keystone's and nova's
packages; services build from a wheels image pulled from a registry by digest and from an
exported index; constraints and keystone come from git repositories; the keystone stack
builds from sources."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tarfile
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
    # What the image's compiled wheels need at run time is inside it: a period, not updates.
    text = text.replace("refresh: updates", "refresh: weekly")
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


def _git(repo: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org",
        "PATH": "/usr/bin:/bin",
    }  # fmt: skip
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    ).stdout.strip()


def test_constraints_and_a_service_from_git_repositories(
    keystone_run: dict[str, object], state_dir: Path, tmp_path: Path
) -> None:
    # Local repositories stand in for openstack/requirements and openstack/keystone.
    requirements = tmp_path / "requirements"
    requirements.mkdir()
    _git(requirements, "init", "-q", "-b", "master")
    for name in ("upper-constraints.txt", "global-requirements.txt"):
        shutil.copy(ROOT / "constraints" / "2026.1" / name, requirements / name)
    _git(requirements, "add", ".")
    _git(requirements, "commit", "-q", "-m", "2026.1 pins")
    keystone = tmp_path / "keystone"
    sdist = next((state_dir / "sources").rglob("keystone-29.1.0.tar.gz"))
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp_path, filter="data")
    (tmp_path / "keystone-29.1.0").rename(keystone)
    _git(keystone, "init", "-q", "-b", "master")
    _git(keystone, "add", ".")
    _git(keystone, "commit", "-q", "-m", "keystone")
    _git(keystone, "tag", "29.1.0")
    text = (ROOT / "pipelines" / "keystone.yaml").read_text()
    text = text.replace(
        "  upper: ../constraints/2026.1/upper-constraints.txt\n"
        "  global: ../constraints/2026.1/global-requirements.txt\n",
        f"  git: file://{requirements}\n  ref: master\n"
        "  upper: upper-constraints.txt\n  global: global-requirements.txt\n",
    )
    source = f"source: {{git: file://{keystone}, ref: master}}"
    text = re.sub(r"source: \{pypi: [^}]*\}", source, text)
    text = text.replace("name: keystone", "name: keystone-git")
    path = tmp_path / "git.yaml"
    path.write_text(text)
    proc = orchestrate("build", str(path), state_dir=state_dir, timeout=3000)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # The same files as keystone.yaml's resolve to the same pins: the same wheels image.
    assert re.search(r"^requirements\s+reused", proc.stdout, re.M), proc.stdout
    assert re.search(r"^keystone\s+built", proc.stdout, re.M), proc.stdout
    check = run_in(f"{NAMESPACE}/keystone:2026.1", "keystone-manage", "--version")
    assert check.returncode == 0 and "29.1.0" in check.stdout + check.stderr, check
    # A new commit on the requirements branch that moves no pin of the wheel set: the
    # wheels image's key holds the pins, so nothing is built again.
    _git(requirements, "commit", "-q", "--allow-empty", "-m", "bump")
    same = orchestrate("plan", str(path), state_dir=state_dir)
    assert same.returncode == 0, same.stderr
    assert re.search(r"^requirements\s.*reuse", same.stdout, re.M), same.stdout
    assert re.search(r"^keystone\s.*reuse", same.stdout, re.M), same.stdout
    # One that moves a pin keystone installs is a new wheels image, and a new keystone.
    upper = requirements / "upper-constraints.txt"
    text, n = re.subn(r"^oslo\.utils===\S+$", "oslo.utils===10.0.0", upper.read_text(), flags=re.M)
    assert n == 1
    upper.write_text(text)
    _git(requirements, "commit", "-q", "-am", "oslo.utils 10.0.0")
    moved = orchestrate("plan", str(path), state_dir=state_dir)
    assert moved.returncode == 0, moved.stderr
    assert re.search(r"^requirements\s.*build.*resolved", moved.stdout, re.M), moved.stdout
    assert re.search(r"^keystone\s.*build", moved.stdout, re.M), moved.stdout


def test_the_keystone_stack_builds_from_sources(state_dir: Path) -> None:
    proc = orchestrate(
        "build", "pipelines/keystone-from-sources.yaml", state_dir=state_dir, timeout=3000
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    logs = Path(re.findall(r"^logs: (\S+)", proc.stdout, re.M)[-1])
    log = (logs / "requirements.log").read_text()
    # Built here: pip says so, or takes a wheel it built for a build environment from its
    # wheel cache ("Using cached NAME.whl"; a cached download would carry its size).
    built = set(re.findall(r"Building wheel for (\S+) \(", log))
    built |= {f.split("-")[0] for f in re.findall(r"Using cached (\S+\.whl)$", log, re.M)}
    listing = run_in(f"{NAMESPACE}/requirements:2026.1-from-sources", "ls", "/wheels")
    wheels = [w for w in listing.stdout.split() if w.endswith(".whl")]
    assert len(wheels) > 90, wheels
    # Every wheel but the three Rust ones allowed as binaries was built here from its sdist.
    downloaded = {w.split("-")[0].lower() for w in wheels} - {
        b.lower().replace("-", "_").replace(".", "_") for b in built
    }
    assert downloaded == {"cryptography", "bcrypt", "rpds_py"}, downloaded
    check = run_in(f"{NAMESPACE}/keystone:2026.1-from-sources", "keystone-manage", "--version")
    assert check.returncode == 0, check.stderr
