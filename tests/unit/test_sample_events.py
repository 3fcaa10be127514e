"""events/ holds one signed sample event per function, generated and verifiable."""

from __future__ import annotations

import base64
import json

import pytest
from seamless.contract.signing import contract_path, parse, verify

from devtools.events import API_EVENTS, CASINO_SECRET, EVENTS, PROVIDER_SECRET, resign, write_events
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
        path = contract_path(event["path"])
        signed_at = _signed_at(event)
        assert verify(SECRETS[header], raw, headers[header], path, now=signed_at)
        assert not verify(SECRETS[header], raw + b" ", headers[header], path, now=signed_at)
        # bound to its endpoint and to its time (docs/protocol.md §2)
        elsewhere = "/casino/credit" if path != "/casino/credit" else "/casino/debit"
        assert not verify(SECRETS[header], raw, headers[header], elsewhere, now=signed_at)
        assert not verify(SECRETS[header], raw, headers[header], path, now=signed_at + 301)
        # what the project's commands invoke: the same bytes, signed afresh
        fresh = resign(event)
        assert fresh["body"] == event["body"]
        assert verify(SECRETS[header], raw, {k.lower(): v for k, v in fresh["headers"].items()}[header], path)


def _signed_at(event: dict) -> int:
    for name, value in event["headers"].items():
        if name.lower() in SECRETS:
            parsed = parse(value)
            assert parsed is not None, value
            return parsed[0]
    raise AssertionError("no signature header")


def test_regenerating_gives_identical_files(tmp_path):
    """Deterministic but for the signing time (`make events` signs with the current one)."""
    signed_at = _signed_at(_load("debit"))
    for path in write_events(tmp_path, timestamp=signed_at):
        assert path.read_text() == (EVENTS / path.name).read_text(), f"events/{path.name} is stale: make events"
