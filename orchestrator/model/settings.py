"""Run settings, resolved and typed: one frozen :class:`Settings` with an attribute per setting
of the option table (:data:`orchestrator.model.options.SETTINGS`) and where each value came from.

Values are taken CLI flag > ``ORCHESTRATE_*`` > pipeline file > built-in default; text from the
environment and fields of the pipeline are parsed here, by the option's kind. Each value records
where it came from, so a refused setting is named with its origin (``setting 'push' (from
env)``). The validators the table names are run by :meth:`Settings.check`, by the commands
whose work depends on them: a build refuses pushing without a registry; ``orchestrate history``
resolves the same settings for the state directory and does not care.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.errors import ConfigError
from orchestrator.model.options import OPTION_BY_NAME, SETTINGS, Option, split_names
from orchestrator.model.validators import Origin
from orchestrator.model.yamlfile import Field

# The Python type a setting of each kind is held as.
KIND_TYPES: Mapping[str, Any] = {
    "int": int,
    "bool": bool,
    "str": str,
    "choice": str,
    "list": tuple[str, ...],
}
# Settings of kind ``str`` held as a path (user-expanded), not as text.
PATHS = frozenset({"state_dir"})


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Resolved run settings, one attribute per setting (named as the option), and the origin
    of each value (``origins[name]``: cli, env, pipeline or default)."""

    parallel: int
    build_slots: int
    retries: int
    timeout: int
    fail_fast: bool
    isolation: str
    runtime: str
    namespace: str
    push: bool
    registry: str
    promote: bool
    gate: bool
    push_parallel: int
    sign_by: str
    provenance_key: str
    lookaside: str
    storage_root: str
    tls_verify: bool
    cert_dir: str
    authfile: str
    state_dir: Path
    http_proxy: str
    https_proxy: str
    no_proxy: str
    pip_index_url: str
    pip_extra_index_urls: tuple[str, ...]
    apt_mirror: str
    apt_pins: str
    ca_bundle: str
    origins: Mapping[str, Origin]

    @property
    def proxies(self) -> dict[str, str]:
        """``http_proxy``, ``https_proxy`` and ``no_proxy`` by name (empty when not set)."""
        return {
            "http_proxy": self.http_proxy,
            "https_proxy": self.https_proxy,
            "no_proxy": self.no_proxy,
        }

    def check(self, *names: str) -> None:
        """Run the validators of the settings ``names``, in that order.

        Raises:
            ConfigError: the first setting refused, naming it (and where its value came from).
        """
        for name in names:
            validator = OPTION_BY_NAME[name].validator
            if validator is not None:
                validator(self)


def typed(option: Option, value: Any) -> Any:
    """A resolved value as :class:`Settings` holds it: lists as tuples, ``state_dir`` as a
    user-expanded path."""
    if option.name in PATHS:
        return Path(value).expanduser()
    match option.kind:
        case "int":
            assert isinstance(value, int) and not isinstance(value, bool), option.name
            return value
        case "bool":
            return bool(value)
        case "list":
            return tuple(value)
        case _:
            assert isinstance(value, str), option.name
            return value


def _from_text(option: Option, text: str, where: Callable[[str], ConfigError]) -> Any:
    match option.kind:
        case "int":
            try:
                value = int(text)
            except ValueError:
                raise where(f"expected an integer, got {text!r}") from None
            if option.minimum is not None and value < option.minimum:
                raise where(f"must be >= {option.minimum}, got {value}")
            return value
        case "bool":
            lowered = text.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off", ""):
                return False
            raise where(f"expected true or false, got {text!r}")
        case "list":
            return split_names([text])
        case "choice":
            if text not in option.choices:
                raise where(f"{text!r} is not one of: {', '.join(option.choices)}")
            return text
        case "str":
            return text


def from_environment(option: Option, environ: Mapping[str, str]) -> Any:
    """The option's value from its ``ORCHESTRATE_*`` variable, or None if it is not set.

    Raises:
        ConfigError: the variable's value is malformed (naming the variable).
    """
    if not option.has_env or option.env not in environ:
        return None

    def where(message: str) -> ConfigError:
        return ConfigError(f"environment variable {option.env}", "", message)

    return _from_text(option, environ[option.env], where)


def field_value(option: Option, node: Field) -> Any:
    """The option's value from a pipeline field (``settings.parallel: 4``).

    Raises:
        ConfigError: the field's value is malformed (naming the file and key).
    """
    match option.kind:
        case "int":
            return node.integer(minimum=option.minimum)
        case "bool":
            return node.boolean()
        case "list":
            return node.strings()
        case "choice":
            return node.choice(option.choices)
        case "str":
            return node.string(allow_empty=True)


def resolve_settings(
    pipeline_values: Mapping[str, Field],
    cli_values: Mapping[str, Any],
    environ: Mapping[str, str],
) -> Settings:
    """Resolve every setting: CLI flag > ``ORCHESTRATE_*`` > pipeline file > built-in default.

    Args:
        pipeline_values: the raw ``settings:``/``network:`` fields of the pipeline.
        cli_values: options given on the command line (``None`` values mean "not given").
        environ: the environment the command was started in.

    Raises:
        ConfigError: a value from the pipeline or the environment is malformed.
    """
    env = environ
    values: dict[str, Any] = {}
    origins: dict[str, Origin] = {}
    for option in SETTINGS:
        cli = cli_values.get(option.name)
        if cli is not None:
            values[option.name], origins[option.name] = cli, "cli"
        elif option.env in env:
            values[option.name] = from_environment(option, env)
            origins[option.name] = "env"
        elif option.name in pipeline_values:
            values[option.name] = field_value(option, pipeline_values[option.name])
            origins[option.name] = "pipeline"
        else:
            values[option.name], origins[option.name] = option.default_in(env), "default"
    typed_values = {name: typed(OPTION_BY_NAME[name], value) for name, value in values.items()}
    return Settings(**typed_values, origins=origins)
