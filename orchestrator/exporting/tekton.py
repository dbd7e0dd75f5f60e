"""Tekton: a ``tekton.dev/v1`` Pipeline with one task per node, ``runAfter`` for the edges,
and a ``promote`` task after every node's task.

Each task has an embedded ``taskSpec``: a step that fetches the repository (``repo-url`` at
``revision``) into an emptyDir and a privileged step (buildah needs it) that runs orchestrate in
the job image, its buildah storage and state dir on that emptyDir. Tasks share nothing but
the registry, so they may run on any node of the cluster.

Registry credentials are a workspace, ``registry-auth``: bind it to a Secret of type
``kubernetes.io/dockerconfigjson`` (``kubectl create secret docker-registry``), whose
``.dockerconfigjson`` is a containers-auth.json. An optional ``registry-certs`` workspace (a
Secret or ConfigMap of ``*.crt`` files) becomes the cert dir.
"""

from __future__ import annotations

import shlex
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

API_VERSION = "tekton.dev/v1"
AUTH_WORKSPACE = "registry-auth"
CERTS_WORKSPACE = "registry-certs"
AUTH_KEY = ".dockerconfigjson"
WORK = "/workspace/orchestrate"
SOURCE = f"{WORK}/src"
TIMEOUT = "3h0m0s"


def _params(spec: ExportSpec) -> list[dict[str, Any]]:
    registry: dict[str, Any] = {
        "name": "registry",
        "type": "string",
        "description": "Registry prefix the images are pushed to (ORCHESTRATE_REGISTRY).",
    }
    if spec.registry:
        registry["default"] = spec.registry
    return [
        {
            "name": "repo-url",
            "type": "string",
            "description": "Git URL of the repository holding the pipeline; every task fetches it.",
        },
        {
            "name": "revision",
            "type": "string",
            "description": "Branch, tag or commit to fetch.",
            "default": "HEAD",
        },
        registry,
        {
            "name": "tls-verify",
            "type": "string",
            "description": "Verify the registry's TLS certificate (ORCHESTRATE_TLS_VERIFY).",
            "default": str(spec.tls_verify).lower(),
        },
        {
            "name": "job-image",
            "type": "string",
            "description": "Image with orchestrate, buildah and git the tasks run in.",
            "default": spec.job_image,
        },
    ]


_PARAM_NAMES = ("repo-url", "revision", "registry", "tls-verify", "job-image")

CHECKOUT = """\
#!/bin/sh
set -eu
git init -q src
git -C src fetch -q --depth 1 "$REPO_URL" "$REVISION"
git -C src checkout -q FETCH_HEAD
"""


def _run(args: tuple[str, ...]) -> str:
    return (
        "#!/bin/sh\n"
        "set -eu\n"
        'if [ "$CERTS_BOUND" = true ]; then export ORCHESTRATE_CERT_DIR="$CERTS_PATH"; fi\n'
        f"exec orchestrate {' '.join(shlex.quote(a) for a in args)}\n"
    )


def _task(name: str, args: tuple[str, ...], run_after: list[str]) -> dict[str, Any]:
    env = [
        {"name": "ORCHESTRATE_REGISTRY", "value": "$(params.registry)"},
        {"name": "ORCHESTRATE_TLS_VERIFY", "value": "$(params.tls-verify)"},
        {"name": "ORCHESTRATE_PUSH", "value": "1"},
        {
            "name": "ORCHESTRATE_AUTHFILE",
            "value": f"$(workspaces.{AUTH_WORKSPACE}.path)/{AUTH_KEY}",
        },
        {"name": "ORCHESTRATE_STORAGE_ROOT", "value": f"{WORK}/storage"},
        {"name": "ORCHESTRATE_STATE_DIR", "value": f"{WORK}/state"},
        {"name": "CERTS_BOUND", "value": f"$(workspaces.{CERTS_WORKSPACE}.bound)"},
        {"name": "CERTS_PATH", "value": f"$(workspaces.{CERTS_WORKSPACE}.path)"},
    ]
    task: dict[str, Any] = {"name": name}
    if run_after:
        task["runAfter"] = run_after
    task |= {
        "timeout": TIMEOUT,
        "params": [{"name": p, "value": f"$(params.{p})"} for p in _PARAM_NAMES],
        "workspaces": [
            {"name": AUTH_WORKSPACE, "workspace": AUTH_WORKSPACE},
            {"name": CERTS_WORKSPACE, "workspace": CERTS_WORKSPACE},
        ],
        "taskSpec": {
            "params": [{"name": p, "type": "string"} for p in _PARAM_NAMES],
            "workspaces": [
                {"name": AUTH_WORKSPACE, "readOnly": True},
                {"name": CERTS_WORKSPACE, "readOnly": True, "optional": True},
            ],
            "volumes": [{"name": "work", "emptyDir": {}}],
            "stepTemplate": {
                "image": "$(params.job-image)",
                "volumeMounts": [{"name": "work", "mountPath": WORK}],
            },
            "steps": [
                {
                    "name": "checkout",
                    "workingDir": WORK,
                    "env": [
                        {"name": "REPO_URL", "value": "$(params.repo-url)"},
                        {"name": "REVISION", "value": "$(params.revision)"},
                    ],
                    "script": CHECKOUT,
                },
                {
                    "name": "orchestrate",
                    "workingDir": SOURCE,
                    # buildah mounts overlays and runs each step in a container.
                    "securityContext": {"privileged": True},
                    "env": env,
                    "script": _run(args),
                },
            ],
        },
    }
    return task


def pipeline(spec: ExportSpec) -> dict[str, Any]:
    """The Pipeline as data."""
    names = k8s_task_names(spec, "Tekton task")
    tasks = [
        _task(names[node], spec.build_args(node), [names[p] for p in spec.parents(node)])
        for node in spec.nodes
    ]
    every = [names[n] for n in spec.nodes]
    if spec.gate:
        tasks.append(_task(GATE, spec.gate_args(), every))
    tasks.append(_task(PROMOTE, spec.promote_args(), spec.promote_after(every)))
    return {
        "apiVersion": API_VERSION,
        "kind": "Pipeline",
        "metadata": {"name": k8s_name(f"orchestrate-{spec.name}")},
        "spec": {
            "description": f"Build the images of {spec.pipeline} with orchestrate, one task "
            "per image, then move their release tags (promote).",
            "params": _params(spec),
            "workspaces": [
                {
                    "name": AUTH_WORKSPACE,
                    "description": "containers-auth.json for the registry: a Secret of type "
                    f"kubernetes.io/dockerconfigjson (key {AUTH_KEY}).",
                },
                {
                    "name": CERTS_WORKSPACE,
                    "description": "CA certificates (*.crt) of the registry.",
                    "optional": True,
                },
            ],
            "tasks": tasks,
        },
    }


def render(spec: ExportSpec) -> str:
    """The Pipeline's YAML text."""
    return dump(pipeline(spec), header=generated_by("tekton", spec))
