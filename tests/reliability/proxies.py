"""Loopback proxies that lose connections on purpose, for the fault tests.

PgProxy sits between the handlers and PostgreSQL (a Unix socket, as the embedded server has)
and drops the connection when a client message carries a marker (e.g. b"ledger.debit"):
`before` the message reaches the server (nothing can have been committed), or `after_commit`,
when the server's answer comes back (PostgreSQL sends the answer of an autocommit statement only
after its commit, so the transaction is committed and only the acknowledgement is lost).

HttpProxy sits between the provider's SignedClient and the casino's local API over TCP and, for
chosen requests, closes the client's connection before forwarding or after the casino answered
(a lost response), or answers 500 itself.
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from psycopg.conninfo import conninfo_to_dict, make_conninfo


def _close(*socks: socket.socket) -> None:
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()


@dataclass
class PgFault:
    marker: bytes
    when: str  # "before" | "after_commit"
    times: int = 1


@dataclass
class PgProxy:
    upstream_url: str
    faults: list[PgFault] = field(default_factory=list)
    fired: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        params = conninfo_to_dict(self.upstream_url)
        port = params.get("port") or 5432
        self.upstream_path = os.path.join(str(params["host"]), f".s.PGSQL.{port}")
        self.dir = tempfile.mkdtemp(prefix="pgproxy-", dir="/tmp")  # short: Unix socket paths are limited
        self.path = os.path.join(self.dir, f".s.PGSQL.{port}")
        self.url = make_conninfo(self.upstream_url, host=self.dir)
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.path)
        self._listener.listen(64)
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def arm(self, marker: bytes, when: str, times: int = 1) -> None:
        with self._lock:
            self.faults.append(PgFault(marker, when, times))

    def _take(self, data: bytes) -> PgFault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.marker in data:
                    fault.times -= 1
                    self.fired.append(fault.when)
                    return fault
        return None

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.connect(self.upstream_path)
            with self._lock:
                self._sockets += [client, server]
            state = {"armed": False}
            threading.Thread(target=self._to_server, args=(client, server, state), daemon=True).start()
            threading.Thread(target=self._to_client, args=(client, server, state), daemon=True).start()

    def _to_server(self, client: socket.socket, server: socket.socket, state: dict) -> None:
        try:
            while data := client.recv(65536):
                fault = self._take(data)
                if fault is not None and fault.when == "before":
                    _close(client, server)
                    return
                if fault is not None:
                    state["armed"] = True
                server.sendall(data)
        except OSError:
            pass
        _close(client, server)

    def _to_client(self, client: socket.socket, server: socket.socket, state: dict) -> None:
        try:
            while data := server.recv(65536):
                if state["armed"]:  # the statement committed; its answer is lost
                    _close(client, server)
                    return
                client.sendall(data)
        except OSError:
            pass
        _close(client, server)

    def close(self) -> None:
        _close(self._listener)
        with self._lock:
            _close(*self._sockets)
        shutil.rmtree(self.dir, ignore_errors=True)


class HttpProxy:
    """A TCP proxy for one HTTP request per connection. `decide(path, body)` returns None to pass
    the request through, "reset" to close before forwarding, "lost" to forward and then close
    without answering, or an int status to answer itself without forwarding."""

    def __init__(self, upstream: str, decide: Callable[[str, bytes], object]):
        host, port = upstream.removeprefix("http://").split(":")
        self.upstream = (host, int(port))
        self.decide = decide
        self.seen: list[tuple[str, bytes, object]] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client, client.makefile("rb") as rfile:
            while True:
                request_line = rfile.readline()
                if not request_line:
                    return
                method, path, _ = request_line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                while (line := rfile.readline()) not in (b"\r\n", b"\n", b""):
                    name, value = line.decode().split(":", 1)
                    headers[name.strip()] = value.strip()
                body = rfile.read(int(headers.get("Content-Length", "0")))
                action = self.decide(path, body)
                self.seen.append((path, body, action))
                if action == "reset":
                    client.shutdown(socket.SHUT_RDWR)
                    return
                if isinstance(action, int):
                    payload = b'{"error":{"code":"INTERNAL_ERROR","message":"injected by the test proxy"}}'
                    client.sendall(
                        f"HTTP/1.1 {action} Injected\r\nContent-Type: application/json\r\n"
                        f"Content-Length: {len(payload)}\r\n\r\n".encode()
                        + payload
                    )
                    continue
                upstream = http.client.HTTPConnection(*self.upstream, timeout=30)
                try:
                    upstream.request(
                        method, path, body=body, headers={k: v for k, v in headers.items() if k.lower() != "connection"}
                    )
                    resp = upstream.getresponse()
                    data = resp.read()
                    out_headers = [
                        (k, v)
                        for k, v in resp.getheaders()
                        if k.lower() not in ("connection", "transfer-encoding", "content-length")
                    ]
                    status, reason = resp.status, resp.reason
                finally:
                    upstream.close()
                if action == "lost":  # the casino answered (and committed); the answer never arrives
                    client.shutdown(socket.SHUT_RDWR)
                    return
                head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in out_headers)
                head += f"Content-Length: {len(data)}\r\n\r\n"
                client.sendall(head.encode() + data)

    def close(self) -> None:
        _close(self._listener)
