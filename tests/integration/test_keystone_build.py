"""Build base, the wheels keystone needs, and keystone with real buildah; check the image."""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.integration.conftest import ROOT, inspect, orchestrate, run_ids, run_in
from tests.integration.proxy import start_proxy

NS = "localhost/orchestrate-test"


def test_every_node_built_or_reused(keystone_run: dict[str, object]) -> None:
    nodes = {n["node"]: n for n in keystone_run["nodes"]}  # type: ignore[attr-defined]
    assert set(nodes) == {"base", "wheel-builder", "requirements", "keystone"}
    assert all(n["status"] in ("built", "reused") for n in nodes.values())
    assert keystone_run["exit_code"] == 0


def test_image_labels_user_and_metadata(keystone_run: dict[str, object]) -> None:
    image = f"{NS}/keystone:2026.1"
    config = inspect(image)["OCIv1"]["config"]
    labels = config["Labels"]
    assert labels["org.opencontainers.image.title"] == "keystone"
    assert labels["org.opencontainers.image.version"] == "29.1.0"
    assert labels["org.opencontainers.image.source"] == "https://pypi.org/project/keystone/29.1.0/"
    assert labels["org.opencontainers.image.revision"] == (
        "9090a34976c48b518dec21d73260d3af76029c05bd40bfe2cb097dfd7d343bc1"
    )
    # Dated by the run's epoch (1980-01-01 for a base refreshed by updates), not the build.
    assert labels["org.opencontainers.image.created"] == "1980-01-01T00:00:00Z"
    assert "io.orchestrate.run" not in labels
    assert len(labels["io.orchestrate.key"]) == 64
    assert config["User"] == "keystone"
    ids = run_in(image, "id", "keystone")
    assert ids.stdout.startswith("uid=42425(keystone) gid=42425(keystone)"), ids.stdout
    info = run_in(image, "cat", "/etc/image_info/project.txt", "/etc/image_info/pip.txt")
    assert "name=keystone\nversion=29.1.0\n" in info.stdout
    assert "keystone==29.1.0" in info.stdout


def test_show_lists_each_built_nodes_steps(
    keystone_run: dict[str, object], state_dir: Path
) -> None:
    show = orchestrate("show", str(keystone_run["run_id"]), state_dir=state_dir)
    assert show.returncode == 0, show.stderr
    for n in keystone_run["nodes"]:  # type: ignore[attr-defined]
        if n["status"] == "built":
            line = next(x for x in show.stdout.splitlines() if x.startswith(f"  {n['node']}: "))
            assert " commit " in line and line.split()[-1].replace(".", "").isdigit(), line


def test_no_compiler_and_no_build_leftovers(keystone_run: dict[str, object]) -> None:
    image = f"{NS}/keystone:2026.1"
    assert run_in(image, "sh", "-c", "command -v gcc cc").returncode != 0
    leftovers = run_in(
        image,
        "sh",
        "-c",
        "ls -d /wheels /run/orchestrate /tmp/orchestrate-src "
        "/var/lib/apt/lists/*Packages* 2>/dev/null; true",
    )
    assert leftovers.stdout.strip() == ""


def test_smoke_command_passes_as_the_service_user(keystone_run: dict[str, object]) -> None:
    proc = run_in(f"{NS}/keystone:2026.1", "keystone-manage", "--version", user="keystone")
    assert proc.returncode == 0 and proc.stdout.strip() == "29.1.0"


def test_the_project_ships_checked_hash_bytecode_and_no_test_bytecode(
    keystone_run: dict[str, object],
) -> None:
    """install-project.sh compiles what it installed (compile-bytecode.py): checked-hash
    .pyc files that the service user's imports use, none under a tests folder."""
    script = textwrap.dedent(
        """
        import importlib.util, pathlib, sys
        import keystone.server.flask
        venv = pathlib.Path(sys.prefix)
        module = pathlib.Path(keystone.server.flask.__file__)
        pyc = pathlib.Path(importlib.util.cache_from_source(str(module)))
        flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
        tests = [p for p in venv.rglob("*.pyc") if "tests" in p.parts]
        timestamp = [p for p in venv.rglob("*.pyc")
                     if int.from_bytes(p.read_bytes()[4:8], "little") != 0b11]
        print(flags, len(tests), len(timestamp))
        """
    )
    proc = run_in(
        f"{NS}/keystone:2026.1", "/var/lib/openstack/bin/python", "-c", script, user="keystone"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["3", "0", "0"], proc.stdout


def test_no_network_setting_reaches_the_image(keystone_run: dict[str, object]) -> None:
    image = f"{NS}/keystone:2026.1"
    config = json.dumps(inspect(image)["OCIv1"])
    for word in ("PIP_CERT", "proxy", "/run/orchestrate"):
        assert word not in config


def test_second_run_reuses_everything(keystone_run: dict[str, object], state_dir: Path) -> None:
    proc = orchestrate("build", "pipelines/keystone.yaml", state_dir=state_dir)
    assert proc.returncode == 0, proc.stderr
    assert "4 reused" in proc.stdout
    run_id = proc.stdout.split("run ", 1)[1].split(":", 1)[0]
    logs = orchestrate("logs", run_id, "keystone", state_dir=state_dir)
    assert "reused localhost/orchestrate-test/keystone:" in logs.stdout
    assert "--- step" not in logs.stdout.replace("--- step tag", "")  # no build step ran
    # Not a terminal: plain timestamped lines, never a terminal control sequence.
    assert "\x1b" not in proc.stdout + proc.stderr
    assert "node finished" in proc.stderr and proc.stderr[:2] == "20"


def _keystone_pipeline(tmp_path: Path, name: str, extra: str) -> Path:
    text = (ROOT / "pipelines" / "keystone.yaml").read_text()
    path = tmp_path / f"{name}.yaml"
    path.write_text(text.replace("../constraints", str(ROOT / "constraints")) + extra)
    return path


def test_an_unresolvable_requirement_fails_before_anything_runs(
    keystone_run: dict[str, object], state_dir: Path, tmp_path: Path
) -> None:
    """The wheels resolve on the host before planning: a requirement no index has is the
    pipeline's error, named on one line, before any node starts or any run is recorded."""
    extra = "requirements:\n  pip_packages: [no-such-package-orchestrate-test]\n"
    path = _keystone_pipeline(tmp_path, "unresolvable", extra)
    before = run_ids(state_dir)
    proc = orchestrate("build", str(path), state_dir=state_dir)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith(f"orchestrate: error: {path}: requirements: "), line
    assert "no-such-package-orchestrate-test" in line
    assert run_ids(state_dir) == before


def test_failing_node_skips_dependents_and_leaves_nothing(
    keystone_run: dict[str, object], state_dir: Path, tmp_path: Path, no_leftovers: None
) -> None:
    """keystone fails at a step of its own (its working container in use): the child
    built FROM it is skipped, and the run leaves no container, candidate or step behind."""
    (tmp_path / "Containerfile").write_text("FROM keystone\nRUN true\n")
    extra = textwrap.dedent(f"""\
            steps:
              - {{name: fail-here, run: "echo broken-on-purpose >&2; exit 7"}}
        children:
          site-keystone:
            from: keystone
            containerfile: {tmp_path}/Containerfile
        """)
    path = _keystone_pipeline(tmp_path, "broken", "    " + extra.lstrip())
    proc = orchestrate("build", str(path), state_dir=state_dir)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    # (The table's first column is as wide as the longest node name.)
    assert re.search(r"^keystone +failed", proc.stdout, re.M), proc.stdout
    assert re.search(r"^site-keystone +skipped \(parent failed: keystone\)", proc.stdout, re.M), (
        proc.stdout
    )
    for node in ("base", "wheel-builder", "requirements"):
        assert re.search(rf"^{node} +reused", proc.stdout, re.M), proc.stdout
    assert "keystone failed: step 'fail-here' exited" in proc.stderr
    log = next(line for line in proc.stderr.splitlines() if "full log:" in line).split()[-1]
    text = Path(log).read_text()
    assert "broken-on-purpose" in text
    assert "--- step fail-here" in text


@pytest.mark.proxy_rebuild
def test_proxy_with_credentials_is_used_and_never_kept(
    keystone_run: dict[str, object], state_dir: Path
) -> None:
    """Rebuild wheels and keystone through an authenticating proxy on loopback."""
    proxy = start_proxy("bob", "hunter2-secret")
    try:
        url = f"http://bob:hunter2-secret@127.0.0.1:{proxy.port}"
        proc = orchestrate(
            "build",
            "pipelines/keystone.yaml",
            "--http-proxy",
            url,
            "--https-proxy",
            url,
            "--no-cache-for",
            "requirements,keystone",
            state_dir=state_dir,
        )
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proxy.relayed > 10 and proxy.refused == 0
    run_dir = Path(
        next(line.split()[-1] for line in proc.stdout.splitlines() if line.startswith("logs: "))
    ).parent
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert "hunter2" not in path.read_text(errors="replace"), path
    assert "hunter2" not in proc.stdout + proc.stderr
    for node in ("requirements", "keystone"):
        assert "hunter2" not in json.dumps(inspect(f"{NS}/{node}:2026.1"))
    found = run_in(
        f"{NS}/keystone:2026.1",
        "sh",
        "-c",
        "grep -rIl -e hunter2 -e 127.0.0.1:"
        + str(proxy.port)
        + " /etc /root /var/lib /tmp 2>/dev/null; true",
    )
    assert found.stdout.strip() == ""


def test_the_package_cache_never_uses_a_corrupt_file(
    keystone_run: dict[str, object], state_dir: Path
) -> None:
    """A package keystone installs, corrupted in the host's cache: the rebuild downloads it
    again (apt checks the download), puts a good copy back, and makes the same image."""
    cache = state_dir / "apt-cache" / "bookworm"
    if not list(cache.glob("libapache2-mod-wsgi-py3_*.deb")):  # keystone was reused: fill it
        filled = orchestrate(
            "build", "pipelines/keystone.yaml", "--no-cache-for", "keystone", state_dir=state_dir
        )
        assert filled.returncode == 0, filled.stdout[-2000:] + filled.stderr[-2000:]
    (deb,) = cache.glob("libapache2-mod-wsgi-py3_*.deb")
    data = bytearray(deb.read_bytes())
    data[len(data) // 2] ^= 0xFF
    deb.write_bytes(bytes(data))
    out = state_dir.parent / "corrupt-summary.json"
    proc = orchestrate(
        "build", "pipelines/keystone.yaml", "--no-cache-for", "keystone",
        "--summary-json", str(out), state_dir=state_dir,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    summary = json.loads(out.read_text())
    keystone = next(n for n in summary["nodes"] if n["node"] == "keystone")
    log = Path(keystone["log"]).read_text()
    first = re.search(r"package cache: (\d+) of (\d+) packages taken, (\d+) downloaded", log)
    assert first is not None, log[-2000:]
    taken, wanted, downloaded = map(int, first.groups())
    assert downloaded >= 1 and taken + downloaded == wanted, first.group(0)
    assert deb.read_bytes() != bytes(data)
    check = subprocess.run(["dpkg-deb", "--info", str(deb)], capture_output=True, check=False)
    assert check.returncode == 0, check.stderr
    before = next(n for n in keystone_run["nodes"] if n["node"] == "keystone")  # type: ignore[attr-defined]
    assert keystone["image_id"] == before["image_id"]  # the cache changes nothing in the image


def _keystone_build(state_dir: Path, out: Path, *extra: str) -> dict[str, object]:
    """pipelines/keystone.yaml built once more: keystone's summary entry and its log."""
    proc = orchestrate(
        "build", "pipelines/keystone.yaml", "--summary-json", str(out), *extra,
        state_dir=state_dir,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    summary = json.loads(out.read_text())
    node: dict[str, object] = next(n for n in summary["nodes"] if n["node"] == "keystone")
    node["log_text"] = Path(str(node["log"])).read_text()
    return node


@pytest.mark.reproducible  # two keystone builds: in nox -s reproducible, not the default run
def test_a_wheel_from_the_project_wheel_cache_makes_the_same_image(
    keystone_run: dict[str, object], state_dir: Path
) -> None:
    """keystone's own wheel, kept by the host after a build, is taken by the next build of
    keystone that does not build from nothing (here: its key image gone): no wheel built,
    the same image, bit for bit."""
    cache = state_dir / "project-wheels"
    if not list(cache.glob("*/*/keystone-*.whl")):  # keystone was reused: have it kept
        filled = _keystone_build(
            state_dir, state_dir.parent / "fill.json", "--no-cache-for", "keystone"
        )
        assert "kept for later builds" in str(filled["log_text"])
    (kept,) = cache.glob("*/*/keystone-*.whl")
    before = next(n for n in keystone_run["nodes"] if n["node"] == "keystone")  # type: ignore[attr-defined]
    assert str(before["image"]).startswith(f"{NS}/keystone:")  # its key tag
    subprocess.run(["buildah", "rmi", str(before["image"])], capture_output=True, check=True)
    node = _keystone_build(state_dir, state_dir.parent / "taken.json")
    log = str(node["log_text"])
    assert node["status"] == "built", node
    assert f"project wheel: {kept.name} from the host's cache" in log, log[-3000:]
    assert "project wheel: taken from the cache" in log
    assert "uv build" not in log.split("--- step install-project at", 1)[1].split("--- step", 1)[0]
    assert node["image_id"] == before["image_id"]
