"""The local API without Docker: every Api event of template.yaml served on 127.0.0.1.

`sam local start-api` needs a Docker engine. This server reads the same template, builds
the same REST proxy events and calls each function's handler in-process (module per
function, layer on sys.path). Hand-written because no library serves a SAM template
without containers; it is deliberately small and for local use only.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from seamless.contract import errors

from .lambda_local import LambdaContext, api_event
from .template import Function, Template, match_route

log = logging.getLogger("devserver")
MAX_READ = 10 * 1024 * 1024  # API Gateway's own payload limit
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


def _make_handler(router: Router) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as separate writes
        server_version = "casino-local-api"

        def _serve(self) -> None:
            started = time.perf_counter()
            url = urllib.parse.urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_READ:
                self._send(413, {"Content-Type": "application/json"}, errors.PayloadTooLarge().body_text().encode())
                self.close_connection = True
                return
            body = self.rfile.read(length) if length else b""
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
                    result = invoke(fn, event)
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
                if k.lower() != "content-length":
                    self.send_header(k, v)
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


def make_server(host: str, port: int, template: Template | None = None) -> ThreadingHTTPServer:
    template = template or Template()
    router = Router(template)
    router.load_all()
    server = ThreadingHTTPServer((host, port), _make_handler(router))
    server.daemon_threads = True
    return server


def print_routes(template: Template, base: str) -> None:
    for fn in template.functions.values():
        for method, path in fn.routes:
            print(f"  {method:5} {base}{path}  ->  {fn.logical_id}", file=sys.stderr)
