"""Logs carry a correlation id and never a session token or a secret; metrics are emitted
as CloudWatch EMF per endpoint."""

from __future__ import annotations

import io
import json
import logging

import pytest
from seamless.runtime.observability import logger, metrics

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


def _lines(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def test_logs_have_correlation_id_and_no_token_or_secret(database_url, info_logs):
    token = new_session(database_url)
    txid = new_id("log")
    payload = {"sessionToken": token, "transactionId": txid, "roundId": new_id("r"), "amount": 7, "currency": "USD"}
    assert call("/casino/debit", payload).status == 200
    assert call("/casino/debit", payload, sign_with="wrong-secret").status == 401
    assert call("/casino/getBalance", {"sessionToken": token}).status == 200
    text = info_logs.getvalue()
    assert token not in text
    assert CASINO_SECRET not in text
    records = _lines(text)
    answered = [r for r in records if r.get("message") == "callback answered"]
    assert any(r.get("correlation_id") == txid for r in answered), records


def test_metrics_emitted_per_endpoint(database_url, monkeypatch, capsys):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    metrics.clear_metrics()  # with metrics disabled, earlier handlers never flushed their state
    token = new_session(database_url)
    payload = {"sessionToken": token, "transactionId": new_id("m"), "roundId": new_id("r"), "amount": 3, "currency": "USD"}
    capsys.readouterr()
    assert call("/casino/debit", payload).status == 200
    assert call("/casino/debit", payload).status == 200  # replay
    emf = [r for r in _lines(capsys.readouterr().out) if "_aws" in r]
    metric_names = [{m["Name"] for d in r["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]} for r in emf]
    assert any("Debits" in names for names in metric_names), emf
    assert any("Replays" in names for names in metric_names), emf
    assert all(r.get("endpoint") == "/casino/debit" for r in emf if "Debits" in r or "Replays" in r), emf
