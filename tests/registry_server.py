"""Debian's docker-registry on 127.0.0.1 with TLS (a self-signed certificate) and htpasswd
auth, for the scale-out tests and benchmarks: what a build host's client needs (a cert dir,
an authfile) and what it downloaded (blob GETs in the access log)."""

from __future__ import annotations

import base64
import json
import re
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

USER = "builder"
PASSWORD = "Reg1stry-pw"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class TlsRegistry:
    """A running registry: ``address`` (host:port), ``cert_dir`` and ``authfile`` for clients."""

    root: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def cert_dir(self) -> Path:
        return self.root / "certs.d"

    @property
    def authfile(self) -> Path:
        return self.root / "auth.json"

    @property
    def access_log(self) -> Path:
        return self.root / "access.log"

    def client_options(self) -> list[str]:
        return ["--cert-dir", str(self.cert_dir), "--authfile", str(self.authfile)]

    def prepare(self) -> None:
        binary = shutil.which("docker-registry")
        if binary is None or shutil.which("htpasswd") is None:
            raise RuntimeError("docker-registry or htpasswd missing: run ./setup-host")
        self.root.mkdir(parents=True, exist_ok=True)
        self.cert_dir.mkdir(exist_ok=True)
        key, cert = self.root / "registry.key", self.root / "registry.crt"
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                "-addext", "subjectAltName=IP:127.0.0.1",
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        shutil.copy(cert, self.cert_dir / "ca.crt")
        htpasswd = subprocess.run(
            ["htpasswd", "-Bbn", USER, PASSWORD], check=True, capture_output=True, text=True
        ).stdout
        (self.root / "htpasswd").write_text(htpasswd)
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        self.authfile.write_text(json.dumps({"auths": {self.address: {"auth": token}}}))
        self.authfile.chmod(0o600)
        (self.root / "config.yml").write_text(
            "version: 0.1\n"
            f"storage:\n  filesystem:\n    rootdirectory: {self.root / 'data'}\n"
            "  delete:\n    enabled: true\n"
            f"http:\n  addr: {self.address}\n"
            f"  tls:\n    certificate: {cert}\n    key: {key}\n"
            f"auth:\n  htpasswd:\n    realm: orchestrate\n    path: {self.root / 'htpasswd'}\n"
            "log:\n  level: error\n"
        )

    def start(self) -> None:
        with self.access_log.open("ab") as log:  # the registry keeps its own descriptor
            self.proc = subprocess.Popen(
                ["docker-registry", "serve", str(self.root / "config.yml")],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        context = ssl.create_default_context(cafile=str(self.cert_dir / "ca.crt"))
        for _ in range(100):
            try:
                urllib.request.urlopen(
                    f"https://{self.address}/v2/", timeout=1, context=context
                ).close()
            except urllib.error.HTTPError as exc:  # 401: up, and asking for credentials
                exc.close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("docker-registry did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None

    def blob_downloads(self) -> int:
        """How many layer or config blobs clients have fetched (GETs, not HEAD checks)."""
        text = self.access_log.read_text(errors="replace") if self.access_log.exists() else ""
        return len(re.findall(r'"GET /v2/[^"]*/blobs/sha256:', text))

    def digest(self, repository: str, tag: str) -> str | None:
        """The digest a tag points at, asked with skopeo (None if there is no such tag)."""
        proc = subprocess.run(
            [
                "skopeo", "inspect", "--raw", "--cert-dir", str(self.cert_dir),
                "--authfile", str(self.authfile), f"docker://{self.address}/{repository}:{tag}",
            ],
            capture_output=True,
            check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            return None
        import hashlib

        return "sha256:" + hashlib.sha256(proc.stdout).hexdigest()
