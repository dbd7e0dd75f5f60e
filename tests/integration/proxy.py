"""A small forward proxy for tests: HTTP (absolute URI) and HTTPS (CONNECT), basic auth.

It listens on 127.0.0.1 only, requires ``Proxy-Authorization`` and counts the requests it
relayed, so a test can prove that builds went through the configured proxy with the right
credentials.
"""

from __future__ import annotations

import base64
import select
import socket
import socketserver
import threading
import urllib.parse


class ProxyServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, user: str, password: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.expected = f"Basic {token}"
        self.relayed = 0
        self.refused = 0
        self.lock = threading.Lock()

    @property
    def port(self) -> int:
        port: int = self.server_address[1]
        return port


class _Handler(socketserver.StreamRequestHandler):
    server: ProxyServer
    # Unbuffered: nothing the client sends after the headers is held back from upstream.
    rbufsize = 0

    def handle(self) -> None:
        request_line = self.rfile.readline(65537).decode("latin-1")
        headers: list[str] = []
        auth = ""
        while True:
            line = self.rfile.readline(65537).decode("latin-1")
            if line in ("\r\n", "\n", ""):
                break
            name, _, value = line.partition(":")
            if name.lower() == "proxy-authorization":
                auth = value.strip()
            elif name.lower() not in ("proxy-connection",):
                headers.append(line)
        parts = request_line.split()
        if len(parts) != 3:
            return
        method, target, version = parts
        if auth != self.server.expected:
            with self.server.lock:
                self.server.refused += 1
            self.wfile.write(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                b'Proxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n'
                b"Connection: close\r\n\r\n"
            )
            return
        with self.server.lock:
            self.server.relayed += 1
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            upstream = socket.create_connection((host, int(port)), timeout=60)
            self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            url = urllib.parse.urlsplit(target)
            upstream = socket.create_connection((url.hostname or "", url.port or 80), timeout=60)
            path = url.path or "/"
            if url.query:
                path += "?" + url.query
            head = f"{method} {path} {version}\r\n" + "".join(headers) + "\r\n"
            upstream.sendall(head.encode("latin-1"))
        self._relay(upstream)

    def _relay(self, upstream: socket.socket) -> None:
        client = self.connection
        sockets = [client, upstream]
        try:
            while True:
                readable, _, _ = select.select(sockets, [], [], 60)
                if not readable:
                    return
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is client else client).sendall(data)
        finally:
            upstream.close()


def start_proxy(user: str, password: str) -> ProxyServer:
    """Start the proxy in a daemon thread; call ``shutdown()`` to stop it."""
    server = ProxyServer(user, password)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
