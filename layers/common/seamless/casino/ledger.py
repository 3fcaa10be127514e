"""The ledger's Python face: one function per casino callback, each one database call.

Plain functions over a psycopg connection, testable without Lambda. They return the exact
response (status and body text) that the caller sends; stored rejections and replays come
back byte-for-byte from the idempotency store.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import psycopg

from ..contract.models import CreditRequest, DebitRequest, GetBalanceRequest, RollbackRequest
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


def get_balance(conn: psycopg.Connection, req: GetBalanceRequest) -> Outcome:
    return _call(conn, queries.GET_BALANCE, (token_hash(req.session_token),))


def debit(conn: psycopg.Connection, req: DebitRequest) -> Outcome:
    return _call(conn, queries.DEBIT, (token_hash(req.session_token), req.transaction_id, req.round_id, req.amount, req.currency))


def credit(conn: psycopg.Connection, req: CreditRequest) -> Outcome:
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
        ),
    )


def rollback(conn: psycopg.Connection, req: RollbackRequest) -> Outcome:
    return _call(
        conn, queries.ROLLBACK, (token_hash(req.session_token), req.transaction_id, req.bet_transaction_id, req.round_id)
    )
