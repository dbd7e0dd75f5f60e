"""What the user asked for, as one frozen object: the request a command line makes.

The CLI parses flags (generated from :data:`orchestrator.model.options.OPTIONS`) into a
:class:`Request` and hands it on; nothing downstream sees click or re-parses a flag. A run
stores its request (credentials withheld) and ``orchestrate resume`` restores it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.errors import ConfigError
from orchestrator.model.options import OPTION_BY_NAME, SETTINGS, Option, split_names
from orchestrator.model.options import given as given_options
from orchestrator.model.settings import Settings, from_environment, resolve_settings
from orchestrator.model.yamlfile import Field
from orchestrator.redaction import has_credentials

# Only the ORCHESTRATE_* variables and the ones built-in defaults depend on are kept.
_ENVIRONMENT = ("HOME", "XDG_STATE_HOME")


@dataclass(frozen=True, kw_only=True)
class Selection:
    """Which nodes to build: ``only``/``match`` pull in ancestors, ``skip`` drops descendants."""

    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    match: str | None = None


@dataclass(frozen=True, kw_only=True)
class Outputs:
    """Where a run's results go besides the terminal and the run folder."""

    summary_json: Path | None = None
    junit: Path | None = None


@dataclass(frozen=True, kw_only=True)
class Display:
    """How a run shows itself: log format, live or plain progress, verbosity."""

    log_format: str = "auto"
    progress: str = "auto"
    verbose: bool = False


@dataclass(frozen=True, kw_only=True)
class Request:
    """One command's request: what to build, how, and where results go.

    ``given`` keeps the options as given (``None``/empty left out), which is what a run
    stores and a resume restores; the typed fields are derived from it once.
    """

    pipeline: Path | None = None
    selection: Selection = field(default_factory=Selection)
    profiles_dir: Path | None = None
    no_cache: bool = False
    no_cache_for: frozenset[str] = frozenset()
    dry_run: bool = False
    outputs: Outputs = field(default_factory=Outputs)
    display: Display = field(default_factory=Display)
    given: Mapping[str, Any] = field(default_factory=dict)
    environ: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_options(
        cls,
        values: Mapping[str, Any],
        *,
        environ: Mapping[str, str],
        pipeline: Path | None = None,
    ) -> Request:
        """Build a request from option values by name (``None`` or empty: not given)."""
        given = given_options(values)
        for name in given:
            if name not in OPTION_BY_NAME:
                raise KeyError(f"no option {name!r}")
        env = {
            k: v for k, v in environ.items() if k.startswith("ORCHESTRATE_") or k in _ENVIRONMENT
        }

        def text(name: str) -> str:
            value = given.get(name)
            return str(value) if value is not None else ""

        def path(name: str) -> Path | None:
            value = given.get(name)
            return Path(value) if value is not None else None

        for name in ("only", "skip", "no_cache_for"):
            if name in given and not split_names(given[name]):
                raise ConfigError(f"--{name.replace('_', '-')}", "", "names no node")
        return cls(
            pipeline=pipeline,
            selection=Selection(
                only=split_names(given.get("only", ())),
                skip=split_names(given.get("skip", ())),
                match=given.get("match"),
            ),
            profiles_dir=path("profiles_dir"),
            no_cache=bool(given.get("no_cache")),
            no_cache_for=frozenset(split_names(given.get("no_cache_for", ()))),
            dry_run=bool(given.get("dry_run")),
            outputs=Outputs(summary_json=path("summary_json"), junit=path("junit")),
            display=Display(
                log_format=text("log_format") or _from_env("log_format", env) or "auto",
                progress=text("progress") or _from_env("progress", env) or "auto",
                verbose=bool(given.get("verbose")),
            ),
            given=given,
            environ=env,
        )

    def settings(self, pipeline_values: Mapping[str, Field] | None = None) -> Settings:
        """The run settings: given here > environment > ``pipeline_values`` > defaults.

        Raises:
            ConfigError: a value from the pipeline or the environment is malformed.
        """
        cli = {o.name: _cli_setting(o, self.given.get(o.name)) for o in SETTINGS}
        return resolve_settings(pipeline_values or {}, cli, self.environ)

    def with_overrides(self, values: Mapping[str, Any]) -> Request:
        """This request with ``values`` (given now) taking precedence."""
        merged = {**self.given, **given_options(values)}
        return Request.from_options(merged, environ=self.environ, pipeline=self.pipeline)

    def without(self, *names: str) -> Request:
        """This request with the options ``names`` not given."""
        kept = {k: v for k, v in self.given.items() if k not in names}
        return Request.from_options(kept, environ=self.environ, pipeline=self.pipeline)

    def stored(self) -> tuple[dict[str, Any], tuple[str, ...]]:
        """The options to store with the run (JSON-ready) and the names of those withheld
        because their value carries credentials."""
        stored: dict[str, Any] = {}
        withheld: list[str] = []
        for name, value in sorted(self.given.items()):
            if not OPTION_BY_NAME[name].repeated:
                continue
            if isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple | list | frozenset):
                value = [str(v) for v in value]
            texts = value if isinstance(value, list) else [value]
            if any(isinstance(t, str) and has_credentials(t) for t in texts):
                withheld.append(name)
                continue
            stored[name] = value
        return stored, tuple(withheld)

    @classmethod
    def restored(cls, stored: Mapping[str, Any], *, environ: Mapping[str, str]) -> Request:
        """The request a run stored (see :meth:`stored`)."""
        values: dict[str, Any] = {}
        for name, value in stored.items():
            if name == "pipeline" or name not in OPTION_BY_NAME:
                continue
            values[name] = tuple(value) if isinstance(value, list) else value
        pipeline = Path(stored["pipeline"]) if "pipeline" in stored else None
        return cls.from_options(values, environ=environ, pipeline=pipeline)


def _cli_setting(option: Option, value: Any) -> Any:
    """A setting as given on the command line: lists split on commas, as in the environment."""
    if value is not None and option.kind == "list":
        return split_names(value)
    return value


def _from_env(name: str, environ: Mapping[str, str]) -> str | None:
    value = from_environment(OPTION_BY_NAME[name], environ)
    return str(value) if value is not None else None
