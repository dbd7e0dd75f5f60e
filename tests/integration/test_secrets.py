"""A password given in any setting that can carry one never lands on disk or in an output:
not in the history, logs, summaries, JUnit, the report or what the terminal shows."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.integration.conftest import orchestrate

PASSWORD = "Pl4nted/Secr3t:pw"


def _settings(dead: bool) -> list[str]:
    host = "127.0.0.1:9" if dead else "proxy.invalid:3128"
    return [
        "--http-proxy",
        f"http://bob:{PASSWORD}@{host}",
        "--https-proxy",
        f"alice:{PASSWORD}@{host}",
        "--pip-index-url",
        f"https://carol:{PASSWORD}@index.invalid/simple",
        "--pip-extra-index-urls",
        f"https://dave:{PASSWORD}@extra.invalid/simple",
    ]


def test_a_planted_password_is_found_nowhere(
    keystone_run: dict[str, object], state_dir: Path, tmp_path: Path, no_leftovers: None
) -> None:
    outputs = [
        "--summary-json",
        str(tmp_path / "summary.json"),
        "--junit",
        str(tmp_path / "junit.xml"),
    ]
    # Every node reused: the settings are carried but not used.
    reused = orchestrate(
        "build", "pipelines/keystone.yaml", *_settings(False), *outputs, state_dir=state_dir
    )
    assert reused.returncode == 0, reused.stderr[-3000:]
    # keystone built through proxies that refuse: its steps see the credentials (in the
    # network file) and fail; their output is in the log.
    failed = orchestrate(
        "build",
        "pipelines/keystone.yaml",
        "--no-cache-for",
        "keystone",
        *_settings(True),
        *outputs,
        state_dir=state_dir,
    )
    assert failed.returncode == 1, failed.stdout[-3000:] + failed.stderr[-3000:]
    report = tmp_path / "report.html"
    shown = orchestrate("report", "latest", "-o", str(report), state_dir=state_dir)
    history = orchestrate("history", state_dir=state_dir)
    show = orchestrate("show", "latest", state_dir=state_dir)
    texts = [p.stdout + p.stderr for p in (reused, failed, shown, history, show)]
    assert "withheld:  http_proxy, https_proxy, pip_extra_index_urls, pip_index_url" in show.stdout
    files = [p for p in (*state_dir.rglob("*"), *tmp_path.rglob("*")) if p.is_file()]
    found = [str(p) for p in files if PASSWORD.encode() in p.read_bytes()]
    found += [f"output {i}" for i, text in enumerate(texts) if PASSWORD in text]
    assert found == []
    # No network file (0600, with the proxies) is left behind by either run.
    assert not list(state_dir.rglob("network.env"))
    # Nor did the credentials reach an image's configuration.
    config = subprocess.run(
        ["buildah", "inspect", "--type", "image", "localhost/orchestrate-test/keystone:2026.1"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert PASSWORD not in config
