"""Fetching sources for real, from a loopback HTTP server and a local git repository."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.errors import EXIT_FETCH, EXIT_USAGE, FetchError, SourceError
from orchestrator.loading.sources import Network, fetch
from orchestrator.model.pipeline import Source
from tests.registry_server import free_port
from tests.unit.test_sources_wheelset import make_sdist


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTP server on 127.0.0.1 serving a folder; yields (base URL, folder)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def publish(root: Path, tmp_path: Path) -> str:
    """Put demo-1.0.tar.gz on a PEP 691 index under root/simple; return its sha256."""
    sdist = make_sdist(
        tmp_path / "demo-1.0.tar.gz", "Name: demo\nVersion: 1.0\nRequires-Dist: Flask\n"
    )
    files = root / "files"
    files.mkdir()
    shutil.copy(sdist, files / sdist.name)
    sha = hashlib.sha256(sdist.read_bytes()).hexdigest()
    index = root / "simple" / "demo"
    index.mkdir(parents=True)
    (index / "index.html").write_text(
        json.dumps(
            {
                "files": [
                    {
                        "filename": "demo-1.0.tar.gz",
                        "url": "../../files/demo-1.0.tar.gz",
                        "hashes": {"sha256": sha},
                    },
                    {
                        "filename": "demo-0.9.tar.gz",
                        "url": "../../files/demo-0.9.tar.gz",
                        "hashes": {"sha256": "0" * 64},
                    },
                ]
            }
        )
    )
    return sha


def test_pypi_sdist_is_fetched_checked_and_cached(served: tuple[str, Path], tmp_path: Path) -> None:
    url, root = served
    sha = publish(root, tmp_path)
    network = Network(index_url=f"{url}/simple")
    got = fetch(
        Source(kind="pypi", name="demo", version="1.0", sha256=sha), tmp_path / "c", network
    )
    assert got.identity == f"sha256:{sha}" and got.requires == ("Flask",)
    # Cached: a second fetch works with the index gone.
    shutil.rmtree(root / "simple")
    again = fetch(Source(kind="pypi", name="demo", version="1.0"), tmp_path / "c", network)
    assert again.path == got.path


def test_pypi_pin_mismatch_is_refused(served: tuple[str, Path], tmp_path: Path) -> None:
    url, root = served
    publish(root, tmp_path)
    with pytest.raises(
        SourceError,
        match=r"pypi:demo==1.0: the pipeline pins sha256 f{64} but "
        r"the index publishes [0-9a-f]{64}",
    ):
        fetch(
            Source(kind="pypi", name="demo", version="1.0", sha256="f" * 64),
            tmp_path / "c",
            Network(index_url=f"{url}/simple"),
        )


def test_pypi_missing_version_is_named(served: tuple[str, Path], tmp_path: Path) -> None:
    url, root = served
    publish(root, tmp_path)
    with pytest.raises(SourceError, match=r"pypi:demo==2.0: no sdist of that version"):
        fetch(
            Source(kind="pypi", name="demo", version="2.0"),
            tmp_path / "c",
            Network(index_url=f"{url}/simple"),
        )


def test_url_source_checks_its_sha256(served: tuple[str, Path], tmp_path: Path) -> None:
    url, root = served
    sdist = make_sdist(root / "demo-1.0.tar.gz", "Name: demo\nVersion: 1.0\n")
    sha = hashlib.sha256(sdist.read_bytes()).hexdigest()
    got = fetch(
        Source(kind="url", url=f"{url}/demo-1.0.tar.gz", sha256=sha), tmp_path / "c", Network()
    )
    assert got.version == "1.0" and got.identity == f"sha256:{sha}"
    with pytest.raises(SourceError, match=r"sha256 is [0-9a-f]{64}, the pipeline pins 0{64}"):
        fetch(
            Source(kind="url", url=f"{url}/demo-1.0.tar.gz", sha256="0" * 64),
            tmp_path / "c2",
            Network(),
        )


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_source_resolves_the_ref_and_exports_the_tree(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git("init", "-q", "-b", "master", cwd=repo)
    (repo / "requirements.txt").write_text("pbr>=2\noslo.config\n")
    git("add", ".", cwd=repo)
    git("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "one", cwd=repo)
    git("tag", "1.0.0", cwd=repo)
    (repo / "x.py").write_text("x = 1\n")
    git("add", ".", cwd=repo)
    git("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "two", cwd=repo)
    head = git("rev-parse", "HEAD", cwd=repo)
    got = fetch(Source(kind="git", url=f"file://{repo}", ref="master"), tmp_path / "c", Network())
    assert got.identity == f"git:{head}"
    assert got.version == "1.0.1.dev1"
    assert got.requires == ("pbr>=2", "oslo.config")
    assert (got.path / "x.py").is_file() and not (got.path / ".git").exists()
    with pytest.raises(SourceError, match=r"git:file://.*@nope: "):
        fetch(Source(kind="git", url=f"file://{repo}", ref="nope"), tmp_path / "c", Network())


@pytest.fixture
def flaky(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path, list[str]]]:
    """Like ``served``, but the first request of each path answers 503."""
    monkeypatch.setattr("orchestrator.loading.sources.FETCH_BACKOFF_SECONDS", 0.0)
    root = tmp_path / "flaky-www"
    root.mkdir()
    seen: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            first = self.path not in seen
            seen.append(self.path)
            if first:
                self.send_error(503, "busy")
            else:
                super().do_GET()

        def log_message(self, *args: object) -> None:
            return None

    handler = functools.partial(Handler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root, seen
    finally:
        server.shutdown()
        server.server_close()


def test_a_failing_index_and_download_are_tried_again(
    flaky: tuple[str, Path, list[str]], tmp_path: Path
) -> None:
    url, root, seen = flaky
    sha = publish(root, tmp_path)
    got = fetch(
        Source(kind="pypi", name="demo", version="1.0", sha256=sha),
        tmp_path / "c",
        Network(index_url=f"{url}/simple"),
    )
    assert got.identity == f"sha256:{sha}"
    assert seen == ["/simple/demo/", "/simple/demo/", "/files/demo-1.0.tar.gz"] * 1 + [
        "/files/demo-1.0.tar.gz"
    ]
    assert not [p for p in (tmp_path / "c" / "pypi").iterdir() if p.name.startswith(".part-")]


def test_a_damaged_cache_marker_is_asked_again(served: tuple[str, Path], tmp_path: Path) -> None:
    url, root = served
    sha = publish(root, tmp_path)
    network = Network(index_url=f"{url}/simple")
    source = Source(kind="pypi", name="demo", version="1.0", sha256=sha)
    fetch(source, tmp_path / "c", network)
    marker = tmp_path / "c" / "pypi" / "demo-1.0.json"
    marker.write_text("")  # as a full disk leaves it
    assert fetch(source, tmp_path / "c", network).identity == f"sha256:{sha}"
    assert json.loads(marker.read_text())["sha256"] == sha


def test_an_index_nobody_answers_is_a_fetch_failure_exit_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("orchestrator.loading.sources.FETCH_BACKOFF_SECONDS", 0.0)
    index = f"http://127.0.0.1:{free_port()}/simple"
    with pytest.raises(FetchError) as raised:
        fetch(Source(kind="pypi", name="demo", version="1.0"), tmp_path, Network(index_url=index))
    assert raised.value.exit_code == EXIT_FETCH == 3
    assert "pypi:demo==1.0: cannot read" in str(raised.value)
    assert "Connection refused" in str(raised.value)


def test_a_project_the_index_does_not_have_is_bad_input_not_a_fetch_failure(
    served: tuple[str, Path], tmp_path: Path
) -> None:
    url, root = served
    (root / "simple").mkdir()
    with pytest.raises(SourceError) as raised:
        fetch(
            Source(kind="pypi", name="nope", version="1.0"),
            tmp_path,
            Network(index_url=f"{url}/simple"),
        )
    assert not isinstance(raised.value, FetchError)
    assert raised.value.exit_code == EXIT_USAGE
    assert "404" in str(raised.value)


def test_a_truncated_download_is_a_fetch_failure_and_keeps_nothing(
    served: tuple[str, Path], tmp_path: Path
) -> None:
    url, root = served
    publish(root, tmp_path)
    sdist = root / "files" / "demo-1.0.tar.gz"
    sdist.write_bytes(sdist.read_bytes()[:100])  # what a truncating proxy delivers
    with pytest.raises(FetchError, match="truncated or altered download"):
        fetch(
            Source(kind="pypi", name="demo", version="1.0"),
            tmp_path / "c",
            Network(index_url=f"{url}/simple"),
        )
    assert list((tmp_path / "c" / "pypi").glob("*.tar.gz")) == []
