"""``orchestrate diff`` on real images: two one-file images of this test's own."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import orchestrate


def commit_image(name: str, content: str, tmp_path: Path) -> None:
    source = tmp_path / f"{name.rsplit(':', 1)[-1]}.conf"
    source.write_text(content)
    container = subprocess.run(
        ["buildah", "from", "scratch"], check=True, capture_output=True, text=True
    ).stdout.strip()
    try:
        subprocess.run(["buildah", "copy", container, str(source), "/etc/app.conf"],
                       check=True, capture_output=True)  # fmt: skip
        subprocess.run(["buildah", "commit", "--quiet", container, name],
                       check=True, capture_output=True)  # fmt: skip
    finally:
        subprocess.run(["buildah", "rm", container], capture_output=True, check=False)


@pytest.fixture
def images(tmp_path: Path) -> Iterator[tuple[str, str]]:
    a = f"localhost/orchestrate-test/diff:{tmp_path.name}-a"
    b = f"localhost/orchestrate-test/diff:{tmp_path.name}-b"
    commit_image(a, "debug = false\n", tmp_path)
    commit_image(b, "debug = true\n", tmp_path)
    yield a, b
    subprocess.run(["buildah", "rmi", a, b], capture_output=True, check=False)


def test_diff_names_the_changed_file_and_leaves_nothing(
    images: tuple[str, str], state_dir: Path
) -> None:
    a, b = images
    same = orchestrate("diff", a, a, state_dir=state_dir)
    assert same.returncode == 0, same.stderr
    assert same.stdout.startswith(f"identical: {a} and {a}")
    differ = orchestrate("diff", a, b, "--json", state_dir=state_dir)
    assert differ.returncode == 1, differ.stderr
    found = json.loads(differ.stdout)
    assert list(found["files"]["changed"]) == ["/etc/app.conf"]
    assert not found["packages"]["changed"] and not found["python"]["added"]
    missing = orchestrate("diff", a, f"{b}-gone", state_dir=state_dir)
    assert missing.returncode == 2
    assert (
        missing.stderr.strip() == f"orchestrate: error: IMAGE_B: no image {b}-gone in local storage"
    )
    names = subprocess.run(
        ["buildah", "containers", "--format", "{{.ContainerName}}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "-diff-" not in names
