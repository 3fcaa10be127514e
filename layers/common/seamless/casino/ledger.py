"""The ledger's Python face: one function per casino callback, each one database call.

Plain functions over a psycopg connection, testable without Lambda. They return the exact
response (status and body text) that the caller sends; stored rejections and replays come
back byte-for-byte from the idempotency store.

`invocation` names the handler invocation (a random id, the same for every attempt of one
invocation): a stored answer is a replay only when another invocation stored it, so the
first answer sent after db.run_idempotent re-ran a callback whose commit acknowledgement was
lost is not marked Idempotent-Replayed (docs/protocol.md §5). None: every stored answer is.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from uuid import UUID

import psycopg

from ..contract.models import CreditRequest, DebitCreditRequest, DebitRequest, GetBalanceRequest, RollbackRequest
from . import queries


@dataclass(frozen=True)
class Outcome:
    status: int
    body: str
    replayed: bool = False


def token_hash(token: str) -> bytes:
    """Session tokens are stored and looked up by their SHA-256, never in clear."""
    return hashlib.sha256(token.encode("utf-8")).digest()


def _call(conn: psycopg.Connection, sql: str, params: tuple) -> Outcome:
    row = conn.execute(sql, params).fetchone()
    if row is None or row[0] is None:
        raise RuntimeError("ledger function returned no outcome")
    return Outcome(status=row[0], body=row[1], replayed=bool(row[2]))


def get_balance(conn: psycopg.Connection, req: GetBalanceRequest, invocation: UUID | None = None) -> Outcome:
    """Reads only: nothing stored, nothing replayed (invocation is unused)."""
    return _call(conn, queries.GET_BALANCE, (token_hash(req.session_token),))


def debit(conn: psycopg.Connection, req: DebitRequest, invocation: UUID | None = None) -> Outcome:
    return _call(
        conn,
        queries.DEBIT,
        (token_hash(req.session_token), req.transaction_id, req.round_id, req.amount, req.currency, invocation),
    )


def credit(conn: psycopg.Connection, req: CreditRequest, invocation: UUID | None = None) -> Outcome:
    return _call(
        conn,
        queries.CREDIT,
        (
            token_hash(req.session_token),
            req.transaction_id,
            req.round_id,
            req.amount,
            req.currency,
            req.bet_transaction_id,
            bool(req.round_closed),
            invocation,
            req.stored_reason,
            req.promotion_id,
            req.grant_id,
        ),
    )


def rollback(conn: psycopg.Connection, req: RollbackRequest, invocation: UUID | None = None) -> Outcome:
    return _call(
        conn,
        queries.ROLLBACK,
        (token_hash(req.session_token), req.transaction_id, req.bet_transaction_id, req.round_id, invocation),
    )


def debit_credit(conn: psycopg.Connection, req: DebitCreditRequest, invocation: UUID | None = None) -> Outcome:
    """A whole round in one call (§4b): the stake and its win, both legs or neither."""
    return _call(
        conn,
        queries.DEBIT_CREDIT,
        (
            token_hash(req.session_token),
            req.transaction_id,
            req.win_transaction_id,
            req.round_id,
            req.amount,
            req.win_amount,
            req.currency,
            req.closes,
            invocation,
        ),
    )
