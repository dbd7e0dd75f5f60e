"""Signed pushes: a throwaway GPG key signs what orchestrate pushes to a real docker-registry,
and podman, under the policy ``orchestrate trust`` writes, pulls the signed image and refuses
an unsigned one and a tag moved to another image."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import orchestrate

REGISTRIES_D = Path("/etc/containers/registries.d")


@pytest.fixture
def gnupg(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A keyring with a throwaway signing key (no passphrase); yields (GNUPGHOME, fingerprint)."""
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    env = dict(os.environ, GNUPGHOME=str(home))
    subprocess.run(
        ["gpg", "--batch", "--passphrase", "", "--quick-gen-key",
         "orchestrate test <test@example.org>", "rsa2048", "sign", "1d"],
        check=True, capture_output=True, env=env,
    )  # fmt: skip
    listing = subprocess.run(
        ["gpg", "--batch", "--list-secret-keys", "--with-colons"],
        check=True, capture_output=True, text=True, env=env,
    ).stdout  # fmt: skip
    fingerprint = re.search(r"^fpr:+([0-9A-F]{40}):", listing, re.M)
    assert fingerprint, listing
    yield home, fingerprint.group(1)
    subprocess.run(["gpgconf", "--kill", "all"], env=env, check=False, capture_output=True)


def podman_pull(reference: str, policy: Path) -> subprocess.CompletedProcess[str]:
    """``podman pull`` into a throwaway storage (under a short path: podman refuses a runroot
    of over 50 characters), under ``policy``."""
    storage = Path(tempfile.mkdtemp(prefix="orch-pull-", dir="/tmp"))
    try:
        return subprocess.run(
            ["podman", "--root", str(storage / "root"), "--runroot", str(storage / "run"),
             "--storage-driver", "vfs", "pull", "--quiet", "--tls-verify=false",
             "--signature-policy", str(policy), reference],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    finally:
        shutil.rmtree(storage, ignore_errors=True)


def test_signed_pushes_pull_under_the_policy_and_others_are_refused(
    registry: str, state_dir: Path, tmp_path: Path, gnupg: tuple[Path, str]
) -> None:
    home, fingerprint = gnupg
    prefix = f"{registry}/signed"
    lookaside = tmp_path / "sigstore"
    flags = ["--registry", prefix, "--sign-by", fingerprint, "--lookaside", str(lookaside)]
    env_home = {"GNUPGHOME": str(home)}
    build = ["build", "pipelines/keystone.yaml", "--only", "base", "--push", "--no-tls-verify"]
    build += flags
    proc = orchestrate(*build, state_dir=state_dir, extra_env=env_home)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    signed = sorted(p.relative_to(lookaside) for p in lookaside.rglob("signature-*"))
    # The key tag and the release tag, both names of one digest.
    assert [str(p.parent).split("@")[0] for p in signed] == ["signed/base"] * 2, signed
    again = orchestrate(*build, state_dir=state_dir, extra_env=env_home)
    assert again.returncode == 0, again.stderr
    assert len(list(lookaside.rglob("signature-*"))) == 2  # signed once per identity

    trust = tmp_path / "trust"
    proc = orchestrate("trust", str(trust), *flags, state_dir=state_dir, extra_env=env_home)
    assert proc.returncode == 0, proc.stderr
    installed = REGISTRIES_D / f"orchestrate-test-{registry.replace(':', '-')}.yaml"
    REGISTRIES_D.mkdir(parents=True, exist_ok=True)
    shutil.copy(trust / "registries.d" / "orchestrate.yaml", installed)
    policy = trust / "policy.json"
    try:
        pulled = podman_pull(f"{prefix}/base:2026.1", policy)
        assert pulled.returncode == 0, pulled.stderr
        # A name the signatures do not claim, for the same image.
        subprocess.run(
            ["skopeo", "copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false",
             f"docker://{prefix}/base:2026.1", f"docker://{prefix}/base:other"],
            check=True, capture_output=True,
        )  # fmt: skip
        renamed = podman_pull(f"{prefix}/base:other", policy)
        assert renamed.returncode != 0
        assert "not accepted" in renamed.stderr or "identity" in renamed.stderr, renamed.stderr
        # The release tag moved to another image (a one-file image of this test's own).
        (tmp_path / "file").write_text("not what was signed\n")
        container = subprocess.run(
            ["buildah", "from", "scratch"], check=True, capture_output=True, text=True
        ).stdout.strip()
        image = f"localhost/orchestrate-test/moved:{tmp_path.name}"
        try:
            subprocess.run(["buildah", "copy", container, str(tmp_path / "file"), "/file"],
                           check=True, capture_output=True)  # fmt: skip
            subprocess.run(["buildah", "commit", "--quiet", container, image],
                           check=True, capture_output=True)  # fmt: skip
            subprocess.run(
                ["skopeo", "copy", "--quiet", "--dest-tls-verify=false",
                 f"containers-storage:{image}", f"docker://{prefix}/base:2026.1"],
                check=True, capture_output=True,
            )  # fmt: skip
        finally:
            subprocess.run(["buildah", "rm", container], capture_output=True, check=False)
            subprocess.run(["buildah", "rmi", image], capture_output=True, check=False)
        refused = podman_pull(f"{prefix}/base:2026.1", policy)
        assert refused.returncode != 0
        assert "no signature exists" in refused.stderr, refused.stderr
        # Unsigned, pushed around orchestrate.
        subprocess.run(
            ["skopeo", "copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false",
             f"docker://{prefix}/base:2026.1", f"docker://{prefix}/unsigned:1"],
            check=True, capture_output=True,
        )  # fmt: skip
        unsigned = podman_pull(f"{prefix}/unsigned:1", policy)
        assert unsigned.returncode != 0
        assert "no signature exists" in unsigned.stderr, unsigned.stderr
    finally:
        installed.unlink(missing_ok=True)
