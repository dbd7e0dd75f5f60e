"""Every command-line option, declared once: the table the CLI's flags, the ``ORCHESTRATE_*``
variables, the pipeline's ``settings:``/``network:`` keys and the stored options of a run come
from.

Options of scope ``setting`` are run settings, resolved CLI flag > ``ORCHESTRATE_*`` > pipeline
file > built-in default into a typed :class:`orchestrator.model.settings.Settings`; a setting
may carry a validator, what its resolved value must satisfy (run by the commands that depend on
it). Settings never change what an image contains (network, engine and scheduling knobs), which
is why none of them enters a cache key. The other scopes (selection, build, output) are options
of one command line only.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from orchestrator.model.validators import (
    Validator,
    ca_bundle_is_a_file,
    namespace_is_a_prefix,
    push_needs_a_registry,
    registry_is_a_prefix,
    signing_needs_a_registry,
)

Scope = Literal["setting", "selection", "build", "output"]
Kind = Literal["int", "bool", "str", "list", "choice", "path", "flag", "names"]
HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


@dataclass(frozen=True, kw_only=True)
class Option:
    """One option: its name, scope, type, default, help and where else it may be set.

    ``kind``: ``names`` is a repeatable, comma-separated list of node names; ``flag`` an
    on-only switch; ``bool`` a ``--x/--no-x`` pair. ``default`` may be a function of the
    environment (evaluated when settings are resolved, never at import).
    """

    name: str
    scope: Scope = "setting"
    kind: Kind
    default: Any = None
    help: str
    section: Literal["settings", "network", ""] = ""
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    metavar: str | None = None
    short: str = ""
    # Has an ORCHESTRATE_<NAME> variable (every setting does).
    has_env: bool = True
    # Repeated by ``orchestrate resume`` from the stored run.
    repeated: bool = True
    # What the resolved settings must satisfy for this setting (see Settings.check).
    validator: Validator | None = None

    @property
    def env(self) -> str:
        """The environment variable that sets this option."""
        return "ORCHESTRATE_" + self.name.upper()

    @property
    def flag(self) -> str:
        """The command-line flag, e.g. ``--no-cache-for``."""
        return "--" + self.name.replace("_", "-")

    def default_in(self, environ: Mapping[str, str]) -> Any:
        """The built-in default, given the environment."""
        return self.default(environ) if callable(self.default) else self.default


def split_names(values: Iterable[str]) -> tuple[str, ...]:
    """``("a,b", "c")`` -> ``("a", "b", "c")``: repeated, comma-separated values."""
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())


def given(values: Mapping[str, Any]) -> dict[str, Any]:
    """The options among ``values`` that were given (``None`` and empty lists were not)."""
    return {k: v for k, v in values.items() if v is not None and v != () and v != []}


def host_cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0))


def default_state_dir(environ: Mapping[str, str]) -> str:
    """``$XDG_STATE_HOME/orchestrate``, else ``~/.local/state/orchestrate``."""
    home = environ.get("HOME") or str(Path.home())
    base = environ.get("XDG_STATE_HOME") or str(Path(home) / ".local" / "state")
    return str(Path(base) / "orchestrate")


def _default_ca_bundle(environ: Mapping[str, str]) -> str:
    return HOST_CA_BUNDLE if Path(HOST_CA_BUNDLE).is_file() else ""


SETTINGS: tuple[Option, ...] = (
    Option(
        name="parallel",
        section="settings",
        kind="int",
        default=2,
        minimum=1,
        help="Build at most this many nodes at once.",
    ),
    Option(
        name="build_slots",
        section="settings",
        kind="int",
        default=lambda environ: host_cores() + 1,
        minimum=1,
        help="Run at most this many build steps at once, across nodes (default: the host's "
        "cores + 1). --parallel bounds the nodes in flight, this the work: more steps than "
        "cores at once finish no sooner and cost more CPU.",
    ),
    Option(
        name="retries",
        section="settings",
        kind="int",
        default=0,
        minimum=0,
        help="Retry a failed node this many times.",
    ),
    Option(
        name="timeout",
        section="settings",
        kind="int",
        default=3600,
        minimum=1,
        help="Kill a node that runs longer than this many seconds.",
    ),
    Option(
        name="fail_fast",
        section="settings",
        kind="bool",
        default=False,
        help="Start no new node once one has failed.",
    ),
    Option(
        name="isolation",
        section="settings",
        kind="choice",
        default="oci",
        choices=("oci", "chroot", "rootless"),
        help="buildah run isolation: oci (a sandbox with its own /dev and /dev/shm; falls back "
        "to chroot, saying so, where the runtime cannot start) or chroot (shares the host's "
        "/dev and /dev/shm with every step).",
    ),
    Option(
        name="runtime",
        section="settings",
        kind="str",
        default="runc",
        help="OCI runtime for buildah/podman when isolation is oci.",
    ),
    Option(
        name="namespace",
        section="settings",
        kind="str",
        default="localhost/orchestrate",
        help="Repository prefix of the images built, e.g. localhost/orchestrate/keystone.",
        validator=namespace_is_a_prefix,
    ),
    Option(
        name="push",
        section="settings",
        kind="bool",
        default=False,
        help="Push every built node under its key tag as soon as it is verified, and the "
        "release tags once every node succeeded (all or nothing).",
        validator=push_needs_a_registry,
    ),
    Option(
        name="registry",
        section="settings",
        kind="str",
        default="",
        help="Registry repository prefix, e.g. registry.example.com/openstack: a node whose "
        "key tag is there is reused without building (pulled by digest only when a node of "
        "the run builds on it); pushes go there.",
        validator=registry_is_a_prefix,
    ),
    Option(
        name="promote",
        section="settings",
        kind="bool",
        default=True,
        help="After a pushing run whose every node succeeded, move the release tags in the "
        "registry; --no-promote for a CI job that builds one node of a pipeline (its last "
        "job runs 'orchestrate promote').",
    ),
    Option(
        name="gate",
        section="settings",
        kind="bool",
        default=True,
        help="Once every node succeeded, run the pipeline's gate checks on the images, and "
        "move release tags (local and in the registry) only if they pass; --no-gate skips "
        "them and holds the release tags back (a CI job building one node; 'orchestrate "
        "gate' runs them).",
    ),
    Option(
        name="push_parallel",
        section="settings",
        kind="int",
        default=2,
        minimum=1,
        help="At most this many pushes (and tag copies) at once.",
    ),
    Option(
        name="sign_by",
        section="settings",
        kind="str",
        default="",
        help="Sign every pushed key tag and promoted release tag with this GPG key "
        "(fingerprint, from GNUPGHOME): containers' simple signing, written to the lookaside "
        "folder; see 'orchestrate trust' for the pullers' side.",
        validator=signing_needs_a_registry,
    ),
    Option(
        name="provenance_key",
        section="settings",
        kind="str",
        default="",
        help="PEM private key (Ed25519, ECDSA P-256/P-384/P-521 or RSA) that signs each built "
        "image's SLSA provenance (a DSSE envelope, pushed beside the image as "
        "sha256-<digest>.att and kept in the run's folder); its passphrase, if any, from "
        "ORCHESTRATE_PROVENANCE_KEY_PASSPHRASE. Without it the provenance is written "
        "unsigned, locally only.",
    ),
    Option(
        name="lookaside",
        section="settings",
        kind="str",
        default="",
        help="Folder the signatures are written to, laid out as containers/image reads it "
        "(serve it to pullers); default: sigstore/ in the state directory.",
    ),
    Option(
        name="storage_root",
        section="settings",
        kind="str",
        default="",
        help="Keep buildah's image storage under this folder (graph/ and run/) instead of "
        "the host's: a build host of its own, e.g. an empty one on a CI worker.",
    ),
    Option(
        name="tls_verify",
        section="settings",
        kind="bool",
        default=True,
        help="Verify registry TLS when pulling the base and pushing "
        "(false for a plain-HTTP registry on localhost).",
    ),
    Option(
        name="cert_dir",
        section="settings",
        kind="str",
        default="",
        help="Folder of registry CA/client certificates for pulls and pushes (--cert-dir).",
    ),
    Option(
        name="authfile",
        section="settings",
        kind="str",
        default="",
        help="Registry credentials file (auth.json from 'buildah login'); never logged.",
    ),
    Option(
        name="state_dir",
        section="settings",
        kind="str",
        default=default_state_dir,
        help="Where runs, logs and source caches are kept.",
    ),
    Option(
        name="http_proxy",
        section="network",
        kind="str",
        default="",
        help="HTTP proxy used during builds (never stored in images).",
    ),
    Option(
        name="https_proxy",
        section="network",
        kind="str",
        default="",
        help="HTTPS proxy used during builds (never stored in images).",
    ),
    Option(
        name="no_proxy",
        section="network",
        kind="str",
        default="",
        help="Hosts that bypass the proxy.",
    ),
    Option(
        name="pip_index_url",
        section="network",
        kind="str",
        default="",
        help="pip index for the wheels build (default: PyPI).",
    ),
    Option(
        name="pip_extra_index_urls",
        section="network",
        kind="list",
        default=(),
        help="Extra pip indexes for the wheels build (comma-separated).",
    ),
    Option(
        name="apt_mirror",
        section="network",
        kind="str",
        default="",
        help="Debian/Ubuntu mirror used during builds instead of the image's own.",
    ),
    Option(
        name="apt_pins",
        section="network",
        kind="str",
        default="",
        help="Folder of <node>.txt files (package=version lines): each node's apt installs "
        "exactly those versions or fails naming what the mirror no longer serves (set by "
        "'orchestrate verify' from the images it rebuilds).",
    ),
    Option(
        name="ca_bundle",
        section="network",
        kind="str",
        default=_default_ca_bundle,
        help="CA bundle trusted by pip and apt during builds (default: the host's).",
        validator=ca_bundle_is_a_file,
    ),
)
_COMMAND_OPTIONS: tuple[Option, ...] = (
    Option(
        name="only",
        scope="selection",
        kind="names",
        metavar="NODES",
        has_env=False,
        help="Build only these nodes (comma-separated) and their ancestors.",
    ),
    Option(
        name="skip",
        scope="selection",
        kind="names",
        metavar="NODES",
        has_env=False,
        help="Leave out these nodes (comma-separated) and all their dependents.",
    ),
    Option(
        name="match",
        scope="selection",
        kind="str",
        metavar="REGEX",
        has_env=False,
        help="Build the nodes whose name matches REGEX, with their ancestors.",
    ),
    Option(
        name="profiles_dir",
        scope="build",
        kind="path",
        has_env=False,
        help="Folder of profile files (default: the project's profiles/).",
    ),
    Option(
        name="no_cache",
        scope="build",
        kind="flag",
        has_env=False,
        help="Rebuild every node even if an image with its key exists.",
    ),
    Option(
        name="no_cache_for",
        scope="build",
        kind="names",
        metavar="NODES",
        has_env=False,
        help="Rebuild these nodes even if an image with their key exists.",
    ),
    Option(
        name="dry_run",
        scope="build",
        kind="flag",
        has_env=False,
        repeated=False,
        help="Print the plan (every buildah command) and build nothing.",
    ),
    Option(
        name="summary_json",
        scope="output",
        kind="path",
        has_env=False,
        help="Also write the run summary as JSON to this file (schema: "
        "orchestrator/data/summary.schema.json).",
    ),
    Option(
        name="junit",
        scope="output",
        kind="path",
        has_env=False,
        help="Also write the run as JUnit XML (one testcase per node) to this file.",
    ),
    Option(
        name="log_format",
        scope="output",
        kind="choice",
        default="auto",
        choices=("auto", "console", "json"),
        repeated=False,
        help="Log events for people (auto/console) or as one JSON object per line.",
    ),
    Option(
        name="progress",
        scope="output",
        kind="choice",
        default="auto",
        choices=("auto", "live", "plain"),
        repeated=False,
        help="While building: a live table of the nodes (on a terminal, outside CI: auto) or "
        "plain timestamped lines.",
    ),
    Option(
        name="verbose",
        scope="output",
        short="-v",
        kind="flag",
        has_env=False,
        repeated=False,
        help="Also log every command before it runs.",
    ),
)
OPTIONS: tuple[Option, ...] = (*SETTINGS, *_COMMAND_OPTIONS)
OPTION_BY_NAME = {o.name: o for o in OPTIONS}
