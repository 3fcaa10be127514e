"""The reference provider's outbox: the records of its rounds and their callbacks
(docs/protocol.md §7a; sql/provider/migrations/0002_outbox.sql).

Every callback is a row recorded before it is sent; a round's rows are delivered strictly in
id order. Workers (the round player, the settlement drainer, the sweeper) take a round's
lease instead of holding a transaction open across HTTP calls. Plain functions over the
provider role's connection; no casino table is ever touched.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from ..contract.client import CallResult
from ..runtime import db
from ..runtime.settings import PROVIDER_ROLE
from . import integrity, queries

ENDPOINT = {
    "bet": "debit",
    "win": "credit",
    "close": "credit",
    "payout": "credit",
    "freeRound": "credit",
    "rollback": "rollback",
    "betWin": "debitCredit",
}
#: the row states a worker still has to deliver
OPEN_STATES = ("pending", "queued")


def wire_state(state: str, final_status: int | None) -> str:
    """A row's state as the wire names it (docs/protocol.md §6, §7), for the round report and
    the round page alike: delivered (it has its final answer, or an operator settled it),
    queued (owed: durable settlement or an operator still has to deliver it) or cancelled
    (never to be sent). A parked row counts as delivered when it has the casino's final
    answer (e.g. ROUND_CLOSED on a win), as queued when it has none (the horizon passed)."""
    if state in ("delivered", "resolved"):
        return "delivered"
    if state == "parked":
        return "delivered" if final_status is not None and final_status < 500 else "queued"
    if state == "cancelled":
        return "cancelled"
    return "queued"  # pending, queued


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
    integrity_tag: str | None = None
    integrity_key: str | None = None
    #: an attempt was started (it may have reached the casino)
    started: bool = False

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
            integrity_tag=row.get("integrity_tag"),
            integrity_key=row.get("integrity_key"),
            started=row.get("send_started_at") is not None or bool(row["attempts"]),
        )

    @property
    def wire_state(self) -> str:
        return wire_state(self.state, self.final_status)


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


def document(
    rnd: Round,
    *,
    index: int,
    type: str,
    transaction_id: str,
    amount: int,
    payload: dict[str, Any],
    rescue: bool,
    needs_standing_bet: bool,
) -> bytes:
    """What a row's integrity tag covers (seamless.provider.integrity)."""
    return integrity.document(
        round_id=rnd.round_id,
        session_id=rnd.provider_session_id,
        index=index,
        type=type,
        endpoint=ENDPOINT[type],
        transaction_id=transaction_id,
        amount=amount,
        payload=payload,
        rescue=rescue,
        needs_standing_bet=needs_standing_bet,
    )


def action_document(rnd: Round, action: Action) -> bytes:
    return document(
        rnd,
        index=action.index,
        type=action.type,
        transaction_id=action.transaction_id,
        amount=action.amount,
        payload=action.payload,
        rescue=action.rescue,
        needs_standing_bet=action.needs_standing_bet,
    )


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


def record(rnd: Round, planned: list[Planned], *, keys: integrity.Keys, state: str = "pending") -> None:
    """Records actions before they are sent (one statement for the lot), each with its
    integrity tag; rows a re-run finds already recorded are kept as they are."""
    key = keys.current
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
            key.tag(
                document(
                    rnd,
                    index=p.index,
                    type=p.type,
                    transaction_id=p.transaction_id,
                    amount=p.amount,
                    payload=p.payload,
                    rescue=p.rescue,
                    needs_standing_bet=p.needs_standing_bet,
                )
            ),
            key.id,
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
    final: bool | None = None,
) -> None:
    """Stores one send's attempts and what they decided: a final answer when `final` (the
    default: whatever the client took as definitive), or none (an answer that is not final
    for owed money, docs/protocol.md §7a). The row then holds what the database holds: a row
    another worker already finished keeps its answer, and gets these attempts beside it."""
    definitive = result.definitive if final is None else final
    send = uuid.uuid4().hex[:16]
    attempts = [dict(a.as_json(), send=send, **(attempts_extra or {})) for a in result.attempts]
    body = result.json() if definitive else None
    balance = body.get("balance") if isinstance(body, dict) and type(body.get("balance")) is int else None
    final_status = result.status if definitive else None
    params = {
        "id": action.id,
        "attempts": Jsonb(attempts),
        "state": state,
        "final_status": final_status,
        "final_code": code if definitive else None,
        "balance": balance,
        "next_attempt_at": next_attempt_at,
        "note": note,
        "send": Jsonb([{"send": send}]),
    }

    def work(conn: Any) -> dict[str, Any] | None:
        cur = conn.cursor(row_factory=dict_row)
        row = cur.execute(queries.RECORD_ATTEMPTS, params).fetchone()
        # None: a retry after a lost commit acknowledgement, this send already recorded
        return row or cur.execute(queries.ACTION_STATE, (action.id,)).fetchone()

    stored = db.run_idempotent(PROVIDER_ROLE, work)
    action.attempts += attempts
    if stored is not None:
        action.state = stored["state"]
        action.final_status, action.final_code = stored["final_status"], stored["final_code"]
        action.balance = stored["casino_balance"]
        action.note = stored["note"]


def set_state(actions: list[Action], state: str, *, note: str | None = None, next_attempt_at: Any = None) -> None:
    """Moves undelivered rows on; one another worker finished meanwhile is left as it is (and
    the caller's copy is reloaded by its next load_actions)."""
    if not actions:
        return
    params = {"ids": [a.id for a in actions], "state": state, "note": note, "next_attempt_at": next_attempt_at}
    moved = db.run_idempotent(
        PROVIDER_ROLE, lambda conn: {r[0] for r in conn.execute(queries.SET_ACTION_STATE, params).fetchall()}
    )
    for a in actions:
        if a.id in moved:
            a.state = state
            a.note = note or a.note


class LeaseLost(Exception):
    """The worker no longer holds the round (its lease ran out and another took it, or the
    action was finished by another): it stops at once and sends nothing more."""


def begin_send(rnd: Round, action: Action, owner: str, lease_seconds: float) -> None:
    """Renews the round's lease and marks the action started, just before its attempt;
    LeaseLost when this worker no longer holds the round or the action is no longer open."""
    params = {"round": rnd.id, "owner": owner, "lease": lease_seconds, "id": action.id}
    rows = db.run_idempotent(PROVIDER_ROLE, lambda conn: conn.execute(queries.BEGIN_SEND, params).fetchall())
    if not rows:
        raise LeaseLost(f"round {rnd.round_id}: lease lost before sending {action.transaction_id}")
    action.started = True


def renew_horizon(rnd: Round, owner: str, horizon_seconds: int) -> None:
    rows = db.run_idempotent(
        PROVIDER_ROLE,
        lambda conn: conn.execute(queries.SET_SETTLE_BY, {"id": rnd.id, "owner": owner, "horizon": horizon_seconds}).fetchall(),
    )
    if rows:
        rnd.settle_by = rows[0][0]


def round_player(round_id: str, session_id: str) -> tuple[str, bool] | None:
    """The casino player a round belongs to, and whether the session is that player's."""
    rows = _fetch(queries.ROUND_PLAYER, {"round_id": round_id, "session": session_id})
    return (rows[0]["casino_player_id"], bool(rows[0]["same_player"])) if rows else None


def retag(action_id: int, old_key: str, key: integrity.Key, doc: bytes) -> None:
    params = {"id": action_id, "old_key": old_key, "tag": key.tag(doc), "key": key.id}
    db.run_idempotent(PROVIDER_ROLE, lambda conn: conn.execute(queries.RETAG_ACTION, params))


def retag_previous(keys: integrity.Keys, limit: int = 500) -> int:
    """During a rotation: undelivered rows tagged under the previous key that still verify
    under it are tagged again with the current one (before the previous secret is gone).
    Returns how many were re-tagged."""
    if keys.previous is None:
        return 0
    done = 0
    for row in _fetch(queries.TAGGED_WITH, (keys.previous.id, limit)):
        doc = integrity.document(
            round_id=row["round_id"],
            session_id=row["provider_session_id"],
            index=row["action_index"],
            type=row["action_type"],
            endpoint=row["endpoint"],
            transaction_id=row["transaction_id"],
            amount=row["amount"],
            payload=row["payload"] or {},
            rescue=row["rescue"],
            needs_standing_bet=row["needs_standing_bet"],
        )
        if integrity.verify(integrity.Keys(keys.previous), doc, row["integrity_tag"]) is not None:
            retag(row["id"], keys.previous.id, keys.current, doc)
            done += 1
    return done


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


def parked_one(action_id: int) -> dict[str, Any] | None:
    rows = _fetch(queries.PARKED_ONE, (action_id,))
    return rows[0] if rows else None


def retry_parked(action_id: int, horizon_seconds: int) -> tuple[int, int] | None:
    """Re-queues the round's parked items without a final answer, in order, with a fresh
    horizon; (round pk, items re-queued), or None when nothing was (busy, or not such an item)."""
    rows = db.run_once(
        PROVIDER_ROLE, lambda conn: conn.execute(queries.RETRY_PARKED, {"id": action_id, "horizon": horizon_seconds}).fetchall()
    )
    return (rows[0][0], rows[0][1]) if rows else None


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
