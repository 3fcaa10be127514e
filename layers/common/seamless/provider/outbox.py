"""The reference provider's outbox: the records of its rounds and their callbacks
(docs/protocol.md §7a; sql/provider/migrations/0002_outbox.sql).

Every callback is a row recorded before it is sent; a round's rows are delivered strictly in
id order. Workers (the round player, the settlement drainer, the sweeper) take a round's
lease instead of holding a transaction open across HTTP calls. Plain functions over the
provider role's connection; no casino table is ever touched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from ..contract.client import CallResult
from ..runtime import db
from ..runtime.settings import PROVIDER_ROLE
from . import queries

ENDPOINT = {"bet": "debit", "win": "credit", "close": "credit", "rollback": "rollback", "betWin": "debitCredit"}
#: the row states a worker still has to deliver
OPEN_STATES = ("pending", "queued")


@dataclass
class Action:
    """One callback of a round (a provider_bets row)."""

    id: int
    index: int
    type: str
    endpoint: str
    transaction_id: str
    amount: int
    payload: dict[str, Any]
    state: str
    rescue: bool
    needs_standing_bet: bool
    attempts: list[dict[str, Any]]
    final_status: int | None
    final_code: str | None
    balance: int | None
    note: str | None = None

    @property
    def open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def ok(self) -> bool:
        return self.final_code == "OK"

    @property
    def answered(self) -> bool:
        """It has the casino's final answer (delivered, or parked with a non-OK answer)."""
        return self.final_status is not None and self.state in ("delivered", "parked", "resolved")

    def answer(self) -> dict[str, Any]:
        """The casino's final answer body (empty when there is none)."""
        for attempt in reversed(self.attempts):
            if attempt.get("httpStatus") == self.final_status and attempt.get("body"):
                try:
                    body = json.loads(attempt["body"])
                except ValueError:
                    return {}
                return body if isinstance(body, dict) else {}
        return {}

    @property
    def refunded(self) -> int:
        """What an answered rollback gave back."""
        value = self.answer().get("rolledBackAmount") if self.ok and self.type == "rollback" else 0
        return value if type(value) is int else 0

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Action:
        return cls(
            id=row["id"],
            index=row["action_index"],
            type=row["action_type"],
            endpoint=row["endpoint"],
            transaction_id=row["transaction_id"],
            amount=row["amount"],
            payload=row["payload"] or {},
            state=row["state"],
            rescue=row["rescue"],
            needs_standing_bet=row["needs_standing_bet"],
            attempts=list(row["attempts"] or []),
            final_status=row["final_status"],
            final_code=row["final_code"],
            balance=row["casino_balance"],
            note=row["note"],
        )


@dataclass
class Round:
    id: int
    round_id: str
    provider_session_id: str
    status: str
    runs: int
    starting_balance: int | None
    settle_by: datetime | None
    created: bool = False
    actions: list[Action] = field(default_factory=list)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Round:
        return cls(
            id=row["id"],
            round_id=row["round_id"],
            provider_session_id=row["provider_session_id"],
            status=row["status"],
            runs=row["runs"],
            starting_balance=row["starting_balance"],
            settle_by=row["settle_by"],
            created=bool(row.get("created")),
        )


@dataclass(frozen=True)
class Planned:
    """An action to record: what is sent (payload without the session token) and how."""

    index: int
    type: str
    transaction_id: str
    amount: int
    payload: dict[str, Any]
    rescue: bool = False
    needs_standing_bet: bool = False


def _fetch(query: str, params: Any) -> list[dict[str, Any]]:
    return db.run_idempotent(PROVIDER_ROLE, lambda conn: conn.cursor(row_factory=dict_row).execute(query, params).fetchall())


def claim(round_id: str, session_id: str, owner: str, lease_seconds: float, horizon_seconds: int) -> Round | None:
    """Creates the round (or re-opens a finished one for a replay-safe re-run, or takes over
    one whose player died) with `owner`'s lease; None when another worker holds it."""
    params = {"round_id": round_id, "session": session_id, "owner": owner, "lease": lease_seconds, "horizon": horizon_seconds}
    # idempotent: the same owner's claim again returns the round it holds
    rows = db.run_idempotent(
        PROVIDER_ROLE, lambda conn: conn.cursor(row_factory=dict_row).execute(queries.CLAIM_ROUND, params).fetchall()
    )
    return Round.from_row(rows[0]) if rows else None


def find(round_id: str) -> Round | None:
    rows = _fetch(queries.ROUND_BY_ROUND_ID, (round_id,))
    return load_actions(Round.from_row(rows[0])) if rows else None


def lease(round_pk: int, owner: str, lease_seconds: float, statuses: tuple[str, ...]) -> Round | None:
    """Takes a round's lease for a settlement or sweeper worker; None when someone holds it."""
    params = {"id": round_pk, "owner": owner, "lease": lease_seconds, "statuses": list(statuses)}
    rows = db.run_idempotent(
        PROVIDER_ROLE, lambda conn: conn.cursor(row_factory=dict_row).execute(queries.LEASE_ROUND, params).fetchall()
    )
    return load_actions(Round.from_row(rows[0])) if rows else None


def release(rnd: Round, owner: str, status: str) -> None:
    db.run_idempotent(
        PROVIDER_ROLE, lambda conn: conn.execute(queries.RELEASE_ROUND, {"id": rnd.id, "owner": owner, "status": status})
    )
    rnd.status = status


def load_actions(rnd: Round) -> Round:
    rnd.actions = [Action.from_row(r) for r in _fetch(queries.ROUND_ACTIONS, (rnd.id,))]
    return rnd


def record(rnd: Round, planned: list[Planned], *, state: str = "pending") -> None:
    """Records actions before they are sent (one statement for the lot); rows a re-run finds
    already recorded are kept as they are."""
    rows = [
        (
            rnd.id,
            p.index,
            p.type,
            ENDPOINT[p.type],
            p.transaction_id,
            p.amount,
            Jsonb(p.payload),
            state,
            p.rescue,
            p.needs_standing_bet,
        )
        for p in planned
    ]

    def work(conn: Any) -> None:
        with conn.cursor() as cur:
            cur.executemany(queries.RECORD_ACTION, rows)

    db.run_idempotent(PROVIDER_ROLE, work)  # ON CONFLICT DO NOTHING: safe to run again
    load_actions(rnd)


def record_attempts(
    action: Action,
    result: CallResult,
    state: str,
    *,
    code: str,
    next_attempt_at: Any = None,
    note: str | None = None,
    attempts_extra: dict[str, Any] | None = None,
) -> None:
    """Stores one send's attempts and what they decided (final answer or not)."""
    attempts = [dict(a.as_json(), **(attempts_extra or {})) for a in result.attempts]
    body = result.json() if result.definitive else None
    balance = body.get("balance") if isinstance(body, dict) and type(body.get("balance")) is int else None
    final_status = result.status if result.definitive else None
    params = {
        "id": action.id,
        "attempts": Jsonb(attempts),
        "state": state,
        "final_status": final_status,
        "final_code": code if result.definitive else None,
        "balance": balance,
        "next_attempt_at": next_attempt_at,
        "note": note,
        "known_attempts": len(action.attempts),
    }
    # idempotent: applies only while the row has the attempts this worker knew of
    db.run_idempotent(PROVIDER_ROLE, lambda conn: conn.execute(queries.RECORD_ATTEMPTS, params))
    action.attempts += attempts
    action.state = state
    if result.definitive:
        action.final_status, action.final_code = final_status, code
        action.balance = balance if balance is not None else action.balance
    if note:
        action.note = note


def set_state(actions: list[Action], state: str, *, note: str | None = None, next_attempt_at: Any = None) -> None:
    if not actions:
        return
    params = {"ids": [a.id for a in actions], "state": state, "note": note, "next_attempt_at": next_attempt_at}
    db.run_idempotent(PROVIDER_ROLE, lambda conn: conn.execute(queries.SET_ACTION_STATE, params))
    for a in actions:
        a.state = state
        a.note = note or a.note


def set_round_status(rnd: Round, status: str) -> None:
    db.run_idempotent(PROVIDER_ROLE, lambda conn: conn.execute(queries.SET_ROUND_STATUS, {"id": rnd.id, "status": status}))
    rnd.status = status


def session_of(rnd: Round) -> dict[str, Any] | None:
    rows = _fetch(queries.SESSION_OF_ROUND, (rnd.id,))
    return rows[0] if rows else None


def due_rounds(limit: int) -> list[int]:
    return [r["id"] for r in _fetch(queries.DUE_ROUNDS, (limit,))]


def stale_rounds(timeout_seconds: int, limit: int) -> list[int]:
    return [r["id"] for r in _fetch(queries.STALE_ROUNDS, (timeout_seconds, limit))]


def finish_report(rnd: Round, start: int | None, final: int | None, expected: int, consistent: bool | None) -> None:
    db.run_idempotent(
        PROVIDER_ROLE, lambda conn: conn.execute(queries.PROVIDER_FINISH_ROUND, (start, final, expected, consistent, rnd.id))
    )


def parked() -> list[dict[str, Any]]:
    return _fetch(queries.PARKED, ())


def retry_parked(action_id: int, horizon_seconds: int) -> bool:
    rows = db.run_once(
        PROVIDER_ROLE, lambda conn: conn.execute(queries.RETRY_PARKED, {"id": action_id, "horizon": horizon_seconds}).fetchall()
    )
    return bool(rows)


def resolve_parked(action_id: int, note: str) -> int | None:
    rows = db.run_once(
        PROVIDER_ROLE, lambda conn: conn.execute(queries.RESOLVE_PARKED, {"id": action_id, "note": note}).fetchall()
    )
    return rows[0][0] if rows else None


def gauges() -> dict[str, float]:
    """What the settlement alarm watches: parked actions and the oldest undelivered one."""

    def work(conn: Any) -> dict[str, float]:
        parked_count, _ = conn.execute(queries.PARKED_COUNT).fetchone()
        pending_count, oldest = conn.execute(queries.PENDING_SUMMARY).fetchone()
        age = conn.execute("SELECT extract(epoch FROM now() - %s::timestamptz)", (oldest,)).fetchone()[0] if oldest else 0
        return {
            "ParkedSettlements": float(parked_count),
            "PendingSettlements": float(pending_count),
            "OldestPendingSettlementSeconds": float(age or 0),
        }

    return db.run_idempotent(PROVIDER_ROLE, work)
