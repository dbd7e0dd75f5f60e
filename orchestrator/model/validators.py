"""What run settings must satisfy, one validator per setting that has a rule: the option table
(:mod:`orchestrator.model.options`) names each setting's validator, and
:meth:`orchestrator.model.settings.Settings.check` runs them.

They are checks of the resolved values alone (a registry is an image name prefix, pushing needs
a registry, ...); checks that need the nodes of a run, a writable state directory, the network
or a tool stay with the commands that know those.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal, Protocol

from orchestrator.errors import ConfigError
from orchestrator.model.references import prefix_problem

Origin = Literal["cli", "env", "pipeline", "default"]


class Resolved(Protocol):
    """What the validators read of the resolved settings, a
    :class:`orchestrator.model.settings.Settings` (named here by the attributes read: that
    module imports the option table, which imports this one)."""

    @property
    def origins(self) -> Mapping[str, Origin]: ...
    @property
    def namespace(self) -> str: ...
    @property
    def push(self) -> bool: ...
    @property
    def registry(self) -> str: ...
    @property
    def sign_by(self) -> str: ...
    @property
    def ca_bundle(self) -> str: ...


# Raises ConfigError when the resolved settings break what the option requires.
Validator = Callable[[Resolved], None]


def invalid(settings: Resolved, name: str, message: str) -> ConfigError:
    """The error of a setting whose value is refused, naming where the value came from."""
    return ConfigError(f"setting '{name}' (from {settings.origins[name]})", "", message)


def namespace_is_a_prefix(settings: Resolved) -> None:
    """The namespace is a registry or namespace prefix of image names."""
    problem = prefix_problem(settings.namespace)
    if problem:
        raise invalid(settings, "namespace", problem)


def registry_is_a_prefix(settings: Resolved) -> None:
    """The registry, when set, is a registry or namespace prefix of image names."""
    problem = prefix_problem(settings.registry) if settings.registry else None
    if problem:
        raise invalid(settings, "registry", problem)


def push_needs_a_registry(settings: Resolved) -> None:
    """Pushing needs a registry to push to."""
    if settings.push and not settings.registry:
        raise invalid(
            settings,
            "push",
            "pushing is on but no registry is set: pass --registry, set ORCHESTRATE_REGISTRY "
            "or settings.registry, or --no-push",
        )


def signing_needs_a_registry(settings: Resolved) -> None:
    """Signing needs a registry: what is signed is a pushed image."""
    if settings.sign_by and not settings.registry:
        raise ConfigError(
            "setting 'sign_by'", "", "signing is on but no registry is set: signatures are of "
            "pushed images; pass --registry or set ORCHESTRATE_REGISTRY"
        )  # fmt: skip


def ca_bundle_is_a_file(settings: Resolved) -> None:
    """The CA bundle, when set, is a file (read on the host and mounted into steps)."""
    ca = settings.ca_bundle
    if ca and not Path(ca).is_file():
        raise invalid(
            settings, "ca_bundle", f"{ca} is not a file (a PEM bundle of CA certificates)"
        )
