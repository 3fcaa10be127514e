"""One request line per API request: its audit fields (correlation id, endpoint, status, code)
and, as CloudWatch EMF, its metrics; never a session token or a secret. Warnings logged during
a request carry its ids."""

from __future__ import annotations

import io
import json
import logging

import pytest
from seamless.runtime.observability import logger
from seamless.runtime.settings import reload_settings

from tests.support import CASINO_SECRET, call, new_id, new_session


@pytest.fixture
def info_logs():
    """Everything the handlers' Logger writes, as Lambda would ship it (JSON lines)."""
    previous = logger.log_level
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    logger.setLevel("INFO")
    yield buffer
    logger.removeHandler(handler)
    logger.setLevel(previous)


@pytest.fixture(autouse=True)
def fresh_settings():
    """The settings are read once per container: a test that changes the environment reloads
    them, and the next test must not see its values."""
    yield
    reload_settings()


@pytest.fixture
def logs_off():
    """INFO logs off for the test (as POWERTOOLS_LOG_LEVEL=WARNING would have them)."""
    previous = logger.log_level
    logger.setLevel("CRITICAL")
    yield
    logger.setLevel(previous)


def _lines(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def _answered(text: str) -> list[dict]:
    return [r for r in _lines(text) if r.get("message") == "request answered"]


def test_one_request_line_per_request_with_correlation_id_and_no_token_or_secret(database_url, info_logs, capsys):
    token = new_session(database_url)
    txid = new_id("log")
    payload = {"sessionToken": token, "transactionId": txid, "roundId": new_id("r"), "amount": 7, "currency": "USD"}
    capsys.readouterr()
    assert call("/casino/debit", payload).status == 200
    assert call("/casino/debit", payload, sign_with="wrong-secret").status == 401
    assert call("/casino/getBalance", {"sessionToken": token}).status == 200
    text = capsys.readouterr().out + info_logs.getvalue()
    assert token not in text
    assert CASINO_SECRET not in text
    debit, refused, balance = _answered(text)  # exactly one line per request, in order
    assert debit["correlation_id"] == txid
    assert (debit["endpoint"], debit["status"], debit["replayed"]) == ("/casino/debit", 200, False)
    assert debit["function_request_id"] and debit["timestamp"].endswith("Z")
    assert (refused["status"], refused["code"]) == (401, "INVALID_SIGNATURE")
    assert refused["correlation_id"] != txid  # an unsigned body is not read: the API request id
    assert (balance["endpoint"], balance["status"]) == ("/casino/getBalance", 200)


def test_stored_refusal_names_its_code(database_url, info_logs, capsys):
    token = new_session(database_url)
    payload = {"sessionToken": token, "transactionId": new_id("big"), "roundId": new_id("r"), "amount": 10**12, "currency": "USD"}
    capsys.readouterr()
    status = call("/casino/debit", payload).status
    (line,) = _answered(capsys.readouterr().out)
    assert status == line["status"] != 200
    assert line["code"] in ("INSUFFICIENT_FUNDS", "BET_LIMIT_EXCEEDED")


def test_no_line_when_logs_are_off_and_metrics_disabled(database_url, logs_off, capsys):
    token = new_session(database_url)
    capsys.readouterr()
    assert call("/casino/getBalance", {"sessionToken": token}).status == 200
    assert _answered(capsys.readouterr().out) == []


def test_metrics_ride_on_the_request_line(database_url, monkeypatch, logs_off, capsys):
    """The metrics are written even when INFO logs are off."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "CasinoWallet")
    reload_settings()  # read once per container; reloaded again by the autouse fixture below
    token = new_session(database_url)
    payload = {"sessionToken": token, "transactionId": new_id("m"), "roundId": new_id("r"), "amount": 3, "currency": "USD"}
    capsys.readouterr()
    assert call("/casino/debit", payload).status == 200
    assert call("/casino/debit", payload).status == 200  # replay
    out = capsys.readouterr().out
    first, replay = _lines(out)  # one JSON document per request: no separate metrics blob
    for record, name in ((first, "Debits"), (replay, "Replays")):
        (declaration,) = record["_aws"]["CloudWatchMetrics"]
        assert declaration["Namespace"] == "CasinoWallet"
        assert declaration["Dimensions"] == [["service", "endpoint"]]
        names = {m["Name"] for m in declaration["Metrics"]}
        assert {"Requests", name} <= names, record
        assert all(isinstance(record[n], int | float) for n in names), record  # every declared metric has its value
        assert record["endpoint"] == "/casino/debit" and record["service"]
        assert record[name] == 1 and record["Requests"] == 1
    assert "Debits" not in replay and replay["replayed"] is True


def test_a_warning_during_a_request_carries_its_ids(info_logs):
    from seamless.runtime.apigw import api_handler, ok
    from seamless.runtime.observability import logger as log

    from devtools.lambda_local import LambdaContext, api_event

    def work(request):
        log.warning("something to look at")
        return ok({})

    context = LambdaContext("probe", 5, 128)
    event = api_event("GET", "/probe", "/probe", [], b"")
    event["requestContext"]["requestId"] = "req-123"
    assert api_handler(work)(event, context)["statusCode"] == 200
    (warning,) = [r for r in _lines(info_logs.getvalue()) if r.get("message") == "something to look at"]
    assert warning["correlation_id"] == "req-123"
    assert warning["function_request_id"] == context.aws_request_id
    assert warning["endpoint"] == "/probe"
    log.warning("outside a request")
    (outside,) = [r for r in _lines(info_logs.getvalue()) if r.get("message") == "outside a request"]
    assert "endpoint" not in outside  # the filter adds nothing outside a request


def test_a_scheduled_run_publishes_its_gauges_with_powertools(database_url, monkeypatch, capsys):
    """No request line outside an API request: the drainer's gauges go out as Powertools' EMF."""
    from devtools.lambda_local import LambdaContext
    from tests.support import template

    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    reload_settings()
    handler = template().functions["SettlementFunction"].load()
    capsys.readouterr()
    summary = handler({"source": "aws.events", "detail-type": "Scheduled Event"}, LambdaContext("settlement", 60, 256))
    assert isinstance(summary, dict)
    emf = [r for r in _lines(capsys.readouterr().out) if "_aws" in r]
    assert len(emf) == 1 and "ParkedSettlements" in emf[0], emf
    assert emf[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "CasinoWallet"
    assert "request answered" not in {r.get("message") for r in emf}
