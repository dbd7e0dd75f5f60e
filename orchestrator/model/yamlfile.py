"""Load YAML with ``yaml.safe_load`` and read it through a path-tracking, validating view.

Every value read through :class:`Field` knows the file it came from and its key path
(``images.keystone.profiles[1]``), so every error can name both and say what is allowed.
Unknown keys are errors: a typo must never be silently ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from packaging.requirements import InvalidRequirement, Requirement

from orchestrator.errors import ConfigError

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
# Pipelines, profiles and the catalog are hand-written files of a few kilobytes.
MAX_BYTES = 4 * 1024 * 1024


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The safe loader (libyaml's when present), refusing duplicate mapping keys: a second
    ``keystone:`` must never silently replace the first."""


def _mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    first: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            seen = first.setdefault(key, key_node)
        except TypeError:  # an unhashable key: the reader rejects it with its path
            continue
        if seen is not key_node:
            line = seen.start_mark.line + 1
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first at line {line})", key_node.start_mark
            )
    return loader.construct_mapping(node, deep=True)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def parse_yaml(path: Path) -> Any:
    """Read and parse one YAML file (UTF-8, at most :data:`MAX_BYTES`).

    Raises:
        ConfigError: the file is missing, unreadable, too large, not UTF-8, not valid YAML
            (with line and column), has a duplicate key, or nests too deeply.
    """
    source = str(path)
    try:
        if not path.is_file():
            raise ConfigError(source, "", "file not found" if not path.exists() else "not a file")
        if path.stat().st_size > MAX_BYTES:
            raise ConfigError(source, "", f"file is larger than {MAX_BYTES // 2**20} MiB")
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(source, "", f"cannot read file: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(source, "", f"not UTF-8 text (byte {exc.start})") from None
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(source, "", f"invalid YAML{where}: {problem}") from None
    except RecursionError:
        raise ConfigError(source, "", "invalid YAML: nested too deeply") from None


def load_yaml(path: Path) -> Field:
    """Parse one YAML file into a root :class:`Field`.

    Raises:
        ConfigError: as :func:`parse_yaml`, or the file is empty.
    """
    value = parse_yaml(path)
    if value is None:
        raise ConfigError(str(path), "", "file is empty")
    return Field(source=str(path), path="", value=value)


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    return {dict: "mapping", list: "list", str: "string", bool: "boolean", int: "integer"}.get(
        type(value), type(value).__name__
    )


@dataclass(frozen=True, slots=True)
class Field:
    """One value of a YAML document with the file and key path it was found at."""

    source: str
    path: str
    value: Any

    def error(self, message: str) -> ConfigError:
        """Return a :class:`ConfigError` located at this field."""
        return ConfigError(self.source, self.path or "(top level)", message)

    def _child(self, key: str | int, value: Any) -> Field:
        if isinstance(key, int):
            path = f"{self.path}[{key}]"
        else:
            path = f"{self.path}.{key}" if self.path else key
        return Field(source=self.source, path=path, value=value)

    def mapping(self, allowed: Iterable[str], required: Iterable[str] = ()) -> dict[str, Field]:
        """Read a mapping whose keys must all be in ``allowed`` and include ``required``."""
        if not isinstance(self.value, dict):
            raise self.error(f"expected a mapping, got {_type_name(self.value)}")
        allowed_set = set(allowed)
        out: dict[str, Field] = {}
        for key, value in self.value.items():
            if not isinstance(key, str):
                raise self.error(f"keys must be strings, got {_type_name(key)} {key!r}")
            if key not in allowed_set:
                raise self._child(key, value).error(
                    f"unknown key {key!r} (allowed: {', '.join(sorted(allowed_set))})"
                )
            out[key] = self._child(key, value)
        for key in required:
            if key not in out:
                raise self.error(f"missing required key {key!r}")
        return out

    def entries(self) -> Iterator[tuple[str, Field]]:
        """Iterate over a mapping with free-form (name-like) keys, in file order."""
        if not isinstance(self.value, dict):
            raise self.error(f"expected a mapping, got {_type_name(self.value)}")
        for key, value in self.value.items():
            child = self._child(str(key), value)
            if not isinstance(key, str) or not _NAME.match(key):
                raise child.error(
                    f"invalid name {key!r}: use lower-case letters, digits, '.', '_' and '-'"
                )
            yield key, child

    def pairs(self) -> Iterator[tuple[str, Field]]:
        """Iterate over a mapping with free-form string keys (environment-style names)."""
        if not isinstance(self.value, dict):
            raise self.error(f"expected a mapping, got {_type_name(self.value)}")
        for key, value in self.value.items():
            if not isinstance(key, str) or not key:
                raise self.error(f"keys must be non-empty strings, got {key!r}")
            yield key, self._child(key, value)

    def items(self) -> list[Field]:
        """Read a list, returning one field per element."""
        if not isinstance(self.value, list):
            raise self.error(f"expected a list, got {_type_name(self.value)}")
        return [self._child(i, v) for i, v in enumerate(self.value)]

    def string(self, *, allow_empty: bool = False) -> str:
        """Read a string (numbers are not coerced: write them quoted)."""
        if not isinstance(self.value, str):
            raise self.error(f"expected a string, got {_type_name(self.value)}")
        if not allow_empty and not self.value.strip():
            raise self.error("must not be empty")
        return self.value

    def name(self) -> str:
        """Read a lower-case identifier such as a node, project or profile name."""
        value = self.string()
        if not _NAME.match(value):
            raise self.error(
                f"invalid name {value!r}: use lower-case letters, digits, '.', '_' and '-'"
            )
        return value

    def integer(self, *, minimum: int | None = None, maximum: int | None = None) -> int:
        """Read an integer within optional bounds."""
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            raise self.error(f"expected an integer, got {_type_name(self.value)}")
        if minimum is not None and self.value < minimum:
            raise self.error(f"must be >= {minimum}, got {self.value}")
        if maximum is not None and self.value > maximum:
            raise self.error(f"must be <= {maximum}, got {self.value}")
        return self.value

    def boolean(self) -> bool:
        """Read a boolean (true/false)."""
        if not isinstance(self.value, bool):
            raise self.error(f"expected true or false, got {_type_name(self.value)}")
        return self.value

    def choice(self, choices: Iterable[str]) -> str:
        """Read a string that must be one of ``choices``."""
        options = list(choices)
        value = self.string()
        if value not in options:
            raise self.error(f"{value!r} is not one of: {', '.join(options)}")
        return value

    def strings(self) -> tuple[str, ...]:
        """Read a list of non-empty strings, rejecting duplicates."""
        out: list[str] = []
        for item in self.items():
            value = item.string()
            if value in out:
                raise item.error(f"duplicate entry {value!r}")
            out.append(value)
        return tuple(out)

    def requirements(self) -> tuple[str, ...]:
        """Read a list of PEP 508 requirements (``name[extras]>=version; marker``), each
        parsed by ``packaging``: an option such as ``--index-url=...`` is refused."""
        out = self.strings()
        for item, value in zip(self.items(), out, strict=True):
            try:
                Requirement(value)
            except InvalidRequirement as exc:
                reason = str(exc).splitlines()[0]
                raise item.error(f"{value!r} is not a requirement: {reason}") from None
        return out

    def names(self) -> tuple[str, ...]:
        """Read a list of identifiers, rejecting duplicates."""
        out: list[str] = []
        for item in self.items():
            value = item.name()
            if value in out:
                raise item.error(f"duplicate entry {value!r}")
            out.append(value)
        return tuple(out)

    def path_value(self, base: Path) -> Path:
        """Read a path; relative paths are taken relative to ``base`` (the file's folder)."""
        raw = Path(self.string())
        try:
            return (raw if raw.is_absolute() else (base / raw)).resolve()
        except (RuntimeError, OSError) as exc:  # a symlink loop, a path too long
            raise self.error(f"cannot resolve {raw}: {exc}") from None
