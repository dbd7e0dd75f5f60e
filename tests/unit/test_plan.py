"""Planning without buildah: exact argv, keys that follow content, no secrets in commands."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import shutil
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestrator.errors import ConfigError
from orchestrator.loading.load import load, plan_inputs
from orchestrator.model.inputs import FetchedSource, WheelSet
from orchestrator.model.pipeline import Source
from orchestrator.model.request import Selection
from orchestrator.model.settings import resolve_settings
from orchestrator.model.states import NodeKind
from orchestrator.planning.base import SYSTEM_PATH
from orchestrator.planning.builder import HELPERS, SBOM_STEP, NodeBuilder, with_helpers
from orchestrator.planning.describe import describe_plan
from orchestrator.planning.graph import graph_for
from orchestrator.planning.nodeplan import NodePlan, PlanContext
from orchestrator.planning.plan import plan_all
from orchestrator.planning.requirements import wheel_lines
from orchestrator.planning.reuse import Decision, decide_all
from orchestrator.planning.service import PROJECT_WHEELS_STEP
from tests.conftest import ROOT, UPPER, WritePipeline

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
KEYSTONE_REQUIRES = (
    "pbr!=2.1.0,>=2.0.0",
    "Flask>=1.0.2",
    "oslo.db>=6.0.0",
    "pywin32; sys_platform == 'win32'",
    "ldappool>=2.3.1; extra == 'ldap'",
)

TWO = """\
images:
  keystone:
    source: {pypi: keystone==29.1.0}
    profiles: [ldap]
  glance:
    source: {pypi: glance==32.0.0}
    profiles: []
"""


def fetched(
    name: str, version: str, sha: str = "a", requires: tuple[str, ...] = ()
) -> FetchedSource:
    return FetchedSource(
        source=Source(kind="pypi", name=name, version=version),
        path=Path(f"/src/{name}.tar.gz"),
        identity="sha256:" + sha * 64,
        version=version,
        requires=requires,
    )


SOURCES = {
    "keystone": fetched("keystone", "29.1.0", "a", KEYSTONE_REQUIRES),
    "glance": fetched("glance", "32.0.0", "b", ("oslo.db>=6", "glance-store>=2")),
}


def make_plans(resolved, graph, settings, sources, *, run_id, now):  # type: ignore[no-untyped-def]
    """The loading step's plan inputs, then planning, as a run does."""
    ctx = PlanContext(
        run_id=run_id,
        run_dir=settings.state_dir / "runs" / run_id / "work",
        settings=settings,
        inputs=plan_inputs(resolved, sources),
        now=now,
    )
    return plan_all(resolved, graph, ctx)


def plans_of(
    path: Path,
    *,
    cli: dict[str, object] | None = None,
    sources=None,  # type: ignore[no-untyped-def]
    state: Path | None = None,
    selection: Selection | None = None,
) -> dict[str, NodePlan]:
    resolved = load(path)
    values = {"state_dir": str(state or path.parent / "state"), **(cli or {})}
    settings = resolve_settings(resolved.pipeline.settings, values, environ={})
    graph = graph_for(resolved, selection)
    return make_plans(resolved, graph, settings, sources or SOURCES, run_id="r1", now=NOW)


def test_every_step_is_an_exact_command(write_pipeline: WritePipeline) -> None:
    plans = plans_of(write_pipeline(TWO))
    assert list(plans) == [
        "base",
        "wheel-builder",
        "requirements",
        "openstack-base",
        "glance",
        "keystone",
    ]
    for plan in plans.values():
        for step in plan.steps:
            if step.name == "sbom":  # orchestrate itself, reading the working container
                assert step.argv[:3] == (sys.executable, "-m", SBOM_STEP), step
                assert step.argv[3] in plan.containers
                continue
            if step.name == "keep-project-wheel":  # orchestrate itself, on the host
                assert step.argv[:3] == (sys.executable, "-m", PROJECT_WHEELS_STEP), step
                assert Path(step.argv[3]) in plan.folders, step
                continue
            if step.name == "bootstrap":  # dated by the run's epoch, for a same tarball
                assert step.argv[:2] == ("env", "SOURCE_DATE_EPOCH=1795392000"), step
                # Debian's tools, not a user's shims before them on PATH.
                assert step.argv[2] == f"PATH={SYSTEM_PATH}", step
                assert step.argv[3] == "mmdebstrap", step
            else:
                assert step.argv[0] == "buildah", step
            text = " ".join(step.argv)
            assert "None" not in text and "{" not in text.replace("{{", ""), step
        assert "\n".join(describe_plan(plan)).count("[") >= len(plan.steps)


def test_service_installs_from_the_wheels_image_read_only(write_pipeline: WritePipeline) -> None:
    plans = plans_of(write_pipeline(TWO))
    wheels = plans["requirements"].image
    install = next(s for s in plans["keystone"].steps if s.name == "install-project")
    assert f"type=bind,from={wheels},src=/wheels,dst=/run/orchestrate/wheels,ro" in install.argv
    assert "type=tmpfs,dst=/run" in install.argv
    assert plans["keystone"].steps[0].argv[-1] == plans["openstack-base"].image
    assert "--pull=never" in plans["keystone"].steps[0].argv


def test_wheel_set_is_the_union_of_what_services_install(write_pipeline: WritePipeline) -> None:
    plans = plans_of(write_pipeline(TWO))
    req = next(f for f in plans["requirements"].files if f.path.name == "requirements.txt")
    lines = req.content.splitlines()
    for expected in (
        "Flask",
        "oslo.db",
        "glance-store",
        "python-ldap",
        "ldappool",
        "uwsgi",
        "pymysql",
        "pbr",
        "pywin32; sys_platform == 'win32'",
        "pip==25.3",
        "setuptools==80.9.0",
        "wheel==0.45.1",
    ):
        assert expected in lines, expected
    assert "oslo.db>=6.0.0" not in lines  # versions come from upper-constraints
    assert lines.count("oslo.db") == 1


def test_wheels_scope_all_adds_upper_constraints(write_pipeline: WritePipeline) -> None:
    plans = plans_of(write_pipeline(TWO + "requirements: {scope: all}\n"))
    req = next(f for f in plans["requirements"].files if f.path.name == "requirements.txt")
    assert len(req.content.splitlines()) > 500


def test_no_key_depends_on_what_a_run_selects(write_pipeline: WritePipeline) -> None:
    # A host that builds only keystone must find the full stack's base and wheels images
    # by key (scope: pipeline, the default); scope: selected trades that for a smaller set.
    path = write_pipeline(TWO)
    resolved = load(path)
    settings = resolve_settings(resolved.pipeline.settings, {"state_dir": "/s"}, environ={})

    def keys(pipeline_path: Path, only: str) -> dict[str, str]:
        resolved = load(pipeline_path)
        graph = graph_for(resolved, Selection(only=(only,)) if only else Selection())
        plans = make_plans(resolved, graph, settings, SOURCES, run_id="r1", now=NOW)
        return {node: plan.key for node, plan in plans.items()}

    everything, keystone = keys(path, ""), keys(path, "keystone")
    assert set(keystone) == {"base", "wheel-builder", "requirements", "openstack-base", "keystone"}
    assert all(keystone[node] == everything[node] for node in keystone)
    selected = write_pipeline(TWO + "requirements: {scope: selected}\n", name="sel.yaml")
    assert keys(selected, "keystone")["requirements"] != keys(selected, "")["requirements"]


def test_run_settings_do_not_change_keys(write_pipeline: WritePipeline, tmp_path: Path) -> None:
    path = write_pipeline(TWO)
    a = plans_of(path)
    b = plans_of(
        path,
        cli={
            "parallel": 9,
            "retries": 3,
            "push": True,
            "registry": "r.example/os",
            "http_proxy": "http://proxy:3128",
        },
        state=tmp_path / "other",
    )
    assert {n: p.key for n, p in a.items()} == {n: p.key for n, p in b.items()}


def test_a_service_version_change_rebuilds_only_that_service(write_pipeline: WritePipeline) -> None:
    path = write_pipeline(TWO)
    before = plans_of(path)
    sources = dict(SOURCES, keystone=fetched("keystone", "29.1.1", "c", KEYSTONE_REQUIRES))
    after = plans_of(path, sources=sources)
    changed = {n for n in before if before[n].key != after[n].key}
    assert changed == {"keystone"}


def test_a_new_pip_package_rebuilds_wheels_and_all_services(write_pipeline: WritePipeline) -> None:
    before = plans_of(write_pipeline(TWO))
    after = plans_of(write_pipeline(TWO.replace("profiles: []", "pip_packages: [osprofiler]")))
    changed = {n for n in before if before[n].key != after[n].key}
    # The shared node installs from the new wheels image: it too.
    assert changed == {"requirements", "openstack-base", "glance", "keystone"}
    assert before["requirements"].inputs["wheels"] != after["requirements"].inputs["wheels"]


def test_a_node_whose_key_ignores_the_constraints_names_none(
    write_pipeline: WritePipeline, tmp_path: Path
) -> None:
    """What a node's SBOM and provenance say is a function of its key: a changed
    upper-constraints file leaves the base's and the wheel-builder's keys, so neither may
    name the file; every node whose key holds it names it."""
    upper = tmp_path / "upper-constraints.txt"
    shutil.copy(UPPER, upper)
    path = write_pipeline(TWO)
    path.write_text(path.read_text().replace(str(UPPER), str(upper)))
    before = plans_of(path)
    upper.write_text(upper.read_text() + "zzz-not-installed===1.0\n")
    after = plans_of(path)

    def said(plan: NodePlan) -> tuple[list[str], list[str]]:
        sbom = next(s for s in plan.steps if s.name == "sbom")
        return (
            [a for a in sbom.argv if a.startswith("constraints")],
            [m.name for m in plan.materials if m.name == "constraints"],
        )

    for node, plan in before.items():
        if plan.key == after[node].key:
            assert said(plan) == said(after[node]) == ([], []), node
        else:
            assert said(plan)[1] == ["constraints"] and said(plan)[0], node
            assert said(plan) != said(after[node]), node
    changed = {n for n in before if before[n].key != after[n].key}
    assert changed == {"requirements", "openstack-base", "glance", "keystone"}
    assert not before["wheel-builder"].constraints


def test_proxy_credentials_never_reach_a_command(write_pipeline: WritePipeline) -> None:
    plans = plans_of(
        write_pipeline(TWO),
        cli={
            "http_proxy": "http://bob:hunter2@proxy:3128",
            "https_proxy": "http://bob:hunter2@proxy:3128",
        },
    )
    for plan in plans.values():
        for step in (*plan.steps, *plan.push):
            assert "hunter2" not in " ".join(step.argv)
        assert "hunter2" not in "\n".join(describe_plan(plan))
        assert all("hunter2" not in value for value in plan.inputs.values())
    env_file = next(f for f in plans["keystone"].files if f.path.name == "network.env")
    assert env_file.secret and "http_proxy=http://bob:hunter2@proxy:3128" in env_file.content
    bootstrap = plans["base"].steps[0]
    assert bootstrap.host_env == ("http_proxy", "https_proxy")


def test_ca_bundle_is_mounted_and_pointed_to(write_pipeline: WritePipeline, tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("x")
    plans = plans_of(write_pipeline(TWO), cli={"ca_bundle": str(ca)})
    setup = next(s for s in plans["requirements"].steps if s.name == "build-wheels")
    assert f"type=bind,src={ca},dst=/run/orchestrate/ca.crt,ro" in setup.argv
    env_file = next(f for f in plans["requirements"].files if f.path.name == "network.env")
    assert "PIP_CERT=/run/orchestrate/ca.crt" in env_file.content


def test_service_image_is_verified_before_it_is_tagged(write_pipeline: WritePipeline) -> None:
    plan = plans_of(write_pipeline(TWO))["keystone"]
    names = [s.name for s in plan.steps]
    assert names.index("commit") < names.index("smoke") < names.index("tag")
    smoke = next(s for s in plan.steps if s.name == "smoke")
    assert smoke.argv[-3:] == ("--", "keystone-manage", "--version")
    assert "--user" in smoke.argv and "keystone" in smoke.argv
    assert plan.containers == ("orch-r1-keystone", "orch-r1-keystone-smoke")
    config = next(s for s in plan.steps if s.name == "config").argv
    assert "org.opencontainers.image.version=29.1.0" in config
    assert f"io.orchestrate.key={plan.key}" in config


def test_runtime_completeness_is_checked_before_the_image_is_committed(
    write_pipeline: WritePipeline,
) -> None:
    body = TWO + "projects:\n  glance:\n    runtime_absent: {qemu-img: 'a test', dd: 'x'}\n"
    plans = plans_of(write_pipeline(body))
    names = [s.name for s in plans["glance"].steps]
    # One buildah run, the scripts in turn; the shared libraries checked before the commit.
    checks = "check-runtime+check-libs+collect-info+cleanup"
    assert names.index("install-project") < names.index(checks) < names.index("commit")
    step = next(s for s in plans["glance"].steps if s.name == checks)
    scripts = ("check-runtime.sh", "check-libs.sh", "collect-info.sh", "cleanup.sh")
    assert step.argv[-4:] == scripts
    assert "ACCEPTED=dd qemu-img" in step.argv and "DIST=glance" in step.argv
    assert "ETC_DIR=/etc/glance" in step.argv and "PROJECT_NAME=glance" in step.argv
    assert plans["glance"].inputs["runtime_absent"] != plans["keystone"].inputs["runtime_absent"]


def test_isolation_and_runtime_are_settings(write_pipeline: WritePipeline) -> None:
    plans = plans_of(write_pipeline(TWO), cli={"isolation": "oci", "runtime": "runc"})
    run = next(s for s in plans["keystone"].steps if s.argv[:2] == ("buildah", "run"))
    assert run.argv[:6] == ("buildah", "run", "--isolation", "oci", "--runtime", "runc")


def test_release_tags_and_push_targets(write_pipeline: WritePipeline) -> None:
    path = write_pipeline('tags: ["{release}", "nightly-{date}"]\n' + TWO)
    plans = plans_of(path, cli={"push": True, "registry": "127.0.0.1:5000/os"})
    plan = plans["keystone"]
    assert plan.tags == (
        "localhost/orchestrate/keystone:2026.1",
        "localhost/orchestrate/keystone:nightly-20261126",
    )
    # Only the key tag is pushed with the node; the release tags are promoted after the run.
    assert [s.argv[-1] for s in plan.push] == [
        f"docker://127.0.0.1:5000/os/keystone:{plan.key[:20]}"
    ]
    assert plan.remote == "127.0.0.1:5000/os/keystone"
    assert plan.remote_key == f"127.0.0.1:5000/os/keystone:{plan.key[:20]}"
    assert plan.release_tags == ("2026.1", "nightly-20261126")


def test_child_image_builds_from_its_parent(write_pipeline: WritePipeline, tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "Containerfile").write_text("FROM scratch\nCOPY policy.yaml /etc/keystone/\n")
    (site / "policy.yaml").write_text("{}\n")
    path = write_pipeline(
        TWO
        + textwrap.dedent("""\
        children:
          site-keystone:
            from: keystone
            containerfile: site/Containerfile
        """)
    )
    plans = plans_of(path)
    build = plans["site-keystone"].steps[0]
    assert build.argv[:2] == ("buildah", "build")
    assert build.argv[build.argv.index("--from") + 1] == plans["keystone"].image
    before = plans["site-keystone"].key
    (site / "policy.yaml").write_text("{'x': 1}\n")
    assert plans_of(path)["site-keystone"].key != before


@pytest.mark.parametrize("script", ["install-project.sh", "cleanup.sh", "check-runtime.py"])
def test_editing_a_script_changes_the_keys_of_the_nodes_that_run_it(
    write_pipeline: WritePipeline, tmp_path: Path, script: str
) -> None:
    scripts = tmp_path / "scripts"
    shutil.copytree(ROOT / "scripts", scripts)
    path = write_pipeline(TWO)
    resolved = load(path)
    settings = resolve_settings({}, {"state_dir": str(tmp_path / "s")}, environ={})

    def plan() -> dict[str, NodePlan]:
        ctx = PlanContext(
            run_id="r1",
            run_dir=tmp_path / "work",
            settings=settings,
            inputs=plan_inputs(resolved, SOURCES, scripts_dir=scripts),
            now=NOW,
        )
        return plan_all(resolved, graph_for(resolved), ctx)

    before = plan()
    with (scripts / script).open("a") as handle:
        handle.write("# edited\n")
    after = plan()
    assert (
        after["keystone"].inputs[f"script:{script}"]
        != before["keystone"].inputs[f"script:{script}"]
    )
    assert after["keystone"].key != before["keystone"].key
    # The base (bootstrapped with mmdebstrap) runs neither script: its key stays.
    assert after["base"].key == before["base"].key


def test_uv_comes_from_the_wheels_image_for_the_step_only(write_pipeline: WritePipeline) -> None:
    path = write_pipeline(TWO)
    text = path.read_text().replace('wheel: "0.45.1"}', 'wheel: "0.45.1", uv: "0.13.9"}')
    path.write_text(text)
    plans = plans_of(path)
    wheels = plans["requirements"].image
    install = next(s for s in plans["keystone"].steps if s.name == "install-project")
    assert f"type=bind,from={wheels},src=/var/lib/openstack/bin/uv,dst=/run/orchestrate/uv,ro" in (
        install.argv
    )
    assert "UV=/run/orchestrate/uv" in install.argv
    setup = next(s for s in plans["wheel-builder"].steps if s.name == "setup-venv")
    assert "TOOLCHAIN=pip==25.3 setuptools==80.9.0 wheel==0.45.1 uv==0.13.9" in setup.argv
    before = plans_of(write_pipeline(TWO, name="nouv.yaml"))
    assert before["keystone"].key != plans["keystone"].key


def test_registry_options_reach_pulls_and_pushes(write_pipeline: WritePipeline) -> None:
    path = write_pipeline(TWO.replace("images:", "base: {from: 'r.example/debian:12'}\nimages:"))
    plans = plans_of(
        path,
        cli={
            "push": True,
            "registry": "r.example/os",
            "tls_verify": False,
            "cert_dir": "/certs",
            "authfile": "/auth.json",
        },
    )
    pull = plans["base"].steps[0]
    assert pull.argv == (
        "buildah",
        "from",
        "--name",
        "orch-r1-base",
        "--pull=missing",
        "--tls-verify=false",
        "--cert-dir",
        "/certs",
        "--authfile",
        "/auth.json",
        "--os",
        "linux",
        "--arch",
        "amd64",
        "r.example/debian:12",
    )
    assert plans["keystone"].push[0].argv[2:7] == (
        "--tls-verify=false",
        "--cert-dir",
        "/certs",
        "--authfile",
        "/auth.json",
    )


def test_only_the_first_wheel_step_waits_for_the_wheels_image(
    write_pipeline: WritePipeline,
) -> None:
    # On the base (layering: flat), a service's packages and user are set up meanwhile.
    steps = plans_of(write_pipeline(TWO + "layering: flat\n"))["keystone"].steps
    needs = {s.name: s.needs for s in steps if s.needs}
    assert needs == {"setup-venv": ("requirements",)}
    names = [s.name for s in steps]
    assert names.index("install-packages+create-user") < names.index("setup-venv")
    assert "[after: requirements]" in next(s for s in steps if s.name == "setup-venv").display()
    # Shared: the shared node's packages are installed meanwhile; the services start on it,
    # and wait for the wheels to install from them: keyed by the pins it installs, the
    # shared node may be reused while a new wheels image is built.
    plans = plans_of(write_pipeline(TWO, name="shared.yaml"))
    shared = {s.name: s.needs for s in plans["openstack-base"].steps if s.needs}
    assert shared == {"setup-venv": ("requirements",)}
    keystone = {s.name: s.needs for s in plans["keystone"].steps if s.needs}
    assert keystone == {"install-project": ("requirements",)}


def test_base_refresh_period_rebuilds_the_base_and_everything_on_it(
    write_pipeline: WritePipeline,
) -> None:
    from orchestrator.planning.refresh import refresh_period

    assert refresh_period("weekly", NOW) == "weekly:2026-W48"
    assert refresh_period("daily", NOW) == "daily:2026-11-26"
    assert refresh_period("monthly", NOW) == "monthly:2026-11"
    assert refresh_period("never", NOW) == "never"
    path = write_pipeline("base: {bootstrap: mmdebstrap, refresh: daily}\n" + TWO)
    resolved = load(path)
    settings = resolve_settings({}, {"state_dir": str(path.parent / "s")}, environ={})
    today = make_plans(resolved, graph_for(resolved), settings, SOURCES, run_id="r", now=NOW)
    later = make_plans(
        resolved, graph_for(resolved), settings, SOURCES, run_id="r", now=NOW.replace(day=27)
    )
    assert today["base"].inputs["refresh"] == "daily:2026-11-26"
    # The period is an input of the base only; the others follow through their parent keys.
    assert [n for n in today if "refresh" in today[n].inputs] == ["base"]
    # A new period rebuilds the base, and so everything built on it.
    assert all(today[n].key != later[n].key for n in today)
    same_day = make_plans(
        resolved, graph_for(resolved), settings, SOURCES, run_id="r", now=NOW.replace(hour=23)
    )
    assert all(today[n].key == same_day[n].key for n in today)


def test_acceptance_script_runs_as_the_service_user_before_tagging(
    write_pipeline: WritePipeline,
) -> None:
    body = TWO.replace("glance:", "horizon:").replace("glance==32.0.0", "horizon==25.7.3")
    sources = {**SOURCES, "horizon": fetched("horizon", "25.7.3", "c")}
    plan = plans_of(write_pipeline(body), sources=sources)["horizon"]
    names = [s.name for s in plan.steps]
    assert names.index("smoke") < names.index("acceptance") < names.index("tag")
    step = plan.steps[names.index("acceptance")].argv
    assert step[step.index("--user") + 1] == "horizon"
    assert step[-1] == "check-horizon.sh"
    assert plan.inputs["script:check-horizon.sh"].startswith("sha256:")


def test_default_configuration_files_are_copied_from_the_source(
    write_pipeline: WritePipeline,
) -> None:
    body = TWO.replace("glance:", "nova:").replace("glance==32.0.0", "nova==33.0.2")
    sources = {**SOURCES, "nova": fetched("nova", "33.0.2", "d")}
    plans = plans_of(write_pipeline(body), sources=sources)
    install = next(s for s in plans["nova"].steps if s.name == "install-project").argv
    assert "PROJECT_ETC=etc/nova" in install and "ETC_DIR=/etc/nova" in install
    assert plans["nova"].inputs["config_files"] == "etc/nova"
    # keystone's folder is etc/ (its sso_callback_template.html is a configuration default).
    keystone = next(s for s in plans["keystone"].steps if s.name == "install-project").argv
    assert "PROJECT_ETC=etc" in keystone and "ETC_DIR=/etc/keystone" in keystone
    assert not any(a.startswith("PROJECT_ETC_OPTIONAL=") for a in keystone)


def test_a_catalog_script_missing_from_scripts_is_a_config_error(
    write_pipeline: WritePipeline, tmp_path: Path
) -> None:
    scripts = tmp_path / "scripts"
    shutil.copytree(ROOT / "scripts", scripts)
    (scripts / "check-horizon.sh").unlink()
    body = TWO.replace("glance:", "horizon:").replace("glance==32.0.0", "horizon==25.7.3")
    resolved = load(write_pipeline(body))
    with pytest.raises(ConfigError, match=r"projects.horizon.acceptance: no script 'check-hor"):
        plan_inputs(resolved, {}, scripts_dir=scripts)


def test_every_image_built_in_a_container_carries_its_sbom(write_pipeline: WritePipeline) -> None:
    plans = plans_of(write_pipeline(TWO))
    for plan in plans.values():
        names = [s.name for s in plan.steps]
        assert names.index("sbom") < names.index("copy-sbom") < names.index("commit"), names
        assert plan.inputs["sbom"] == "cyclonedx-1.6/2"
        sbom = next(s for s in plan.steps if s.name == "sbom")
        assert f"key={plan.key}" in sbom.argv  # the key, never the run id or the date
        assert not any(plan.run_dir.name in a or "created" in a for a in sbom.argv[4:] if "=" in a)
        copy = next(s for s in plan.steps if s.name == "copy-sbom")
        assert copy.argv[-1] == "/etc/image_info/sbom.cdx.json"


def test_every_build_step_sees_the_hosts_package_cache_writable(
    write_pipeline: WritePipeline,
) -> None:
    from orchestrator.model.pipeline import BaseSpec
    from orchestrator.planning.builder import apt_cache_dir

    path = write_pipeline(TWO)
    plans = plans_of(path)
    cache = path.parent / "state" / "apt-cache" / "bookworm"
    mount = f"type=bind,src={cache},dst=/run/orchestrate/apt-cache,rw"
    for p in plans.values():
        for step in p.steps:
            if "/run/orchestrate/scripts/run-step.sh" in step.argv and p.containers[0] in step.argv:
                assert mount in step.argv, step  # writable: install-packages.sh adds to it
    image_base = BaseSpec(kind="image", image="registry.example/ubuntu:24.04")
    assert apt_cache_dir(Path("/s"), image_base) == Path(
        "/s/apt-cache/registry.example_ubuntu_24.04"
    )


def test_the_base_compiles_the_system_pythons_library_once(write_pipeline: WritePipeline) -> None:
    """compile-stdlib (checked-hash bytecode of /usr/lib/python3*) runs in the base, after
    the rootfs is in, so every image on it starts Python on bytecode; no other node runs it,
    and the bytecode compiler is in the base's key."""
    plans = plans_of(write_pipeline(TWO))
    names = [step.name for step in plans["base"].steps]
    assert names.index("add-rootfs") < names.index("compile-stdlib") < names.index("commit")
    (step,) = [s for s in plans["base"].steps if s.name == "compile-stdlib"]
    assert step.argv[-1] == "compile-stdlib.sh"
    assert {"script:compile-stdlib.sh", "script:compile-bytecode.py"} <= set(plans["base"].inputs)
    others = [p for name, p in plans.items() if name != "base"]
    assert not any(s.name == "compile-stdlib" for p in others for s in p.steps)


def test_package_lists_are_fetched_once_per_run_in_a_container_of_the_base(
    write_pipeline: WritePipeline,
) -> None:
    """Every node that installs packages reads one folder of the run's lists, read-only; the
    lists are fetched into it, writable, only by a throwaway container of the base image."""
    plans = plans_of(write_pipeline(TWO + "layering: flat\n"))
    installs = [
        (name, step)
        for name, plan in plans.items()
        for step in plan.steps
        if "install-packages.sh" in step.argv
    ]
    assert {name for name, _ in installs} >= {"keystone", "glance"}
    folders = {step.lists.folder for _, step in installs if step.lists is not None}
    assert len(folders) == 1 and all(step.lists is not None for _, step in installs)
    (folder,) = folders
    assert folder == plans["base"].run_dir.parent / ".apt-lists" / "base"
    for name, step in installs:
        assert f"type=bind,src={folder},dst=/run/orchestrate/apt-lists,ro" in step.argv, name
        assert f"src={folder},dst=/run/orchestrate/apt-lists,rw" not in " ".join(step.argv)
        fetch = step.lists
        assert fetch is not None
        assert [s.name for s in fetch.steps] == ["apt-lists-from", "apt-lists", "apt-lists-rm"]
        assert fetch.steps[0].argv[-1] == plans["base"].image
        update = fetch.steps[1].argv
        # The update runs on the host's lists of the base, kept between runs (then copied).
        kept = plans["base"].run_dir.parents[3] / "apt-lists" / "bookworm@amd64"
        assert fetch.kept == kept
        assert f"type=bind,src={kept},dst=/run/orchestrate/apt-lists,rw" in update
        assert f"src={folder}," not in " ".join(update)
        assert "APT_LISTS_FETCH=yes" in update and fetch.container in update
        assert fetch.container not in step.argv  # the node's own container reads them


def test_the_base_is_pulled_when_a_node_built_reads_its_package_lists(
    write_pipeline: WritePipeline,
) -> None:
    """On a host with the images in a registry, rebuilding keystone pulls its parent
    openstack-base, and the base too: the lists are fetched in a container of the base,
    keystone's grandparent, which would otherwise stay in the registry."""
    plans = plans_of(write_pipeline(TWO))
    children: dict[str, list[str]] = {}
    for name, plan in plans.items():
        for parent in plan.parents:
            children.setdefault(parent, []).append(name)
    remote = Decision(reuse=True, why="key tag in the registry", where="registry")

    def decided(built: set[str]) -> dict[str, Decision]:
        return decide_all(
            plans,
            children,
            lambda plan: Decision(reuse=False, why="new") if plan.node in built else remote,
        )

    decisions = decided({"keystone"})
    shared = decisions["openstack-base"]
    assert shared.pull and "a child is built" in shared.why
    assert decisions["base"].pull and "package lists" in decisions["base"].why
    assert not decisions["wheel-builder"].pull and not decisions["glance"].pull
    assert not decided(set())["base"].pull  # nothing built: nothing pulled


def test_a_service_sets_up_its_packages_and_user_in_one_run(
    write_pipeline: WritePipeline,
) -> None:
    plans = plans_of(write_pipeline(TWO + "layering: flat\n"))
    names = [s.name for s in plans["keystone"].steps]
    assert "install-packages+create-user" in names and "create-user" not in names
    step = next(s for s in plans["keystone"].steps if s.name == "install-packages+create-user")
    assert step.argv[-2:] == ("install-packages.sh", "create-user.sh")
    assert "SERVICE_USER=keystone" in step.argv and step.lists is not None
    # On the shared node, glance has no packages of its own here: its user alone.
    shared = plans_of(write_pipeline(TWO, name="shared.yaml"))
    assert "create-user" in [s.name for s in shared["glance"].steps]


def test_scripts_of_one_run_must_agree_on_their_inputs(write_pipeline: WritePipeline) -> None:
    resolved = load(write_pipeline(TWO))
    settings = resolve_settings({}, {"state_dir": "/s"}, environ={})
    ctx = PlanContext(
        run_id="r1",
        run_dir=Path("/s/runs/r1/work"),
        settings=settings,
        inputs=plan_inputs(resolved, SOURCES),
        now=NOW,
    )
    b = NodeBuilder("keystone", NodeKind.SERVICE, resolved, ctx)
    with pytest.raises(ValueError, match=r"keystone: b\.sh needs another VENV"):
        b.script_step("a+b", "a.sh", {"VENV": "/v"}, then=[("b.sh", {"VENV": "/w"})])


def test_every_script_a_step_script_runs_is_in_its_key():
    """A script that runs another (``$(dirname "$0")/NAME``) names it in HELPERS, so a change
    to the helper changes the key of every node that runs it."""
    scripts = Path(__file__).resolve().parents[2] / "scripts"
    for path in sorted(scripts.glob("*.sh")):
        called = set(re.findall(r'\$\(dirname "\$0"\)/([\w.-]+)', path.read_text()))
        assert called <= set(HELPERS.get(path.name, ())), path.name
    assert with_helpers("install-project.sh") == {
        "install-project.sh",
        "compile-bytecode.py",
        "install-packages.sh",
        "apt-pins.sh",
        "installed-wheels.py",
        "project-wheel-key.py",
    }


def test_install_project_reads_the_node_s_package_lists_for_the_runtime_packages(
    write_pipeline: WritePipeline,
) -> None:
    """openstack-base installs its packages, then the shared distributions, whose compiled
    wheels may need more packages (install-project.sh runs install-packages.sh): that step
    reads the same lists, read-only, instead of fetching its own later ones."""
    plans = plans_of(write_pipeline(TWO))
    steps = {s.name: s for s in plans["openstack-base"].steps}
    installed, shared = steps["install-packages"], steps["install-shared"]
    assert installed.lists is not None and shared.lists == installed.lists
    folder = installed.lists.folder
    assert f"type=bind,src={folder},dst=/run/orchestrate/apt-lists,ro" in shared.argv
    # A node without packages of its own fetches none for its install step.
    flat = plans_of(write_pipeline(TWO + "layering: flat\n", name="flat.yaml"))
    for service in ("glance", "keystone"):
        named = {s.name: s for s in flat[service].steps}
        installs = any(name.startswith("install-packages") for name in named)
        assert installs == (named["install-project"].lists is not None), service


def _resolved_plans(  # type: ignore[no-untyped-def]
    path: Path,
    pins: tuple[str, ...],
    lines: tuple[str, ...] | None = None,
    requires: dict[str, tuple[str, ...]] | None = None,
):
    """Plans as a run makes them when the wheels resolved on the host to ``pins`` (with
    ``requires``, the resolution's dependency graph)."""
    resolved = load(path)
    settings = resolve_settings(
        resolved.pipeline.settings, {"state_dir": str(path.parent / "state")}, environ={}
    )
    graph = graph_for(resolved, None)
    inputs = plan_inputs(resolved, SOURCES)
    wheel_set = WheelSet(
        lines=lines if lines is not None else wheel_lines(resolved, graph, inputs),
        python="3.11.2",
        platform="x86_64-manylinux_2_36",
        pins=pins,
        requires=requires or {},
    )
    ctx = PlanContext(
        run_id="r1",
        run_dir=settings.state_dir / "runs" / "r1" / "work",
        settings=settings,
        inputs=dataclasses.replace(inputs, wheel_sets={"linux/amd64": wheel_set}),
        now=NOW,
    )
    return plan_all(resolved, graph, ctx)


PINS = ("flask==3.1.3", "keystone==29.1.0", "oslo-db==18.0.0", "pbr==7.0.3")


def test_resolved_wheels_are_keyed_by_their_pins_not_by_upper_constraints(
    write_pipeline: WritePipeline, tmp_path: Path
) -> None:
    upper = tmp_path / "upper-constraints.txt"
    shutil.copy(UPPER, upper)
    path = write_pipeline(TWO)
    path.write_text(path.read_text().replace(str(UPPER), str(upper)))
    before = _resolved_plans(path, PINS)
    wheels = before["requirements"]
    assert wheels.inputs["resolved"] == "\n".join(PINS)
    assert "constraints" not in wheels.inputs
    copy = next(s for s in wheels.steps if s.name == "copy-constraints")
    assert [Path(a).name for a in copy.argv[-3:-1]] == ["requirements.txt", "resolved.txt"]
    build = next(s for s in wheels.steps if s.name == "build-wheels")
    assert "RESOLVED=/wheels/resolved.txt" in build.argv
    assert "CONSTRAINTS=/wheels/resolved.txt" in build.argv
    for node in ("openstack-base", "keystone"):
        install = next(s for s in before[node].steps if "install-project.sh" in s.argv[-1])
        assert any(a.endswith("/wheels/resolved.txt") for a in install.argv), node
    # A line of the file that is no pin of the wheel set: nothing changes, no key, no step.
    upper.write_text(upper.read_text() + "zzz-not-installed===1.0\n")
    same = _resolved_plans(path, PINS)
    assert {n: p.key for n, p in same.items()} == {n: p.key for n, p in before.items()}
    # A pin moves: the wheels image and every image installed from it, not the others.
    moved = _resolved_plans(path, tuple(p.replace("7.0.3", "7.0.2") for p in PINS))
    changed = {n for n in before if before[n].key != moved[n].key}
    assert changed == {"requirements", "openstack-base", "glance", "keystone"}
    # What the SBOM and the provenance name is the pins' digest, from the wheels down.
    digest = "sha256:" + hashlib.sha256("".join(f"{p}\n" for p in PINS).encode()).hexdigest()
    for node, plan in before.items():
        sbom = next(s for s in plan.steps if s.name == "sbom")
        said = [a for a in sbom.argv if a.startswith("constraints")]
        material = [m for m in plan.materials if m.name == "constraints"]
        if node in changed:
            assert said == [f"constraints={digest}"], node
            assert material[0].digest == (("sha256", digest.removeprefix("sha256:")),)
        else:
            assert said == [] and material == [], node


# keystone: flask (werkzeug), oslo.db (sqlalchemy), ldappool (its ldap extra); glance:
# oslo.db, glance-store; both: pbr. openstack-base: oslo.db, what both require outright.
GRAPH_PINS = (
    "flask==3.1.3",
    "glance-store==4.0.0",
    "ldappool==3.0.0",
    "oslo-db==18.0.0",
    "pbr==7.0.3",
    "sqlalchemy==2.0.46",
    "unused==1.0",
    "werkzeug==3.1.0",
)
GRAPH = {
    "flask": ("werkzeug",),
    "glance-store": (),
    "ldappool": (),
    "oslo-db": ("pbr", "sqlalchemy"),
    "pbr": (),
    "sqlalchemy": (),
    "unused": (),
    "werkzeug": (),
}


def _moved(pin: str) -> tuple[str, ...]:
    return tuple(p + ".post1" if p == pin else p for p in GRAPH_PINS)


def test_an_image_installing_from_resolved_wheels_is_keyed_by_the_pins_it_installs(
    write_pipeline: WritePipeline,
) -> None:
    path = write_pipeline(TWO)
    before = _resolved_plans(path, GRAPH_PINS, requires=GRAPH)
    assert before["requirements"].wheel_recipe
    shared = before["openstack-base"].inputs
    assert "parent:requirements" not in shared
    assert shared["wheels_recipe"] == before["requirements"].wheel_recipe
    assert shared["installs"].split("\n") == [
        "oslo-db==18.0.0",
        "pbr==7.0.3",
        "sqlalchemy==2.0.46",
    ]
    keystone = before["keystone"].inputs["installs"].split("\n")
    assert "werkzeug==3.1.0" in keystone and "ldappool==3.0.0" in keystone
    assert "glance-store==4.0.0" not in keystone and "unused==1.0" not in keystone
    install = next(s for s in before["keystone"].steps if s.name == "install-project")
    assert "INSTALLS=/run/orchestrate/installs.txt" in install.argv
    listed = next(f for f in before["keystone"].files if f.path.name == "installs.txt")
    assert listed.content.split() == keystone
    mount = f"type=bind,src={listed.path},dst=/run/orchestrate/installs.txt,ro"
    assert mount in install.argv

    def changed(pin: str) -> set[str]:
        after = _resolved_plans(path, _moved(pin), requires=GRAPH)
        return {n for n in before if before[n].key != after[n].key}

    # A pin only keystone installs: the wheels and keystone; one of flask's dependencies too.
    assert changed("ldappool==3.0.0") == {"requirements", "keystone"}
    assert changed("werkzeug==3.1.0") == {"requirements", "keystone"}
    assert changed("glance-store==4.0.0") == {"requirements", "glance"}
    # A pin of the shared venv: everything installed from the wheels.
    assert changed("sqlalchemy==2.0.46") == {"requirements", "openstack-base", "glance", "keystone"}
    # A pin no image installs: the wheels image alone.
    assert changed("unused==1.0") == {"requirements"}
    # The SBOM and the provenance name the digest of the pins the image installs.
    pins = before["keystone"].inputs["installs"] + "\n"
    digest = "sha256:" + hashlib.sha256(pins.encode()).hexdigest()
    sbom = next(s for s in before["keystone"].steps if s.name == "sbom")
    assert f"constraints={digest}" in sbom.argv
    material = next(m for m in before["keystone"].materials if m.name == "constraints")
    assert ("content", "the pins resolved from it that this image installs") in material.annotations
    # How the wheels are made moves every image installed from them.
    text = path.read_text()
    assert "wheel: " in text
    path.write_text(re.sub(r'wheel: "?[0-9.]+"?', 'wheel: "0.45.0"', text, count=1))
    rebuilt = _resolved_plans(path, GRAPH_PINS, requires=GRAPH)
    assert {n for n in before if before[n].key != rebuilt[n].key} >= {
        "requirements",
        "openstack-base",
        "glance",
        "keystone",
    }


def test_without_the_dependency_graph_an_image_is_keyed_by_the_wheels_image(
    write_pipeline: WritePipeline,
) -> None:
    plans = _resolved_plans(write_pipeline(TWO), GRAPH_PINS)
    assert plans["requirements"].wheel_recipe == ""
    for node in ("openstack-base", "glance", "keystone"):
        assert "parent:requirements" in plans[node].inputs and "installs" not in plans[node].inputs
        install = next(s for s in plans[node].steps if "install-project.sh" in s.argv[-1])
        assert not any(a.startswith("INSTALLS=") for a in install.argv), node


def test_a_resolution_of_other_lines_is_not_used(write_pipeline: WritePipeline) -> None:
    path = write_pipeline(TWO)
    plans = _resolved_plans(path, PINS, lines=("something-else",))
    assert "resolved" not in plans["requirements"].inputs
    assert "constraints" in plans["requirements"].inputs
    assert plans == plans_of(path)


@pytest.mark.parametrize("entry", ["{etc: keystone-site}", "{pypi: keystone-site}"])
def test_a_project_s_distribution_and_configuration_folder_are_in_its_key(
    write_pipeline: WritePipeline, entry: str
) -> None:
    before = plans_of(write_pipeline(TWO))
    after = plans_of(write_pipeline(f"projects:\n  keystone: {entry}\n" + TWO))
    changed = {n for n in before if before[n].key != after[n].key}
    assert "keystone" in changed and "glance" not in changed, changed


def test_the_shared_venv_s_key_holds_uv_when_its_wheels_come_from_elsewhere(
    write_pipeline: WritePipeline,
) -> None:
    """With a wheels image from elsewhere the wheels' key holds no toolchain; uv installs
    the shared venv when pinned, so the shared node's own key holds it."""
    body = "requirements: {from: registry.example/wheels@sha256:" + "a" * 64 + "}\n" + TWO
    without = plans_of(write_pipeline(body))
    header = 'toolchain: {pip: "25.3", setuptools: "80.9.0", wheel: "0.45.1", uv: "0.13.9"}\n'
    path = write_pipeline(body)
    text = path.read_text()
    path.write_text(re.sub(r"^toolchain: .*\n", header, text, flags=re.M))
    with_uv = plans_of(path)
    assert without["requirements"].key == with_uv["requirements"].key
    assert without["openstack-base"].key != with_uv["openstack-base"].key
