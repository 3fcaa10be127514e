"""The local API without Docker: every Api event of template.yaml served on 127.0.0.1.

`sam local start-api` needs a Docker engine. This server reads the same template, builds
the same REST proxy events and calls each function's handler in-process (module per
function, layer on sys.path). Hand-written because no library serves a SAM template
without containers; it is deliberately small and for local use only.

Like Lambda, it runs every request in a container of its function that serves one request
at a time: `Containers` gives each function up to LOCAL_API_WORKERS worker threads, each with
its own database connections (seamless.runtime.db caches them per thread). HTTP connections
are accepted by a thread each and wait for a free container.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import queue
import re
import sys
import threading
import time
import urllib.parse
from concurrent.futures import Future
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from seamless.contract import errors
from seamless.runtime import db

from .lambda_local import LambdaContext, api_event
from .template import Function, Template, match_route

log = logging.getLogger("devserver")
MAX_READ = 10 * 1024 * 1024  # API Gateway's own payload limit
#: seconds a connection may take to send each part of a request (and stay idle between
#: requests): a client that declares more body than it sends, or stalls, gets a 400 and its
#: connection closed instead of holding a thread for ever
READ_TIMEOUT_SECONDS = 10.0
#: containers per function unless LOCAL_API_WORKERS says otherwise
DEFAULT_WORKERS = 4
#: the listen backlog of `sam local start-api`'s server (werkzeug's LISTEN_QUEUE); the
#: socketserver default of 5 reset connections when 50 clients connected at once
LISTEN_BACKLOG = 128
DIGITS = re.compile(r"[0-9]+")
DOCS_HTML = b"""<!doctype html><html><head><meta charset="utf-8"><title>Casino wallet API</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head><body><div id="ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#ui"});</script></body></html>"""
CONTENT_TYPES = {
    ".js": "application/javascript",
    ".css": "text/css",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
    ".png": "image/png",
}


def docs_asset(path: str) -> tuple[int, str, bytes] | None:
    """The API docs (not Lambda functions): /openapi.json, /docs and Swagger UI's static files
    (from the swagger-ui-py wheel)."""
    if path == "/openapi.json":
        from .openapi import OUTPUT

        return 200, CONTENT_TYPES[".json"], OUTPUT.read_bytes()
    if path in ("/docs", "/docs/"):
        return 200, CONTENT_TYPES[".html"], DOCS_HTML
    if path.startswith("/docs/static/"):
        try:
            import swagger_ui  # type: ignore[import-untyped]
        except ImportError:
            return 404, "text/plain", b"Swagger UI is not installed (pip install swagger-ui-py)"
        static = Path(swagger_ui.__file__).parent / "static"
        name = path.removeprefix("/docs/static/")
        target = (static / name).resolve()
        if target.parent != static.resolve() or not target.is_file():
            return 404, "text/plain", b"not found"
        return 200, CONTENT_TYPES.get(target.suffix, "application/octet-stream"), target.read_bytes()
    return None


class Router:
    def __init__(self, template: Template) -> None:
        self.routes: dict[tuple[str, str], Function] = {}
        for fn in template.functions.values():
            for method, path in fn.routes:
                self.routes[(method, path)] = fn

    def match(self, method: str, path: str) -> tuple[Function, str, dict[str, str]] | None:
        """(function, resource path, path parameters) of the route serving this request, as
        API Gateway resolves it: an exact resource first, then one with `{parameters}`
        (values URL-decoded, like API Gateway's pathParameters)."""
        for m in (method, "ANY"):
            if (m, path) in self.routes:
                return self.routes[(m, path)], path, {}
        for (m, resource), fn in self.routes.items():
            if m in (method, "ANY") and (params := match_route(resource, path)):
                return fn, resource, {k: urllib.parse.unquote(v) for k, v in params.items()}
        return None

    def find(self, method: str, path: str) -> Function | None:
        found = self.match(method, path)
        return found[0] if found else None

    def methods(self, path: str) -> list[str]:
        return sorted(m for m, p in self.routes if match_route(p, path) is not None)

    def load_all(self) -> None:
        for fn in self.routes.values():
            fn.load()


def invoke(fn: Function, event: dict[str, Any]) -> dict[str, Any]:
    handler = fn.load()
    return handler(event, LambdaContext(fn.logical_id, fn.timeout, fn.memory))


class _Pool:
    """The containers of one function: worker threads started on demand up to `size`, each
    taking one request at a time from the function's queue (what Lambda does per function)."""

    def __init__(self, fn: Function, size: int) -> None:
        self.fn, self.size = fn, size
        self.jobs: queue.SimpleQueue[tuple[dict[str, Any], Future] | None] = queue.SimpleQueue()
        self.idle = threading.Semaphore(0)  # released by a worker each time it is free again
        self.workers: list[threading.Thread] = []
        self.lock = threading.Lock()
        self.stopped = False

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        job: Future = Future()
        with self.lock:
            if self.stopped:
                raise RuntimeError("the local API is stopping")
            if not self.idle.acquire(blocking=False) and len(self.workers) < self.size:
                worker = threading.Thread(target=self._work, name=f"{self.fn.logical_id}-{len(self.workers) + 1}", daemon=True)
                self.workers.append(worker)
                worker.start()
            self.jobs.put((event, job))
        return job.result()

    def _work(self) -> None:
        try:
            while (item := self.jobs.get()) is not None:
                event, job = item
                if job.set_running_or_notify_cancel():
                    try:
                        job.set_result(invoke(self.fn, event))
                    except BaseException as exc:  # handed to the waiting request (a 502)
                        job.set_exception(exc)
                self.idle.release()
        finally:
            db.close_mine()  # this container's connections go with it

    def stop(self) -> None:
        with self.lock:
            self.stopped = True
            for _ in self.workers:
                self.jobs.put(None)  # after the requests already queued


class Containers:
    """Up to `size` containers per function. One pool per function, as Lambda scales each
    function on its own: simulateRound waits on /provider/simulate, which waits on the casino's
    callbacks, so a single shared pool could be filled by outer requests while the inner ones
    they wait for queue behind them."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("LOCAL_API_WORKERS must be at least 1")
        self.size = size
        self._pools: dict[str, _Pool] = {}
        self._lock = threading.Lock()

    def invoke(self, fn: Function, event: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            pool = self._pools.get(fn.logical_id)
            if pool is None:
                pool = self._pools[fn.logical_id] = _Pool(fn, self.size)
        return pool.invoke(event)

    def stop(self) -> None:
        with self._lock:
            pools = list(self._pools.values())
        for pool in pools:
            pool.stop()


def workers_setting() -> int:
    raw = os.environ.get("LOCAL_API_WORKERS", "").strip()
    if not raw:
        return DEFAULT_WORKERS
    if not DIGITS.fullmatch(raw) or int(raw) < 1:
        raise SystemExit(f"LOCAL_API_WORKERS must be a whole number of at least 1, not {raw!r}")
    return int(raw)


def content_length(values: list[str]) -> int | None:
    """The body length a request declares: every Content-Length the same non-negative integer
    (RFC 9110: 1*DIGIT); None when there is none. ValueError for anything else."""
    lengths = {v.strip() for v in values}
    if len(lengths) > 1 or not all(DIGITS.fullmatch(v) for v in lengths):
        raise ValueError(values)
    return int(lengths.pop()) if lengths else None


def _make_handler(router: Router, containers: Containers, read_timeout: float) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as separate writes
        server_version = "casino-local-api"
        timeout = read_timeout  # the socket's: every read (request line, headers, body) and write

        def _short_body(self, message: str) -> None:
            # the body ended (or stalled) before Content-Length: answer, then close the connection
            bad = errors.ValidationError(message, details=[{"field": "Content-Length", "message": "More than the body sent."}])
            self.close_connection = True
            self._send(400, {"Content-Type": "application/json", "Connection": "close"}, bad.body_text().encode())

        def _serve(self) -> None:
            started = time.perf_counter()
            url = urllib.parse.urlsplit(self.path)
            try:
                length = content_length(self.headers.get_all("Content-Length") or []) or 0
            except ValueError:
                # where the body ends is unknown: answer, then close the connection
                bad = errors.ValidationError(
                    "The Content-Length header is invalid.",
                    details=[{"field": "Content-Length", "message": "Must be one non-negative whole number of bytes."}],
                )
                self.close_connection = True
                self._send(400, {"Content-Type": "application/json", "Connection": "close"}, bad.body_text().encode())
                return
            if length > MAX_READ:
                self._send(413, {"Content-Type": "application/json"}, errors.PayloadTooLarge().body_text().encode())
                self.close_connection = True
                return
            try:
                body = self.rfile.read(length) if length else b""
            except TimeoutError:
                self._short_body(f"The request body did not arrive within {read_timeout:g} s of its Content-Length.")
                return
            if len(body) < length:  # the client closed its side early
                self._short_body("The request body is shorter than its Content-Length.")
                return
            asset = docs_asset(url.path) if self.command == "GET" else None
            if asset is not None:
                self._send(asset[0], {"Content-Type": asset[1]}, asset[2])
                return
            found = router.match(self.command, url.path)
            fn = found[0] if found else None
            allowed = router.methods(url.path) if fn is None else []
            if fn is None and allowed:
                status, headers = 405, {"Content-Type": "application/json", "Allow": ", ".join(allowed)}
                payload = errors.MethodNotAllowed().body_text().encode()
            elif fn is None:
                status, headers, payload = 404, {"Content-Type": "application/json"}, errors.NotFound().body_text().encode()
            else:
                assert found is not None
                event = api_event(
                    self.command,
                    url.path,
                    found[1],
                    list(self.headers.items()),
                    body,
                    urllib.parse.parse_qs(url.query),
                    self.client_address[0],
                    path_parameters=found[2],
                )
                try:
                    result = containers.invoke(fn, event)
                    status = int(result.get("statusCode", 200))
                    headers = dict(result.get("headers") or {})
                    raw = result.get("body") or ""
                    payload = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode("utf-8")
                except Exception:  # the handler itself crashed: what API Gateway calls a 502
                    log.exception("handler %s raised", fn.logical_id)
                    status, headers = 502, {"Content-Type": "application/json"}
                    payload = json.dumps({"message": "Internal server error"}).encode()
            self._send(status, headers, payload)
            log.info("%s %s -> %s (%.0f ms)", self.command, url.path, status, (time.perf_counter() - started) * 1000)

        def _send(self, status: int, headers: dict[str, str], payload: bytes) -> None:
            self.send_response(status)
            for k, v in headers.items():
                if k.lower() not in ("content-length", "x-content-type-options"):
                    self.send_header(k, v)
            self.send_header("X-Content-Type-Options", "nosniff")  # every answer, the server's own too (§3)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def __getattr__(self, name: str) -> Any:
            if name.startswith("do_"):  # every method reaches the router (405/404 for the unknown)
                return self._serve
            raise AttributeError(name)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass

    return Handler


def apply_template_environment(template: Template) -> None:
    """Template defaults for every variable the environment does not set (the environment wins)."""
    for key, value in template.environment().items():
        os.environ.setdefault(key, value)


class LocalApiServer(ThreadingHTTPServer):
    """A thread per HTTP connection (it parses, waits for a container, answers); the work runs
    in the containers. Closing the server stops them."""

    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], router: Router, containers: Containers, read_timeout: float = READ_TIMEOUT_SECONDS
    ) -> None:
        self.containers = containers
        super().__init__(address, _make_handler(router, containers, read_timeout))

    def server_close(self) -> None:
        super().server_close()
        self.containers.stop()


def make_server(
    host: str,
    port: int,
    template: Template | None = None,
    *,
    workers: int | None = None,
    read_timeout: float = READ_TIMEOUT_SECONDS,
) -> LocalApiServer:
    """The local API; `workers` containers per function (default: LOCAL_API_WORKERS, else 4);
    `read_timeout` seconds for each read of a request (READ_TIMEOUT_SECONDS)."""
    template = template or Template()
    router = Router(template)
    router.load_all()
    return LocalApiServer((host, port), router, Containers(workers or workers_setting()), read_timeout)


def print_routes(template: Template, base: str) -> None:
    for fn in template.functions.values():
        for method, path in fn.routes:
            print(f"  {method:5} {base}{path}  ->  {fn.logical_id}", file=sys.stderr)
