"""simulateRound (docs/protocol.md §6): the test driver. Launches a session, then has the
provider play the round against this casino."""

from __future__ import annotations

from typing import Any

from ..contract import errors
from ..contract.models import LaunchGameRequest, SimulateRoundRequest
from ..contract.round_plan import plan_round
from .launch import launch, provider_client
from .settings import get_settings

ROUND_FIELDS = {"bets", "wins", "rollbacks", "actions", "duplicate_callbacks", "round_id"}


def simulate_round(req: SimulateRoundRequest) -> dict[str, Any]:
    """Launches a session, then has the provider play the round against this casino."""
    plan_round(req)  # a bad round is refused before anything is launched
    session = launch(LaunchGameRequest(user_id=req.user_id, game_id=req.game_id, currency=req.currency))
    settings = get_settings()
    client = provider_client(settings, session.provider_secret_ref, read_timeout=settings.http_read_timeout_simulate_seconds)
    round_fields = req.model_dump(by_alias=True, exclude_none=True, include=ROUND_FIELDS)
    # Without a roundId a repeated simulate would play a second round: never retried.
    result = client.post(
        f"{session.provider_url}/provider/simulate",
        {"providerSessionId": session.provider_session_id, **round_fields},
        max_attempts=None if req.round_id else 1,
    )
    report = result.json() if result.status == 200 else None
    if not isinstance(report, dict):
        raise errors.ProviderError(f"The game provider could not play the round (HTTP {result.status or 'no answer'}).")
    return {"sessionId": session.session_id, **report}
