"""The click side of the option table: each option of :mod:`orchestrator.model.options` as a
flag, the option groups commands take, and the request, state directory and storage a command's
flags come to.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from orchestrator.engine.runner import ShRunner
from orchestrator.engine.storage import Storage
from orchestrator.model.options import OPTIONS, SETTINGS, Option, given
from orchestrator.model.pipeline_file import load_pipeline
from orchestrator.model.request import Request

F = Callable[..., Any]

SELECTION = tuple(o.name for o in OPTIONS if o.scope == "selection")
BUILD = (
    *(o.name for o in SETTINGS),
    *SELECTION,
    "profiles_dir",
    "dry_run",
    "no_cache",
    "no_cache_for",
    "summary_json",
    "junit",
)
OUTPUT = ("log_format", "progress", "verbose")


def local_storage(storage_conf: Path | None = None) -> Storage:
    """Local image storage, through buildah: that of ``storage_conf`` (a run's
    ``storage_root``), else the host's."""
    return Storage(ShRunner(storage_conf))


def _click_option(option: Option) -> Callable[[F], F]:
    help_text = option.help + (f" [env: {option.env}]" if option.has_env else "")
    names = [option.short] if option.short else []
    match option.kind:
        case "bool":
            decls = [f"{option.flag}/--no-{option.flag[2:]}", option.name]
            return click.option(*decls, default=None, help=help_text)
        case "flag":
            return click.option(
                *names, option.flag, option.name, is_flag=True, default=None, help=help_text
            )
        case "int":
            kind: click.ParamType[Any] = click.IntRange(min=option.minimum)
        case "choice":
            kind = click.Choice(option.choices)
        case "path":
            kind = click.Path(path_type=Path)
        case "list" | "names":
            return click.option(
                option.flag, option.name, multiple=True, metavar=option.metavar, help=help_text
            )
        case "str":
            kind = click.STRING
    if option.scope != "setting" and option.default is not None:
        help_text += f"  [default: {option.default}]"
    return click.option(
        *names,
        option.flag,
        option.name,
        type=kind,
        default=None,
        metavar=option.metavar,
        help=help_text,
    )


def options(*names: str) -> Callable[[F], F]:
    """Add these options of the table to a command, in the table's order."""

    def decorate(func: F) -> F:
        for option in reversed([o for o in OPTIONS if o.name in names]):
            func = _click_option(option)(func)
        return func

    return decorate


def given_with_group(ctx: click.Context, values: dict[str, Any]) -> dict[str, Any]:
    """Subcommand options over the group's (``orchestrate --parallel 4 build X`` works too)."""
    return {**(ctx.obj or {}), **given(values)}


def request_of(ctx: click.Context, values: dict[str, Any], pipeline: Path | None) -> Request:
    return Request.from_options(
        given_with_group(ctx, values), environ=os.environ, pipeline=pipeline
    )


def state_dir_of(ctx: click.Context, values: dict[str, Any], pipeline: Path | None = None) -> Path:
    """The state directory from the flags, the environment, PIPELINE's settings if given."""
    request = request_of(ctx, values, pipeline)
    pipeline_settings = load_pipeline(pipeline).settings if pipeline is not None else {}
    return request.settings(pipeline_settings).state_dir


def limit_option(per: str) -> Callable[[F], F]:
    """``--limit``: how many differing items ``diff`` and ``verify`` show."""
    return click.option(
        "--limit",
        type=click.IntRange(min=0),
        default=50,
        show_default=True,
        help=f"Show at most this many differing items {per} (0: all).",
    )


def output_option() -> Callable[[F], F]:
    """``-o/--output``: a file ``sbom`` and ``export`` write atomically instead of stdout."""
    return click.option(
        "-o",
        "--output",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="Write to this file (atomically) instead of stdout.",
    )
