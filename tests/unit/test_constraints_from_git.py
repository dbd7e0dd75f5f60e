"""Constraints taken from a git repository (openstack/requirements at the branch built),
with a local repository standing in for it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from orchestrator.errors import ConfigError, SourceError
from orchestrator.loading.load import fetch_constraints, load
from orchestrator.model.settings import resolve_settings
from orchestrator.planning.graph import graph_for
from tests.conftest import UPPER, WritePipeline
from tests.unit.test_plan import NOW, SOURCES, make_plans


def git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin", "HOME": str(repo)}  # fmt: skip
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    ).stdout.strip()


@pytest.fixture
def requirements_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "requirements"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "master")
    (repo / "upper-constraints.txt").write_text(UPPER.read_text())
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "constraints")
    return repo


def pipeline_text(repo: Path, ref: str = "master") -> str:
    return (
        'name: t\nrelease: "2026.1"\n'
        'toolchain: {pip: "25.3", setuptools: "80.9.0", wheel: "0.45.1"}\n'
        f"constraints: {{git: {repo}, ref: {ref}, upper: upper-constraints.txt}}\n"
        "images:\n  keystone:\n    source: {pypi: keystone==29.1.0}\n"
    )


def keys(path: Path, state: Path) -> dict[str, str]:
    resolved = load(path)
    settings = resolve_settings(resolved.pipeline.settings, {"state_dir": str(state)}, environ={})
    resolved = fetch_constraints(resolved, settings)
    assert resolved.pipeline.constraints.upper.is_file()
    plans = make_plans(resolved, graph_for(resolved), settings, SOURCES, run_id="r", now=NOW)
    assert plans["requirements"].inputs["constraints_revision"].startswith("git:")
    return {node: plan.key for node, plan in plans.items()}


def test_the_commit_of_the_constraints_enters_every_key(
    write_pipeline: WritePipeline, requirements_repo: Path, tmp_path: Path
) -> None:
    path = write_pipeline(pipeline_text(requirements_repo), raw=True)
    first = keys(path, tmp_path / "state")
    assert keys(path, tmp_path / "state") == first  # fetched again: the same commit
    # master moves on (one pin bumped): the wheels and every service change, base does not.
    upper = requirements_repo / "upper-constraints.txt"
    upper.write_text(upper.read_text().replace("oslo.utils===", "oslo.utils===0.0.1\n#", 1))
    git(requirements_repo, "commit", "-q", "-am", "bump")
    moved = keys(path, tmp_path / "state")
    assert moved["base"] == first["base"]
    assert moved["requirements"] != first["requirements"]
    assert moved["keystone"] != first["keystone"]


def test_a_missing_file_or_a_bad_path_is_named(
    write_pipeline: WritePipeline, requirements_repo: Path, tmp_path: Path
) -> None:
    text = pipeline_text(requirements_repo).replace(
        "upper: upper-constraints.txt", "upper: nope.txt"
    )
    resolved = load(write_pipeline(text, raw=True))
    settings = resolve_settings(
        resolved.pipeline.settings, {"state_dir": str(tmp_path)}, environ={}
    )
    with pytest.raises(
        SourceError, match=r"no file nope\.txt at git:[0-9a-f]{40} \(constraints\.upper\)"
    ):
        fetch_constraints(resolved, settings)
    bad = pipeline_text(requirements_repo).replace("upper: upper-constraints.txt", "upper: ../x")
    with pytest.raises(ConfigError, match=r"constraints\.upper: '\.\./x' is not a path inside"):
        load(write_pipeline(bad, raw=True, name="bad.yaml"))
    ref = pipeline_text(requirements_repo, ref="--upload-pack=x")
    with pytest.raises(ConfigError, match=r"constraints\.ref: .* is not a git ref"):
        load(write_pipeline(ref, raw=True, name="ref.yaml"))
