"""The command line, end to end without buildah: validate, graph, list, plan, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrator.cli import cli, main
from orchestrator.errors import EXIT_INTERNAL
from tests.conftest import WritePipeline

ROOT = Path(__file__).resolve().parents[2]


def invoke(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the real entry point, so exit codes and stderr are what a user sees."""
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


def test_graph_json_of_full_stack() -> None:
    result = CliRunner().invoke(cli, ["graph", "--format", "json", "pipelines/full-stack.yaml"])
    assert result.exit_code == 0, result.output
    # base, wheel-builder, requirements, openstack-base, storage-base and the nine services
    assert len(json.loads(result.output)["nodes"]) == 14


def test_validate_reports_each_file(write_pipeline: WritePipeline) -> None:
    bad = write_pipeline("images:\n  keystone:\n    source: {pypi: k==1}\n    profils: []\n")
    proc = invoke("validate", "pipelines/full-stack.yaml", "profiles/ldap.yaml", str(bad))
    assert proc.returncode == 2
    assert "ok: pipelines/full-stack.yaml" in proc.stdout
    assert "ok: profiles/ldap.yaml" in proc.stdout
    assert (
        proc.stderr.strip() == f"error: {bad}: images.keystone.profils: unknown key 'profils' "
        "(allowed: dist_packages, extras, gid, parent, pip_packages, plugin, profiles, project, "
        "source, steps, tags, uid)"
    )


def test_bad_config_exits_2_with_one_line(write_pipeline: WritePipeline) -> None:
    bad = write_pipeline("images: [\n")
    proc = invoke("build", str(bad))
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1
    assert proc.stderr.startswith(f"orchestrate: error: {bad}: invalid YAML at line")


def test_unknown_option_exits_2() -> None:
    assert invoke("build", "--parallel", "zero").returncode == 2


def test_unknown_node_selection_exits_2() -> None:
    proc = invoke("graph", "--only", "swift")
    assert proc.returncode == 2
    assert "unknown node 'swift'" in proc.stderr


def test_plan_of_a_local_source_prints_every_command(
    write_pipeline: WritePipeline, tmp_path: Path
) -> None:
    src = tmp_path / "keystone-src"
    src.mkdir()
    (src / "requirements.txt").write_text("pbr>=2\nFlask\n")
    (src / "setup.cfg").write_text("[metadata]\nname = keystone\n")
    path = write_pipeline(
        textwrap.dedent("""\
        images:
          keystone:
            source: {local: keystone-src}
        """)
    )
    result = CliRunner().invoke(cli, ["plan", str(path), "--state-dir", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    assert result.output.count("== ") == 4  # base, wheel-builder, requirements, keystone
    assert "mmdebstrap --variant=minbase" in result.output
    assert "buildah copy" in result.output and str(src) in result.output
    assert "keystone-manage --version" in result.output
    # A plan records nothing: no history, no run folder (a local source needs no cache).
    assert not (tmp_path / "s").exists()
    dry = CliRunner().invoke(
        cli, ["build", str(path), "--dry-run", "--state-dir", str(tmp_path / "s")]
    )
    assert dry.exit_code == 0, dry.output
    assert not (tmp_path / "s").exists()
    resumed = CliRunner().invoke(
        cli, ["build", "--resume", "--dry-run", "--state-dir", str(tmp_path / "s")]
    )
    assert resumed.exit_code != 0 and "nothing to resume" in str(resumed.exception)
    assert not (tmp_path / "s").exists()


def test_help_lists_the_commands() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    for command in ("build", "plan", "graph", "list", "validate"):
        assert command in result.output
    assert "--parallel" in result.output and "ORCHESTRATE_PARALLEL" in result.output


def test_push_without_registry_is_a_config_error() -> None:
    proc = invoke("plan", "pipelines/nightly.yaml")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "orchestrate: error: setting 'push' (from pipeline): pushing is on but no registry is "
        "set: pass --registry, set ORCHESTRATE_REGISTRY or settings.registry, or --no-push"
    )


def test_a_bug_exits_70_with_one_line_and_the_traceback_in_a_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("http://bob:hunter2@proxy:3128 went wrong")

    monkeypatch.setattr("orchestrator.cli.pipelines.load", broken)
    monkeypatch.setenv("ORCHESTRATE_STATE_DIR", str(tmp_path))
    monkeypatch.setattr(sys, "argv", ["orchestrate", "list", "pipelines/keystone.yaml"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == EXIT_INTERNAL
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("orchestrate: internal error (a bug in orchestrate): RuntimeError")
    assert "hunter2" not in err
    (report,) = tmp_path.glob("crash-*.log")
    assert str(report) in err
    text = report.read_text()
    assert "Traceback" in text and "broken" in text and "hunter2" not in text
