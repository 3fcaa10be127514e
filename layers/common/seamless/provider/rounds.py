"""The reference provider's round player: `POST /provider/simulate` (docs/protocol.md §6, §7).

It records the whole round in its outbox before it sends anything, then plays it inline
through the settlement engine (seamless.provider.settlement) for at most its time budget;
whatever is undecided then - or cannot fit in the time left - is delivered later by durable
settlement, in order. The report says which action stands where (`state`) and whether the
round's settlement is complete. Runs as the provider role and touches only provider_*
tables; money moves only through the casino's API.
"""

from __future__ import annotations

import uuid
from typing import Any

from psycopg.rows import dict_row

from ..contract import errors
from ..contract.client import Attempt, CallResult, SignedClient
from ..contract.models import ProviderSimulateRequest
from ..contract.round_plan import PlannedAction, bet_win_win_id, plan_round, transaction_ids
from ..runtime import db
from ..runtime import deadline as deadlines
from ..runtime.settings import PROVIDER_ROLE
from . import outbox, queries
from .casino_client import casino_client, result_code
from .outbox import Action, Planned, Round
from .settings import get_settings
from .settlement import FINISHED, Courier, Engine, Sent, lease_seconds, owner_id


def payload(action: PlannedAction, txid: str, round_id: str, currency: str, bet_ids: dict[int, str]) -> dict[str, Any]:
    """The callback's fields, without the session token (read from the session when sent)."""
    if action.type == "rollback":
        assert action.bet_index is not None  # the plan gives every rollback its bet
        return {"transactionId": txid, "betTransactionId": bet_ids[action.bet_index], "roundId": round_id}
    money: dict[str, Any] = {"transactionId": txid, "roundId": round_id, "amount": action.amount, "currency": currency}
    if action.type == "bet":
        return money
    if action.type == "betWin":
        # one POST /casino/debitCredit; roundClosed said explicitly (its default is true)
        return {**money, "winTransactionId": bet_win_win_id(txid), "winAmount": action.win_amount, "roundClosed": True}
    if action.bet_index is not None:
        money["betTransactionId"] = bet_ids[action.bet_index]
    if action.close:
        money["roundClosed"] = True
    return money


def planned_actions(plan: list[PlannedAction], round_id: str, currency: str) -> list[Planned]:
    txids = transaction_ids(round_id, plan)
    bet_ids = {a.bet_index: txids[a.index] for a in plan if a.type == "bet" and a.bet_index is not None}
    return [
        Planned(
            index=a.index,
            type=a.type,
            transaction_id=txids[a.index],
            amount=a.amount,
            payload=payload(a, txids[a.index], round_id, currency, bet_ids),
            needs_standing_bet=a.needs_standing_bet,
        )
        for a in plan
    ]


def balance(client: SignedClient, base_url: str, token: str, deadline: float | None) -> int | None:
    result = client.post(f"{base_url}/casino/getBalance", {"sessionToken": token}, deadline=deadline)
    body = result.json()
    if result.status != 200 or not isinstance(body, dict) or type(body.get("balance")) is not int:
        return None
    return body["balance"]


def _session(provider_session_id: str) -> dict[str, Any] | None:
    return db.run_idempotent(
        PROVIDER_ROLE,
        lambda conn: conn.cursor(row_factory=dict_row).execute(queries.PROVIDER_SESSION, (provider_session_id,)).fetchone(),
    )


def _same_round(planned: list[Planned], rnd: Round) -> bool:
    """A re-run with a known roundId must be the same round (same actions, same fields)."""
    recorded = {a.transaction_id: a for a in rnd.actions if not a.rescue and not a.transaction_id.endswith(":sweep-close")}
    wanted = {p.transaction_id: p for p in planned}
    if not set(recorded) <= set(wanted):
        return False
    return all(
        (a.type, a.amount, a.payload) == (wanted[txid].type, wanted[txid].amount, wanted[txid].payload)
        for txid, a in recorded.items()
    )


def simulate(req: ProviderSimulateRequest) -> dict[str, Any]:
    settings = get_settings()
    plan = plan_round(req)
    session = _session(req.provider_session_id)
    if session is None or session["casino_disabled"]:
        raise errors.SessionNotFound("No provider session has this providerSessionId.")
    round_id = req.round_id or f"rnd-{uuid.uuid4().hex}"
    planned = planned_actions(plan, round_id, session["currency"])
    client = casino_client(settings, session["secret_ref"])
    courier = Courier(client, session["callback_base_url"].rstrip("/"), session["casino_session_token"])
    deadline = deadlines.at(settings.invocation_margin_seconds, cap=settings.round_inline_budget_seconds)

    start = balance(client, courier.base_url, courier.token, deadline)
    if start is None:
        raise errors.ProviderError("The casino did not report a balance before the round; nothing was played.")
    owner = owner_id("player")
    rnd = outbox.claim(round_id, session["id"], owner, lease_seconds(deadline, settings), settings.settlement_horizon_seconds)
    if rnd is None:  # another worker is playing or settling this round: report what it recorded
        busy = outbox.find(round_id)
        if busy is None:
            raise errors.ServiceUnavailable()
        return report(busy, {}, set(), start, None, settlement_status=busy.status)
    outbox.load_actions(rnd)
    status = rnd.status
    try:
        if not _same_round(planned, rnd):
            raise errors.ValidationError(
                details=[{"field": "roundId", "message": "This roundId was already played with other actions."}]
            )
        answered_before = {a.id for a in rnd.actions if a.answered}
        if rnd.status in FINISHED and rnd.actions:  # a round that ended with nothing recorded is played now
            sent = replay(rnd, courier, deadline)
        else:
            known = {a.id for a in rnd.actions}
            outbox.record(rnd, planned)
            engine = Engine(
                rnd,
                courier,
                settings,
                inline=True,
                deadline=deadline,
                fresh={a.id for a in rnd.actions if a.id not in known},
                duplicate=bool(req.duplicate_callbacks),
            )
            status = engine.advance()
            sent = engine.sent
    except Exception:
        # An error (not the process dying): let the next worker in at once. A process that
        # dies keeps its lease until it runs out; the sweeper then takes over.
        outbox.release(rnd, owner, status)
        raise
    outbox.release(rnd, owner, status)
    final = balance(client, courier.base_url, courier.token, deadlines.at(settings.invocation_margin_seconds))
    result = report(
        rnd,
        sent,
        answered_before,
        start,
        final,
        settlement_status=status,
    )
    outbox.finish_report(rnd, result["startingBalance"], final, result["expectedFinalBalance"], result["consistent"])
    return result


def replay(rnd: Round, courier: Courier, deadline: float | None) -> dict[int, Sent]:
    """A re-run of a finished round: every answered action is sent once more and answered
    from the casino's idempotency store (moves no money); cancelled ones stay unsent."""
    sent: dict[int, Sent] = {}
    for action in rnd.actions:
        if action.answered:
            sent[action.id] = Sent(courier.send(action, max_attempts=None, deadline=deadline))
    return sent


# ------------------------------------------------------------------ the round report


def effect(action: Action, actions: list[Action]) -> int:
    """Money the casino moved for an action answered OK."""
    if not action.ok:
        return 0
    if action.type == "bet":
        return -action.amount
    if action.type == "betWin":
        return action.payload["winAmount"] - action.amount
    if action.type in ("win", "close"):
        return action.amount
    if action.rescue:
        # A rescue of an undecided debit nets to zero (a refund means that debit was applied;
        # a tombstone means it never will be); a rescue of an accepted bet gives it back.
        bet = next((a for a in actions if a.transaction_id == action.payload.get("betTransactionId")), None)
        return action.refunded if bet is not None and bet.ok else 0
    return action.refunded


def wire_state(action: Action) -> str:
    if action.answered:
        return "delivered"
    return "cancelled" if action.state == "cancelled" else "queued"


def _code(action: Action, result: CallResult | None) -> str:
    if action.answered and action.final_code:
        return action.final_code
    if result is not None and result.attempts:
        return result_code(result)
    if action.attempts:
        last = action.attempts[-1]
        return result_code(CallResult([_as_attempt(last)]))
    return "CANCELLED" if action.state == "cancelled" else "PENDING"


def _as_attempt(recorded: dict[str, Any]) -> Attempt:
    return Attempt(
        int(recorded.get("attempt") or 0),
        recorded.get("httpStatus"),
        recorded.get("body"),
        recorded.get("error"),
        bool(recorded.get("replayed")),
    )


def report(
    rnd: Round, sent: dict[int, Sent], answered_before: set[int], start: int | None, final: int | None, *, settlement_status: str
) -> dict[str, Any]:
    actions = []
    effects = 0
    for position, action in enumerate(rnd.actions):
        this_run = sent.get(action.id)
        result = this_run.result if this_run else None
        if action.answered and action.id not in answered_before:
            effects += effect(action, rnd.actions)
        entry: dict[str, Any] = {
            "type": "rollback" if action.rescue else action.type,
            "index": position,
            "transactionId": action.transaction_id,
            "amount": action.amount,
            "httpStatus": action.final_status if action.answered else (result.status if result else None),
            "code": _code(action, result),
            "balance": action.balance,
            "attempts": len(result.attempts) if result else len(action.attempts),
            "state": wire_state(action),
            "replayed": bool(result and result.replayed),
        }
        if action.rescue:
            entry["rescue"] = True
        if this_run and this_run.duplicate is not None:
            dup = this_run.duplicate
            entry["duplicate"] = {"httpStatus": dup.status, "replayed": dup.replayed, "matched": this_run.matched}
        actions.append(entry)
    complete = all(a["state"] != "queued" for a in actions)
    start_balance = start if start is not None else 0
    expected = start_balance + effects
    return {
        "roundId": rnd.round_id,
        "status": settlement_status,
        "startingBalance": start,
        "finalBalance": final,
        "expectedFinalBalance": expected,
        "consistent": None if final is None else final == expected,
        "settlement": "complete" if complete else "pending",
        "actions": actions,
    }
