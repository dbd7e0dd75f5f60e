"""Zuul: one configuration file (load it as ``.zuul.yaml`` or ``zuul.d/orchestrate.yaml``)
with the registry secret, a buildset registry job, the node jobs, the promote job and the
project stanza, laid out as LOCI's ``.zuul.d`` is.

- ``check`` and ``gate`` run ``orchestrate-<p>-buildset-registry`` (a child of
  ``opendev-buildset-registry``, as LOCI's) and one job per node, ``orchestrate-<p>-<node>``,
  depending on the registry job and on its parents' jobs. No secret: each pushes to the
  buildset registry, with the credentials and CA the registry job returns. Each provides
  ``orchestrate-<p>-<node>-container-image`` and requires its parents', so a change that
  depends on another gets the images built for it.
- ``post`` runs ``orchestrate-<p>-<node>-upload`` (the node's job with the secret: jobs with
  secrets only run in post-review pipelines), with the same dependencies, pushing to the
  registry, then (for a pipeline with gate checks) ``orchestrate-<p>-gate``, which depends on
  every upload job and runs the checks on the pushed images, then ``orchestrate-<p>-promote``,
  which depends on the gate job (else on every upload job).

Every job runs :data:`PLAYBOOK_PATH`, a playbook of this repository (its text is
:func:`render_playbook`): it sets the host up with ``./setup-host`` where the checkout has one,
writes the authfile from the secret (``auth_json``: a containers-auth.json, encrypted with
``zuul-client encrypt``; optional ``ca_crt``), runs orchestrate as root with every setting in
``ORCHESTRATE_*`` variables, and returns the node's image to Zuul as an artifact.
"""

from __future__ import annotations

from typing import Any

from orchestrator.exporting.spec import (
    GATE,
    LAUNCHER,
    PROMOTE,
    ExportSpec,
    dump,
    generated_by,
    k8s_name,
    unique_names,
)

PLAYBOOK_PATH = "playbooks/zuul/orchestrate.yaml"
# LOCI's buildset registry job is a child of OpenDev's; another site names its own here.
REGISTRY_PARENT = "opendev-buildset-registry"
SECRET_VARIABLE = "orchestrate_registry_credentials"
SECRET_PLACEHOLDER = (
    "REPLACE with the output of: zuul-client encrypt --tenant TENANT --project PROJECT "
    "--secret-name SECRET --field-name auth_json --infile auth.json"
)
TIMEOUT = 10800


def prefix(spec: ExportSpec) -> str:
    """The start of every job and secret name: ``orchestrate-<pipeline name>``."""
    return f"orchestrate-{k8s_name(spec.name, 200)}"


def job_names(spec: ExportSpec) -> dict[str, str]:
    """Node -> name of the node's check/gate job (``orchestrate-<p>-<node>``)."""
    start = prefix(spec)
    names = {node: f"{start}-{node}" for node in spec.nodes}
    uploads = {f"{node} (upload)": f"{name}-upload" for node, name in names.items()}
    reserved = (f"{start}-{PROMOTE}", f"{start}-{GATE}", f"{start}-buildset-registry", start)
    unique_names({**names, **uploads}, reserved=reserved, what="Zuul job", source=spec.pipeline)
    return names


def image_artifact(spec: ExportSpec, node: str) -> str:
    """What the node's job provides (and its children's jobs require)."""
    return f"{prefix(spec)}-{node}-container-image"


def config(spec: ExportSpec) -> list[dict[str, Any]]:
    """The configuration objects, in the order Zuul reads them."""
    start = prefix(spec)
    names = job_names(spec)
    secret = f"{start}-registry"
    registry = f"{start}-buildset-registry"
    promote = f"{start}-{PROMOTE}"
    secrets = [{"name": SECRET_VARIABLE, "secret": secret}]
    items: list[dict[str, Any]] = [
        {"secret": {"name": secret, "data": {"auth_json": SECRET_PLACEHOLDER}}},
        {
            "job": {
                "name": registry,
                "parent": REGISTRY_PARENT,
                "description": f"Runs the buildset registry the jobs of {spec.pipeline} "
                "push to and pull from.",
                "requires": [image_artifact(spec, n) for n in spec.nodes],
            }
        },
        {
            "job": {
                "name": start,
                "abstract": True,
                "description": f"Runs orchestrate on one node of {spec.pipeline}.",
                "run": PLAYBOOK_PATH,
                "roles": [{"zuul": "zuul/zuul-jobs"}],
                "timeout": TIMEOUT,
                "vars": {
                    "orchestrate_registry": spec.registry,
                    "orchestrate_tls_verify": spec.tls_verify,
                },
            }
        },
    ]
    for node in spec.nodes:
        parents = spec.parents(node)
        job: dict[str, Any] = {
            "name": names[node],
            "parent": start,
            "description": f"Builds {node} and pushes it to the buildset registry.",
            "dependencies": [registry, *(names[p] for p in parents)],
            "provides": [image_artifact(spec, node)],
        }
        if parents:
            job["requires"] = [image_artifact(spec, p) for p in parents]
        job["vars"] = {"orchestrate_node": node, "orchestrate_args": list(spec.build_args(node))}
        items.append({"job": job})
    for node in spec.nodes:
        items.append(
            {
                "job": {
                    "name": f"{names[node]}-upload",
                    "parent": names[node],
                    "description": f"Builds {node} and pushes it to the registry.",
                    "dependencies": [f"{names[p]}-upload" for p in spec.parents(node)],
                    "secrets": secrets,
                }
            }
        )
    uploads = [f"{names[n]}-upload" for n in spec.nodes]
    gate = f"{start}-{GATE}"
    if spec.gate:
        items.append(
            {
                "job": {
                    "name": gate,
                    "parent": start,
                    "description": "Runs the pipeline's gate checks on the images in the "
                    "registry; the release tags move only if they pass.",
                    "dependencies": uploads,
                    "secrets": secrets,
                    "vars": {"orchestrate_args": list(spec.gate_args())},
                }
            }
        )
    items.append(
        {
            "job": {
                "name": promote,
                "parent": start,
                "description": "Moves the release tags once every image is in the registry"
                + (" and the gate passed." if spec.gate else "."),
                "dependencies": [gate] if spec.gate else uploads,
                "secrets": secrets,
                "vars": {"orchestrate_args": list(spec.promote_args())},
            }
        }
    )
    builds = [registry, *(names[n] for n in spec.nodes)]
    items.append(
        {
            "project": {
                "check": {"jobs": builds},
                "gate": {"jobs": list(builds)},
                "post": {"jobs": [*uploads, *([gate] if spec.gate else []), promote]},
            }
        }
    )
    return items


def render(spec: ExportSpec) -> str:
    """The configuration file's text."""
    return dump(config(spec), header=generated_by("zuul", spec))


_HOME = "{{ ansible_user_dir }}/orchestrate/{{ zuul.job }}"
# The buildset registry, by the name use-buildset-registry gives it (a Jinja expression).
_BUILDSET = "('zuul-jobs.buildset-registry:' ~ buildset_registry.port)"
_BUILDSET_AUTH = (
    "{{ {'auths': {" + _BUILDSET + ": {'auth': (buildset_registry.username ~ ':' ~ "
    "buildset_registry.password) | b64encode}}} | to_json }}"
)
# The key tag of the node's image, from the run's summary.json (image: repository:tag).
_TAG = (
    "{{ ((orchestrate_summary.content | b64decode | from_json).nodes "
    "| selectattr('node', 'equalto', orchestrate_node) | first).image.split(':') | last }}"
)


def playbook() -> list[dict[str, Any]]:
    """The playbook every job runs (:data:`PLAYBOOK_PATH`)."""
    has_secret = f"{SECRET_VARIABLE} is defined"
    return [
        {
            "hosts": "all[0]",
            "vars": {
                "orchestrate_home": _HOME,
                "orchestrate_src": "{{ ansible_user_dir }}/{{ zuul.project.src_dir }}",
                "orchestrate_push_to": (
                    f"{{{{ orchestrate_registry if {has_secret} "
                    f"else {_BUILDSET} ~ '/orchestrate' }}}}"
                ),
            },
            "tasks": [
                {
                    "name": "Refuse to run without a registry to push to",
                    "fail": {
                        "msg": "no secret and no buildset registry: add the job's secret "
                        "or a dependency on the buildset registry job"
                    },
                    "when": f"not ({has_secret} or buildset_registry is defined)",
                },
                {
                    "name": "Pull through the buildset registry",
                    "include_role": {"name": "use-buildset-registry"},
                    "when": "buildset_registry is defined",
                },
                {
                    "name": "Make the job's folders",
                    "file": {
                        "path": "{{ orchestrate_home }}/certs",
                        "state": "directory",
                        "mode": "0700",
                    },
                },
                {
                    "name": "Write the registry's authfile from the secret",
                    "no_log": True,
                    "copy": {
                        "content": f"{{{{ {SECRET_VARIABLE}.auth_json }}}}",
                        "dest": "{{ orchestrate_home }}/auth.json",
                        "mode": "0600",
                    },
                    "when": has_secret,
                },
                {
                    "name": "Write the registry's CA certificate from the secret",
                    "copy": {
                        "content": f"{{{{ {SECRET_VARIABLE}.ca_crt }}}}",
                        "dest": "{{ orchestrate_home }}/certs/registry.crt",
                        "mode": "0644",
                    },
                    "when": f"{has_secret} and {SECRET_VARIABLE}.ca_crt is defined",
                },
                {
                    "name": "Write the buildset registry's authfile",
                    "no_log": True,
                    "copy": {
                        "content": _BUILDSET_AUTH,
                        "dest": "{{ orchestrate_home }}/auth.json",
                        "mode": "0600",
                    },
                    "when": f"not {has_secret}",
                },
                {
                    "name": "Write the buildset registry's CA certificate",
                    "copy": {
                        "content": "{{ buildset_registry.cert }}",
                        "dest": "{{ orchestrate_home }}/certs/buildset-registry.crt",
                        "mode": "0644",
                    },
                    "when": f"not {has_secret}",
                },
                {
                    "name": "Look for the checkout's setup-host",
                    "stat": {"path": "{{ orchestrate_src }}/setup-host"},
                    "register": "orchestrate_setup_host",
                },
                {
                    "name": "Install buildah and orchestrate (./setup-host)",
                    "command": "./setup-host",
                    "args": {"chdir": "{{ orchestrate_src }}"},
                    "when": "orchestrate_setup_host.stat.exists",
                },
                {
                    "name": "Run orchestrate",
                    "become": True,
                    "shell": f"{LAUNCHER}\n"
                    "orchestrate_cli {{ orchestrate_args | map('quote') | join(' ') }}\n",
                    "args": {"chdir": "{{ orchestrate_src }}", "executable": "/bin/bash"},
                    "environment": {
                        "ORCHESTRATE_REGISTRY": "{{ orchestrate_push_to }}",
                        "ORCHESTRATE_TLS_VERIFY": "{{ orchestrate_tls_verify | string }}",
                        "ORCHESTRATE_PUSH": "1",
                        "ORCHESTRATE_AUTHFILE": "{{ orchestrate_home }}/auth.json",
                        "ORCHESTRATE_CERT_DIR": "{{ orchestrate_home }}/certs",
                        "ORCHESTRATE_STORAGE_ROOT": "{{ orchestrate_home }}/storage",
                        "ORCHESTRATE_STATE_DIR": "{{ orchestrate_home }}/state",
                    },
                },
                {
                    "name": "Find the run's summary",
                    "become": True,
                    "find": {
                        "paths": "{{ orchestrate_home }}/state/runs",
                        "patterns": "summary.json",
                        "recurse": True,
                    },
                    "register": "orchestrate_summaries",
                    "when": "orchestrate_node is defined",
                },
                {
                    "name": "Read the run's summary",
                    "become": True,
                    "slurp": {"src": "{{ orchestrate_summaries.files[0].path }}"},
                    "register": "orchestrate_summary",
                    "when": "orchestrate_node is defined",
                },
                {
                    "name": "Return the node's image to Zuul",
                    "zuul_return": {
                        "data": {
                            "zuul": {
                                "artifacts": [
                                    {
                                        "name": "{{ orchestrate_node }}",
                                        "url": "docker://{{ orchestrate_push_to }}/"
                                        "{{ orchestrate_node }}:{{ orchestrate_tag }}",
                                        "metadata": {
                                            "type": "container_image",
                                            "repository": "{{ orchestrate_push_to }}/"
                                            "{{ orchestrate_node }}",
                                            "tag": "{{ orchestrate_tag }}",
                                        },
                                    }
                                ]
                            }
                        }
                    },
                    "vars": {"orchestrate_tag": _TAG},
                    "when": "orchestrate_node is defined",
                },
            ],
        }
    ]


def render_playbook() -> str:
    """The text of :data:`PLAYBOOK_PATH`."""
    return dump(
        playbook(),
        header="Written by orchestrate (orchestrator/exporting/zuul.py): every job of\n"
        "`orchestrate export --format zuul` runs it. Do not edit: tests check it is current.",
    )
