"""The reference provider's launch and health endpoints (docs/protocol.md §7)."""

from __future__ import annotations

import secrets
from typing import Any

from ..contract import errors
from ..contract.models import ProviderLaunchRequest
from ..runtime import db
from ..runtime.settings import PROVIDER_ROLE
from . import queries
from .settings import get_settings


def _one(row: tuple[Any, ...] | None) -> Any:
    if row is None:
        raise RuntimeError("INSERT ... RETURNING returned no row")
    return row[0]


def launch(req: ProviderLaunchRequest) -> dict[str, Any]:
    settings = get_settings()
    casino_code = req.casino_code or settings.casino_code
    provider_session_id = f"ps-{secrets.token_hex(12)}"

    def work(conn: Any) -> None:
        with conn.transaction():
            casino = conn.execute(queries.PROVIDER_CASINO, (casino_code,)).fetchone()
            if casino is None:
                raise errors.ValidationError(details=[{"field": "casinoCode", "message": "Unknown casino."}])
            game = conn.execute(queries.PROVIDER_GAME, (req.game_id,)).fetchone()
            if game is None:
                raise errors.GameNotFound("No active game has this gameId at the provider.")
            customer = _one(conn.execute(queries.PROVIDER_CUSTOMER, (casino[0], req.player_id)).fetchone())
            conn.execute(
                queries.PROVIDER_CREATE_SESSION,
                (provider_session_id, customer, game[0], req.currency, req.session_token, req.currency_decimals),
            )

    db.run_once(PROVIDER_ROLE, work)
    launch_url = f"{settings.provider_public_url.rstrip('/')}/games/{req.game_id}?session={provider_session_id}"
    return {"providerSessionId": provider_session_id, "launchUrl": launch_url}


# ------------------------------------------------------------------ health


def health() -> dict[str, Any]:
    db.run_idempotent(PROVIDER_ROLE, lambda conn: conn.execute(queries.HEALTH).fetchone())
    return {"status": "ok", "database": "ok"}
