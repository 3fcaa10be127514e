"""Fixtures of the settlement tests (test_settlement.py, test_settlement_outcomes.py): the
reference provider against the real casino handlers through a fault-injecting transport."""

from __future__ import annotations

import pytest
from seamless.contract import client as signed_client
from seamless.runtime.settings import reload_settings

from tests.provider.test_settlement import Casino
from tests.support import make_player, new_session, provider_session_for, without_backoff


@pytest.fixture
def settle_now(monkeypatch):
    """Durable deliveries are due at once (no backoff between runs), no sleeping inline."""
    monkeypatch.setenv("SETTLEMENT_BACKOFF_BASE_SECONDS", "0")
    reload_settings()
    without_backoff(monkeypatch)
    yield
    monkeypatch.delenv("SETTLEMENT_BACKOFF_BASE_SECONDS")
    reload_settings()


@pytest.fixture
def player(database_url):
    """A player with 10,000 and a provider session bound to a fresh casino session."""
    user = make_player(database_url, 10_000)
    return user, provider_session_for(database_url, user, new_session(database_url, user))


@pytest.fixture
def casino(monkeypatch):
    c = Casino()
    monkeypatch.setattr(signed_client, "default_transport", lambda: c.transport)
    return c
