"""The casino's operator endpoints: launchGame and simulateRound (PROTOCOL §6).

Database work runs as the casino role in short transactions; the provider is called
between them, never inside one.
"""
from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from . import db, errors, queries
from .ledger import token_hash
from .models import LaunchGameRequest, LaunchGameResponse, SimulateRoundRequest
from .round_plan import plan_round
from .settings import CASINO_ROLE, Settings, get_settings
from .signed_client import RetryPolicy, SignedClient
from .signing import PROVIDER_SIGNATURE_HEADER

ROUND_FIELDS = {"bets", "wins", "rollbacks", "actions", "duplicate_callbacks", "round_id"}


@dataclass(frozen=True)
class Launch:
    session_id: str
    session_token: str
    provider_session_id: str
    launch_url: str
    balance: int
    currency: str
    expires_at: datetime
    provider_url: str
    provider_secret_ref: str

    def response(self) -> dict[str, Any]:
        return LaunchGameResponse(
            session_id=self.session_id, session_token=self.session_token,
            provider_session_id=self.provider_session_id, launch_url=self.launch_url, balance=self.balance,
            currency=self.currency, expires_at=self.expires_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        ).model_dump(by_alias=True)


def provider_client(settings: Settings, secret_ref: str, *, read_timeout: float | None = None) -> SignedClient:
    policy = RetryPolicy(max_attempts=settings.http_max_attempts,
                         connect_timeout=settings.http_connect_timeout_seconds,
                         read_timeout=read_timeout or settings.http_read_timeout_seconds,
                         backoff_base=settings.http_backoff_base_seconds,
                         backoff_max=settings.http_backoff_max_seconds)
    return SignedClient(settings.secret_by_ref(secret_ref), PROVIDER_SIGNATURE_HEADER, policy)


def _create_session(conn: psycopg.Connection, req: LaunchGameRequest, session_id: str, token: str,
                    ttl: int) -> tuple[dict[str, Any], datetime]:
    with conn.transaction():
        cur = conn.cursor(row_factory=dict_row)
        row = cur.execute(queries.LAUNCH_LOOKUP, {"user_id": req.user_id, "game_id": req.game_id,
                                                  "currency": req.currency}).fetchone()
        if row is None:
            raise errors.UserNotFound()
        if row["user_status"] == "blocked":
            raise errors.PlayerBlocked()
        if row["wallet_id"] is None:
            raise errors.WalletNotFound()
        if row["game_id"] is None or not row["game_active"] or row["provider_disabled"]:
            raise errors.GameNotFound()
        created = cur.execute(queries.CREATE_SESSION, {
            "id": session_id, "token_hash": token_hash(token), "user_id": req.user_id,
            "wallet_id": row["wallet_id"], "game_id": row["game_id"], "provider_id": row["provider_id"],
            "currency": req.currency, "ttl": ttl}).fetchone()
        assert created is not None  # INSERT ... RETURNING always returns the row
    return row, created["expires_at"]


def launch(req: LaunchGameRequest) -> Launch:
    """Checks player, game and wallet, opens a pending session, has the provider launch it,
    then activates it. If the provider fails the session is marked failed (unusable)."""
    settings = get_settings()
    session_id, token = str(uuid.uuid4()), secrets.token_urlsafe(32)
    row, expires_at = db.run(CASINO_ROLE, lambda c: _create_session(c, req, session_id, token,
                                                                     settings.session_ttl_seconds))
    client = provider_client(settings, row["secret_ref"])
    result = client.post(f"{row['api_base_url'].rstrip('/')}/provider/launch", {
        "sessionToken": token, "playerId": req.user_id, "gameId": row["provider_game_id"],
        "currency": req.currency, "casinoCode": settings.casino_code})
    answer = result.json() if result.status == 200 else None
    if not (isinstance(answer, dict) and isinstance(answer.get("providerSessionId"), str)
            and isinstance(answer.get("launchUrl"), str)):
        db.run(CASINO_ROLE, lambda c: c.execute(queries.FAIL_SESSION, (session_id,)))
        raise errors.ProviderError(f"The game provider refused the launch (HTTP {result.status or 'no answer'}).")
    balance_row = db.run(CASINO_ROLE, lambda c: c.execute(queries.ACTIVATE_SESSION, {
        "id": session_id, "provider_session_id": answer["providerSessionId"],
        "launch_url": answer["launchUrl"]}).fetchone())
    if balance_row is None:
        raise errors.InternalError()
    return Launch(session_id, token, answer["providerSessionId"], answer["launchUrl"], balance_row[0],
                  req.currency, expires_at, row["api_base_url"].rstrip("/"), row["secret_ref"])


def launch_game(req: LaunchGameRequest) -> dict[str, Any]:
    return launch(req).response()


def simulate_round(req: SimulateRoundRequest) -> dict[str, Any]:
    """Launches a session, then has the provider play the round against this casino."""
    plan_round(req)  # a bad round is refused before anything is launched
    session = launch(LaunchGameRequest(user_id=req.user_id, game_id=req.game_id, currency=req.currency))
    settings = get_settings()
    client = provider_client(settings, session.provider_secret_ref,
                             read_timeout=settings.http_read_timeout_simulate_seconds)
    round_fields = req.model_dump(by_alias=True, exclude_none=True, include=ROUND_FIELDS)
    # Without a roundId a repeated simulate would play a second round: never retried.
    result = client.post(f"{session.provider_url}/provider/simulate",
                         {"providerSessionId": session.provider_session_id, **round_fields},
                         max_attempts=None if req.round_id else 1)
    report = result.json() if result.status == 200 else None
    if not isinstance(report, dict):
        raise errors.ProviderError(f"The game provider could not play the round (HTTP {result.status or 'no answer'}).")
    return {"sessionId": session.session_id, **report}
