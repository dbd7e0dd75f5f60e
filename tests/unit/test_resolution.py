"""orchestrator.loading.resolution: the wheels' resolution on the host, its cache and its
errors (uv itself is stood in for; the integration tests resolve for real)."""

from __future__ import annotations

import json
import os
import subprocess
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uv

from orchestrator.errors import (
    ConfigError,
    FetchError,
    StateError,
    StepFailedError,
    StepTimeoutError,
)
from orchestrator.loading import resolution
from orchestrator.loading.resolution import Query, binary_options, resolve, target
from orchestrator.loading.sources import Network
from orchestrator.model.inputs import WheelSet
from orchestrator.model.pipeline import BaseSpec, RequirementsSpec
from orchestrator.model.platforms import SUPPORTED

QUERY = Query(
    lines=("keystone", "pbr"),
    constraints="pbr===7.0.3\nkeystone===29.1.0\n",
    python="3.11.2",
    platform="x86_64-manylinux_2_36",
)


def test_each_suite_and_platform_names_its_python_and_glibc() -> None:
    bookworm = BaseSpec(kind="mmdebstrap")
    trixie = BaseSpec(kind="mmdebstrap", suite="trixie")
    assert target(bookworm, SUPPORTED["linux/amd64"]) == ("3.11.2", "x86_64-manylinux_2_36")
    assert target(trixie, SUPPORTED["linux/arm64"]) == ("3.13.5", "aarch64-manylinux_2_40")
    # A pulled base or an unknown suite: no resolution, the whole file keys the wheels.
    assert target(BaseSpec(kind="image", image="debian:bookworm"), SUPPORTED["linux/amd64"]) is None
    assert target(BaseSpec(kind="mmdebstrap", suite="sid"), SUPPORTED["linux/amd64"]) is None


def test_the_binary_policy_reaches_the_resolution() -> None:
    assert binary_options(RequirementsSpec()) == ()
    assert binary_options(RequirementsSpec(binary="none")) == ("--no-binary", ":all:")
    only = RequirementsSpec(binary="only-pinned", only_binary=("numpy", "lxml"))
    assert binary_options(only) == (
        "--no-binary",
        ":all:",
        "--only-binary",
        "numpy",
        "--only-binary",
        "lxml",
    )


def test_the_digest_follows_every_input() -> None:
    same = Query(**QUERY.__dict__)
    assert same.digest() == QUERY.digest()
    for change in (
        {"constraints": QUERY.constraints + "six===1.17.0\n"},
        {"python": "3.13.5"},
        {"platform": "aarch64-manylinux_2_36"},
        {"binary": ("--no-binary", ":all:")},
        {"lines": ("keystone",)},
        {"cutoff": "2026-12-07T00:00:00Z"},
    ):
        assert Query(**{**QUERY.__dict__, **change}).digest() != QUERY.digest(), change
    # The indexes are run settings (a mirror, its credentials): they find the same pins.
    mirror = {"index_url": "https://bob:secret@mirror.example/simple", "extra_index_urls": ("x",)}
    assert Query(**{**QUERY.__dict__, **mirror}).digest() == QUERY.digest()


def test_a_cached_resolution_runs_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cached = tmp_path / "wheel-sets" / f"{QUERY.digest()}.json"
    cached.parent.mkdir()
    kept = {"python": "3.11.2", "platform": QUERY.platform, "pins": ["pbr==7.0.3"], "declared": []}
    cached.write_text(json.dumps({**kept, "requires": {"pbr": []}}))

    def no_uv(*_: object) -> WheelSet:
        raise AssertionError("resolved again")

    monkeypatch.setattr(resolution, "_compile", no_uv)
    got = resolve(QUERY, tmp_path, Network(), "p.yaml")
    assert got.pins == ("pbr==7.0.3",) and got.lines == QUERY.lines
    assert got.requires == {"pbr": ()}
    # One kept before the dependency graph was: resolved again, for it.
    cached.write_text(json.dumps(kept))
    with pytest.raises(AssertionError, match="resolved again"):
        resolve(QUERY, tmp_path, Network(), "p.yaml")

    # Offline, it is used as it is: its pins, no graph (images keyed as before).
    def offline(*_: object) -> WheelSet:
        raise FetchError("p.yaml: resolving the wheels: no network")

    monkeypatch.setattr(resolution, "_compile", offline)
    got = resolve(QUERY, tmp_path, Network(), "p.yaml")
    assert got.pins == ("pbr==7.0.3",) and got.requires == {}
    # With nothing kept, offline fails as before.
    cached.unlink()
    with pytest.raises(FetchError):
        resolve(QUERY, tmp_path, Network(), "p.yaml")


def test_the_dependency_graph_comes_from_uv_s_annotations() -> None:
    output = (
        "alembic==1.18.4           # via oslo-db, -c constraints.txt\n"
        "oslo-db==18.0.0           # via -c constraints.txt, -r requirements.in\n"
        "PyMySQL==1.1.2            # via oslo-db, oslo.db[mysql]\n"
        "sqlalchemy==2.0.46        # via alembic, oslo-db, -c constraints.txt\n"
        "lonely==1.0\n"
    )
    assert resolution._pins(output) == (
        "alembic==1.18.4",
        "oslo-db==18.0.0",
        "PyMySQL==1.1.2",
        "sqlalchemy==2.0.46",
        "lonely==1.0",
    )
    assert resolution.requirements_of(output) == {
        "alembic": ("sqlalchemy",),
        "lonely": (),
        "oslo-db": ("alembic", "pymysql", "sqlalchemy"),
        "pymysql": (),
        "sqlalchemy": (),
    }


def test_a_resolution_is_kept_and_a_damaged_one_made_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def fake(query: Query, *_: object) -> WheelSet:
        calls.append(query)
        return WheelSet(
            lines=query.lines, python=query.python, platform=query.platform, pins=("a==1",)
        )

    monkeypatch.setattr(resolution, "_compile", fake)
    resolve(QUERY, tmp_path, Network(), "p.yaml")
    resolve(QUERY, tmp_path, Network(), "p.yaml")
    assert len(calls) == 1
    kept = tmp_path / "wheel-sets" / f"{QUERY.digest()}.json"
    kept.write_text("{not json")
    assert resolve(QUERY, tmp_path, Network(), "p.yaml").pins == ("a==1",)
    assert len(calls) == 2
    assert json.loads(kept.read_text())["pins"] == ["a==1"]


def _failing(*tails: str):  # type: ignore[no-untyped-def]
    """A stand-in for uv: fails with each tail in turn, then writes one pin."""
    left = list(tails)
    seen: list[dict] = []

    def run(query, folder, state_dir, network, declared, floating=()):  # type: ignore[no-untyped-def]
        seen.append(dict(declared))
        if left:
            raise StepFailedError("uv pip compile", 1, left.pop(0), "")
        return "# a comment\nlibvirt-python==12.0.0\n\n"

    return run, seen


def test_an_sdist_uv_cannot_prepare_is_given_its_declared_requirements(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tail = "  \u00d7 Failed to build `libvirt-python==12.0.0`\n  ├─▶ pkg-config failed"
    run, seen = _failing(tail)
    monkeypatch.setattr(resolution, "_uv_compile", run)
    monkeypatch.setattr(resolution, "_declared", lambda *a: ("six",))
    got = resolution._compile(QUERY, tmp_path, Network(), "p.yaml")
    assert got.pins == ("libvirt-python==12.0.0",)
    assert got.declared == ("libvirt-python==12.0.0",)
    assert seen == [{}, {("libvirt-python", "12.0.0"): ("six",)}]


def test_the_same_sdist_failing_again_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tail = "error: Failed to build `libvirt-python==12.0.0`"
    run, _ = _failing(tail, tail)
    monkeypatch.setattr(resolution, "_uv_compile", run)
    monkeypatch.setattr(resolution, "_declared", lambda *a: ())
    with pytest.raises(ConfigError, match=r"p\.yaml: requirements: error: Failed to build"):
        resolution._compile(QUERY, tmp_path, Network(), "p.yaml")


@pytest.mark.parametrize(
    ("tail", "error"),
    [
        (
            "error: Failed to fetch: `https://pypi.org/simple/pbr/`\n  Caused by: dns error",
            FetchError,
        ),
        (
            "  \u00d7 No solution found when resolving dependencies:\n  ╰─▶ keystone==1 not found",
            ConfigError,
        ),
    ],
)
def test_the_network_and_the_requirements_fail_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tail: str, error: type[Exception]
) -> None:
    run, _ = _failing(tail)
    monkeypatch.setattr(resolution, "_uv_compile", run)
    with pytest.raises(error) as raised:
        resolution._compile(QUERY, tmp_path, Network(), "p.yaml")
    assert "\n" not in str(raised.value)


def test_declared_metadata_is_toml_uv_reads() -> None:
    text = resolution._dependency_metadata(
        {
            ("Libvirt_Python", "12.0.0"): (),
            ("python-ldap", "3.4.5"): ('pyasn1>=0.3.7; extra == "x"',),
        }
    )
    tables = tomllib.loads(text)["dependency-metadata"]
    assert tables == [
        {"name": "libvirt-python", "version": "12.0.0", "requires-dist": []},
        {
            "name": "python-ldap",
            "version": "3.4.5",
            "requires-dist": ['pyasn1>=0.3.7; extra == "x"'],
        },
    ]


def test_every_target_is_a_platform_uv_accepts(tmp_path: Path) -> None:
    """Each (suite, architecture) the table knows, given to the uv orchestrate runs."""
    empty = tmp_path / "requirements.in"
    empty.write_text("")
    for suite in resolution.TARGETS:
        for arch in resolution.MACHINES:
            platform = next(p for p in SUPPORTED.values() if p.arch == arch)
            found = target(BaseSpec(kind="mmdebstrap", suite=suite), platform)
            assert found is not None
            python, tag = found
            argv = [uv.find_uv_bin(), "pip", "compile", "--no-config", "--offline", "--no-index"]
            argv += ["--quiet", "--python-version", python, "--python-platform", tag, str(empty)]
            done = subprocess.run(argv, capture_output=True, text=True, check=False)
            assert done.returncode == 0, (suite, arch, done.stderr)


def test_the_cutoff_is_the_start_of_the_week() -> None:
    monday = "2026-12-07T00:00:00Z"
    assert resolution.week_start(datetime(2026, 12, 7, 0, 0, tzinfo=UTC)) == monday
    assert resolution.week_start(datetime(2026, 12, 13, 23, 59, tzinfo=UTC)) == monday
    assert resolution.week_start(datetime(2026, 12, 14, 0, 1, tzinfo=UTC)) == "2026-12-14T00:00:00Z"


def test_what_the_constraints_do_not_pin_is_resolved_as_of_the_cutoff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uwsgi is in no upper-constraints: resolved again with its newest release before the
    cutoff, so two hosts resolving in one week find the same."""
    seen: list[set[str]] = []

    def run(query, folder, state_dir, network, declared, floating=()):  # type: ignore[no-untyped-def]
        seen.append(set(floating))
        return "pbr==7.0.3\nuwsgi==2.0.31\n" if floating else "pbr==7.0.3\nuwsgi==2.0.99\n"

    monkeypatch.setattr(resolution, "_uv_compile", run)
    query = Query(**{**QUERY.__dict__, "lines": ("pbr", "uwsgi"), "cutoff": "2026-12-07T00:00:00Z"})
    got = resolution._compile(query, tmp_path, Network(), "p.yaml")
    assert got.pins == ("pbr==7.0.3", "uwsgi==2.0.31")
    assert seen == [set(), {"uwsgi"}]


def test_the_hosts_uv_settings_never_reach_the_resolution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    captured: dict[str, object] = {}

    def capture(argv, *, env=None, timeout=None, ok_codes=(0,)):  # type: ignore[no-untyped-def]
        captured.update(argv=argv, env=env)
        Path(argv[argv.index("--output-file") + 1]).write_text("pbr==7.0.3\n")
        return ""

    monkeypatch.setenv("UV_INDEX_URL", "https://elsewhere.example/simple")
    monkeypatch.setenv("UV_RESOLUTION", "lowest")
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))  # where, not what
    monkeypatch.setattr(resolution.engine, "capture", capture)
    (tmp_path / "requirements.in").write_text("pbr\n")
    floating = {"uwsgi"}
    query = Query(**{**QUERY.__dict__, "cutoff": "2026-12-07T00:00:00Z"})
    resolution._uv_compile(query, tmp_path, tmp_path, Network(), {}, floating)
    env = captured["env"]
    assert isinstance(env, dict)
    assert {k for k in env if k.startswith("UV_")} == {
        "UV_CACHE_DIR",
        "UV_PYTHON_DOWNLOADS",
        "UV_NATIVE_TLS",
    }
    assert env["UV_CACHE_DIR"] == str(tmp_path / "uv-cache")
    argv = captured["argv"]
    assert isinstance(argv, list)
    assert argv[argv.index("--exclude-newer-package") + 1] == "uwsgi=2026-12-07T00:00:00Z"


def test_a_timeout_or_an_unreachable_sdist_is_a_fetch_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def slow(*_: object, **__: object) -> str:
        raise StepTimeoutError("uv pip compile did not finish in 900 s")

    monkeypatch.setattr(resolution, "_uv_compile", slow)
    with pytest.raises(FetchError, match=r"p\.yaml: resolving the wheels took longer"):
        resolution._compile(QUERY, tmp_path, Network(), "p.yaml")

    def unreachable(*_: object) -> object:
        raise FetchError("pypi:libvirt-python==12.0.0: cannot read the index")

    run, _ = _failing("error: Failed to build `libvirt-python==12.0.0`")
    monkeypatch.setattr(resolution, "_uv_compile", run)
    monkeypatch.setattr(resolution, "fetch_pypi", unreachable)
    with pytest.raises(FetchError, match="cannot read the index"):
        resolution._compile(QUERY, tmp_path, Network(), "p.yaml")


def test_a_full_disk_is_a_state_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tail = "error: Failed to write to the client cache: No space left on device (os error 28)"
    run, _ = _failing(tail)
    monkeypatch.setattr(resolution, "_uv_compile", run)
    with pytest.raises(StateError, match="No space left on device"):
        resolution._compile(QUERY, tmp_path, Network(), "p.yaml")


def test_a_state_directory_it_cannot_write_is_a_state_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        resolution,
        "_compile",
        lambda query, *a: WheelSet(lines=query.lines, python="3", platform="p", pins=()),
    )
    (tmp_path / "wheel-sets").write_text("a file where the folder should be")
    with pytest.raises(StateError, match="cannot keep the wheels' resolution"):
        resolve(QUERY, tmp_path, Network(), "p.yaml")


def test_resolutions_no_run_used_for_a_month_go_when_another_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        resolution,
        "_compile",
        lambda query, *a: WheelSet(lines=query.lines, python="3", platform="p", pins=("a==1",)),
    )
    used = tmp_path / "wheel-sets" / f"{QUERY.digest()}.json"
    resolve(QUERY, tmp_path, Network(), "p.yaml")
    old, recent = used.with_name("old.json"), used.with_name("recent.json")
    for path, days in ((old, 31), (recent, 29), (used, 40)):
        if path != used:
            path.write_text("{}")
        stamp = time.time() - days * 86400
        os.utime(path, (stamp, stamp))
    # A cached resolution that is read is dated anew, so it stays while in use; reading
    # keeps nothing new, so nothing is pruned.
    resolve(QUERY, tmp_path, Network(), "p.yaml")
    assert used.stat().st_mtime > time.time() - 60
    assert old.exists()
    resolve(Query(**{**QUERY.__dict__, "python": "3.13.5"}), tmp_path, Network(), "p.yaml")
    assert not old.exists() and recent.exists() and used.exists()
