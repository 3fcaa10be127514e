"""The local API routes template paths with `{parameters}` as API Gateway does: `{name}` is one
path segment, `{name+}` the rest of the path; a path without parameters matches only itself."""

from __future__ import annotations

import pytest

from devtools.lambda_local import api_event
from devtools.template import match_route


@pytest.mark.parametrize(
    ("resource", "path", "params"),
    [
        ("/provider/health", "/provider/health", {}),
        ("/provider/health", "/provider/health/", None),
        ("/provider/rounds/{roundId}", "/provider/rounds/r-1", {"roundId": "r-1"}),
        ("/provider/rounds/{roundId}", "/provider/rounds/r%3A1", {"roundId": "r%3A1"}),  # decoded by the router
        ("/provider/rounds/{roundId}", "/provider/rounds/", None),
        ("/provider/rounds/{roundId}", "/provider/rounds/a/b", None),
        ("/provider/rounds/{roundId}", "/provider/roundsX/a", None),
        ("/a/{x}/b/{y}", "/a/1/b/2", {"x": "1", "y": "2"}),
        ("/files/{path+}", "/files/a/b/c", {"path": "a/b/c"}),
        ("/a.b/{x}", "/aXb/1", None),  # the rest of the path is literal, not a regex
    ],
)
def test_match_route(resource, path, params):
    assert match_route(resource, path) == params


def test_the_event_carries_resource_and_path_parameters():
    event = api_event("GET", "/provider/rounds/r-1", "/provider/rounds/{roundId}", [], b"", path_parameters={"roundId": "r-1"})
    assert event["resource"] == event["requestContext"]["resourcePath"] == "/provider/rounds/{roundId}"
    assert (event["path"], event["pathParameters"]) == ("/provider/rounds/r-1", {"roundId": "r-1"})
    assert api_event("GET", "/provider/health", "/provider/health", [], b"")["pathParameters"] is None
