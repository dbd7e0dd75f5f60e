"""Argo Workflows: a Workflow whose DAG template has one task per node (``dependencies`` for
the edges) and a ``promote`` task depending on every node's task.

Every node's task uses one container template, ``node``, with the node as its parameter: the
repository (``repo`` at ``revision``) comes in as a git input artifact, orchestrate runs
privileged (buildah needs it) in the job image, its buildah storage and state dir on the pod's
emptyDir. Registry credentials are the Secret ``orchestrate-registry`` of type
``kubernetes.io/dockerconfigjson`` (``kubectl create secret docker-registry``), mounted as the
authfile; an optional Secret ``orchestrate-registry-certs`` of ``*.crt`` files is the cert dir.
"""

from __future__ import annotations

from typing import Any

from orchestrator.exporting.spec import (
    GATE,
    PROMOTE,
    ExportSpec,
    dump,
    generated_by,
    k8s_name,
    k8s_task_names,
)

API_VERSION = "argoproj.io/v1alpha1"
AUTH_SECRET = "orchestrate-registry"
CERTS_SECRET = "orchestrate-registry-certs"
AUTH_KEY = ".dockerconfigjson"
AUTH_DIR = "/etc/orchestrate/auth"
CERTS_DIR = "/etc/orchestrate/certs"
WORK = "/var/lib/orchestrate"
SOURCE = "/src"
NODE_TEMPLATE = "node"
DAG_TEMPLATE = "build"
# Kubernetes adds five characters to a generated name.
GENERATE_NAME_MAX = 57


def _container(args: list[str]) -> dict[str, Any]:
    return {
        "image": "{{workflow.parameters.job-image}}",
        "command": ["orchestrate"],
        "args": args,
        "workingDir": SOURCE,
        # buildah mounts overlays and runs each step in a container.
        "securityContext": {"privileged": True},
        "env": [
            {"name": "ORCHESTRATE_REGISTRY", "value": "{{workflow.parameters.registry}}"},
            {"name": "ORCHESTRATE_TLS_VERIFY", "value": "{{workflow.parameters.tls-verify}}"},
            {"name": "ORCHESTRATE_PUSH", "value": "1"},
            {"name": "ORCHESTRATE_AUTHFILE", "value": f"{AUTH_DIR}/auth.json"},
            {"name": "ORCHESTRATE_CERT_DIR", "value": CERTS_DIR},
            {"name": "ORCHESTRATE_STORAGE_ROOT", "value": f"{WORK}/storage"},
            {"name": "ORCHESTRATE_STATE_DIR", "value": f"{WORK}/state"},
        ],
        "volumeMounts": [
            {"name": "registry-auth", "mountPath": AUTH_DIR, "readOnly": True},
            {"name": "registry-certs", "mountPath": CERTS_DIR, "readOnly": True},
            {"name": "work", "mountPath": WORK},
        ],
    }


def _source() -> dict[str, Any]:
    return {
        "name": "source",
        "path": SOURCE,
        "git": {
            "repo": "{{workflow.parameters.repo}}",
            "revision": "{{workflow.parameters.revision}}",
        },
    }


def _template(name: str, args: list[str], parameters: list[str]) -> dict[str, Any]:
    inputs: dict[str, Any] = {}
    if parameters:
        inputs["parameters"] = [{"name": p} for p in parameters]
    inputs["artifacts"] = [_source()]
    return {
        "name": name,
        "inputs": inputs,
        "volumes": [{"name": "work", "emptyDir": {}}],
        "container": _container(args),
    }


def workflow(spec: ExportSpec) -> dict[str, Any]:
    """The Workflow as data."""
    names = k8s_task_names(spec, "Argo task")
    tasks: list[dict[str, Any]] = []
    for node in spec.nodes:
        task: dict[str, Any] = {"name": names[node], "template": NODE_TEMPLATE}
        parents = [names[p] for p in spec.parents(node)]
        if parents:
            task["dependencies"] = parents
        task["arguments"] = {"parameters": [{"name": "node", "value": node}]}
        tasks.append(task)
    every = [names[n] for n in spec.nodes]
    if spec.gate:
        tasks.append({"name": GATE, "template": GATE, "dependencies": every})
    tasks.append({"name": PROMOTE, "template": PROMOTE, "dependencies": spec.promote_after(every)})
    build = list(spec.build_args("{{inputs.parameters.node}}"))
    registry: dict[str, Any] = {"name": "registry"}
    if spec.registry:
        registry["value"] = spec.registry
    return {
        "apiVersion": API_VERSION,
        "kind": "Workflow",
        "metadata": {"generateName": k8s_name(f"orchestrate-{spec.name}", GENERATE_NAME_MAX) + "-"},
        "spec": {
            "entrypoint": DAG_TEMPLATE,
            "arguments": {
                "parameters": [
                    {
                        "name": "repo",
                        "description": "Git URL of the repository holding the "
                        "pipeline; every task fetches it.",
                    },
                    {"name": "revision", "value": "HEAD"},
                    registry,
                    {"name": "tls-verify", "value": str(spec.tls_verify).lower()},
                    {"name": "job-image", "value": spec.job_image},
                ]
            },
            "volumes": [
                {
                    "name": "registry-auth",
                    "secret": {
                        "secretName": AUTH_SECRET,
                        "items": [{"key": AUTH_KEY, "path": "auth.json"}],
                    },
                },
                {
                    "name": "registry-certs",
                    "secret": {"secretName": CERTS_SECRET, "optional": True},
                },
            ],
            "templates": [
                {"name": DAG_TEMPLATE, "dag": {"tasks": tasks}},
                _template(NODE_TEMPLATE, build, ["node"]),
                *([_template(GATE, list(spec.gate_args()), [])] if spec.gate else []),
                _template(PROMOTE, list(spec.promote_args()), []),
            ],
        },
    }


def render(spec: ExportSpec) -> str:
    """The Workflow's YAML text."""
    return dump(workflow(spec), header=generated_by("argo", spec))
