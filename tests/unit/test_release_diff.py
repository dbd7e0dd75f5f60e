"""A release diff by SBOMs: added, removed, upgraded and downgraded packages and distributions
in their own version order; ``diff --against``'s exit codes; promotion refusing a downgrade
the pipeline does not allow (over the fake registry)."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from orchestrator.cli import main
from orchestrator.engine import attachments
from orchestrator.engine.buildah import Argv, RegistryAccess
from orchestrator.engine.naming import in_a_registry
from orchestrator.engine.registry import Registry
from orchestrator.errors import EXIT_DOWNGRADE, ConfigError
from orchestrator.execution import run
from orchestrator.execution.promote import DowngradeError, promote
from orchestrator.inspection.published_sbom import read_sbom, repository_of
from orchestrator.inspection.sbom_diff import WHEELS_SITE, diff_sboms, inventory, render
from orchestrator.model.pipeline import AllowedDowngrades
from orchestrator.model.pipeline_file import load_pipeline
from orchestrator.model.results import NodeResult, RunResult
from orchestrator.model.states import Status
from orchestrator.planning.nodeplan import NodePlan, empty_plan
from tests.conftest import WritePipeline
from tests.unit.test_buildah_executor import RecordingRunner, _digest

SITE = "/var/lib/openstack/lib/python3.11/site-packages"
SYSTEM = "/usr/lib/python3/dist-packages"


def sbom(
    debs: Iterable[tuple[str, str]] = (),
    dists: Iterable[tuple[str, str]] = (),
    *,
    site: str = SITE,
    arch: str = "amd64",
    extra: Iterable[dict[str, Any]] = (),
) -> dict[str, Any]:
    """A CycloneDX document shaped as orchestrate.inspection.sbom writes one."""
    components: list[dict[str, Any]] = []
    for name, version in debs:
        purl = f"pkg:deb/debian/{name}@{version.replace(':', '%3A')}?arch={arch}&distro=debian-12"
        components.append(
            {"type": "library", "name": name, "version": version, "purl": purl, "bom-ref": purl}
        )
    for name, version in dists:
        components.append(
            {
                "type": "library",
                "name": name,
                "version": version,
                "purl": f"pkg:pypi/{name}@{version}",
                "bom-ref": f"pkg:pypi/{name}@{version}#{site}",
                "properties": [{"name": "orchestrate:site", "value": site}],
            }
        )
    return {"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [*components, *extra]}


def verdicts(old: dict[str, Any], new: dict[str, Any]) -> dict[str, tuple[str, str, str]]:
    return {c.name: (c.verdict, c.old, c.new) for c in diff_sboms(old, new).changes}


# -- the comparison ----------------------------------------------------------------------------


def test_added_removed_upgraded_and_downgraded() -> None:
    old = sbom(
        [("libssl3", "3.0.15-1~deb12u1"), ("tzdata", "2025a-0+deb12u1"), ("wget", "1.21.3-1")],
        [("oslo.config", "9.7.0"), ("six", "1.16.0")],
    )
    new = sbom(
        [("libssl3", "3.0.11-1~deb12u2"), ("tzdata", "2025b-0+deb12u1"), ("curl", "7.88.1-10")],
        [("oslo.config", "9.6.0"), ("six", "1.16.0"), ("pbr", "6.1.1")],
    )
    found = diff_sboms(old, new, names=("published", "nightly"))
    assert verdicts(old, new) == {
        "libssl3": ("downgraded", "3.0.15-1~deb12u1", "3.0.11-1~deb12u2"),
        "tzdata": ("upgraded", "2025a-0+deb12u1", "2025b-0+deb12u1"),
        "curl": ("added", "", "7.88.1-10"),
        "wget": ("removed", "1.21.3-1", ""),
        "oslo-config": ("downgraded", "9.7.0", "9.6.0"),
        "pbr": ("added", "", "6.1.1"),
    }
    # Debian packages first, downgrades first within each kind.
    assert [(c.kind, c.name) for c in found.changes][:2] == [("deb", "libssl3"), ("deb", "tzdata")]
    assert [c.name for c in found.downgrades] == ["libssl3", "oslo-config"]
    assert not found.identical
    assert diff_sboms(old, old).identical


@pytest.mark.parametrize(
    ("old", "new", "verdict"),
    [
        ("2.0-1", "1:1.0-1", "upgraded"),  # an epoch outranks any version
        ("1:1.0-1", "2.0-1", "downgraded"),
        ("1.0~rc1-1", "1.0-1", "upgraded"),  # ~ sorts before anything, even the end
        ("3.0.15-1", "3.0.15-1~deb12u1", "downgraded"),
        ("3.0.15-1~deb12u1", "3.0.15-1+deb12u1", "upgraded"),
        ("1.9-1", "1.10-1", "upgraded"),  # numerically, not as text
    ],
)
def test_debian_versions_compare_in_debian_order(old: str, new: str, verdict: str) -> None:
    assert verdicts(sbom([("pkg", old)]), sbom([("pkg", new)])) == {"pkg": (verdict, old, new)}


def test_debian_packages_are_keyed_by_name_and_architecture() -> None:
    old = sbom([("libc6", "2.36-9")], arch="amd64")
    both = {
        **old,
        "components": old["components"] + sbom([("libc6", "2.36-8")], arch="i386")["components"],
    }
    found = diff_sboms(old, both)
    assert [(c.name, c.where, c.verdict) for c in found.changes] == [("libc6", "i386", "added")]


def test_python_versions_per_site_in_pep_440_order() -> None:
    old = sbom(dists=[("Oslo.Config", "9.7.0"), ("six", "1.16")])
    old["components"] += sbom(dists=[("six", "1.16.0")], site=SYSTEM)["components"]
    new = sbom(dists=[("oslo_config", "9.7.0"), ("six", "1.16.0")])  # the same, spelled so
    new["components"] += sbom(dists=[("six", "1.15.0")], site=SYSTEM)["components"]
    found = diff_sboms(old, new)
    assert [(c.name, c.where, c.verdict) for c in found.changes] == [("six", SYSTEM, "downgraded")]
    # PEP 440: a pre-release is older than its release, a post-release newer.
    assert verdicts(sbom(dists=[("p", "2.0")]), sbom(dists=[("p", "2.0rc1")]))["p"][0] == (
        "downgraded"
    )
    assert verdicts(sbom(dists=[("p", "2.0")]), sbom(dists=[("p", "2.0.post1")]))["p"][0] == (
        "upgraded"
    )


def test_a_version_that_does_not_parse_is_only_changed() -> None:
    assert verdicts(sbom(dists=[("p", "1.0")]), sbom(dists=[("p", "not a version")])) == {
        "p": ("changed", "1.0", "not a version")
    }
    assert verdicts(sbom([("d", "1.0")]), sbom([("d", "1.0 bad")])) == {
        "d": ("changed", "1.0", "1.0 bad")
    }


def test_wheels_of_a_wheels_image_are_compared_the_project_is_not() -> None:
    def wheel(name: str, version: str) -> dict[str, Any]:
        filename = f"{name}-{version}-py3-none-any.whl"
        return {
            "type": "file",
            "name": name,
            "version": version,
            "purl": f"pkg:pypi/{name}@{version}?file_name={filename}",
            "bom-ref": f"wheel:{filename}",
        }

    project = {
        "type": "application",
        "name": "keystone",
        "version": "27.0.0",
        "purl": "pkg:pypi/keystone@27.0.0",
        "bom-ref": "project",
    }
    old = sbom(
        extra=[wheel("six", "1.17.0"), wheel("pbr", "6.0.0"), wheel("pbr", "6.1.0"), project]
    )
    new = sbom(extra=[wheel("six", "1.16.0"), wheel("pbr", "6.1.0"), {**project, "version": "1"}])
    assert inventory(old)["pypi", "pbr", WHEELS_SITE] == "6.1.0"  # the highest of several
    assert [(c.name, c.where, c.verdict) for c in diff_sboms(old, new).changes] == [
        ("six", WHEELS_SITE, "downgraded")
    ]


def test_allowed_names_match_in_any_python_spelling() -> None:
    allowed = AllowedDowngrades(names=("oslo.config", "libssl3"))
    assert allowed.allows("oslo-config") and allowed.allows("Oslo_Config")
    assert allowed.allows("libssl3") and not allowed.allows("libssl3t64")
    assert AllowedDowngrades(every=True).allows("anything")
    assert not AllowedDowngrades().allows("libssl3")


def test_render_puts_downgrades_first_and_marks_them() -> None:
    old = sbom([("libssl3", "3.0.15-1"), ("a-lib", "1.0-1")], [("oslo.config", "9.7.0")])
    new = sbom([("libssl3", "3.0.11-1"), ("a-lib", "1.1-1")], [("oslo.config", "9.6.0")])
    found = diff_sboms(old, new, names=("REG/keystone:2026.1", "keystone:nightly"))
    text = render(found, allowance=AllowedDowngrades(names=("oslo.config",)))
    lines = text.splitlines()
    assert lines[:3] == [
        "--- REG/keystone:2026.1",
        "+++ keystone:nightly",
        "Debian packages: 1 downgraded, 1 upgraded",
    ]
    assert lines[4].split() == ["DOWNGRADED", "libssl3", "amd64", "3.0.15-1", "3.0.11-1"]
    assert lines[5].split()[:2] == ["upgraded", "a-lib"]
    assert lines[6] == "Python distributions: 1 downgraded"
    assert lines[8].split()[:3] == ["downgraded", "(allowed)", "oslo-config"]
    assert lines[-1] == "1 downgrade(s) not allowed: libssl3"
    assert render(diff_sboms(old, old), limit=1).startswith("same packages and distributions")
    # --limit cuts the others, never a downgrade
    more = sbom([("libssl3", "3.0.11-1"), ("a-lib", "1.1-1"), ("b-lib", "1")])
    cut = render(diff_sboms(old, more), limit=1).splitlines()
    assert [line.split()[0] for line in cut[4:6]] == ["DOWNGRADED", "upgraded"]
    assert cut[6] == "  ... 1 more (--limit 0 shows all)"  # b-lib, added


def test_as_dict_says_which_downgrades_are_allowed() -> None:
    old = sbom([("libssl3", "3.0.15-1")], [("oslo.config", "9.7.0")])
    new = sbom([("libssl3", "3.0.11-1")], [("oslo.config", "9.6.0")])
    out = diff_sboms(old, new).as_dict(AllowedDowngrades(names=("libssl3",)))
    assert out["refused_downgrades"] == 1
    assert out["packages"]["downgraded"][0]["allowed"] is True
    assert out["python"]["downgraded"][0] == {
        "name": "oslo-config",
        "where": SITE,
        "old": "9.7.0",
        "new": "9.6.0",
        "change": "downgraded",
        "allowed": False,
    }


def test_repository_of_a_reference() -> None:
    assert repository_of("r.example:5000/os/keystone:2026.1") == "r.example:5000/os/keystone"
    assert repository_of(f"r.example/os/keystone@sha256:{'a' * 64}") == "r.example/os/keystone"
    assert repository_of("r.example:5000/os/keystone") == "r.example:5000/os/keystone"


# -- the pipeline's allow_downgrades --------------------------------------------------------------


def test_allow_downgrades_true_a_list_or_none(write_pipeline: WritePipeline) -> None:
    assert load_pipeline(write_pipeline()).allow_downgrades == AllowedDowngrades()
    every = load_pipeline(write_pipeline("allow_downgrades: true\n" + KEYSTONE))
    assert every.allow_downgrades == AllowedDowngrades(every=True)
    none = load_pipeline(write_pipeline("allow_downgrades: false\n" + KEYSTONE))
    assert none.allow_downgrades == AllowedDowngrades()
    named = load_pipeline(write_pipeline("allow_downgrades: [oslo.config, libssl3]\n" + KEYSTONE))
    assert named.allow_downgrades == AllowedDowngrades(names=("oslo.config", "libssl3"))


KEYSTONE = "images:\n  keystone:\n    source: {pypi: keystone==29.1.0}\n"


# -- orchestrate diff --against ---------------------------------------------------------------


def run_main(monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    monkeypatch.setattr(sys, "argv", ["orchestrate", *argv])
    with pytest.raises(SystemExit) as exited:
        main()
    return int(exited.value.code or 0)


def write(path: Path, document: dict[str, Any]) -> str:
    path.write_text(json.dumps(document))
    return str(path)


def test_diff_against_exits_0_1_or_8(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    published = write(tmp_path / "published.cdx.json", sbom([("libssl3", "3.0.15-1")]))
    same = write(tmp_path / "same.cdx.json", sbom([("libssl3", "3.0.15-1")]))
    newer = write(tmp_path / "newer.cdx.json", sbom([("libssl3", "3.0.16-1")]))
    older = write(tmp_path / "older.cdx.json", sbom([("libssl3", "3.0.11-1")]))
    assert run_main(monkeypatch, "diff", same, "--against", published) == 0
    assert "same packages" in capsys.readouterr().out
    assert run_main(monkeypatch, "diff", newer, "--against", published) == 1
    assert "upgraded" in capsys.readouterr().out
    assert run_main(monkeypatch, "diff", older, "--against", published) == EXIT_DOWNGRADE == 8
    assert "DOWNGRADED" in capsys.readouterr().out
    allowed = ("--allow-downgrade", "libssl3")
    assert run_main(monkeypatch, "diff", older, "--against", published, *allowed) == 1
    assert "downgraded (allowed)" in capsys.readouterr().out


def test_diff_against_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    published = write(tmp_path / "a.cdx.json", sbom(dists=[("six", "1.17.0")]))
    nightly = write(tmp_path / "b.cdx.json", sbom(dists=[("six", "1.16.0")]))
    assert run_main(monkeypatch, "diff", nightly, "--against", published, "--json") == 8
    out = json.loads(capsys.readouterr().out)
    assert (out["old"], out["new"], out["refused_downgrades"]) == (published, nightly, 1)


# -- promotion -------------------------------------------------------------------------------

REG = "registry.example/os"


@dataclasses.dataclass
class ArtifactRunner(RecordingRunner):
    """The fake registry, also copying an artifact out into an OCI layout (``oci:DIR``)."""

    def _skopeo(self, argv: Argv) -> str:
        if argv[1] == "copy" and argv[-1].startswith("oci:"):
            ref = argv[-2].removeprefix("docker://")
            attachments.write_layout(Path(argv[-1].removeprefix("oci:")), self.artifacts[ref])
            return ""
        return super()._skopeo(argv)

    def publish_sbom(self, repository: str, key: str, document: dict[str, Any]) -> None:
        """Push ``document`` beside the image of ``key`` in ``repository``."""
        ref = f"{repository}:{attachments.sbom_tag(_digest('', key))}"
        self.remote[ref] = "artifact"
        self.artifacts[ref] = json.dumps(document).encode()


def plan(node: str, key: str) -> NodePlan:
    return dataclasses.replace(
        empty_plan(node), key=key, remote=f"{REG}/{node}", release_tags=("2026.1",)
    )


PLANS = {"base": plan("base", "b" * 64), "keystone": plan("keystone", "k" * 64)}
OLD = sbom([("libssl3", "3.0.15-1")], [("oslo.config", "9.7.0")])


def published(new_keystone: dict[str, Any] | None) -> tuple[ArtifactRunner, Registry]:
    """Both release tags on older images with SBOMs; the new keys pushed, base's with the
    same packages, keystone's with ``new_keystone`` (None: no SBOM beside it)."""
    runner = ArtifactRunner(remote={p.remote_key: p.key for p in PLANS.values()})
    for node, p in PLANS.items():
        runner.remote[f"{p.remote}:2026.1"] = f"old-{node}"
        runner.publish_sbom(p.remote, f"old-{node}", OLD)
    runner.publish_sbom(PLANS["base"].remote, PLANS["base"].key, OLD)
    if new_keystone is not None:
        runner.publish_sbom(PLANS["keystone"].remote, PLANS["keystone"].key, new_keystone)
    return runner, Registry(runner, RegistryAccess(tls_verify=False))


def copies(runner: RecordingRunner) -> list[Argv]:
    return [a for a in runner.calls if a[:2] == ("skopeo", "copy") and a[-1].startswith("docker")]


def test_promotion_refuses_a_downgrade_and_moves_nothing() -> None:
    runner, reg = published(sbom([("libssl3", "3.0.15-1")], [("oslo.config", "9.6.0")]))
    with pytest.raises(DowngradeError) as refused:
        promote(PLANS, reg, parallel=2, pipeline="pipelines/keystone.yaml")
    message = str(refused.value)
    assert message.startswith(
        f"keystone: {REG}/keystone:2026.1 would downgrade oslo-config 9.7.0 -> 9.6.0 ("
    )
    assert "'allow_downgrades: [oslo-config]' (or true) in pipelines/keystone.yaml" in message
    assert message.endswith("; no release tag moved") and "\n" not in message
    assert refused.value.exit_code == EXIT_DOWNGRADE
    assert copies(runner) == []
    assert runner.remote[f"{REG}/base:2026.1"] == "old-base"


@pytest.mark.parametrize(
    "allowed",
    [AllowedDowngrades(every=True), AllowedDowngrades(names=("oslo_config",))],
)
def test_promotion_lets_through_what_the_pipeline_allows(allowed: AllowedDowngrades) -> None:
    _, reg = published(sbom([("libssl3", "3.0.15-1")], [("oslo.config", "9.6.0")]))
    done = promote(PLANS, reg, parallel=2, allowed=allowed)
    assert done.promoted == [f"{REG}/base:2026.1", f"{REG}/keystone:2026.1"]
    assert done.notes == [
        f"keystone: {REG}/keystone:2026.1 downgrades, as allow_downgrades allows: "
        "oslo-config 9.7.0 -> 9.6.0"
    ]


def test_an_upgrade_promotes_without_a_note() -> None:
    _, reg = published(sbom([("libssl3", "3.0.16-1")], [("oslo.config", "9.8.0")]))
    done = promote(PLANS, reg, parallel=1)
    assert len(done.promoted) == 2 and done.notes == []


def test_no_sbom_to_compare_is_said_but_does_not_block() -> None:
    _, reg = published(None)
    done = promote(PLANS, reg, parallel=2)
    assert done.promoted == [f"{REG}/base:2026.1", f"{REG}/keystone:2026.1"]
    assert done.notes == [
        f"keystone: no SBOM to compare ({PLANS['keystone'].remote_key} has no readable SBOM "
        "beside it): not checked"
    ]


def test_a_new_release_tag_or_one_in_place_reads_no_sbom() -> None:
    runner = ArtifactRunner(remote={p.remote_key: p.key for p in PLANS.values()})
    reg = Registry(runner, RegistryAccess(tls_verify=False))
    promote(PLANS, reg, parallel=1)  # no release tag yet
    promote(PLANS, reg, parallel=1)  # every one in place
    assert not [a for a in runner.calls if any(".sbom" in part for part in a)]


def test_a_pushing_run_refused_a_downgrade_exits_8() -> None:
    """The end of ``build --push``: the pipeline's allow_downgrades decides, the run says why
    no tag moved and exits 8."""
    _, reg = published(sbom([("libssl3", "3.0.11-1")], [("oslo.config", "9.7.0")]))

    def promote_with(allowed: AllowedDowngrades) -> RunResult:
        pipeline = SimpleNamespace(allow_downgrades=allowed, retention=None)
        prepared = SimpleNamespace(
            plans=PLANS,
            settings=SimpleNamespace(push_parallel=2),
            resolved=SimpleNamespace(pipeline=pipeline),
            path=Path("pipelines/keystone.yaml"),
        )
        result = RunResult(run_id="r", started=0.0)
        for node in PLANS:
            result.results[node] = NodeResult(node=node, status=Status.BUILT)
        run._promote(prepared, reg, result, None)  # only what _promote reads
        return result

    refused = promote_with(AllowedDowngrades())
    assert refused.promotion_error.startswith(
        f"keystone: {REG}/keystone:2026.1 would downgrade libssl3 3.0.15-1 -> 3.0.11-1"
    )
    assert refused.promoted == [] and refused.exit_code == EXIT_DOWNGRADE
    allowed = promote_with(AllowedDowngrades(names=("libssl3",)))
    assert allowed.promotion_error == "" and allowed.exit_code == 0
    assert allowed.promoted == [f"{REG}/base:2026.1", f"{REG}/keystone:2026.1"]


def test_a_registry_reference_reads_the_sbom_beside_its_image() -> None:
    _, reg = published(None)
    released = f"{REG}/keystone:2026.1"
    assert read_sbom(released, registry=reg, storage=None, argument="--against") == OLD
    with pytest.raises(ConfigError, match=rf"^NEW: {PLANS['keystone'].remote_key}: no SBOM bes"):
        read_sbom(PLANS["keystone"].remote_key, registry=reg, storage=None, argument="NEW")
    with pytest.raises(ConfigError, match=r"^NEW: r.example/x:1: no such manifest in the registry"):
        read_sbom("r.example/x:1", registry=reg, storage=None, argument="NEW")


def test_registry_references_and_local_names_are_told_apart() -> None:
    """A registry's image is read there, even when a pulled copy is local; a local name never
    goes to a registry (a typo would reach docker.io or localhost:443)."""
    assert in_a_registry("r.example/x:1") and in_a_registry("127.0.0.1:5000/ns/x@sha256:ab")
    assert not in_a_registry("localhost/orchestrate/keystone:2026.1")
    assert not in_a_registry("keystone:2026.1") and not in_a_registry("Bad Ref!!")
    with pytest.raises(ConfigError, match=r"^NEW: localhost/x:1: no such local image"):
        read_sbom("localhost/x:1", registry=None, storage=None, argument="NEW")  # type: ignore[arg-type]
