"""events/ holds one signed sample event per function, generated and verifiable."""

from __future__ import annotations

import base64
import json

import pytest
from seamless.contract.signing import verify

from devtools.events import API_EVENTS, CASINO_SECRET, EVENTS, PROVIDER_SECRET, write_events
from devtools.template import match_route
from tests.support import template

SECRETS = {"x-casino-signature": CASINO_SECRET, "x-provider-signature": PROVIDER_SECRET}


def _load(name: str) -> dict:
    return json.loads((EVENTS / f"{name}.json").read_text())


def test_every_function_has_an_event():
    functions = {spec[0] for spec in API_EVENTS.values()} | {
        "SettlementFunction",
        "RoundSweeperFunction",
        "MigrateFunction",
        "CasinoRetentionFunction",
        "ProviderRetentionFunction",
        "LedgerAnchorFunction",
    }
    assert functions == set(template().functions)
    for name in [*API_EVENTS, "settlement", "sweeper", "migrate", "retention", "anchor"]:
        assert (EVENTS / f"{name}.json").is_file(), name


@pytest.mark.parametrize("name", sorted(API_EVENTS))
def test_api_event_matches_its_route_and_signature_verifies(name):
    function, body, signature = API_EVENTS[name]
    event = _load(name)
    assert (event["httpMethod"], event["resource"]) in template().functions[function].routes
    assert match_route(event["resource"], event["path"]) == (event["pathParameters"] or {})
    raw = base64.b64decode(event["body"]) if event["isBase64Encoded"] else (event["body"] or "").encode()
    if body is not None:
        assert json.loads(raw) == body
    headers = {k.lower(): v for k, v in event["headers"].items()}
    if signature is None:
        assert not {"x-casino-signature", "x-provider-signature"} & set(headers)
    else:
        header = signature[0].lower()
        assert verify(SECRETS[header], raw, headers[header])
        assert not verify(SECRETS[header], raw + b" ", headers[header])


def test_regenerating_gives_identical_files(tmp_path):
    for path in write_events(tmp_path):
        assert path.read_text() == (EVENTS / path.name).read_text(), f"events/{path.name} is stale: make events"
