"""GET /casino/transactions (docs/protocol.md §6): what the casino holds for a transactionId
and/or a roundId, oldest first, for support and reconciliation. Reads only (casino role,
casino_* tables); a session token or its hash is never selected."""

from __future__ import annotations

import base64
import re
import urllib.parse
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg.rows import dict_row

from ..contract import errors
from ..contract.models import TransactionRecord, TransactionsQuery
from ..runtime import db
from ..runtime.apigw import PARAMS_INVALID
from ..runtime.settings import CASINO_ROLE
from . import queries

ONE_REQUIRED = "Give transactionId or roundId (or both)."


def round_url(api_base_url: str | None, round_id: str | None) -> str | None:
    """The provider's page of a round (its GET /provider/rounds/{roundId}), at the base URL the
    casino knows the provider by."""
    if not api_base_url or not round_id:
        return None
    return f"{api_base_url.rstrip('/')}/provider/rounds/{urllib.parse.quote(round_id, safe=':')}"


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _record(row: dict[str, Any]) -> dict[str, Any]:
    accepted = row["status"] == "accepted"
    return TransactionRecord(
        transaction_id=row["transaction_id"],
        kind=row["kind"],
        status=row["status"],
        user_id=row["user_id"],
        round_id=row["round_id"],
        amount=row["amount"],
        currency=row["currency"],
        bet_transaction_id=row["bet_transaction_id"],
        balance_after=row["balance_after"] if accepted else None,
        error_code=None if accepted else row["error_code"],
        redeemable_amount=row["redeemable_amount"],
        reason=row["reason"],
        promotion_id=row["promotion_id"],
        grant_id=row["grant_id"],
        created_at=_iso(row["created_at"]),
        round_url=round_url(row["api_base_url"], row["round_id"]),
    ).model_dump(by_alias=True)


#: a cursor is the last listed row's (created_at, id): base64url of "v1.<microseconds since the
#: epoch>.<id>". Opaque to clients (§6): only a position, checked when decoded, never trusted for
#: anything but where the next page starts (the filter is always the request's own).
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CURSOR = re.compile(r"v1\.(-?[0-9]{1,18})\.([0-9]{1,19})")
BAD_CURSOR = "Must be the nextCursor of a previous page."


def encode_cursor(created_at: datetime, row_id: int) -> str:
    micros = (created_at - _EPOCH) // timedelta(microseconds=1)
    return base64.urlsafe_b64encode(f"v1.{micros}.{row_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        match = _CURSOR.fullmatch(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii"))
        if match is None or int(match.group(2)) >= 2**63:
            raise ValueError(cursor)
        return _EPOCH + timedelta(microseconds=int(match.group(1))), int(match.group(2))
    except (ValueError, UnicodeDecodeError, OverflowError):
        raise errors.ValidationError(PARAMS_INVALID, details=[{"field": "after", "message": BAD_CURSOR}]) from None


def lookup(query: TransactionsQuery) -> dict[str, Any]:
    if query.transaction_id is None and query.round_id is None:
        raise errors.ValidationError(
            PARAMS_INVALID,
            details=[{"field": "transactionId", "message": ONE_REQUIRED}, {"field": "roundId", "message": ONE_REQUIRED}],
        )
    after_at, after_id = decode_cursor(query.after) if query.after is not None else (None, None)
    params = {
        "transaction_id": query.transaction_id,
        "round_id": query.round_id,
        "after_at": after_at,
        "after_id": after_id,
        "rows": query.limit + 1,  # one more than a page: is there a next one?
    }

    def read(conn: Any) -> list[dict[str, Any]]:
        cur = conn.cursor(row_factory=dict_row)
        sql = queries.TRANSACTIONS_BY_ID if query.transaction_id is not None else queries.TRANSACTIONS_BY_ROUND
        return cur.execute(sql, params).fetchall()

    rows = db.run_idempotent(CASINO_ROLE, read)
    page, more = rows[: query.limit], len(rows) > query.limit
    return {
        "transactions": [_record(row) for row in page],
        "nextCursor": encode_cursor(page[-1]["created_at"], page[-1]["id"]) if more else None,
    }
