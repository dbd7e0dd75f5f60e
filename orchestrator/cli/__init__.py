"""The ``orchestrate`` command line: parse flags, build the request, call, map errors.

``orchestrate --parallel 9`` builds pipelines/full-stack.yaml; ``orchestrate build PIPELINE``
builds any other. Every flag comes from the option table (:mod:`orchestrator.model.options`,
made click options in :mod:`.flags`). One module per command group: :mod:`.build` (build,
plan, gate, promote, resume), :mod:`.images` (trust, diff, verify, sbom, wheels export),
:mod:`.outdated` (outdated), :mod:`.provenance` (provenance verify), :mod:`.registry`
(registry prune), :mod:`.runs` (history, show, logs, report, prune), :mod:`.pipelines`
(graph, export, list, validate).

Exit codes: 0 all good, 1 a node failed, 2 bad usage or config, 3 a source, index, mirror
or registry cannot be reached, 4 the host cannot build a platform, 5 a gate check failed
(no release tag moved), 6 ``outdated`` found something outdated, 7 a provenance that does
not verify, 8 a release that would downgrade a package, 70 an internal error (a bug; the
traceback goes to a file under the state directory), 130 interrupted. Only :func:`main`
catches errors.
"""

from orchestrator.cli import (  # noqa: F401  (register commands)
    build,
    images,
    outdated,
    pipelines,
    provenance,
    registry,
    runs,
)
from orchestrator.cli.group import cli
from orchestrator.cli.main import main

__all__ = ["cli", "main"]
