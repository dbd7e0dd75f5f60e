"""The ``orchestrate`` group: output and build flags for every command, and a build of
pipelines/full-stack.yaml when no command is given.
"""

from __future__ import annotations

import os
from typing import Any

import click

from orchestrator.cli.flags import BUILD, OUTPUT, options
from orchestrator.cli.running import run_request
from orchestrator.logsetup import configure_logging
from orchestrator.model.request import Request


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@options(*OUTPUT, *BUILD)
@click.version_option(package_name="orchestrate")
@click.pass_context
def cli(ctx: click.Context, /, **values: Any) -> int | None:
    """Build the OCI images of an OpenStack cloud with buildah, as one DAG.

    Without a command, builds pipelines/full-stack.yaml: base, requirements (wheels) and the
    nine service images, e.g. `orchestrate --parallel 9`.
    """
    request = Request.from_options(values, environ=os.environ)
    configure_logging(request.display.log_format, verbose=request.display.verbose)
    ctx.obj = request.given
    if ctx.invoked_subcommand is None:
        return run_request(request)
    return None
