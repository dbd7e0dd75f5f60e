"""Every fatal error of orchestrate, each with the exit code it maps to.

Only the CLI entry point catches these; it prints the one-line message and exits with
``exit_code``. Messages name the file, field or node at fault and say what to do next.
"""

from __future__ import annotations

from orchestrator.redaction import redact

EXIT_OK = 0
EXIT_NODE_FAILED = 1
EXIT_USAGE = 2
# A source, index or mirror could not be reached (or the download not stored): the input
# is fine and the same command may work later. The run is recorded as failed.
EXIT_FETCH = 3
# A platform the pipeline asks for cannot run on this host (no qemu binfmt handler): nothing
# was started; set the host up for emulation (setup-host) or build elsewhere.
EXIT_PLATFORM = 4
# Every node succeeded but a check of the pipeline's gate failed: no release tag moved.
EXIT_GATE_FAILED = 5
# `orchestrate outdated` found a newer package or a moved pin: not an error, an answer.
EXIT_OUTDATED = 6
# `orchestrate provenance verify` found the signature, the subject or a material wrong.
EXIT_PROVENANCE = 7
# A release would downgrade a package or distribution the published images hold: no tag
# moved (`orchestrate diff --against`, `promote`), unless the pipeline allows it.
EXIT_DOWNGRADE = 8
# A bug in orchestrate (an exception it did not expect): never reported as a failed node
# (1) or bad input (2). 70 is EX_SOFTWARE in sysexits.h.
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130


# A failed step's tail leads with lines that name a likely cause found elsewhere: a full disk
# on the host, or a line far above the last ones. Reports always show these.
CAUSE_PREFIXES = ("(host) ", "(earlier) ")


class OrchestrateError(Exception):
    """Base class: a fatal error with a one-line message and an exit code.

    The message is shown with credentials masked, wherever it goes (terminal, history,
    summary, JUnit): an index or proxy URL with a password may be part of it.
    """

    exit_code = EXIT_USAGE

    def __str__(self) -> str:
        return redact(super().__str__())


class ConfigError(OrchestrateError):
    """A pipeline, profile or catalog file is malformed or inconsistent."""

    def __init__(self, source: str, path: str, message: str) -> None:
        self.source = source
        self.path = path
        self.message = message
        where = f"{source}: {path}" if path else source
        super().__init__(f"{where}: {message}")

    def at(self, path: str) -> ConfigError:
        """The same error at another key path of the same file."""
        return ConfigError(self.source, path, self.message)


class GraphError(OrchestrateError):
    """The image graph is not a DAG, names an unknown parent, or a selection matched nothing."""


class SourceError(OrchestrateError):
    """A source could not be resolved or fetched, or its checksum did not match."""


class FetchError(SourceError):
    """A source could not be downloaded after its retries: the network, the index or the
    local disk, not the pipeline."""

    exit_code = EXIT_FETCH


class StateError(OrchestrateError):
    """The history database in the state directory can't be opened or is from a newer
    orchestrate."""


class HostError(OrchestrateError):
    """The host cannot build at all (no space where buildah works): fix it, then run again."""


class PlatformError(OrchestrateError):
    """A requested platform is neither the host's nor emulated here."""

    exit_code = EXIT_PLATFORM


class ToolMissingError(OrchestrateError):
    """An external tool (buildah, mmdebstrap, git) is not installed."""

    def __init__(self, tool: str, hint: str) -> None:
        self.tool = tool
        super().__init__(f"{tool} not found on PATH: {hint}")


class StepFailedError(OrchestrateError):
    """A build step exited non-zero; carries the step name, the log tail and the log path."""

    exit_code = EXIT_NODE_FAILED

    def __init__(self, step: str, returncode: int, tail: str, log_path: str) -> None:
        self.step = step
        self.returncode = returncode
        self.tail = tail
        self.log_path = log_path
        if log_path:
            super().__init__(f"step {step!r} exited {returncode} (log: {log_path})")
        else:  # a query: no log to point at, so its likeliest cause is the message
            lines = tail.strip().splitlines()
            causes = [line for line in lines if line.startswith(CAUSE_PREFIXES)]
            said = (causes or lines or ["no output"])[0 if causes else -1]
            super().__init__(f"{step} exited {returncode}: {said}")

    @property
    def last_line(self) -> str:
        """The last line the command printed (its likeliest reason), or the message."""
        lines = self.tail.strip().splitlines()
        return lines[-1] if lines else str(self)


class LogWriteError(OrchestrateError):
    """A node's log could not be written (a full disk): the node fails, saying so."""

    exit_code = EXIT_NODE_FAILED


class StepTimeoutError(OrchestrateError):
    """A node ran past its timeout and its running command was killed."""

    exit_code = EXIT_NODE_FAILED


class ParentFailedError(OrchestrateError):
    """A parent that a later step of the node needs did not succeed."""

    exit_code = EXIT_NODE_FAILED

    def __init__(self, parent: str, status: str) -> None:
        self.parent = parent
        self.status = status
        super().__init__(f"parent {parent} {status}")


class CancelledError(OrchestrateError):
    """The run was cancelled (Ctrl-C or SIGTERM) while a node was running."""

    exit_code = EXIT_INTERRUPTED
