"""The contract's error table (docs/protocol.md §3): one class per error code.

This module is the single source of every code's HTTP status and message. `migrate` copies
the catalogue into the casino_error_catalog table, where the ledger functions read it to
build the rejections they store for replay.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar


class ApiError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL_ERROR"
    message: ClassVar[str] = "An internal error occurred. Nothing was committed; it is safe to retry."
    #: stored for idempotent replay when a money callback is refused with it
    stored: ClassVar[bool] = False
    #: a code of the contract's table (docs/protocol.md §3); the local API's own routing
    #: errors are not, so a client treats them like any gateway's 4xx (§7: retried)
    contract: ClassVar[bool] = True

    def __init__(
        self, message: str | None = None, *, details: list[dict[str, str]] | None = None, extra: dict[str, Any] | None = None
    ) -> None:
        self.detail_message = message or self.message
        self.details = details
        self.extra = extra or {}
        super().__init__(self.detail_message)

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.detail_message}
        if self.details is not None:
            error["details"] = self.details
        return {"error": error, **self.extra}

    def body_text(self) -> str:
        return json.dumps(self.body(), separators=(",", ":"), ensure_ascii=False)


class ValidationError(ApiError):
    status, code = 400, "VALIDATION_ERROR"
    message = "The request body is invalid; see error.details."


class InvalidSignature(ApiError):
    status, code = 401, "INVALID_SIGNATURE"
    message = "The request signature is missing or does not match the request body."


class InsufficientFunds(ApiError):
    status, code, stored = 402, "INSUFFICIENT_FUNDS", True
    message = "The wallet balance is lower than the bet amount."


class SessionExpired(ApiError):
    status, code, stored = 403, "SESSION_EXPIRED", True
    message = "The game session has expired."


class PlayerBlocked(ApiError):
    status, code, stored = 403, "PLAYER_BLOCKED", True
    message = "The player is blocked."


class GameDisabled(ApiError):
    status, code, stored = 403, "GAME_DISABLED", True
    message = "The session's game was deactivated or its provider disabled; no new bets are accepted."


class SessionNotFound(ApiError):
    status, code = 404, "SESSION_NOT_FOUND"
    message = "No game session matches this session token."


class UserNotFound(ApiError):
    status, code = 404, "USER_NOT_FOUND"
    message = "No player has this userId."


class GameNotFound(ApiError):
    status, code = 404, "GAME_NOT_FOUND"
    message = "No active game has this gameId."


class WalletNotFound(ApiError):
    status, code = 404, "WALLET_NOT_FOUND"
    message = "The player has no wallet in this currency."


class RoundNotFound(ApiError):
    status, code = 404, "ROUND_NOT_FOUND"
    message = "The provider has no round with this roundId."


class BetNotFound(ApiError):
    status, code, stored = 404, "BET_NOT_FOUND", True
    message = "betTransactionId does not name an accepted bet of this session and round."


class TransactionIdConflict(ApiError):
    status, code = 409, "TRANSACTION_ID_CONFLICT"
    message = "This transactionId was already used with a different request or endpoint."


class CurrencyMismatch(ApiError):
    status, code, stored = 409, "CURRENCY_MISMATCH", True
    message = "The currency differs from the session's wallet currency."


class BetRolledBack(ApiError):
    status, code, stored = 409, "BET_ROLLED_BACK", True
    message = "This bet was rolled back."


class BetAlreadySettled(ApiError):
    status, code, stored = 409, "BET_ALREADY_SETTLED", True
    message = "The bet's round already has a credit; it can no longer be rolled back."


class NotABet(ApiError):
    status, code, stored = 409, "NOT_A_BET", True
    message = "betTransactionId names a credit or a rollback, not a bet."


class GrantNotFound(ApiError):
    status, code, stored = 404, "GRANT_NOT_FOUND", True
    message = "grantId does not name a free-round grant of this player, game and currency."


class FreeRoundsExhausted(ApiError):
    status, code, stored = 409, "FREE_ROUNDS_EXHAUSTED", True
    message = "Every round of the free-round grant has been played."


class RoundClosed(ApiError):
    status, code, stored = 409, "ROUND_CLOSED", True
    message = "The round was closed by a credit."


class RoundMismatch(ApiError):
    status, code, stored = 409, "ROUND_MISMATCH", True
    message = "The round belongs to another session, or is not the bet's round."


class BetLimitExceeded(ApiError):
    status, code, stored = 409, "BET_LIMIT_EXCEEDED", True
    message = "The amount is outside the game's bet limits."


class BalanceLimitExceeded(ApiError):
    status, code, stored = 409, "BALANCE_LIMIT_EXCEEDED", True
    message = "The balance would exceed 9007199254740991, the largest balance a wallet may hold."


class CurrencyNotSupported(ApiError):
    status, code = 409, "CURRENCY_NOT_SUPPORTED"
    message = "The game has no bet limits for this currency."


class PayloadTooLarge(ApiError):
    status, code = 413, "PAYLOAD_TOO_LARGE"
    message = "The request body is larger than 65536 bytes."


class InternalError(ApiError):
    pass


class ProviderError(ApiError):
    status, code = 502, "PROVIDER_ERROR"
    message = "The game provider answered with an error or not at all."


class ServiceUnavailable(ApiError):
    status, code = 503, "SERVICE_UNAVAILABLE"
    message = "The database is unavailable. Nothing was committed; it is safe to retry."


class NotFound(ApiError):
    """No such route (local API only; API Gateway answers these itself when deployed)."""

    status, code, contract = 404, "NOT_FOUND", False
    message = "No endpoint is served at this path and method."


class MethodNotAllowed(ApiError):
    """The path exists with another method (local API only)."""

    status, code, contract = 405, "METHOD_NOT_ALLOWED", False
    message = "This endpoint does not accept this HTTP method."


def catalog() -> list[type[ApiError]]:
    """Every contract error class, base class included (INTERNAL_ERROR)."""
    found: list[type[ApiError]] = [ApiError]
    pending = list(ApiError.__subclasses__())
    while pending:
        cls = pending.pop(0)
        if cls.code not in {c.code for c in found}:
            found.append(cls)
        pending.extend(cls.__subclasses__())
    return found
