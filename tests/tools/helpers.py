"""Shared by the support-tool tests: GET requests through the real handlers (routed as the
local API routes them, path parameters included) and over HTTP."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request

from devtools.devserver import Router, invoke
from devtools.lambda_local import api_event
from tests.support import Response, template

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_router: Router | None = None


def router() -> Router:
    global _router
    if _router is None:
        _router = Router(template())
    return _router


def get(path: str, query: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> Response:
    """Invokes the function that serves GET `path` with the REST proxy event API Gateway would
    send (resource, pathParameters and query string filled in)."""
    found = router().match("GET", path)
    assert found is not None, path
    fn, resource, params = found
    event = api_event(
        "GET",
        path,
        resource,
        list((headers or {}).items()),
        b"",
        {k: [v] for k, v in (query or {}).items()},
        path_parameters=params,
    )
    result = invoke(fn, event)
    return Response(result["statusCode"], result.get("headers") or {}, result.get("body") or "")


def http_get(base: str, path: str, query: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> Response:
    url = base + path + ("?" + urllib.parse.urlencode(query) if query else "")
    req = urllib.request.Request(url, headers=headers or {}, method="GET")
    try:
        with OPENER.open(req, timeout=60) as resp:
            return Response(resp.status, dict(resp.headers), resp.read().decode())
    except urllib.error.HTTPError as exc:
        return Response(exc.code, dict(exc.headers), exc.read().decode())
