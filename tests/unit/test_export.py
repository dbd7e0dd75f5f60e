"""`orchestrate export`: each engine's pipeline is valid for that engine (Tekton and Argo
against their schemas, GitLab with check-jsonschema, Zuul by its structure), holds one job per
selected node with the graph's edges as dependencies and a promote job after all of them,
wires registry settings to the engine's own secrets and never writes a credential."""

from __future__ import annotations

import builtins
import copy
import io
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import networkx as nx
import pytest
import yaml
from click.testing import CliRunner

from orchestrator.cli import cli
from orchestrator.errors import ConfigError
from orchestrator.exporting import FORMATS, render, zuul
from orchestrator.exporting.spec import LOCAL_JOB_IMAGE, from_graph, k8s_name
from orchestrator.loading.load import load
from orchestrator.model.request import Selection
from orchestrator.planning.graph import graph_for
from tests.conftest import ROOT, UPPER

SCHEMAS = ROOT / "tests" / "data" / "schemas"
FULL_STACK = "pipelines/full-stack.yaml"
NIGHTLY = "pipelines/nightly.yaml"  # has gate checks
REGISTRY = "registry.example.com/openstack"
# Credentials the exporting environment holds: none may reach an export.
PLANTED = "planted-s3cret"


# --- exporting -----------------------------------------------------------------------------


def export(fmt: str, *args: str, env: dict[str, str] | None = None) -> str:
    """The text `orchestrate export --format FMT ARGS` prints (run in the repository root)."""
    result = CliRunner().invoke(cli, ["export", "--format", fmt, *args], env=env or {})
    assert result.exit_code == 0, result.output
    return result.output


def full_graph(pipeline: Path, selection: Selection | None = None) -> nx.DiGraph:
    return graph_for(load(pipeline), selection)


@pytest.fixture(autouse=True)
def _in_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    """Exports name the pipeline relative to the repository root, so they run from there;
    and no ORCHESTRATE_* of the machine running the tests may leak into them."""
    monkeypatch.chdir(ROOT)
    for name in list(os.environ):
        if name.startswith("ORCHESTRATE_"):
            monkeypatch.delenv(name)


# --- reading each engine's jobs back ----------------------------------------------------------


@dataclass(frozen=True)
class Jobs:
    """An export read back: node -> its job, job -> the jobs it waits for, the promote job,
    the gate job ('' when none) and each job's orchestrate arguments."""

    of_node: dict[str, str]
    after: dict[str, set[str]]
    promote: str
    args: dict[str, list[str]]
    gate: str = ""


def _orchestrate_line(script: str) -> list[str]:
    """The arguments of the orchestrate command in a shell script."""
    for line in script.splitlines():
        words = shlex.split(line)
        for start in ("orchestrate", "orchestrate_cli"):
            if start in words and words.index(start) + 1 < len(words):
                rest = words[words.index(start) + 1 :]
                if rest[0] in ("build", "gate", "promote"):
                    return rest
    raise AssertionError(f"no orchestrate command in {script!r}")


def read_gitlab(data: dict[str, Any]) -> Jobs:
    jobs = {k: v for k, v in data.items() if isinstance(v, dict) and "script" in v}
    args = {name: _orchestrate_line("\n".join(job["script"])) for name, job in jobs.items()}
    return _jobs({name: set(job["needs"]) for name, job in jobs.items()}, args)


def read_tekton(data: dict[str, Any]) -> Jobs:
    tasks = data["spec"]["tasks"]
    args = {t["name"]: _orchestrate_line(t["taskSpec"]["steps"][-1]["script"]) for t in tasks}
    return _jobs({t["name"]: set(t.get("runAfter", [])) for t in tasks}, args)


def read_argo(data: dict[str, Any]) -> Jobs:
    templates = {t["name"]: t for t in data["spec"]["templates"]}
    dag = templates[data["spec"]["entrypoint"]]["dag"]["tasks"]
    args = {}
    for task in dag:
        template_args = list(templates[task["template"]]["container"]["args"])
        for parameter in task.get("arguments", {}).get("parameters", []):
            placeholder = "{{inputs.parameters." + parameter["name"] + "}}"
            template_args = [parameter["value"] if a == placeholder else a for a in template_args]
        args[task["name"]] = template_args
    return _jobs({t["name"]: set(t.get("dependencies", [])) for t in dag}, args)


def zuul_jobs(data: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["job"]["name"]: item["job"] for item in data if "job" in item}


def zuul_job_vars(jobs: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    """A job's variables with its parents' (deep merge is not needed: flat vars)."""
    job = jobs[name]
    inherited = zuul_job_vars(jobs, job["parent"]) if job.get("parent") in jobs else {}
    return {**inherited, **job.get("vars", {})}


def read_zuul(data: list[dict[str, Any]], pipeline: str = "post") -> Jobs:
    """The jobs of one project pipeline (post: uploads and promote; check: builds)."""
    jobs = zuul_jobs(data)
    project = next(item["project"] for item in data if "project" in item)
    listed = project[pipeline]["jobs"]
    args = {
        name: zuul_job_vars(jobs, name)["orchestrate_args"]
        for name in listed
        if "orchestrate_args" in zuul_job_vars(jobs, name)
    }

    def dependencies(name: str) -> list[str]:
        job = jobs[name]
        if "dependencies" in job:
            return list(job["dependencies"])
        return dependencies(job["parent"]) if job.get("parent") in jobs else []

    return _jobs({name: set(dependencies(name)) & set(args) for name in args}, args)


def _jobs(after: dict[str, set[str]], args: dict[str, list[str]]) -> Jobs:
    of_node = {a[a.index("--only") + 1]: job for job, a in args.items() if a[0] == "build"}
    promotes = [job for job, a in args.items() if a[0] == "promote"]
    gates = [job for job, a in args.items() if a[0] == "gate"]
    assert len(promotes) <= 1 and len(gates) <= 1, args
    assert set(after) == set(args)
    return Jobs(
        of_node=of_node, after=after, promote="".join(promotes), args=args, gate="".join(gates)
    )


def read(fmt: str, text: str) -> Jobs:
    data = yaml.safe_load(text)
    match fmt:
        case "gitlab":
            return read_gitlab(data)
        case "tekton":
            return read_tekton(data)
        case "argo":
            return read_argo(data)
        case "zuul":
            return read_zuul(data)
    raise AssertionError(fmt)


# --- the graph in every engine ---------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_one_job_per_node_with_every_edge_a_dependency(fmt: str) -> None:
    graph = full_graph(ROOT / FULL_STACK)
    jobs = read(fmt, export(fmt, FULL_STACK))
    assert set(jobs.of_node) == set(graph.nodes)
    assert len(set(jobs.of_node.values())) == len(graph.nodes)
    for parent, child in graph.edges:
        assert jobs.of_node[parent] in jobs.after[jobs.of_node[child]], (parent, child)
    for node, job in jobs.of_node.items():
        # Waits for nothing but its parents: the engine may start it as soon as they are done.
        assert jobs.after[job] == {jobs.of_node[p] for p in graph.predecessors(node)}
        assert jobs.args[job] == ["build", FULL_STACK, "--only", node, "--push", "--no-promote"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_promote_runs_after_every_node_job(fmt: str) -> None:
    jobs = read(fmt, export(fmt, FULL_STACK, "--skip", "horizon"))
    assert jobs.promote and jobs.after[jobs.promote] == set(jobs.of_node.values())
    assert "horizon" not in jobs.of_node
    assert jobs.args[jobs.promote] == ["promote", FULL_STACK, "--skip", "horizon"]
    assert not jobs.gate  # the full stack has no gate checks


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_gate_job_runs_between_the_node_jobs_and_promote(fmt: str) -> None:
    """A pipeline with gate checks: the node jobs push without moving release tags
    (--no-gate), one gate job runs the checks once they all succeeded, and promote waits
    for the gate job alone."""
    jobs = read(fmt, export(fmt, NIGHTLY, "--skip", "horizon"))
    assert jobs.gate and jobs.after[jobs.gate] == set(jobs.of_node.values())
    assert jobs.after[jobs.promote] == {jobs.gate}
    assert jobs.args[jobs.gate] == ["gate", NIGHTLY, "--skip", "horizon"]
    assert jobs.args[jobs.promote] == ["promote", NIGHTLY, "--skip", "horizon"]
    assert "horizon" not in jobs.of_node and "placement" in jobs.of_node
    for node, job in jobs.of_node.items():
        assert jobs.args[job] == ["build", NIGHTLY, "--only", node, "--push", "--no-promote",
                                  "--no-gate"]  # fmt: skip


# What every service of the full stack is built on.
ROOTS = ("base", "wheel-builder", "requirements", "openstack-base")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("flags", "nodes"),
    [
        # --only pulls in the ancestors, as `orchestrate build --only` does.
        (["--only", "keystone"], {*ROOTS, "keystone"}),
        (["--match", "^(nova|glance)$"], {*ROOTS, "storage-base", "nova", "glance"}),
        (["--skip", "requirements"], {"base", "wheel-builder"}),
    ],
)
def test_exports_exactly_the_selected_graph(fmt: str, flags: list[str], nodes: set[str]) -> None:
    graph = full_graph(ROOT / FULL_STACK, Selection(**_selection(flags)))
    assert set(graph.nodes) == nodes
    jobs = read(fmt, export(fmt, FULL_STACK, *flags))
    assert set(jobs.of_node) == nodes
    for parent, child in graph.edges:
        assert jobs.of_node[parent] in jobs.after[jobs.of_node[child]]
    assert jobs.args[jobs.promote] == ["promote", FULL_STACK, *flags]


def _selection(flags: list[str]) -> dict[str, Any]:
    key, value = flags[0][2:], flags[1]
    return {key: (value,)} if key in ("only", "skip") else {key: value}


CHILDREN = f"""\
name: site
release: "2026.1"
toolchain: {{pip: "25.3", setuptools: "80.9.0", wheel: "0.45.1"}}
constraints: {{upper: {UPPER}}}
images:
  keystone:
    source: {{pypi: keystone==29.1.0}}
  nova:
    source: {{pypi: nova==32.0.0}}
children:
"""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A checkout with a pipeline whose children hang off services (names with '.')."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "Containerfile").write_text("FROM scratch\n")
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def _children(root: Path, *children: tuple[str, str]) -> str:
    text = CHILDREN + "".join(
        f"  {name}:\n    from: {parent}\n    containerfile: site/Containerfile\n"
        for name, parent in children
    )
    (root / "site.yaml").write_text(text)
    return "site.yaml"


@pytest.mark.parametrize("fmt", FORMATS)
def test_children_and_names_engines_cannot_take(fmt: str, site: Path) -> None:
    long = "a" * 70
    pipeline = _children(
        site, ("site.keystone", "keystone"), ("site.nova", "nova"), (long, "site.keystone")
    )
    graph = full_graph(site / pipeline)
    jobs = read(fmt, export(fmt, pipeline))
    for parent, child in graph.edges:
        assert jobs.of_node[parent] in jobs.after[jobs.of_node[child]]
    if fmt in ("tekton", "argo"):
        assert jobs.of_node["site.keystone"] == "site-keystone"
        name = jobs.of_node[long]
        assert len(name) == 63 and name.startswith("a" * 50) and name == k8s_name(long)


def test_kubernetes_names_are_rfc1123_labels() -> None:
    assert k8s_name("site.keystone") == "site-keystone"
    assert k8s_name("a__b--c") == "a-b-c"
    long = k8s_name("x" * 100)
    assert len(long) == 63 and long == k8s_name("x" * 100) != k8s_name("x" * 101)


def refused(*args: str) -> str:
    """The one-line message of a refused export (exit code 2)."""
    result = CliRunner().invoke(cli, ["export", *args])
    assert isinstance(result.exception, ConfigError), result.output
    assert result.exception.exit_code == 2
    message = str(result.exception)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("fmt", ["tekton", "argo"])
def test_nodes_that_become_one_task_name_are_refused(fmt: str, site: Path) -> None:
    pipeline = _children(site, ("site.keystone", "keystone"), ("site_keystone", "keystone"))
    assert refused("--format", fmt, pipeline) == (
        "site.yaml: node 'site.keystone' and node 'site_keystone' would both be the "
        f"{fmt.capitalize()} task 'site-keystone' (its names are lower-case letters, digits "
        "and '-', at most 63): rename the node"
    )


@pytest.mark.parametrize("fmt", ["tekton", "argo"])
@pytest.mark.parametrize("job", ["promote", "gate"])
def test_a_node_named_like_the_promote_or_gate_task_is_refused(
    fmt: str, job: str, site: Path
) -> None:
    message = refused("--format", fmt, _children(site, (job, "nova")))
    assert f"the {job} job and node '{job}' would both be" in message


def test_zuul_job_names_that_collide_are_refused(site: Path) -> None:
    message = refused("--format", "zuul", _children(site, ("nova-upload", "keystone")))
    assert "'orchestrate-site-nova-upload'" in message


# --- the engines' own validation -------------------------------------------------------------


def _strict(schema: Any) -> Any:
    """``schema`` refusing properties it does not name, as Kubernetes' strict field validation
    does (the CRD schemas leave that to pruning), except where it keeps unknown fields."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    for key in ("properties", "definitions", "$defs", "patternProperties"):
        if isinstance(schema.get(key), dict):
            out[key] = {name: _strict(s) for name, s in schema[key].items()}
    for key in ("items", "additionalProperties", "not"):
        if isinstance(schema.get(key), dict):
            out[key] = _strict(schema[key])
    for key in ("allOf", "anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            out[key] = [_strict(s) for s in schema[key]]
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def tekton_validator() -> jsonschema.protocols.Validator:
    data = json.loads((SCHEMAS / "tekton-pipeline-v1.crd-schema.json").read_text())
    if "spec" in data and "versions" in data["spec"]:  # a whole CRD: take its v1 version
        version = next(v for v in data["spec"]["versions"] if v["name"] == "v1")
        data = version["schema"]["openAPIV3Schema"]
    return jsonschema.Draft202012Validator(_strict(data))


def argo_validator() -> jsonschema.protocols.Validator:
    data = json.loads((SCHEMAS / "argo-workflows.schema.json").read_text())
    schema = {
        "$schema": data["$schema"],
        "$ref": "#/definitions/io.argoproj.workflow.v1alpha1.Workflow",
        "definitions": _strict({"definitions": data["definitions"]})["definitions"],
    }
    return jsonschema.Draft202012Validator(schema)


def _errors(validator: jsonschema.protocols.Validator, doc: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]


@pytest.mark.parametrize("flags", [[], ["--only", "keystone"], ["--registry", REGISTRY]])
def test_tekton_pipeline_is_valid_for_its_crd(flags: list[str]) -> None:
    validator = tekton_validator()
    doc = yaml.safe_load(export("tekton", FULL_STACK, *flags))
    assert doc["apiVersion"] == "tekton.dev/v1" and doc["kind"] == "Pipeline"
    assert _errors(validator, doc) == []
    # The check is real: a misspelt field or a wrongly typed one is caught.
    bad = copy.deepcopy(doc)
    bad["spec"]["tasks"][1]["runafter"] = bad["spec"]["tasks"][1].pop("runAfter")
    assert _errors(validator, bad)
    bad = copy.deepcopy(doc)
    bad["spec"]["tasks"][1]["runAfter"] = "base"
    assert _errors(validator, bad)


def test_tekton_task_specs_run_orchestrate_privileged_in_the_job_image() -> None:
    doc = yaml.safe_load(export("tekton", FULL_STACK, "--job-image", "quay.io/me/orch:1"))
    params = {p["name"]: p for p in doc["spec"]["params"]}
    assert params["job-image"]["default"] == "quay.io/me/orch:1"
    assert "default" not in params["registry"]  # none known: the PipelineRun must give it
    for task in doc["spec"]["tasks"]:
        spec = task["taskSpec"]
        assert spec["stepTemplate"]["image"] == "$(params.job-image)"
        assert {p["name"] for p in spec["params"]} == {p["name"] for p in task["params"]}
        run = spec["steps"][-1]
        assert run["securityContext"] == {"privileged": True}
        assert [s["name"] for s in spec["steps"]] == ["checkout", "orchestrate"]
        assert spec["volumes"] == [{"name": "work", "emptyDir": {}}]


def test_argo_workflow_is_valid_for_its_schema() -> None:
    validator = argo_validator()
    doc = yaml.safe_load(export("argo", FULL_STACK, "--registry", REGISTRY))
    assert _errors(validator, doc) == []
    bad = copy.deepcopy(doc)
    task = bad["spec"]["templates"][0]["dag"]["tasks"][1]
    task["dependecies"] = task.pop("dependencies")
    assert _errors(validator, bad)
    bad = copy.deepcopy(doc)
    bad["spec"]["templates"][1]["container"]["securityContext"]["privileged"] = "yes"
    assert _errors(validator, bad)


def test_argo_uses_one_container_template_with_the_node_as_parameter() -> None:
    doc = yaml.safe_load(export("argo", FULL_STACK))
    templates = {t["name"]: t for t in doc["spec"]["templates"]}
    tasks = templates[doc["spec"]["entrypoint"]]["dag"]["tasks"]
    node_tasks = [t for t in tasks if t["name"] != "promote"]
    assert {t["template"] for t in node_tasks} == {"node"}
    node = templates["node"]
    assert node["inputs"]["parameters"] == [{"name": "node"}]
    assert node["container"]["securityContext"] == {"privileged": True}
    assert node["inputs"]["artifacts"][0]["git"]["repo"] == "{{workflow.parameters.repo}}"
    arguments = {p["name"]: p.get("value") for p in doc["spec"]["arguments"]["parameters"]}
    assert arguments["job-image"] == LOCAL_JOB_IMAGE


def check_jsonschema() -> str:
    tool = Path(sys.executable).parent / "check-jsonschema"
    if not tool.exists():
        pytest.fail("check-jsonschema is not installed: pip install -e '.[test]'")
    return str(tool)


def gitlab_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [check_jsonschema(), "--builtin-schema", "vendor.gitlab-ci", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_gitlab_ci_is_valid_for_gitlab(tmp_path: Path) -> None:
    path = tmp_path / ".gitlab-ci.yml"
    path.write_text(export("gitlab", FULL_STACK, "--registry", REGISTRY))
    proc = gitlab_check(path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = yaml.safe_load(path.read_text())
    data["promote"]["needs"] = 3
    path.write_text(yaml.safe_dump(data))
    assert gitlab_check(path).returncode != 0


def test_zuul_configuration_holds_together() -> None:
    data = yaml.safe_load(export("zuul", FULL_STACK, "--registry", REGISTRY))
    graph = full_graph(ROOT / FULL_STACK)
    kinds = [next(iter(item)) for item in data]
    assert kinds.count("secret") == 1 and kinds.count("project") == 1
    assert set(kinds) == {"secret", "job", "project"}
    jobs = zuul_jobs(data)
    secret = next(item["secret"] for item in data if "secret" in item)
    project = next(item["project"] for item in data if "project" in item)
    assert len(jobs) == kinds.count("job")  # no name twice
    for name, job in jobs.items():
        assert job.get("parent") in {*jobs, zuul.REGISTRY_PARENT} or job.get("abstract"), name
        assert set(job.get("dependencies", [])) <= set(jobs), name
        for entry in job.get("secrets", []):
            assert entry == {"name": zuul.SECRET_VARIABLE, "secret": secret["name"]}
        if "run" in job:
            assert (ROOT / job["run"]).is_file()
    for pipeline in project.values():
        for name in pipeline["jobs"]:
            assert name in jobs and not jobs[name].get("abstract")
    registry = next(n for n, j in jobs.items() if j.get("parent") == zuul.REGISTRY_PARENT)
    checks = read_zuul(data, "check")
    assert not checks.promote  # release tags move after the merge only
    assert project["check"] == project["gate"]
    assert registry in project["check"]["jobs"]
    for node, name in checks.of_node.items():
        job = jobs[name]
        # No secret before review: it pushes to the buildset registry, which it waits for.
        assert "secrets" not in job and registry in job["dependencies"]
        assert job["provides"] == [f"orchestrate-full-stack-{node}-container-image"]
        wanted = {f"orchestrate-full-stack-{p}-container-image" for p in graph.predecessors(node)}
        assert set(job.get("requires", [])) == wanted
        assert wanted <= set(jobs[registry]["requires"])
    for parent, child in graph.edges:
        assert checks.of_node[parent] in checks.after[checks.of_node[child]]
    uploads = read_zuul(data, "post")
    assert set(uploads.of_node) == set(graph.nodes)
    for name in [*uploads.of_node.values(), uploads.promote]:
        assert jobs[name]["secrets"]
        assert zuul_job_vars(jobs, name)["orchestrate_registry"] == REGISTRY
    assert project["post"]["jobs"][-1] == uploads.promote


def test_zuul_playbook_in_the_repository_is_current() -> None:
    path = ROOT / zuul.PLAYBOOK_PATH
    assert path.read_text() == zuul.render_playbook(), "regenerate it from zuul.render_playbook"
    play = yaml.safe_load(path.read_text())[0]
    run = next(t for t in play["tasks"] if t["name"] == "Run orchestrate")
    environment = run["environment"]
    assert environment["ORCHESTRATE_PUSH"] == "1"
    for name in ("REGISTRY", "AUTHFILE", "CERT_DIR", "TLS_VERIFY", "STORAGE_ROOT", "STATE_DIR"):
        assert f"ORCHESTRATE_{name}" in environment
    secret_file = next(t for t in play["tasks"] if t["name"].endswith("authfile from the secret"))
    assert secret_file["no_log"] is True and secret_file["copy"]["mode"] == "0600"


# --- registry settings and secrets -----------------------------------------------------------


@pytest.fixture
def credentials(tmp_path: Path) -> dict[str, str]:
    """An environment full of credentials, as on a developer's host."""
    auth = tmp_path / "secret-auth.json"
    auth.write_text(json.dumps({"auths": {"registry.example.com": {"auth": PLANTED}}}))
    return {
        "ORCHESTRATE_AUTHFILE": str(auth),
        "ORCHESTRATE_CERT_DIR": str(tmp_path / "secret-certs"),
        "ORCHESTRATE_HTTP_PROXY": f"http://bob:{PLANTED}@proxy.example.com:3128",
        "ORCHESTRATE_PIP_INDEX_URL": f"https://alice:{PLANTED}@pypi.example.com/simple",
        "ORCHESTRATE_REGISTRY": REGISTRY,
    }


# Each engine's secret mechanism, as the export must name it.
SECRET_REFERENCES = {
    "gitlab": ['ORCHESTRATE_AUTHFILE="$REGISTRY_AUTH_JSON"', '"$REGISTRY_CA_CERT"'],
    "tekton": ["$(workspaces.registry-auth.path)/.dockerconfigjson", "registry-certs"],
    "argo": ["secretName: orchestrate-registry", "secretName: orchestrate-registry-certs"],
    "zuul": ["secrets:", "secret: orchestrate-full-stack-registry", "auth_json:"],
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_credential_is_written_only_references(fmt: str, credentials: dict[str, str]) -> None:
    text = export(fmt, FULL_STACK, env=credentials)
    assert PLANTED not in text
    assert "secret-auth.json" not in text and "secret-certs" not in text
    assert "proxy.example.com" not in text and "pypi.example.com" not in text
    for reference in SECRET_REFERENCES[fmt]:
        assert reference in text, reference
    # The registry is no secret: it is the default of the engine's own parameter.
    assert REGISTRY in text


def _node_environments(fmt: str, text: str) -> dict[str, dict[str, str]]:
    """Job -> the ORCHESTRATE_* variables it sets (the Kubernetes engines' env lists)."""
    data = yaml.safe_load(text)
    if fmt == "tekton":
        return {
            t["name"]: {e["name"]: e["value"] for e in t["taskSpec"]["steps"][-1]["env"]}
            for t in data["spec"]["tasks"]
        }
    templates = {t["name"]: t for t in data["spec"]["templates"]}
    return {
        name: {e["name"]: e["value"] for e in templates[name]["container"]["env"]}
        for name in ("node", "promote")
    }


@pytest.mark.parametrize("fmt", ["tekton", "argo"])
def test_kubernetes_jobs_get_every_setting_from_parameters_and_secrets(fmt: str) -> None:
    for job, env in _node_environments(fmt, export(fmt, FULL_STACK)).items():
        assert env["ORCHESTRATE_PUSH"] == "1", job
        assert "params.registry" in env["ORCHESTRATE_REGISTRY"] or (
            "workflow.parameters.registry" in env["ORCHESTRATE_REGISTRY"]
        )
        assert "tls-verify" in env["ORCHESTRATE_TLS_VERIFY"]
        assert env["ORCHESTRATE_AUTHFILE"].endswith(("/.dockerconfigjson", "/auth.json"))
        # Its own storage and state, on the pod's emptyDir.
        assert env["ORCHESTRATE_STORAGE_ROOT"] != env["ORCHESTRATE_STATE_DIR"]


# --- GitLab, also under a shell executor -----------------------------------------------------


FAKE = """\
#!/bin/sh
{ printf '%s\\n' "$0 $*"; env | grep '^ORCHESTRATE_' | sort; echo ---; } >> "$RECORD"
"""


def run_gitlab_job(text: str, job: str, checkout: Path, env: dict[str, str]) -> None:
    """Run one job's before_script and script in ``checkout`` with sh, as a shell executor
    does: in the working copy, with the CI/CD variables in the environment."""
    data = yaml.safe_load(text)
    template = data[data[job]["extends"]]
    lines = [*template["before_script"], *data[job]["script"]]
    variables = {**data["variables"], "CI_JOB_ID": "7", **env}
    proc = subprocess.run(
        ["sh", "-e", "-c", "\n".join(lines)],
        cwd=checkout,
        env={"PATH": "/usr/bin:/bin", **variables},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_gitlab_jobs_run_under_a_shell_executor(tmp_path: Path) -> None:
    """Outside the job image: `orchestrate` is not on PATH, the checkout's .venv has it."""
    checkout = tmp_path / "checkout"
    (checkout / ".venv" / "bin").mkdir(parents=True)
    fake = checkout / ".venv" / "bin" / "orchestrate"
    fake.write_text(FAKE)
    fake.chmod(0o755)
    auth = tmp_path / "REGISTRY_AUTH_JSON"
    auth.write_text("{}")
    ca = tmp_path / "REGISTRY_CA_CERT"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    record = tmp_path / "record"
    text = export("gitlab", FULL_STACK, "--only", "keystone", "--registry", REGISTRY)
    env = {"RECORD": str(record), "REGISTRY_AUTH_JSON": str(auth), "REGISTRY_CA_CERT": str(ca)}
    for job in ("build-keystone", "build-base", "promote"):
        run_gitlab_job(text, job, checkout, env)
    runs = [block.strip().splitlines() for block in record.read_text().split("---")[:-1]]
    assert [r[0] for r in runs] == [
        f".venv/bin/orchestrate build {FULL_STACK} --only keystone --push --no-promote",
        f".venv/bin/orchestrate build {FULL_STACK} --only base --push --no-promote",
        f".venv/bin/orchestrate promote {FULL_STACK} --only keystone",
    ]
    envs = [dict(line.split("=", 1) for line in r[1:]) for r in runs]
    for env_of_job in envs:
        assert env_of_job["ORCHESTRATE_REGISTRY"] == REGISTRY
        assert env_of_job["ORCHESTRATE_PUSH"] == "1"
        assert env_of_job["ORCHESTRATE_AUTHFILE"] == str(auth)
        assert (Path(env_of_job["ORCHESTRATE_CERT_DIR"]) / "ca.crt").read_text() == ca.read_text()
        assert env_of_job["ORCHESTRATE_STATE_DIR"].startswith(f"{checkout}/.orchestrate/")
    # Each job its own buildah storage and state dir.
    assert len({e["ORCHESTRATE_STORAGE_ROOT"] for e in envs}) == 3
    assert len({e["ORCHESTRATE_STATE_DIR"] for e in envs}) == 3


def test_gitlab_jobs_fall_back_to_the_package(tmp_path: Path) -> None:
    """No orchestrate on PATH and no .venv: python3 -m orchestrator, from the checkout."""
    checkout = tmp_path / "checkout"
    (checkout / "orchestrator").mkdir(parents=True)
    (checkout / "orchestrator" / "__main__.py").write_text(
        "import os, sys\nopen(os.environ['RECORD'], 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
    )
    record = tmp_path / "record"
    text = export("gitlab", FULL_STACK, "--only", "keystone")
    run_gitlab_job(text, "build-base", checkout, {"RECORD": str(record)})
    assert record.read_text() == f"build {FULL_STACK} --only base --push --no-promote\n"


def test_gitlab_job_image_and_variables() -> None:
    data = yaml.safe_load(export("gitlab", FULL_STACK, "--registry", REGISTRY, "--no-tls-verify"))
    assert data["default"]["image"] == f"{REGISTRY}/orchestrate:latest"
    assert data["variables"] == {
        "ORCHESTRATE_REGISTRY": REGISTRY,
        "ORCHESTRATE_PUSH": "1",
        "ORCHESTRATE_TLS_VERIFY": "false",
    }
    assert data["promote"]["stage"] == "promote"
    assert yaml.safe_load(export("gitlab", FULL_STACK))["default"]["image"] == LOCAL_JOB_IMAGE


# --- the command -------------------------------------------------------------------------------


def test_output_file_is_written_whole(tmp_path: Path) -> None:
    out = tmp_path / "pipeline.yaml"
    result = CliRunner().invoke(cli, ["export", "--format", "argo", FULL_STACK, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output == f"wrote {out}\n"
    assert out.read_text() == export("argo", FULL_STACK)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipeline.yaml"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/abs/pipelines/full-stack.yaml"], "relative to the repository root"),
        (["../x/pipelines/full-stack.yaml"], "relative to the repository root"),
        ([FULL_STACK, "--profiles-dir", "/etc/profiles"], "--profiles-dir: /etc/profiles"),
        ([FULL_STACK, "--match", "keystone|$(params.x)"], "which CI engines substitute"),
        ([FULL_STACK, "--job-image", "Not An Image"], "--job-image"),
        ([FULL_STACK, "--registry", "Bad Registry"], "setting 'registry' (from cli)"),
        ([FULL_STACK, "-o", "/nonexistent/folder/x.yaml"], "folder /nonexistent/folder"),
        ([FULL_STACK, "--only", "swift"], "unknown node 'swift'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "orchestrator", "export", "--format", "gitlab", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr
    assert proc.stdout == ""


def test_the_format_is_required() -> None:
    result = CliRunner().invoke(cli, ["export", FULL_STACK])
    assert result.exit_code == 2 and "--format" in result.output


@pytest.mark.parametrize("fmt", FORMATS)
def test_generating_reads_and_writes_nothing(fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = from_graph(
        full_graph(ROOT / FULL_STACK),
        pipeline=FULL_STACK,
        name="full-stack",
        job_image=None,
        registry=REGISTRY,
        tls_verify=True,
        selection=Selection(),
    )
    expected = render(spec, fmt)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"I/O while generating: {args}")

    monkeypatch.setattr(builtins, "open", refuse)
    monkeypatch.setattr(io, "open", refuse)
    monkeypatch.setattr(os, "open", refuse)
    assert render(spec, fmt) == expected


def test_help_lists_export() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert "export" in result.output
    text = CliRunner().invoke(cli, ["export", "--help"]).output
    assert all(name in text for name in FORMATS)
