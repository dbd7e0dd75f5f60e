"""GitLab CI: a ``.gitlab-ci.yml`` with one job per node, ``needs`` for the edges, and a
``promote`` job that needs every node's job.

Registry settings are CI/CD variables: ``ORCHESTRATE_REGISTRY`` and ``ORCHESTRATE_TLS_VERIFY``
have defaults here that a project variable of the same name overrides; the credentials are a
File-type variable ``REGISTRY_AUTH_JSON`` (a containers-auth.json) and, optionally, a
File-type ``REGISTRY_CA_CERT`` (the registry's CA). The file never holds a credential.

The jobs run in the job image under the Docker or Kubernetes executor (which must allow
privileged containers for buildah), and just as well under a shell executor on a host with
buildah: the script runs ``orchestrate`` from PATH, else the checkout's ``.venv``, else
``python3 -m orchestrator``, and keeps each job's buildah storage and state under
``$PWD/.orchestrate/<job>`` (``$PWD`` rather than ``$CI_PROJECT_DIR``: gitlab-ci-local's
forced shell executor runs in the working copy but sets ``$CI_PROJECT_DIR`` to
``/builds/...`` for a job with an ``image``).
"""

from __future__ import annotations

import shlex
from typing import Any

from orchestrator.exporting.spec import (
    GATE,
    LAUNCHER,
    PROMOTE,
    ExportSpec,
    dump,
    generated_by,
)
from orchestrator.exporting.spec import unique_names as _unique

TEMPLATE = ".orchestrate"
AUTH_VARIABLE = "REGISTRY_AUTH_JSON"
CA_VARIABLE = "REGISTRY_CA_CERT"
# The GitLab default job timeout is an hour; the wheels image alone may take longer.
TIMEOUT = "3h"


def job_names(spec: ExportSpec) -> dict[str, str]:
    """Node -> job name (``build-<node>``)."""
    names = {node: f"build-{node}" for node in spec.nodes}
    return _unique(names, reserved=(PROMOTE, GATE), what="GitLab job", source=spec.pipeline)


def _command(spec: ExportSpec, args: tuple[str, ...]) -> str:
    return "orchestrate_cli " + " ".join(shlex.quote(a) for a in args)


def _job_dirs(folder: str) -> str:
    base = f"$PWD/.orchestrate/{folder}"
    return f'export ORCHESTRATE_STORAGE_ROOT="{base}/storage" ORCHESTRATE_STATE_DIR="{base}/state"'


def pipeline(spec: ExportSpec) -> dict[str, Any]:
    """The ``.gitlab-ci.yml`` as data."""
    names = job_names(spec)
    variables = {"ORCHESTRATE_PUSH": "1", "ORCHESTRATE_TLS_VERIFY": str(spec.tls_verify).lower()}
    if spec.registry:
        variables = {"ORCHESTRATE_REGISTRY": spec.registry, **variables}
    data: dict[str, Any] = {
        "stages": ["build", *([GATE] if spec.gate else []), "promote"],
        "variables": variables,
        "default": {"image": spec.job_image},
        TEMPLATE: {
            "timeout": TIMEOUT,
            "before_script": [
                LAUNCHER,
                f'if [ -n "${{{AUTH_VARIABLE}:-}}" ]; then '
                f'export ORCHESTRATE_AUTHFILE="${AUTH_VARIABLE}"; fi',
                f'if [ -n "${{{CA_VARIABLE}:-}}" ]; then '
                'export ORCHESTRATE_CERT_DIR="$PWD/.orchestrate/certs/$CI_JOB_ID"; '
                'mkdir -p "$ORCHESTRATE_CERT_DIR"; '
                f'cp "${CA_VARIABLE}" "$ORCHESTRATE_CERT_DIR/ca.crt"; fi',
            ],
        },
    }
    for node in spec.nodes:
        data[names[node]] = {
            "extends": TEMPLATE,
            "stage": "build",
            "needs": [names[p] for p in spec.parents(node)],
            "script": [_job_dirs(names[node]), _command(spec, spec.build_args(node))],
        }
    if spec.gate:
        data[GATE] = {
            "extends": TEMPLATE,
            "stage": GATE,
            "needs": [names[n] for n in spec.nodes],
            "script": [_job_dirs(GATE), _command(spec, spec.gate_args())],
        }
    data[PROMOTE] = {
        "extends": TEMPLATE,
        "stage": "promote",
        "needs": spec.promote_after([names[n] for n in spec.nodes]),
        "script": [_job_dirs(PROMOTE), _command(spec, spec.promote_args())],
    }
    return data


def render(spec: ExportSpec) -> str:
    """The ``.gitlab-ci.yml`` text."""
    return dump(pipeline(spec), header=generated_by("gitlab", spec))
