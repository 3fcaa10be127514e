"""Helpers shared by the tests: signed API Gateway events through the real handlers, and
direct database access (as the admin) to set up sessions and read balances."""

from __future__ import annotations

import json
import os
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from seamless.contract.signing import contract_path, sign

from devtools import admin, fixtures
from devtools.devserver import invoke
from devtools.lambda_local import api_event
from devtools.template import Template

CASINO_SECRET, PROVIDER_SECRET = fixtures.CASINO_SECRET, fixtures.PROVIDER_SECRET
ALICE, BOB, CAROL = admin.ALICE, admin.BOB, admin.CAROL
GAME, INACTIVE_GAME = admin.GAME, admin.INACTIVE_GAME
DEV_SESSION = admin.DEV_SESSION_TOKEN

_template: Template | None = None


def template() -> Template:
    global _template
    if _template is None:
        _template = Template()
    return _template


def function(logical_id: str):
    """A function of template.yaml by logical id (its handler loads as the local API loads it)."""
    return template().functions[logical_id]


def function_for(path: str):
    for fn in template().functions.values():
        if any(p == path for _, p in fn.routes):
            return fn
    raise KeyError(path)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    raw: str

    @property
    def json(self) -> Any:
        return json.loads(self.raw) if self.raw else None

    @property
    def code(self) -> str | None:
        body = self.json
        return body["error"]["code"] if isinstance(body, dict) and "error" in body else None

    @property
    def replayed(self) -> bool:
        return self.headers.get("Idempotent-Replayed") == "true"


def upper_hex(signature: str) -> str:
    """A `t=…,v1=…` signature with its hex digits upper-cased and nothing else (§2)."""
    head, _, digits = signature.rpartition("=")
    return f"{head}={digits.upper()}"


def enc(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def call(
    path: str,
    body: bytes | dict,
    *,
    headers: list[tuple[str, str]] | None = None,
    sign_with: str | None = CASINO_SECRET,
    header_name: str = "X-Casino-Signature",
    method: str = "POST",
    event_overrides: dict | None = None,
) -> Response:
    """Invokes the function routed at `path` with a genuine REST proxy event."""
    raw = body if isinstance(body, bytes) else enc(body)
    hdrs = [("Content-Type", "application/json")] + list(headers or [])
    if sign_with is not None:
        hdrs.append((header_name, sign(sign_with, raw, contract_path(path), method=method)))
    event = api_event(method, path, path, hdrs, raw)
    event.update(event_overrides or {})
    result = invoke(function_for(path), event)
    return Response(result["statusCode"], result.get("headers") or {}, result.get("body") or "")


def restore_env(saved: dict[str, str | None]) -> None:
    """Puts environment variables back as they were (None: unset) and reloads the settings."""
    from seamless.runtime.settings import reload_settings

    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    reload_settings()


def fetch_one(conn: psycopg.Connection, query: Any, params: Any = ()) -> tuple[Any, ...]:
    """The one row a query must return (a missing row fails the test, not a TypeError)."""
    row = conn.execute(query, params).fetchone()
    assert row is not None, query
    return row


def admin_conn(url: str) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=True)


def new_session(url: str, user: str = ALICE, currency: str = "USD", *, game: str = GAME, expires_in_seconds: int = 1800) -> str:
    """Creates an active session directly (what launchGame does, minus the provider call)."""
    token = secrets.token_urlsafe(32)
    with admin_conn(url) as conn:
        fixtures.create_session(conn, token, user, currency, game_id=game, expires_in_seconds=expires_in_seconds)
    return token


def expire_session(url: str, token: str) -> None:
    with admin_conn(url) as conn:
        conn.execute(
            "UPDATE casino_game_sessions SET expires_at = now() - interval '1 second' "
            "WHERE token_hash = sha256(convert_to(%s, 'UTF8'))",
            (token,),
        )


def wallet(url: str, user: str = ALICE, currency: str = "USD") -> tuple[int, int]:
    with admin_conn(url) as conn:
        row = fetch_one(
            conn,
            "SELECT playable_balance, redeemable_balance FROM casino_wallets WHERE user_id = %s AND currency = %s",
            (user, currency),
        )
    return row[0], row[1]


def new_id(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4()}"


@contextmanager
def live_api(database_url: str, *, workers: int | None = None, read_timeout: float | None = None) -> Iterator[str]:
    """The local API (template.yaml, in-process) on a free loopback port, with both sides'
    base URLs in the database pointing at it, `workers` containers per function (default: the
    local API's). Yields the base URL."""
    import threading

    from seamless.runtime.settings import reload_settings

    from devtools.devserver import READ_TIMEOUT_SECONDS, make_server

    server = make_server("127.0.0.1", 0, template(), workers=workers, read_timeout=read_timeout or READ_TIMEOUT_SECONDS)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    saved = {k: os.environ.get(k) for k in ("PROVIDER_BASE_URL", "CASINO_BASE_URL", "PROVIDER_PUBLIC_URL")}
    os.environ.update(PROVIDER_BASE_URL=base, CASINO_BASE_URL=base, PROVIDER_PUBLIC_URL=base)
    reload_settings()
    admin.seed(database_url, quiet=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        server.shutdown()
        server.server_close()
        restore_env(saved)


def make_player(url: str, playable: int, redeemable: int | None = None, *, currency: str = "USD", status: str = "active") -> str:
    """A fresh player with one wallet and its opening deposit (so reconcile holds)."""
    user_id = str(uuid.uuid4())
    redeemable = playable if redeemable is None else redeemable
    with admin_conn(url) as conn:
        fixtures.create_player(conn, user_id, f"player-{user_id[:8]}", status, [(currency, playable, redeemable)])
    return user_id


class FakeHTTPResponse:
    def __init__(self, status: int, data: bytes, headers: dict[str, str] | None = None):
        self.status, self.data, self.headers = status, data, headers or {}


class HandlerTransport:
    """A SignedClient transport that hands each request to the real handler of its path
    (in-process), with faults injected by `fault(path, body, n)`: return None to pass the
    request through, an int to answer that status without calling the handler, or an
    exception to raise (a timeout before the casino saw it), or a FakeHTTPResponse to answer
    as is. A 1-tuple (exception,) runs the handler and then raises the exception (the casino
    committed; the answer is lost)."""

    def __init__(self, fault=None):
        self.fault = fault or (lambda path, body, n: None)
        self.seen: list[tuple[str, bytes]] = []

    def request(self, method, url, *, body, headers, timeout, retries):
        import urllib.parse

        path = urllib.parse.urlsplit(url).path
        self.seen.append((path, body))
        injected = self.fault(path, body, len(self.seen))
        if isinstance(injected, FakeHTTPResponse):  # an answer of the caller's making (a gateway's own page)
            return injected
        if isinstance(injected, int):
            return FakeHTTPResponse(injected, b'{"error":{"code":"SERVICE_UNAVAILABLE","message":"injected"}}')
        lose_response = isinstance(injected, tuple)
        if isinstance(injected, Exception):
            raise injected
        r = call(path, body, sign_with=None, headers=list(headers.items()))
        if lose_response:
            raise injected[0]
        return FakeHTTPResponse(r.status, r.raw.encode(), r.headers)


def provider_session_for(url: str, user: str, token: str) -> str:
    """The provider's side of a casino session (its customer and session rows); returns the
    providerSessionId."""
    with admin_conn(url) as conn:
        return fixtures.create_provider_session(conn, f"ps-{new_id('t')}", user, token)


def without_backoff(monkeypatch) -> list[float]:
    """Signed clients record their backoff delays instead of sleeping; returns the record."""
    from seamless.contract import client as signed_client

    sleeps: list[float] = []
    original = signed_client.SignedClient.__init__

    def init(self, *args, **kwargs):
        kwargs["sleep"] = sleeps.append
        original(self, *args, **kwargs)

    monkeypatch.setattr(signed_client.SignedClient, "__init__", init)
    return sleeps
