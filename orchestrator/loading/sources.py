"""Resolve and fetch project sources on the host, before any build starts.

- ``pypi``: the release's sdist, found through the simple index JSON API (PEP 691), checked
  against the sha256 the index publishes and against the pipeline's pin when there is one;
- ``git``: cloned into a cache, the ref resolved to a commit, the tree exported without .git;
- ``url``: downloaded and checked against the pipeline's sha256;
- ``local``: a folder (identified by a hash of its tree) or an sdist file.

Fetched files are cached under ``<state>/sources`` by their content hash, so a second run with
pinned sources needs no network at all.
"""

from __future__ import annotations

import email.parser
import hashlib
import json
import os
import re
import shutil
import ssl
import stat
import tarfile
import tempfile
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import structlog
from packaging.utils import InvalidSdistFilename, canonicalize_name, parse_sdist_filename
from packaging.version import InvalidVersion, Version

from orchestrator.engine import runner as engine
from orchestrator.errors import FetchError, SourceError, StepFailedError
from orchestrator.files import sha256_file, write_atomically
from orchestrator.model.inputs import TREE_SKIP, FetchedSource
from orchestrator.model.pipeline import Source

DEFAULT_INDEX = "https://pypi.org/simple"
T = TypeVar("T")
_SKIP_IN_TREE = set(TREE_SKIP)


@dataclass(frozen=True, kw_only=True)
class Network:
    """How the host reaches indexes and mirrors: proxies, CA bundle, index URL."""

    index_url: str = DEFAULT_INDEX
    http_proxy: str = ""
    https_proxy: str = ""
    ca_bundle: str = ""

    def opener(self) -> urllib.request.OpenerDirector:
        """A urllib opener honouring the proxy and CA settings."""
        proxies = {k: v for k, v in (("http", self.http_proxy), ("https", self.https_proxy)) if v}
        context = ssl.create_default_context(cafile=self.ca_bundle or None)
        handlers: list[urllib.request.BaseHandler] = [urllib.request.HTTPSHandler(context=context)]
        if proxies:
            handlers.append(urllib.request.ProxyHandler(proxies))
        return urllib.request.build_opener(*handlers)


def tree_hash(root: Path) -> str:
    """A sha256 over a folder's relative paths, modes and contents (VCS and build dirs left out)."""
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_IN_TREE)
        for filename in sorted(filenames):
            path = Path(dirpath) / filename
            rel = path.relative_to(root).as_posix()
            kind = os.lstat(path).st_mode
            if not (stat.S_ISREG(kind) or stat.S_ISLNK(kind)):
                # Never opened: a FIFO would block the walk, a device could be endless.
                raise SourceError(
                    f"{path}: not a regular file (a FIFO, socket or device): a source tree "
                    "holds files, folders and symlinks only"
                )
            mode = "x" if os.access(path, os.X_OK) else "-"
            digest.update(f"{rel}\0{mode}\0".encode())
            if stat.S_ISLNK(kind):
                digest.update(os.readlink(path).encode())
            else:
                digest.update(sha256_file(path).encode())
    return digest.hexdigest()


# A source fetch is tried this many times, waiting longer each time, when the network fails
# (not when the server answers 4xx: that answer will not change).
FETCH_TRIES = 3
FETCH_BACKOFF_SECONDS = 2.0


def retrying(what: str, action: Callable[[], T], tries: int = FETCH_TRIES) -> T:
    """``action()``, tried again on network failures (``tries`` times in all); the last
    failure is raised."""
    for attempt in range(1, tries + 1):
        try:
            return action()
        except urllib.error.HTTPError as exc:
            if exc.code < 500 or attempt == tries:
                raise
            exc.close()
        except (urllib.error.URLError, OSError):
            if attempt == tries:
                raise
        structlog.get_logger().warning("fetch failed, trying again", source=what, attempt=attempt)
        time.sleep(FETCH_BACKOFF_SECONDS * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def fetch_failure(what: str, exc: OSError) -> SourceError:
    """The error for a failed download: :class:`FetchError` (may work later) unless the
    server answered that the thing is not there or not ours (4xx)."""
    if isinstance(exc, urllib.error.HTTPError):
        exc.close()  # its response's socket
        if exc.code < 500:
            return SourceError(f"{what}: {exc}")
    return FetchError(f"{what}: {exc}")


# git's words for a remote it could not reach, as opposed to a ref or URL that is wrong.
_GIT_NETWORK = re.compile(
    r"Could not resolve host|Connection refused|Connection timed out|Failed to connect|"
    r"Network is unreachable|Operation timed out|Connection reset|early EOF|"
    r"The requested URL returned error: 5\d\d|No space left on device"
)


def _download(network: Network, url: str, dest: Path, what: str) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)

    def attempt() -> None:
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out, network.opener().open(url, timeout=120) as response:
                shutil.copyfileobj(response, out)
            os.replace(tmp, dest)
        finally:
            Path(tmp).unlink(missing_ok=True)

    try:
        retrying(what, attempt)
    except (urllib.error.URLError, OSError) as exc:
        raise fetch_failure(f"{what}: cannot download {url}", exc) from None


def _pypi_file(network: Network, name: str, version: str) -> tuple[str, str, str]:
    """Find the sdist of name==version on the index: (filename, url, sha256)."""
    url = f"{network.index_url.rstrip('/')}/{canonicalize_name(name)}/"
    request = urllib.request.Request(url, headers={"Accept": "application/vnd.pypi.simple.v1+json"})

    def attempt() -> Any:
        with network.opener().open(request, timeout=60) as response:
            return json.load(response)

    try:
        data = retrying(f"pypi:{name}=={version}", attempt)
    except (urllib.error.URLError, OSError) as exc:
        raise fetch_failure(f"pypi:{name}=={version}: cannot read {url}", exc) from None
    except ValueError as exc:
        raise SourceError(f"pypi:{name}=={version}: {url} is not a PEP 691 index: {exc}") from None
    for entry in data.get("files", []):
        filename = entry.get("filename", "")
        if filename.endswith(".tar.gz") and _is_sdist_of(filename, name, version):
            sha = entry.get("hashes", {}).get("sha256", "")
            if not sha:
                raise SourceError(f"pypi:{name}=={version}: the index publishes no sha256")
            return filename, urllib.parse.urljoin(url, entry["url"]), sha
    raise SourceError(f"pypi:{name}=={version}: no sdist of that version on {url}")


def _is_sdist_of(filename: str, name: str, version: str) -> bool:
    try:
        sdist_name, sdist_version = parse_sdist_filename(filename)
    except (InvalidSdistFilename, InvalidVersion):
        return False
    try:
        wanted = Version(version)
    except InvalidVersion:
        return False
    return sdist_name == canonicalize_name(name) and sdist_version == wanted


def _read_marker(marker: Path) -> tuple[str, str] | None:
    """(file name, sha256) remembered for a release, or None; a damaged marker (a full disk
    can leave it empty) counts as none: the index is asked again."""
    try:
        known = json.loads(marker.read_text(encoding="utf-8"))
        filename, sha = str(known["filename"]), str(known["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if "/" in filename or len(sha) != 64:
        return None
    return filename, sha


def fetch_pypi(source: Source, cache: Path, network: Network) -> FetchedSource:
    """Fetch a PyPI sdist, checking its sha256 against the index and the pipeline's pin."""
    what = source.describe()
    marker = cache / "pypi" / f"{canonicalize_name(source.name)}-{source.version}.json"
    known = _read_marker(marker)
    if known is not None:
        filename, sha = known
    else:
        filename, url, sha = _pypi_file(network, source.name, source.version)
    if source.sha256 and source.sha256 != sha:
        raise SourceError(
            f"{what}: the pipeline pins sha256 {source.sha256} but the index publishes {sha}"
        )
    path = cache / "pypi" / filename
    if not path.is_file() or sha256_file(path) != sha:
        if known is not None:
            filename, url, sha = _pypi_file(network, source.name, source.version)
        _download(network, url, path, what)
        got = sha256_file(path)
        if got != sha:
            path.unlink()
            raise FetchError(
                f"{what}: downloaded sdist has sha256 {got}, the index says {sha} (a truncated "
                "or altered download; nothing was kept)"
            )
    if known != (filename, sha):
        write_atomically(marker, json.dumps({"filename": filename, "sha256": sha}))
    return FetchedSource(
        source=source,
        path=path,
        identity=f"sha256:{sha}",
        version=source.version,
        requires=_requires(sdist_files(path, _memo(cache, sha))),
    )


def fetch_url(source: Source, cache: Path, network: Network) -> FetchedSource:
    """Download a tarball and check it against the pipeline's sha256."""
    name = Path(urllib.parse.urlparse(source.url).path).name or "source.tar.gz"
    path = cache / "url" / source.sha256 / name
    if not path.is_file():
        _download(network, source.url, path, source.describe())
        got = sha256_file(path)
        if got != source.sha256:
            path.unlink()
            raise SourceError(
                f"{source.describe()}: sha256 is {got}, the pipeline pins {source.sha256}"
            )
    return _sdist_source(source, path, source.sha256, memo=_memo(cache, source.sha256))


def fetch_git(source: Source, cache: Path) -> FetchedSource:
    """Clone or update a git mirror, resolve the ref to a commit and export the tree."""
    engine.require_tool("git")
    mirror = cache / "git" / hashlib.sha256(source.url.encode()).hexdigest()[:16]
    try:
        if (mirror / "HEAD").is_file():
            engine.capture(
                [
                    "git",
                    "-C",
                    str(mirror),
                    "fetch",
                    "--prune",
                    "--tags",
                    "origin",
                    "+refs/heads/*:refs/heads/*",
                ],
                timeout=600,
            )
        else:
            mirror.parent.mkdir(parents=True, exist_ok=True)
            engine.capture(["git", "clone", "--mirror", source.url, str(mirror)], timeout=1200)
        commit = engine.capture(
            ["git", "-C", str(mirror), "rev-parse", f"{source.ref}^{{commit}}"]
        ).strip()
        described = engine.capture(
            ["git", "-C", str(mirror), "describe", "--tags", "--long", commit], ok_codes=(0, 128)
        ).strip()
    except StepFailedError as exc:
        error = FetchError if _GIT_NETWORK.search(exc.tail) else SourceError
        raise error(f"{source.describe()}: {exc.tail or exc}") from None
    tree = cache / "git-trees" / commit
    if not tree.is_dir():
        tmp = Path(tempfile.mkdtemp(dir=cache, prefix=".tree-"))
        try:  # a failed export leaves no temporary folder in the cache
            archive = tmp / "tree.tar"
            engine.capture(
                ["git", "-C", str(mirror), "archive", "--format=tar", "-o", str(archive), commit]
            )
            with tarfile.open(archive) as tar:
                tar.extractall(tmp / "src", filter="data")
            tree.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp / "src", tree)
        except (StepFailedError, tarfile.TarError, OSError) as exc:
            raise SourceError(f"{source.describe()}: cannot export {commit}: {exc}") from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return FetchedSource(
        source=source,
        path=tree,
        identity=f"git:{commit}",
        version=pbr_version(described, commit),
        requires=tree_requires(tree),
        is_tree=True,
        bindep=_tree_file(tree, "bindep.txt"),
    )


def pbr_version(described: str, commit: str) -> str:
    """A pbr-style version for an untagged commit, from ``git describe --tags --long``."""
    match = re.match(r"^(?P<tag>.+)-(?P<count>\d+)-g[0-9a-f]+$", described)
    if not match:
        return f"0.0.0.dev0+g{commit[:12]}"
    tag, count = match.group("tag"), int(match.group("count"))
    if count == 0:
        return tag
    parts = tag.split(".")
    if parts[-1].isdigit():
        parts[-1] = str(int(parts[-1]) + 1)
    return f"{'.'.join(parts)}.dev{count}"


def fetch_local(source: Source) -> FetchedSource:
    """Identify a local folder by its tree hash, or a local sdist by its sha256."""
    assert source.path is not None
    path = source.path
    if path.is_file():
        return _sdist_source(source, path, sha256_file(path))
    return FetchedSource(
        source=source,
        path=path,
        identity=f"tree:{tree_hash(path)}",
        version="",
        requires=tree_requires(path),
        is_tree=True,
        bindep=_tree_file(path, "bindep.txt"),
    )


def fetch(source: Source, cache: Path, network: Network) -> FetchedSource:
    """Fetch any source kind into ``cache`` (see the module docstring)."""
    match source.kind:
        case "pypi":
            return fetch_pypi(source, cache, network)
        case "url":
            return fetch_url(source, cache, network)
        case "git":
            return fetch_git(source, cache)
        case "local":
            return fetch_local(source)


def _memo(cache: Path, sha256: str) -> Path:
    """Where the top files of the sdist with ``sha256`` are kept in the source cache."""
    return cache / "sdist-files" / f"{sha256}.json"


def _sdist_source(
    source: Source, path: Path, sha256: str, *, memo: Path | None = None
) -> FetchedSource:
    """A fetched sdist file: identified by its sha256, version and requirements from it."""
    files = sdist_files(path, memo)
    meta = _pkg_info(files)
    return FetchedSource(
        source=source,
        path=path,
        identity=f"sha256:{sha256}",
        version=meta.get("Version", "") if meta is not None else "",
        requires=_requires(files),
        bindep=files.get("bindep.txt") or "",
    )


# The top-level files of an sdist a plan reads (``<name>-<version>/<file>``).
_TOP_FILES = ("PKG-INFO", "requirements.txt", "bindep.txt")


def sdist_files(path: Path, memo: Path | None = None) -> dict[str, str | None]:
    """:data:`_TOP_FILES` of an sdist (None for one it lacks), read in one pass; kept in
    ``memo`` (in the source cache, named by the sdist's sha256) when given. Every command
    plans, and reading nova's or neutron's whole archive again took most of a plan's time
    (3.7 of 6.1 s for the full stack). A local sdist is read each time (nothing is written
    beside a file of the user's).

    Raises:
        SourceError: the file is not a readable tar archive.
    """
    if memo is not None:
        try:
            kept = json.loads(memo.read_text())
            return {name: kept[name] for name in _TOP_FILES}
        except (OSError, ValueError, KeyError, TypeError):
            pass
    found: dict[str, str | None] = {}
    try:
        with tarfile.open(path) as tar:
            for member in tar:
                parts = member.name.split("/")
                name = parts[-1]
                if len(parts) == 2 and name in _TOP_FILES and name not in found and member.isfile():
                    handle = tar.extractfile(member)
                    found[name] = handle.read().decode("utf-8", "replace") if handle else None
    except (tarfile.TarError, OSError) as exc:
        raise SourceError(f"{path}: not a readable sdist: {exc}") from None
    files = {name: found.get(name) for name in _TOP_FILES}
    if memo is not None:
        with suppress(OSError):  # a read-only cache: read again next time
            write_atomically(memo, json.dumps(files))
    return files


def _pkg_info(files: dict[str, str | None]) -> email.message.Message | None:
    text = files.get("PKG-INFO")
    return email.parser.Parser().parsestr(text) if text is not None else None


def _requires(files: dict[str, str | None]) -> tuple[str, ...]:
    meta = _pkg_info(files)
    if meta is not None:
        lines = meta.get_all("Requires-Dist") or []
        if lines:
            return tuple(str(line).strip() for line in lines)
    return parse_requirements_txt(files.get("requirements.txt") or "")


def sdist_requires(path: Path) -> tuple[str, ...]:
    """The requirements an sdist declares: PKG-INFO's Requires-Dist, else requirements.txt."""
    return _requires(sdist_files(path))


def _tree_file(root: Path, name: str) -> str:
    """A regular file at the top of a tree, as text ("" if there is none)."""
    path = root / name
    if not path.is_file() or path.is_symlink():
        return ""
    return path.read_text(encoding="utf-8", errors="replace")


def tree_requires(root: Path) -> tuple[str, ...]:
    """The requirements a source tree declares: its requirements.txt (pbr's convention), else
    ``[project].dependencies`` of its pyproject.toml.

    Raises:
        SourceError: the pyproject.toml is not valid TOML.
    """
    req = root / "requirements.txt"
    if req.is_file():
        return parse_requirements_txt(req.read_text())
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return ()
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SourceError(f"{pyproject}: not valid TOML: {exc}") from None
    deps = data.get("project", {}).get("dependencies", [])
    return tuple(str(d) for d in deps) if isinstance(deps, list) else ()


def parse_requirements_txt(text: str) -> tuple[str, ...]:
    """Requirement lines of a requirements.txt, comments and options dropped."""
    out = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].split("\t#", 1)[0].strip()
        if line and not line.startswith(("#", "-")):
            out.append(line)
    return tuple(out)
