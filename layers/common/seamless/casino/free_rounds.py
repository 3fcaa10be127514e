"""Free-round grants on the casino (docs/protocol.md §4b): grant, list, cancel.

The casino records a grant 'pending', has the provider accept it (POST /provider/freeRounds,
signed; idempotent by grantId, so retried like any idempotent call), then makes it 'active' -
or 'failed' when the provider did not accept it: a failed grant is never usable. A cancel asks
the provider first (its POST /provider/freeRounds/{grantId}/cancel) and only then marks the
grant cancelled. Database work runs in short transactions, the provider between them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from ..contract import errors
from ..contract.models import FreeRoundsGrantRequest, GrantPath, GrantsQuery
from ..runtime import db
from ..runtime.settings import CASINO_ROLE
from . import queries
from .launch import provider_client
from .settings import get_settings

#: §4b: a grant expires in the future, at most this far ahead
MAX_GRANT_LIFETIME = timedelta(days=90)

_REFUSALS: dict[str, type[errors.ApiError]] = {
    "USER_NOT_FOUND": errors.UserNotFound,
    "PLAYER_BLOCKED": errors.PlayerBlocked,
    "WALLET_NOT_FOUND": errors.WalletNotFound,
    "GAME_NOT_FOUND": errors.GameNotFound,
    "CURRENCY_NOT_SUPPORTED": errors.CurrencyNotSupported,
    "BET_LIMIT_EXCEEDED": errors.BetLimitExceeded,
}


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _expiry(req: FreeRoundsGrantRequest) -> datetime:
    """expiresAt within (now, now + 90 days], else a 400 naming it."""
    expires = datetime.fromisoformat(req.expires_at.replace("Z", "+00:00"))
    now = datetime.now(UTC)
    if expires <= now:
        raise errors.ValidationError(details=[{"field": "expiresAt", "message": "Must be in the future."}])
    if expires > now + MAX_GRANT_LIFETIME:
        raise errors.ValidationError(details=[{"field": "expiresAt", "message": "Must be at most 90 days ahead."}])
    return expires


def _open(conn: psycopg.Connection, grant_id: str, req: FreeRoundsGrantRequest, expires: datetime) -> dict[str, Any]:
    row = (
        conn.cursor(row_factory=dict_row)
        .execute(
            queries.OPEN_GRANT,
            {
                "grant_id": grant_id,
                "user_id": req.user_id,
                "game_id": req.game_id,
                "currency": req.currency,
                "rounds": req.rounds,
                "bet": req.bet_amount,
                "expires": expires,
                "fund": req.fund or "bonus",
            },
        )
        .fetchone()
    )
    if row is None:
        raise errors.InternalError()
    if row["code"] is not None:
        raise _REFUSALS[row["code"]]()
    return row


def grant(req: FreeRoundsGrantRequest) -> dict[str, Any]:
    """POST /casino/freeRounds."""
    expires = _expiry(req)
    grant_id = str(uuid.uuid4())
    row = db.run_once(CASINO_ROLE, lambda c: _open(c, grant_id, req, expires))
    client = provider_client(get_settings(), row["secret_ref"])
    result = client.post(
        f"{row['api_base_url'].rstrip('/')}/provider/freeRounds",
        {
            "grantId": grant_id,
            "playerId": req.user_id,
            "gameId": row["provider_game_id"],
            "currency": req.currency,
            "currencyDecimals": row["currency_decimals"],
            "rounds": req.rounds,
            "betAmount": req.bet_amount,
            "expiresAt": _iso(expires),
        },
    )
    answer = result.json() if result.status == 200 else None
    accepted = isinstance(answer, dict) and answer.get("grantId") == grant_id and answer.get("status") == "active"
    db.run_once(CASINO_ROLE, lambda c: c.execute(queries.SETTLE_GRANT, (grant_id, accepted)))
    if not accepted:
        # The provider may have recorded it and lost its answer: ask it to cancel (best effort,
        # once), so that no free round of a grant the casino calls failed is started.
        client.post(f"{row['api_base_url'].rstrip('/')}/provider/freeRounds/{grant_id}/cancel", {}, max_attempts=1)
        raise errors.ProviderError(f"The game provider refused the grant (HTTP {result.status or 'no answer'}).")
    return {"grantId": grant_id, "status": "active", "rounds": req.rounds, "roundsPlayed": 0, "expiresAt": _iso(expires)}


def _status(row: dict[str, Any], now: datetime) -> str:
    if row["status"] == "cancelled":
        return "cancelled"
    if row["rounds_played"] >= row["rounds"]:
        return "used"
    if row["expires_at"] <= now:
        return "expired"
    return "active"


def grant_view(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "grantId": row["grant_id"],
        "gameId": str(row["game_id"]),
        "currency": row["currency"],
        "rounds": row["rounds"],
        "roundsPlayed": row["rounds_played"],
        "wonAmount": row["won_amount"],
        "status": _status(row, now),
        "expiresAt": _iso(row["expires_at"]),
    }


def list_grants(req: GrantsQuery) -> dict[str, Any]:
    """GET /casino/freeRounds?userId=…: the player's grants the provider accepted, newest first."""
    rows = db.run_once(
        CASINO_ROLE, lambda c: c.cursor(row_factory=dict_row).execute(queries.LIST_GRANTS, {"user_id": req.user_id}).fetchall()
    )
    return {"grants": [grant_view(row, row["now"]) for row in rows]}


def cancel(req: GrantPath) -> dict[str, Any]:
    """POST /casino/freeRounds/{grantId}/cancel: the provider's cancel first, then the casino's
    mark; a cancelled grant answers the same again; unknown (or never accepted) -> 404."""
    row = db.run_once(
        CASINO_ROLE,
        lambda c: c.cursor(row_factory=dict_row).execute(queries.GRANT_FOR_CANCEL, {"grant_id": req.grant_id}).fetchone(),
    )
    if row is None:
        raise errors.GrantNotFound("No free-round grant has this grantId.")
    if row["status"] == "active":
        client = provider_client(get_settings(), row["secret_ref"])
        result = client.post(f"{row['api_base_url'].rstrip('/')}/provider/freeRounds/{req.grant_id}/cancel", {})
        answer = result.json() if result.status == 200 else None
        if not (isinstance(answer, dict) and answer.get("status") == "cancelled"):
            raise errors.ProviderError(f"The game provider refused the cancel (HTTP {result.status or 'no answer'}).")
    played = db.run_once(CASINO_ROLE, lambda c: c.execute(queries.CANCEL_GRANT, (req.grant_id,)).fetchone())
    if played is None or played[0] is None:
        raise errors.GrantNotFound("No free-round grant has this grantId.")
    return {"grantId": req.grant_id, "status": "cancelled", "roundsPlayed": played[0]}
