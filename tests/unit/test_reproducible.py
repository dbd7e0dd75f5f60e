"""What makes two builds of one key identical, planned without buildah: one date per run (the
base's refresh period), commits and builds dated by it, no run identity in any image, apt
held to recorded versions on request; and the pure parts of ``orchestrate verify``."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestrator.errors import ConfigError
from orchestrator.loading.load import check_settings
from orchestrator.model.settings import resolve_settings
from orchestrator.model.states import Status
from orchestrator.planning.refresh import source_date_epoch
from orchestrator.records.history import NodeRecord, RunRecord
from orchestrator.workflows.verify import (
    DIFFERENT,
    IDENTICAL,
    Target,
    Verdict,
    config_changes,
    rebuild_request,
    render,
)
from tests.conftest import ROOT, WritePipeline
from tests.unit.test_plan import NOW, TWO, plans_of

APT_PINS = ROOT / "scripts" / "apt-pins.sh"


def test_the_epoch_is_the_start_of_the_refresh_period() -> None:
    def day(epoch: int) -> str:
        return f"{datetime.fromtimestamp(epoch, UTC):%Y-%m-%d %H:%M:%S}"

    assert day(source_date_epoch("weekly", NOW)) == "2026-11-23 00:00:00"  # NOW: a Thursday
    assert day(source_date_epoch("daily", NOW)) == "2026-11-26 00:00:00"
    assert day(source_date_epoch("monthly", NOW)) == "2026-11-01 00:00:00"
    # Never 0: oslo's read_cached_file never reads a file dated 0 (keystone's policy.yaml).
    assert day(source_date_epoch("never", NOW)) == "1980-01-01 00:00:00"
    assert source_date_epoch("updates", NOW) == source_date_epoch("never", NOW)
    # Any time of the same period gives the same date.
    sunday_night = datetime(2026, 11, 29, 23, 59, tzinfo=UTC)
    assert source_date_epoch("weekly", sunday_night) == source_date_epoch("weekly", NOW)


def test_every_image_is_dated_by_the_epoch_and_carries_no_run(
    write_pipeline: WritePipeline,
) -> None:
    path = write_pipeline(TWO)
    first = plans_of(path)
    epoch = str(source_date_epoch("weekly", NOW))
    for plan in first.values():
        commit = next(s for s in plan.steps if s.name == "commit")
        assert commit.argv[commit.argv.index("--timestamp") + 1] == epoch
        assert "--omit-history" in commit.argv  # buildah writes the parent's local name there
        config = next(s for s in plan.steps if s.name == "config")
        assert "org.opencontainers.image.base.name-" in config.argv  # the same, in the manifest
        labels = [a for a in config.argv if "=" in a]
        assert "org.opencontainers.image.created=2026-11-23T00:00:00Z" in labels
        assert not any("io.orchestrate.run" in a or "r1" in a for a in labels), labels
        for step in plan.steps:
            if step.argv[:2] == ("buildah", "run") and plan.containers[0] in step.argv:
                assert f"SOURCE_DATE_EPOCH={epoch}" in step.argv, step
        assert plan.inputs["reproducible"].endswith(f"@{epoch}")
    assert first["base"].steps[0].argv[:2] == ("env", f"SOURCE_DATE_EPOCH={epoch}")


def test_apt_pins_are_mounted_per_node_and_never_enter_a_key(
    write_pipeline: WritePipeline, tmp_path: Path
) -> None:
    path = write_pipeline(TWO)
    plain = plans_of(path)
    pinned = plans_of(path, cli={"apt_pins": str(tmp_path / "pins")})
    for node, plan in pinned.items():
        assert plan.key == plain[node].key
        mount = f"type=bind,src={tmp_path}/pins/{node}.txt,dst=/run/orchestrate/apt-pins,ro"
        for step in plan.steps:
            if "/run/orchestrate/scripts/run-step.sh" in step.argv and (
                plan.containers[0] in step.argv
            ):
                assert mount in step.argv, step
    bootstrap = pinned["base"].steps[0].argv
    hooks = [a for a in bootstrap if "apt-pins.sh" in a]
    assert hooks[0].startswith("--setup-hook=") and "preferences" in hooks[0]
    assert hooks[1].startswith("--customize-hook=") and " check " in hooks[1]
    assert not any("apt-pins" in a for a in plain["base"].steps[0].argv)


def test_apt_pins_must_name_every_node(tmp_path: Path) -> None:
    (tmp_path / "pins").mkdir()
    (tmp_path / "pins" / "base.txt").write_text("bash=5.2\n")
    settings = resolve_settings(
        {}, {"state_dir": str(tmp_path / "s"), "apt_pins": str(tmp_path / "pins")}, environ={}
    )
    check_settings(settings, ["base"], writes=False)
    with pytest.raises(ConfigError, match=r"apt_pins.*has no keystone\.txt"):
        check_settings(settings, ["base", "keystone"], writes=False)


def _pins_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(APT_PINS), *args], capture_output=True, text=True, check=False
    )


def test_apt_pins_script_writes_preferences_and_names_what_moved(tmp_path: Path) -> None:
    pins = tmp_path / "pins.txt"
    pins.write_text("libfoo1=1.2-3\nlibbar:amd64=1:2.0~rc1\n")
    prefs = _pins_script("preferences", str(pins))
    assert prefs.returncode == 0
    assert "Package: libfoo1\nPin: version 1.2-3\nPin-Priority: 1001\n" in prefs.stdout
    assert "Package: libbar\nPin: version 1:2.0~rc1\n" in prefs.stdout
    # A root whose dpkg database holds libfoo1 at another version, and one more package.
    status = tmp_path / "root" / "var" / "lib" / "dpkg"
    status.mkdir(parents=True)
    stanza = (
        "Package: {}\nStatus: install ok installed\nMaintainer: m <m@x>\n"
        "Architecture: amd64\nVersion: {}\nDescription: d\n\n"
    )
    (status / "status").write_text(stanza.format("libfoo1", "1.2-4") + stanza.format("zzz", "9"))
    (status / "info").mkdir()
    (status / "updates").mkdir()
    moved = _pins_script("check", str(pins), str(tmp_path / "root"))
    assert moved.returncode == 101, moved
    assert "libfoo1 1.2-4 (recorded 1.2-3)" in moved.stderr
    assert "zzz" not in moved.stderr  # not recorded: not judged (a removed build dependency)
    pins.write_text("libfoo1=1.2-4\n")
    same = _pins_script("check", str(pins), str(tmp_path / "root"))
    assert same.returncode == 0, same.stderr


def _record(**options: object) -> RunRecord:
    return RunRecord(
        id="20261126-120000-abcd",
        pipeline="/p/keystone.yaml",
        command="orchestrate",
        options={"pipeline": "/p/keystone.yaml", **options},
        withheld=(),
        nodes=("base", "requirements", "keystone"),
        edges=(),
        resumed_from=None,
        started=NOW.timestamp(),
        finished=None,
        result="succeeded",
        exit_code=0,
        pid=1,
        log_dir="/l",
    )


def _node(node: str, image_id: str = "a" * 64) -> NodeRecord:
    return NodeRecord(
        run_id="r", node=node, status=Status.BUILT, reason="", key="k" * 64, image=f"x/{node}:k",
        image_id=image_id, size=1, started=None, finished=None, duration=1.0, attempts=1,
        log_path="", error="",
    )  # fmt: skip


def test_the_rebuild_is_the_run_cold_in_scratch_pushing_nothing(tmp_path: Path) -> None:
    record = _record(
        registry="registry.example:5000", push=True, sign_by="ABCD", parallel=9,
        only=["keystone"], no_cache_for=["keystone"], summary_json="/tmp/s.json",
    )  # fmt: skip
    target = Target(record=record, originals={n: _node(n) for n in ("base", "keystone")})
    request = rebuild_request(target, tmp_path, environ={})
    assert request.no_cache and request.pipeline == Path("/p/keystone.yaml")
    assert request.selection.only == ("base", "keystone")
    assert request.outputs.summary_json is None and not request.no_cache_for
    settings = request.settings()
    assert settings.state_dir == tmp_path / "state"
    assert settings.storage_root == str(tmp_path / "storage")
    assert settings.apt_pins == str(tmp_path / "pins")
    assert not settings.push and not settings.registry
    assert not settings.sign_by and settings.parallel == 9
    one = Target(record=record, originals={"keystone": _node("keystone")}, only=("keystone",))
    assert rebuild_request(one, tmp_path, environ={}).selection.only == ("keystone",)


def test_config_changes_name_the_leaves_that_differ() -> None:
    a = {"created": "x", "config": {"Labels": {"k": "1", "same": "s"}}, "rootfs": {"d": [1]}}
    b = {"created": "y", "config": {"Labels": {"k": "2", "same": "s"}}, "rootfs": {"d": [2]}}
    assert config_changes(a, b) == {"created": ("x", "y"), "config.Labels.k": ("1", "2")}
    assert config_changes(a, a) == {}


def test_render_gives_a_line_per_node_then_what_differs() -> None:
    verdicts = [
        Verdict("base", IDENTICAL, "a" * 64, rebuilt_id="a" * 64),
        Verdict("keystone", DIFFERENT, "b" * 64, rebuilt_id="c" * 64, config={"created": (1, 2)}),
    ]
    text = render(verdicts, limit=10)
    lines = text.splitlines()
    assert lines[0].split()[:2] == ["base", "identical"]
    assert lines[1].split()[:2] == ["keystone", "different"]
    assert "bbbbbbbbbbbb -> cccccccccccc" in lines[1]
    assert "== keystone: what differs (original -> rebuilt)" in text
    assert "config created: 1 -> 2" in text


def test_layer_entries_name_what_a_header_records(tmp_path: Path) -> None:
    import io
    import tarfile

    from orchestrator.engine.layers import entry_headers

    def archive(name: str, mtime: int) -> Path:
        path = tmp_path / name
        with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
            info = tarfile.TarInfo("etc/app.conf")
            info.size, info.mtime, info.mode = 3, mtime, 0o644
            tar.addfile(info, io.BytesIO(b"x=1"))
            link = tarfile.TarInfo("etc/app.link")
            link.type, link.linkname, link.mtime = tarfile.SYMTYPE, "app.conf", mtime
            tar.addfile(link)
        return path

    a, b = entry_headers(archive("a.tar", 0)), entry_headers(archive("b.tar", 5))
    assert list(a) == ["/etc/app.conf", "/etc/app.link"]
    assert a["/etc/app.conf"].startswith("file mode=644 owner=0:0")
    assert "link=app.conf" in a["/etc/app.link"]
    assert a["/etc/app.conf"].replace("mtime=0", "mtime=5") == b["/etc/app.conf"]


def test_render_names_layer_entries_that_differ() -> None:
    from orchestrator.inspection.image_diff import Changes

    verdict = Verdict("keystone", DIFFERENT, "b" * 64, rebuilt_id="c" * 64)
    verdict.entries = Changes(changed={"/var/log/x": ("file mtime=0", "file mtime=9")})
    text = render([verdict], limit=10)
    assert "layer entries: 1 changed, 0 added, 0 removed" in text
    assert "  ~ /var/log/x: file mtime=0 -> file mtime=9" in text
