"""Strict request models for the wire contract (docs/protocol.md §1, §4, §6, §7).

Strict mode: a JSON `true`, `10.5`, `"100"` or `null` is not an amount. Unknown extra fields
are ignored (the signature still covers them). Field names are camelCase on the wire.

Every text field is bounded in length (or by a pattern) and ends in `STORABLE`: free of what
PostgreSQL's text cannot hold (NUL, lone surrogates), so a hostile string is a VALIDATION_ERROR naming its field, never
a database error (a 500).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

MAX_AMOUNT = 1_000_000_000_000


def storable_text(value: str) -> str:
    """Refuses, by name, what PostgreSQL's text cannot hold: U+0000 (psycopg refuses to send
    it) and lone surrogates (not encodable as UTF-8; pydantic lets them through a plain str)."""
    if "\x00" in value:
        raise PydanticCustomError("string_nul", "Must not contain NUL characters.")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise PydanticCustomError("string_unicode", "Must be valid Unicode text (a lone surrogate is not).") from None
    return value


#: ends every text field on the wire, after its length bound or pattern (in this order, so
#: the bound and pattern stay in the JSON schema, docs/openapi.json)
STORABLE = AfterValidator(storable_text)
ProviderId = Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,128}$"), STORABLE]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$"), STORABLE]
Uuid = Annotated[str, Field(pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"), STORABLE]
SessionToken = Annotated[str, Field(min_length=1, max_length=512), STORABLE]
#: the provider's own names: player id, game code, provider session id
ProviderName = Annotated[str, Field(min_length=1, max_length=128), STORABLE]
CasinoCode = Annotated[str, Field(min_length=1, max_length=64), STORABLE]
DebitAmount = Annotated[int, Field(ge=1, le=MAX_AMOUNT)]
CreditAmount = Annotated[int, Field(ge=0, le=MAX_AMOUNT)]


class WireModel(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", alias_generator=to_camel, populate_by_name=True, frozen=True)


class GetBalanceRequest(WireModel):
    session_token: SessionToken


class DebitRequest(WireModel):
    session_token: SessionToken
    transaction_id: ProviderId
    round_id: ProviderId
    amount: DebitAmount
    currency: Currency


class CreditRequest(WireModel):
    session_token: SessionToken
    transaction_id: ProviderId
    round_id: ProviderId
    amount: CreditAmount
    currency: Currency
    bet_transaction_id: ProviderId | None = None
    # Optional booleans default to false when omitted (null counts as omitted).
    round_closed: bool | None = None


class RollbackRequest(WireModel):
    session_token: SessionToken
    transaction_id: ProviderId
    bet_transaction_id: ProviderId
    round_id: ProviderId | None = None


# ------------------------------------------------------------------ operator / provider


class LaunchGameRequest(WireModel):
    user_id: Uuid
    game_id: Uuid
    currency: Currency


class BetSpec(WireModel):
    amount: DebitAmount


class WinSpec(WireModel):
    amount: CreditAmount
    related_bet_index: Annotated[int, Field(ge=0)]


class RollbackSpec(WireModel):
    bet_index: Annotated[int, Field(ge=0)]


class BetAction(WireModel):
    type: Literal["bet"]
    amount: DebitAmount


class WinAction(WireModel):
    type: Literal["win"]
    amount: CreditAmount
    bet_index: Annotated[int, Field(ge=0)] | None = None
    close: bool | None = None


class RollbackAction(WireModel):
    type: Literal["rollback"]
    bet_index: Annotated[int, Field(ge=0)]


class CloseAction(WireModel):
    type: Literal["close"]


Action = Annotated[BetAction | WinAction | RollbackAction | CloseAction, Field(discriminator="type")]
MAX_ACTIONS = 100


class RoundSpec(WireModel):
    """The round a simulation plays: the bets/wins/rollbacks shape or an explicit action list."""

    bets: Annotated[list[BetSpec], Field(max_length=MAX_ACTIONS)] | None = None
    wins: Annotated[list[WinSpec], Field(max_length=MAX_ACTIONS)] | None = None
    rollbacks: Annotated[list[RollbackSpec], Field(max_length=MAX_ACTIONS)] | None = None
    actions: Annotated[list[Action], Field(max_length=MAX_ACTIONS)] | None = None
    duplicate_callbacks: bool | None = None
    round_id: ProviderId | None = None


class SimulateRoundRequest(RoundSpec):
    user_id: Uuid
    game_id: Uuid
    currency: Currency = "USD"


class ProviderLaunchRequest(WireModel):
    session_token: SessionToken
    player_id: ProviderName
    game_id: ProviderName
    currency: Currency
    casino_code: CasinoCode | None = None


class ProviderSimulateRequest(RoundSpec):
    provider_session_id: ProviderName


# ------------------------------------------------------------------ support (GET: query string, path)


class TransactionsQuery(WireModel):
    """GET /casino/transactions (§6): at least one of the two (checked by the casino, which
    names both fields when neither is given)."""

    transaction_id: ProviderId | None = None
    round_id: ProviderId | None = None


class RoundPath(WireModel):
    """GET /provider/rounds/{roundId} (§7)."""

    round_id: ProviderId


# ------------------------------------------------------------------ responses (documentation)
# The handlers build responses directly (the ledger returns stored text); these models
# describe them for docs/openapi.json.


class ResponseModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class BalanceResponse(ResponseModel):
    balance: int
    redeemable_balance: int
    currency: str


class MoneyResponse(BalanceResponse):
    transaction_id: str
    casino_transaction_id: str


class RollbackResponse(MoneyResponse):
    rolled_back_amount: int
    tombstone: bool


class ErrorDetail(ResponseModel):
    field: str
    message: str


class ErrorObject(ResponseModel):
    code: str
    message: str
    details: list[ErrorDetail] | None = None


class ErrorResponse(ResponseModel):
    error: ErrorObject
    balance: int | None = Field(default=None, description="INSUFFICIENT_FUNDS only: the balance at that moment")


class LaunchGameResponse(ResponseModel):
    session_id: str
    session_token: str
    provider_session_id: str
    launch_url: str
    balance: int
    currency: str
    expires_at: str = Field(description="ISO 8601, UTC")


class ReportAction(ResponseModel):
    type: Literal["bet", "win", "rollback", "close"]
    index: int
    transaction_id: str
    amount: int
    http_status: int | None
    code: str | None = Field(description="OK or the error code; null (with httpStatus null, attempts 0) for an action never sent")
    balance: int | None
    attempts: int
    replayed: bool = False
    rescue: bool | None = None
    duplicate: dict[str, int | bool | None] | None = None


class RoundReport(ResponseModel):
    round_id: str
    starting_balance: int
    final_balance: int
    expected_final_balance: int
    consistent: bool
    actions: list[ReportAction]


class SimulateRoundResponse(RoundReport):
    session_id: str


class ProviderLaunchResponse(ResponseModel):
    provider_session_id: str
    launch_url: str


class HealthResponse(ResponseModel):
    status: str
    database: str


class TransactionRecord(ResponseModel):
    transaction_id: str
    kind: Literal["debit", "credit", "rollback"]
    status: Literal["accepted", "rejected"]
    user_id: str
    round_id: str | None = Field(description="a rollback that named no roundId shows its bet's round")
    amount: int = Field(description="debit/credit: the amount the request named; rollback: the amount refunded")
    currency: str
    bet_transaction_id: str | None
    balance_after: int | None = Field(description="null when rejected")
    error_code: str | None = Field(description="null when accepted")
    created_at: str = Field(description="ISO 8601, UTC")
    round_url: str | None = Field(description="the provider's page of this round (GET /provider/rounds/{roundId})")


class TransactionsResponse(ResponseModel):
    transactions: list[TransactionRecord]


class RoundHistoryAction(ResponseModel):
    type: Literal["bet", "win", "rollback", "close"]
    transaction_id: str
    amount: int
    http_status: int | None = Field(description="the last attempt's HTTP status; null when no answer arrived")
    code: str | None = Field(description="OK or the error code of the final answer; null while there is none")
    state: Literal["delivered", "queued", "cancelled"]
    attempts: int
    balance: int | None = Field(default=None, description="the casino's balance in its answer, when it gave one")
    rescue: bool = Field(default=False, description="a rollback the provider added to compensate an undecided debit")


class RoundHistory(ResponseModel):
    round_id: str
    status: Literal["open", "pending_settlement", "completed", "cancelled"]
    currency: str | None = None
    starting_balance: int | None = None
    final_balance: int | None = None
    actions: list[RoundHistoryAction]
