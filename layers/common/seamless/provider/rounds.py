"""The reference provider's round player: plays a planned round against the casino's wallet
API over signed HTTP and records every callback (docs/protocol.md §6, §7). Runs as the
provider role and touches only provider_* tables; money moves only through the casino's API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from ..contract import errors
from ..contract.client import CallResult, SignedClient
from ..contract.models import ProviderSimulateRequest
from ..contract.round_plan import PlannedAction, plan_round, rescue_rollback_id, transaction_ids
from ..runtime import db
from ..runtime.settings import PROVIDER_ROLE
from . import queries, settlement
from .casino_client import casino_client, result_code
from .settings import get_settings

# ------------------------------------------------------------------ simulate


def _one(row: tuple[Any, ...] | None) -> Any:
    if row is None:
        raise RuntimeError("INSERT ... RETURNING returned no row")
    return row[0]


ENDPOINT = {"bet": "debit", "win": "credit", "close": "credit", "rollback": "rollback"}


@dataclass
class RoundPlayer:
    """Plays one planned round against the casino and records every callback."""

    client: SignedClient
    base_url: str
    token: str
    currency: str
    round_id: str
    game_round_id: int
    duplicate: bool
    provider_session_id: str = ""
    #: transactionIds already answered 200 by an earlier run (a replay-safe re-run)
    settled_before: set[str] = field(default_factory=set)
    counted: set[str] = field(default_factory=set)
    effects: int = 0
    report: list[dict[str, Any]] = field(default_factory=list)

    def balance(self) -> int:
        result = self.client.post(f"{self.base_url}/casino/getBalance", {"sessionToken": self.token})
        body = result.json()
        if result.status != 200 or not isinstance(body, dict) or type(body.get("balance")) is not int:
            raise errors.ProviderError(f"The casino did not report a balance (HTTP {result.status or 'no answer'}).")
        return body["balance"]

    def payload(self, action: PlannedAction, txid: str, bet_ids: dict[int, str]) -> dict[str, Any]:
        base = {"sessionToken": self.token, "transactionId": txid}
        if action.type == "rollback":
            assert action.bet_index is not None  # the plan gives every rollback its bet
            return {**base, "betTransactionId": bet_ids[action.bet_index], "roundId": self.round_id}
        money = {**base, "roundId": self.round_id, "amount": action.amount, "currency": self.currency}
        if action.type == "bet":
            return money
        if action.bet_index is not None:
            money["betTransactionId"] = bet_ids[action.bet_index]
        if action.close:
            money["roundClosed"] = True
        return money

    def send(self, action_type: str, index: int, endpoint: str, txid: str, amount: int, payload: dict[str, Any]) -> CallResult:
        result = self.client.post(f"{self.base_url}/casino/{endpoint}", payload)
        body = result.json()
        balance = body.get("balance") if isinstance(body, dict) and type(body.get("balance")) is int else None
        db.run_once(
            PROVIDER_ROLE,
            lambda conn: conn.execute(
                queries.PROVIDER_RECORD_BET,
                (
                    self.game_round_id,
                    index,
                    action_type,
                    endpoint,
                    txid,
                    amount,
                    Jsonb([a.as_json() for a in result.attempts]),
                    result.status,
                    result_code(result),
                    balance,
                ),
            ),
        )
        return result

    def effect(self, action_type: str, amount: int, txid: str, result: CallResult) -> int:
        """Money the casino moved for this transactionId during this run. A replayed answer
        still counts once when the transaction was not settled before this run: its first
        attempt committed and only the answer was lost."""
        if result.status != 200 or txid in self.settled_before or txid in self.counted:
            return 0
        self.counted.add(txid)
        if action_type == "bet":
            return -amount
        if action_type == "rollback":
            body = result.json()
            return int(body.get("rolledBackAmount", 0)) if isinstance(body, dict) else 0
        return amount

    def play(self, action: PlannedAction, txid: str, bet_ids: dict[int, str]) -> None:
        endpoint = ENDPOINT[action.type]
        payload = self.payload(action, txid, bet_ids)
        result = self.send(action.type, action.index, endpoint, txid, action.amount, payload)
        self.effects += self.effect(action.type, action.amount, txid, result)
        entry = self._entry(action.type, len(self.report), txid, action.amount, result)
        if self.duplicate:
            again = self.send(action.type, action.index, endpoint, txid, action.amount, payload)
            self.effects += self.effect(action.type, action.amount, txid, again)
            entry["duplicate"] = {
                "httpStatus": again.status,
                "replayed": again.replayed,
                "matched": again.status == result.status and again.last.body == result.last.body,
            }
        self.report.append(entry)
        if action.type == "bet" and not result.definitive:
            self.rescue(txid, action)
        elif not result.definitive:
            # money owed to the player: delivered later from the settlement queue
            entry["queued"] = settlement.enqueue(
                self.provider_session_id, self.game_round_id, action.index, action.type, endpoint, payload
            )

    def rescue(self, bet_txid: str, action: PlannedAction) -> None:
        """A debit with no definitive answer is rolled back (the casino's tombstone makes this
        safe whether or not the debit was applied)."""
        txid = rescue_rollback_id(bet_txid)
        payload = {"sessionToken": self.token, "transactionId": txid, "betTransactionId": bet_txid, "roundId": self.round_id}
        result = self.send("rollback", action.index, "rollback", txid, action.amount, payload)
        # No effect either way: a refund means the debit had been applied and the two cancel
        # out; a tombstone (rolledBackAmount 0) means it never was and never will be.
        entry = self._entry("rollback", len(self.report), txid, action.amount, result)
        entry["rescue"] = True
        self.report.append(entry)

    @staticmethod
    def _entry(action_type: str, index: int, txid: str, amount: int, result: CallResult) -> dict[str, Any]:
        body = result.json()
        balance = body.get("balance") if isinstance(body, dict) and type(body.get("balance")) is int else None
        return {
            "type": action_type,
            "index": index,
            "transactionId": txid,
            "amount": amount,
            "httpStatus": result.status,
            "code": result_code(result),
            "balance": balance,
            "attempts": len(result.attempts),
            "replayed": result.replayed,
        }


def simulate(req: ProviderSimulateRequest) -> dict[str, Any]:
    settings = get_settings()
    plan = plan_round(req)

    def lookup(conn: Any) -> dict[str, Any] | None:
        return conn.cursor(row_factory=dict_row).execute(queries.PROVIDER_SESSION, (req.provider_session_id,)).fetchone()

    session = db.run_idempotent(PROVIDER_ROLE, lookup)
    if session is None or session["casino_disabled"]:
        raise errors.SessionNotFound("No provider session has this providerSessionId.")
    round_id = req.round_id or f"rnd-{uuid.uuid4().hex}"
    txids = transaction_ids(round_id, plan)
    bet_ids = {a.bet_index: txids[a.index] for a in plan if a.type == "bet" and a.bet_index is not None}
    game_round_id = db.run_once(
        PROVIDER_ROLE, lambda conn: _one(conn.execute(queries.PROVIDER_CREATE_ROUND, (round_id, session["id"])).fetchone())
    )
    player = RoundPlayer(
        casino_client(settings, session["secret_ref"]),
        session["callback_base_url"].rstrip("/"),
        session["casino_session_token"],
        session["currency"],
        round_id,
        game_round_id,
        bool(req.duplicate_callbacks),
        provider_session_id=session["id"],
        settled_before=db.run_idempotent(
            PROVIDER_ROLE, lambda conn: {r[0] for r in conn.execute(queries.PROVIDER_SETTLED, (list(txids.values()),))}
        ),
    )
    start = player.balance()
    for action in plan:
        player.play(action, txids[action.index], bet_ids)
    final = player.balance()
    expected = start + player.effects
    consistent = final == expected
    db.run_idempotent(
        PROVIDER_ROLE,
        lambda conn: conn.execute(queries.PROVIDER_FINISH_ROUND, (start, final, expected, consistent, game_round_id)),
    )
    return {
        "roundId": round_id,
        "startingBalance": start,
        "finalBalance": final,
        "expectedFinalBalance": expected,
        "consistent": consistent,
        "actions": player.report,
    }
