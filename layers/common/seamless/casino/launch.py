"""launchGame (docs/protocol.md §6): checks player, wallet and game, opens a session and has
the provider launch it.

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

from ..contract import errors
from ..contract.client import SignedClient
from ..contract.models import LaunchGameRequest, LaunchGameResponse
from ..contract.signing import PROVIDER_SIGNATURE_HEADER
from ..runtime import db
from ..runtime.settings import CASINO_ROLE
from . import queries
from .ledger import token_hash
from .settings import CasinoSettings, get_settings


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
    currency_decimals: int = 2

    def response(self) -> dict[str, Any]:
        return LaunchGameResponse(
            session_id=self.session_id,
            session_token=self.session_token,
            provider_session_id=self.provider_session_id,
            launch_url=self.launch_url,
            balance=self.balance,
            currency=self.currency,
            currency_decimals=self.currency_decimals,
            expires_at=self.expires_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        ).model_dump(by_alias=True)


def provider_client(settings: CasinoSettings, secret_ref: str, *, read_timeout: float | None = None) -> SignedClient:
    return SignedClient(
        settings.secret_by_ref(secret_ref), PROVIDER_SIGNATURE_HEADER, settings.retry_policy(read_timeout=read_timeout)
    )


#: open_session's refusals (sql/casino/functions/50_sessions.sql)
_REFUSALS: dict[str, type[errors.ApiError]] = {
    "USER_NOT_FOUND": errors.UserNotFound,
    "PLAYER_BLOCKED": errors.PlayerBlocked,
    "WALLET_NOT_FOUND": errors.WalletNotFound,
    "GAME_NOT_FOUND": errors.GameNotFound,
    "CURRENCY_NOT_SUPPORTED": errors.CurrencyNotSupported,
}


def _create_session(
    conn: psycopg.Connection, req: LaunchGameRequest, session_id: str, token: str, ttl: int
) -> tuple[dict[str, Any], datetime]:
    cur = conn.cursor(row_factory=dict_row)
    row = cur.execute(
        queries.OPEN_SESSION,
        {
            "id": session_id,
            "token_hash": token_hash(token),
            "user_id": req.user_id,
            "game_id": req.game_id,
            "currency": req.currency,
            "ttl": ttl,
        },
    ).fetchone()
    if row is None:
        raise errors.InternalError()
    if row["code"] is not None:
        raise _REFUSALS[row["code"]]()
    return row, row["expires_at"]


def launch(req: LaunchGameRequest) -> Launch:
    """Checks player, game and wallet, opens a pending session, has the provider launch it,
    then activates it. If the provider fails the session is marked failed (unusable)."""
    settings = get_settings()
    session_id, token = str(uuid.uuid4()), secrets.token_urlsafe(32)
    row, expires_at = db.run_once(CASINO_ROLE, lambda c: _create_session(c, req, session_id, token, settings.session_ttl_seconds))
    client = provider_client(settings, row["secret_ref"])
    result = client.post(
        f"{row['api_base_url'].rstrip('/')}/provider/launch",
        {
            "sessionToken": token,
            "playerId": req.user_id,
            "gameId": row["provider_game_id"],
            "currency": req.currency,
            "casinoCode": settings.casino_code,
            "currencyDecimals": row["currency_decimals"],
        },
        # /provider/launch is not idempotent: a retry would leave an orphan provider session
        # holding a live token. One attempt; a failure is a 502 and the session stays unusable.
        max_attempts=1,
    )
    answer = result.json() if result.status == 200 else None
    if not (
        isinstance(answer, dict) and isinstance(answer.get("providerSessionId"), str) and isinstance(answer.get("launchUrl"), str)
    ):
        db.run_once(CASINO_ROLE, lambda c: c.execute(queries.FAIL_SESSION, (session_id,)))
        raise errors.ProviderError(f"The game provider refused the launch (HTTP {result.status or 'no answer'}).")
    balance_row = db.run_once(
        CASINO_ROLE,
        lambda c: c.execute(
            queries.ACTIVATE_SESSION,
            {"id": session_id, "provider_session_id": answer["providerSessionId"], "launch_url": answer["launchUrl"]},
        ).fetchone(),
    )
    if balance_row is None or balance_row[0] is None:
        raise errors.InternalError()
    return Launch(
        session_id,
        token,
        answer["providerSessionId"],
        answer["launchUrl"],
        balance_row[0],
        req.currency,
        expires_at,
        row["api_base_url"].rstrip("/"),
        row["secret_ref"],
        row["currency_decimals"],
    )


def launch_game(req: LaunchGameRequest) -> dict[str, Any]:
    return launch(req).response()
