"""Strict request models for the wire contract (docs/protocol.md §1, §4, §6, §7).

Strict mode: a JSON `true`, `10.5`, `"100"` or `null` is not an amount. Unknown extra fields
are ignored (the signature still covers them). Field names are camelCase on the wire.

Every text field is bounded in length (or by a pattern) and ends in `STORABLE`: free of what
PostgreSQL's text cannot hold (NUL, lone surrogates), so a hostile string is a VALIDATION_ERROR naming its field, never
a database error (a 500).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator
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
Currency = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]{2,4}$"), STORABLE]
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


#: why a credit pays (§4b); "win" is the default
CreditReason = Literal["win", "jackpot", "promotion", "tournament", "freeRound"]
#: reasons that name a campaign or pot (promotionId required)
PROMOTION_REASONS = ("jackpot", "promotion", "tournament")


class CreditRequest(WireModel):
    """POST /casino/credit (§4, §4b). The reason is declared first: the validators of the
    fields after it see it (a field whose own check failed is absent from info.data)."""

    session_token: SessionToken
    transaction_id: ProviderId
    round_id: ProviderId
    amount: CreditAmount
    currency: Currency
    reason: CreditReason | None = None
    bet_transaction_id: ProviderId | None = Field(default=None, validate_default=True)
    # Optional booleans default to false when omitted (null counts as omitted).
    round_closed: bool | None = None
    promotion_id: ProviderId | None = Field(default=None, validate_default=True)
    grant_id: ProviderId | None = Field(default=None, validate_default=True)

    @field_validator("bet_transaction_id")
    @classmethod
    def _payout_names_no_bet(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("reason") in ("promotion", "tournament", "freeRound"):
            raise PydanticCustomError("bet_not_allowed", "A promotion, tournament or free-round credit names no bet.")
        return value

    @field_validator("promotion_id")
    @classmethod
    def _promotion_fits_reason(cls, value: str | None, info: ValidationInfo) -> str | None:
        if "reason" not in info.data:
            return value  # the reason itself is reported
        needed = info.data["reason"] in PROMOTION_REASONS
        if needed and value is None:
            raise PydanticCustomError("promotion_required", "Required for a jackpot, promotion or tournament credit.")
        if value is not None and not needed:
            raise PydanticCustomError("promotion_not_allowed", "Only a jackpot, promotion or tournament credit names one.")
        return value

    @field_validator("grant_id")
    @classmethod
    def _grant_fits_reason(cls, value: str | None, info: ValidationInfo) -> str | None:
        if "reason" not in info.data:
            return value
        needed = info.data["reason"] == "freeRound"
        if needed and value is None:
            raise PydanticCustomError("grant_required", "Required for a freeRound credit.")
        if value is not None and not needed:
            raise PydanticCustomError("grant_not_allowed", "Only a freeRound credit names a grantId.")
        return value

    @property
    def stored_reason(self) -> str | None:
        """The reason as the ledger keeps it: None for a plain win (the default)."""
        return None if self.reason in (None, "win") else self.reason


class RollbackRequest(WireModel):
    session_token: SessionToken
    transaction_id: ProviderId
    bet_transaction_id: ProviderId
    round_id: ProviderId | None = None


# ------------------------------------------------------------------ one-call rounds (§4b)
# (a block of its own: debitCredit, the currency exponent)

#: a currency's exponent (§1): minor units per major unit = 10 ** exponent
CurrencyDecimals = Annotated[int, Field(ge=0, le=18)]


class DebitCreditRequest(WireModel):
    """POST /casino/debitCredit: a stake and its win in one call; roundClosed defaults to true."""

    session_token: SessionToken
    transaction_id: ProviderId
    win_transaction_id: ProviderId
    round_id: ProviderId
    currency: Currency
    amount: DebitAmount
    win_amount: CreditAmount
    round_closed: bool | None = None

    @property
    def closes(self) -> bool:
        """roundClosed: true unless the request says false."""
        return self.round_closed is not False


# ------------------------------------------------------------------ operator / provider


#: an instant in ISO 8601, UTC only ("Z" or "+00:00"), up to microseconds
def _a_real_instant(value: str) -> str:
    """The pattern admits digits that name no instant (month 13, 0000-00-00): refused here, as a
    400 naming the field, never left for a later parse to fail on."""
    from datetime import datetime

    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise PydanticCustomError("datetime", "Not a valid date and time.") from None
    return value


IsoUtc = Annotated[
    str,
    Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|\+00:00)$"),
    STORABLE,
    AfterValidator(_a_real_instant),
]


class FreeRoundsGrantRequest(WireModel):
    """POST /casino/freeRounds (§4b): the casino grants a player free rounds of a game. The
    expiry's window (in the future, at most 90 days ahead) is checked by the casino."""

    user_id: Uuid
    game_id: Uuid
    currency: Currency
    rounds: Annotated[int, Field(ge=1, le=1000)]
    bet_amount: DebitAmount
    expires_at: IsoUtc
    fund: Literal["bonus", "cash"] | None = None


class GrantsQuery(WireModel):
    """GET /casino/freeRounds?userId=… (§4b)."""

    user_id: Uuid


class GrantPath(WireModel):
    """POST /casino/freeRounds/{grantId}/cancel (§4b)."""

    grant_id: ProviderId


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


class BetWinAction(WireModel):
    """A whole round in one call: one POST /casino/debitCredit (§4b, §6)."""

    type: Literal["betWin"]
    amount: DebitAmount
    win_amount: CreditAmount


class PayoutAction(WireModel):
    """A payout outside any bet: one credit with its reason and campaign (§4b, §6)."""

    type: Literal["payout"]
    reason: Literal["jackpot", "promotion", "tournament"]
    promotion_id: ProviderId
    amount: CreditAmount
    close: bool | None = None


class FreeRoundAction(WireModel):
    """One free round of a casino's grant: no debit, one closing credit (§4b, §6)."""

    type: Literal["freeRound"]
    grant_id: ProviderId
    win_amount: CreditAmount


Action = Annotated[
    BetAction | WinAction | RollbackAction | CloseAction | BetWinAction | PayoutAction | FreeRoundAction,
    Field(discriminator="type"),
]
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
    currency_decimals: CurrencyDecimals | None = None


class ProviderSimulateRequest(RoundSpec):
    provider_session_id: ProviderName


class ProviderFreeRoundsRequest(WireModel):
    """POST /provider/freeRounds (§7): a casino's free-round grant; idempotent by grantId."""

    grant_id: ProviderId
    player_id: ProviderName
    game_id: ProviderName
    currency: Currency
    currency_decimals: CurrencyDecimals | None = None
    rounds: Annotated[int, Field(ge=1, le=1000)]
    bet_amount: DebitAmount
    expires_at: IsoUtc


class EmptyBody(WireModel):
    """A body that is an empty JSON object (extra fields ignored, as everywhere)."""


# ------------------------------------------------------------------ support (GET: query string, path)


def _page_limit(value: object) -> object:
    """A query string's limit: decimal digits only (no sign, space, '1.0' or '1_0', which a
    lax integer parse would take), then the range check of the field."""
    if isinstance(value, str):
        if not value.isascii() or not value.isdigit() or len(value) > 3:
            raise PydanticCustomError("page_limit", "Must be a whole number from 1 to 500.")
        return int(value)
    return value


#: one page of a listing (§6): 1 … 500 rows, default 100
PageLimit = Annotated[int, BeforeValidator(_page_limit), Field(ge=1, le=500)]
#: the previous page's nextCursor, opaque to the client (the casino decodes and checks it)
PageCursor = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]


class TransactionsQuery(WireModel):
    """GET /casino/transactions (§6): at least one of the two (checked by the casino, which
    names both fields when neither is given); pages of `limit` rows after the cursor `after`."""

    transaction_id: ProviderId | None = None
    round_id: ProviderId | None = None
    limit: PageLimit = 100
    after: PageCursor | None = None


class LedgerExportQuery(WireModel):
    """GET /casino/ledger/export (§6): userId + currency, or from + to; which of the two, the
    range and limit's bounds and the cursor are checked by the casino (seamless/casino/
    ledger_export.py), which names every bad parameter. Query values are strings."""

    user_id: Uuid | None = None
    currency: Currency | None = None
    from_: IsoUtc | None = Field(default=None, alias="from")
    to: IsoUtc | None = None
    limit: Annotated[str, Field(pattern=r"^[0-9]{1,7}$")] | None = None
    after: Annotated[str, Field(min_length=1, max_length=512), STORABLE] | None = None


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


class DebitCreditResponse(MoneyResponse):
    win_transaction_id: str


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
    currency_decimals: int = Field(description="the currency's exponent: minor units per major unit = 10^currencyDecimals")
    expires_at: str = Field(description="ISO 8601, UTC")


class ReportAction(ResponseModel):
    type: Literal["bet", "win", "rollback", "close", "betWin"]
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


class GrantResponse(ResponseModel):
    """POST /casino/freeRounds (§4b)."""

    grant_id: str
    status: Literal["active"]
    rounds: int
    rounds_played: int
    expires_at: str = Field(description="ISO 8601, UTC")


class GrantRecord(ResponseModel):
    grant_id: str
    game_id: str
    currency: str
    rounds: int
    rounds_played: int
    won_amount: int = Field(description="the sum of the grant's free-round credits, in minor units")
    status: Literal["active", "expired", "cancelled", "used"]
    expires_at: str = Field(description="ISO 8601, UTC")


class GrantsResponse(ResponseModel):
    """GET /casino/freeRounds?userId=… (§4b): newest first."""

    grants: list[GrantRecord]


class GrantCancelResponse(ResponseModel):
    """POST /casino/freeRounds/{grantId}/cancel and the provider's cancel (§4b, §7)."""

    grant_id: str
    status: Literal["cancelled"]
    rounds_played: int


class ProviderGrantResponse(ResponseModel):
    """POST /provider/freeRounds (§7)."""

    grant_id: str
    status: Literal["active"]


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
    redeemable_amount: int = Field(
        description="the withdrawable part of the movement (of the stake taken, the win paid, the refund); 0 when rejected"
    )
    reason: str | None = Field(description="a credit's reason (win, jackpot, promotion, tournament, freeRound); null for others")
    promotion_id: str | None = Field(description="a jackpot's, promotion's or tournament's campaign id; else null")
    grant_id: str | None = Field(description="a free-round credit's grant; else null")
    created_at: str = Field(description="ISO 8601, UTC")
    round_url: str | None = Field(description="the provider's page of this round (GET /provider/rounds/{roundId})")


class TransactionsResponse(ResponseModel):
    transactions: list[TransactionRecord]
    next_cursor: str | None = Field(description="`after` for the next page; null on the last page")


class LedgerExportLine(ResponseModel):
    """One line of GET /casino/ledger/export (§6): a ledger row with its hash chain link. The
    NDJSON body is these lines, oldest first, then {"nextCursor": ...}."""

    wallet_id: int
    seq: int = Field(description="the row's place in its wallet's chain, from 1")
    transaction_id: str
    kind: str
    status: Literal["accepted", "rejected"]
    amount: int
    redeemable_amount: int = Field(description="the withdrawable part of the movement, a magnitude like amount (0 when rejected)")
    balance_after: int | None = Field(description="null when rejected")
    currency: str
    user_id: str | None
    round_id: str | None
    reason: str | None
    error_code: str | None = Field(description="null when accepted")
    created_at: str = Field(description="UTC with microseconds, e.g. 2026-12-02T11:36:05.123456Z")
    prev_hash: str = Field(description="the previous row's rowHash; 64 zeros for seq 1")
    row_hash: str = Field(description="lower-case hex SHA-256 of the members joined by '|' (§6)")


class RoundHistoryAction(ResponseModel):
    type: Literal["bet", "win", "rollback", "close", "betWin"]
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
