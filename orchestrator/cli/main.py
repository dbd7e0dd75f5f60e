"""The entry point: run the CLI, and map every error to its exit code and one line."""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

import click

from orchestrator.cli.group import cli
from orchestrator.errors import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    OrchestrateError,
)
from orchestrator.files import write_atomically
from orchestrator.model.options import default_state_dir
from orchestrator.redaction import redact


def main() -> None:
    """Entry point: run the CLI and map every error to its exit code and a one-line message."""
    try:
        rv = cli.main(prog_name="orchestrate", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("orchestrate: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.UsageError as exc:  # one line, as every other bad input; --help has the rest
        command = exc.ctx.command_path.removeprefix("orchestrate").strip() if exc.ctx else ""
        prefix = f"orchestrate {command}" if command else "orchestrate"
        click.echo(f"{prefix}: error: {exc.format_message()}", err=True)
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except OrchestrateError as exc:
        click.echo(f"orchestrate: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("orchestrate: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:  # a bug: never reported as a failed build or bad input
        where = _crash_report(exc)
        click.echo(
            f"orchestrate: internal error (a bug in orchestrate): {type(exc).__name__}: "
            f"{redact(str(exc))[:200]}; traceback in {where}; please report it",
            err=True,
        )
        sys.exit(EXIT_INTERNAL)
    sys.exit(rv if isinstance(rv, int) else 0)


def _crash_report(exc: BaseException) -> Path:
    """Write the traceback (credentials masked) under the state directory, else /tmp."""
    text = redact("".join(traceback.format_exception(exc)))
    name = f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    state_dir = os.environ.get("ORCHESTRATE_STATE_DIR") or default_state_dir(os.environ)
    for folder in (Path(state_dir).expanduser(), Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            write_atomically(folder / name, text, mode=0o600)
            return folder / name
        except OSError:
            continue
    return Path("(nowhere: no writable folder)")
