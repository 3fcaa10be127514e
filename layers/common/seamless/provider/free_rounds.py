"""Free-round grants at the reference provider (docs/protocol.md §7): the casino's signed
POST /provider/freeRounds (idempotent by grantId) and its cancel, and the gate the round player
passes before it plays a free round (§4b: refused whole when it may not start).

A free round is counted once, when the round that plays it is first recorded: a row of
provider_free_round_plays per (grant, roundId), so a replayed roundId is the same free round
(it goes on being settled, after expiry or cancel too: it started in time).
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
from psycopg.rows import dict_row

from ..contract import errors
from ..contract.models import EmptyBody, GrantPath, ProviderFreeRoundsRequest
from ..runtime import db
from ..runtime.settings import PROVIDER_ROLE
from . import queries
from .settings import get_settings


def _casino(conn: psycopg.Connection) -> int:
    casino = conn.execute(queries.PROVIDER_CASINO, (get_settings().casino_code,)).fetchone()
    if casino is None:
        raise errors.ServiceUnavailable()
    return casino[0]


def grant(req: ProviderFreeRoundsRequest) -> dict[str, Any]:
    """POST /provider/freeRounds: the same body again is the same grant; another body under a
    known grantId is a TRANSACTION_ID_CONFLICT and changes nothing."""
    request = req.model_dump(by_alias=True, mode="json")

    def work(conn: psycopg.Connection) -> None:
        with conn.transaction():
            casino = _casino(conn)
            game = conn.execute(queries.PROVIDER_GAME, (req.game_id,)).fetchone()
            if game is None:
                raise errors.GameNotFound("No active game has this gameId at the provider.")
            customer = conn.execute(queries.PROVIDER_CUSTOMER, (casino, req.player_id)).fetchone()
            assert customer is not None
            stored = conn.execute(
                queries.INSERT_GRANT,
                {
                    "casino": casino,
                    "grant_id": req.grant_id,
                    "customer": customer[0],
                    "game": game[0],
                    "currency": req.currency,
                    "decimals": req.currency_decimals,
                    "rounds": req.rounds,
                    "bet": req.bet_amount,
                    "expires": req.expires_at,
                    "request": json.dumps(request),
                },
            ).fetchone()
            if stored is None or stored[0] != request:
                raise errors.TransactionIdConflict("This grantId was granted with another body.")

    db.run_once(PROVIDER_ROLE, work)
    return {"grantId": req.grant_id, "status": "active"}


def cancel(path: GrantPath, _body: EmptyBody) -> dict[str, Any]:
    """POST /provider/freeRounds/{grantId}/cancel: no new free round of it starts; again -> the
    same answer; unknown -> 404 GRANT_NOT_FOUND."""

    def work(conn: psycopg.Connection) -> Any:
        with conn.transaction():
            return conn.execute(queries.CANCEL_GRANT, {"casino": _casino(conn), "grant_id": path.grant_id}).fetchone()

    row = db.run_once(PROVIDER_ROLE, work)
    if row is None:
        raise errors.GrantNotFound("No free-round grant has this grantId.")
    return {"grantId": path.grant_id, "status": "cancelled", "roundsPlayed": row[0]}


def start(conn: psycopg.Connection, session: dict[str, Any], grant_id: str, round_id: str) -> None:
    """The gate of a free round (inside the caller's transaction): a round already counted for
    this grant goes on; a new one starts only on an active, unexpired grant of the session's
    player, game and currency with a round left, and is counted now."""
    cur = conn.cursor(row_factory=dict_row)
    g = cur.execute(queries.GRANT_FOR_SESSION, {"grant_id": grant_id, "session": session["id"]}).fetchone()
    if g is None:
        raise errors.GrantNotFound("No free-round grant of this player, game and currency has this grantId.")
    if cur.execute(queries.GRANT_PLAYED, (g["id"], round_id)).fetchone() is not None:
        return  # this round of the grant was started already: it is settled, whatever happened since
    if g["status"] != "active" or g["expired"]:
        raise errors.GrantNotFound("The free-round grant is cancelled or expired.")
    if g["rounds_started"] >= g["rounds"]:
        raise errors.FreeRoundsExhausted()
    cur.execute(queries.GRANT_PLAY, (g["id"], round_id))
    cur.execute(queries.GRANT_COUNT_PLAY, (g["id"],))
