"""GET /casino/transactions (docs/protocol.md §6): what the casino holds for a transactionId
and/or a roundId, oldest first, for support and reconciliation. Reads only (casino role,
casino_* tables); a session token or its hash is never selected."""

from __future__ import annotations

import urllib.parse
from datetime import UTC, datetime
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
        created_at=_iso(row["created_at"]),
        round_url=round_url(row["api_base_url"], row["round_id"]),
    ).model_dump(by_alias=True)


def lookup(query: TransactionsQuery) -> dict[str, Any]:
    if query.transaction_id is None and query.round_id is None:
        raise errors.ValidationError(
            PARAMS_INVALID,
            details=[{"field": "transactionId", "message": ONE_REQUIRED}, {"field": "roundId", "message": ONE_REQUIRED}],
        )

    def read(conn: Any) -> list[dict[str, Any]]:
        cur = conn.cursor(row_factory=dict_row)
        if query.transaction_id is not None:
            rows = cur.execute(queries.TRANSACTIONS_BY_ID, {"transaction_id": query.transaction_id}).fetchall()
            return [r for r in rows if query.round_id is None or r["round_id"] == query.round_id]
        return cur.execute(queries.TRANSACTIONS_BY_ROUND, {"round_id": query.round_id}).fetchall()

    return {"transactions": [_record(row) for row in db.run_idempotent(CASINO_ROLE, read)]}
