"""A Debian-format archive made with the tools Debian ships (dpkg-deb, dpkg-scanpackages,
apt-ftparchive) and served over HTTP on loopback, for the tests of ``outdated`` and
``refresh: updates``."""

from __future__ import annotations

import http.server
import subprocess
import threading
from pathlib import Path


def sh(*argv: str, cwd: Path | None = None) -> str:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=True).stdout


class Archive:
    """A Debian archive under ``root``, served over HTTP on 127.0.0.1."""

    def __init__(self, root: Path) -> None:
        self.root = root

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
                super().__init__(*args, directory=str(root), **kwargs)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def publish(
        self, suite: str, debs: dict[str, str], depends: dict[str, str] | None = None
    ) -> None:
        """``suite`` holding one package per ``{name: version}`` (amd64; ``depends``: a
        package's Depends field), built with dpkg-deb, indexed by dpkg-scanpackages, its
        Release by apt-ftparchive."""
        pool = self.root / "pool" / suite
        pool.mkdir(parents=True, exist_ok=True)
        for old in pool.glob("*.deb"):
            old.unlink()
        for name, version in debs.items():
            tree = self.root / "build" / f"{name}-{version}"
            (tree / "DEBIAN").mkdir(parents=True, exist_ok=True)
            (tree / "DEBIAN" / "control").write_text(
                f"Package: {name}\nVersion: {version}\nArchitecture: amd64\n"
                + (f"Depends: {depends[name]}\n" if depends and name in depends else "")
                + "Maintainer: orchestrate tests <tests@example.org>\n"
                "Description: a package of the test archive\n"
            )
            sh("dpkg-deb", "--root-owner-group", "--build", str(tree), str(pool))
        index = self.root / "dists" / suite / "main" / "binary-amd64"
        index.mkdir(parents=True, exist_ok=True)
        packages = sh("dpkg-scanpackages", "--multiversion", f"pool/{suite}", cwd=self.root)
        (index / "Packages").write_text(packages)
        sh("xz", "--keep", "--force", str(index / "Packages"))
        release = sh(
            "apt-ftparchive", "-o", f"APT::FTPArchive::Release::Suite={suite}",
            "release", f"dists/{suite}", cwd=self.root,
        )  # fmt: skip
        (self.root / "dists" / suite / "Release").write_text(release)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
