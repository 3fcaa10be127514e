"""The ledger's hash chain (docs/protocol.md §6 "Tamper evidence", §9): one export line's
members and its rowHash, in Python. The database writes the chain with its own copy of the
recipe (sql/casino/migrations/0007_ledger_chain.sql); verify-ledger and the tests recompute
every hash with this one, so a bug in either shows as a mismatch."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

#: the previous hash of a wallet's first row (seq 1)
GENESIS = "0" * 64
#: the members hashed, in the §6 order (prevHash first)
HASHED = (
    "prevHash",
    "walletId",
    "seq",
    "transactionId",
    "kind",
    "status",
    "amount",
    "redeemableAmount",
    "balanceAfter",
    "currency",
    "userId",
    "roundId",
    "reason",
    "errorCode",
    "createdAt",
)
#: the members of one export line, in the §6 order
LINE = (
    "walletId",
    "seq",
    "transactionId",
    "kind",
    "status",
    "amount",
    "redeemableAmount",
    "balanceAfter",
    "currency",
    "userId",
    "roundId",
    "reason",
    "errorCode",
    "createdAt",
    "prevHash",
    "rowHash",
)


def created_at(value: datetime) -> str:
    """createdAt as exported and hashed: UTC, microseconds, 'Z'."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_hash(line: dict[str, Any]) -> str:
    """rowHash of an export line: SHA-256 of its HASHED members joined by '|' (None as '')."""
    text = "|".join("" if line[name] is None else str(line[name]) for name in HASHED)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def line_of(row: dict[str, Any]) -> dict[str, Any]:
    """A ledger row (casino_transactions joined with its wallet's currency) as its export line.
    redeemableAmount is the withdrawable part of the movement, as a magnitude like amount
    (|redeemable_delta|: 0 on a rejected row); reason is the stored one: a typed credit's, None
    for a plain win and every other kind (docs/protocol.md §10)."""
    return {
        "walletId": row["wallet_id"],
        "seq": row["seq"],
        "transactionId": row["transaction_id"],
        "kind": row["kind"],
        "status": row["status"],
        "amount": row["amount"],
        "redeemableAmount": abs(row["redeemable_delta"]),
        "balanceAfter": row["balance_after"],
        "currency": row["currency"].rstrip(),
        "userId": None if row["user_id"] is None else str(row["user_id"]),
        "roundId": row["round_id"],
        "reason": row.get("reason"),
        "errorCode": row["error_code"],
        "createdAt": created_at(row["created_at"]),
        "prevHash": row["prev_hash"],
        "rowHash": row["row_hash"],
    }
