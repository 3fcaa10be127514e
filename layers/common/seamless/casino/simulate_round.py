"""simulateRound (docs/protocol.md §6): the test driver. Launches a session, then has the
provider play the round against this casino."""

from __future__ import annotations

from typing import Any

from ..contract import errors
from ..contract.models import LaunchGameRequest, SimulateRoundRequest
from ..contract.round_plan import plan_round
from ..runtime import db
from ..runtime import deadline as deadlines
from ..runtime.settings import CASINO_ROLE
from . import queries
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
    # Without a roundId a repeated simulate would play a second round: never retried. With one
    # it is replay-safe, and retried while this invocation has time for another attempt.
    result = client.post(
        f"{session.provider_url}/provider/simulate",
        {"providerSessionId": session.provider_session_id, **round_fields},
        max_attempts=None if req.round_id else 1,
        deadline=deadlines.at(settings.simulate_margin_seconds),
    )
    report = result.json() if result.status == 200 else None
    passed = contract_refusal(result.status, result.json())
    if passed is not None:
        raise passed  # e.g. 409 ROUND_MISMATCH: passed through as it is (docs/protocol.md §6)
    if not isinstance(report, dict):
        raise errors.ProviderError(f"The game provider could not play the round (HTTP {result.status or 'no answer'}).")
    if report.get("finalBalance") is None:
        # The provider could not read it (e.g. the session expired during the round): the
        # casino knows its own wallet.
        report["finalBalance"] = wallet_balance(session.session_id)
        expected = report.get("expectedFinalBalance")
        report["consistent"] = expected is not None and report["finalBalance"] == expected
    return {"sessionId": session.session_id, **report}


def contract_refusal(status: int | None, body: Any) -> errors.ApiError | None:
    """The provider's contract 4xx (a code of §3 with its own status), to pass through as it
    is; None for anything else (a 401 is the casino's own signing problem: PROVIDER_ERROR)."""
    if status is None or not 400 <= status < 500 or status == 401 or not isinstance(body, dict):
        return None
    error = body.get("error")
    if not isinstance(error, dict):
        return None
    cls = next((c for c in errors.catalog() if c.contract and c.code == error.get("code") and c.status == status), None)
    if cls is None:
        return None
    message = error.get("message") if isinstance(error.get("message"), str) else None
    details = error.get("details") if isinstance(error.get("details"), list) else None
    return cls(message, details=details)


def wallet_balance(session_id: str) -> int:
    row = db.run_idempotent(CASINO_ROLE, lambda conn: conn.execute(queries.SESSION_BALANCE, (session_id,)).fetchone())
    if row is None:
        raise errors.InternalError()
    return int(row[0])
