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
from . import free_rounds, outbox, queries
from .casino_client import casino_client, result_code
from .outbox import Action, Planned, Round
from .settings import get_settings
from .settlement import Engine, LeaseLost, Sent, courier_for, lease_seconds, owner_id, retag_previous


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
    if action.type == "payout":
        money.update(reason=action.reason, promotionId=action.promotion_id)
    if action.type == "freeRound":
        money.update(reason="freeRound", grantId=action.grant_id)
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


def _start_free_round(session: dict[str, Any], grant_id: str, round_id: str) -> None:
    def work(conn: Any) -> None:
        with conn.transaction():
            free_rounds.start(conn, session, grant_id, round_id)

    db.run_once(PROVIDER_ROLE, work)


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
    base_url = session["callback_base_url"].rstrip("/")
    deadline = deadlines.at(settings.invocation_margin_seconds, cap=settings.round_inline_budget_seconds)

    start = balance(client, base_url, session["casino_session_token"], deadline)
    if start is None:
        raise errors.ProviderError("The casino did not report a balance before the round; nothing was played.")
    for action in plan:
        if action.type == "freeRound" and action.grant_id is not None:
            # §4b: a free round that may not start is refused whole, before anything is sent
            _start_free_round(session, action.grant_id, round_id)
    owner = owner_id("player")
    retag_previous(settings)  # during a rotation only: rows tagged under the previous key
    rnd = outbox.claim(round_id, session["id"], owner, lease_seconds(deadline, settings), settings.settlement_horizon_seconds)
    if rnd is None:
        # The round exists and is not this run's to play: another player's (refused, nothing
        # changes), or finished, or being played or settled by another worker - its report
        # is read from the records and nothing already sent is sent again (§6).
        held = outbox.round_player(round_id, session["id"])
        if held is not None and not held[1]:
            raise errors.RoundMismatch("This roundId belongs to another player's round.")
        known = outbox.find(round_id)
        if known is None:
            raise errors.ServiceUnavailable()
        if not _same_round(planned, known):
            raise errors.ValidationError(
                details=[{"field": "roundId", "message": "This roundId was already played with other actions."}]
            )
        final = balance(client, base_url, session["casino_session_token"], deadlines.at(settings.invocation_margin_seconds))
        return report(known, {}, {a.id for a in known.actions}, start, final, settlement_status=known.status)
    outbox.load_actions(rnd)
    status = rnd.status
    try:
        if not _same_round(planned, rnd):
            raise errors.ValidationError(
                details=[{"field": "roundId", "message": "This roundId was already played with other actions."}]
            )
        # every callback carries the token of the round's own session (a re-send by another
        # session of the same player goes on with the round's session)
        courier = courier_for(rnd, settings)
        if courier is None:
            raise errors.ServiceUnavailable()
        answered_before = {a.id for a in rnd.actions if a.answered}
        outbox.record(rnd, planned, keys=courier.keys)
        engine = Engine(
            rnd, courier, settings, inline=True, deadline=deadline, owner=owner, duplicate=bool(req.duplicate_callbacks)
        )
        status = engine.advance()
        sent = engine.sent
    except LeaseLost:
        raise errors.ServiceUnavailable() from None  # another worker took the round over: it goes on from there
    except Exception:
        # An error (not the process dying): let the next worker in at once. A process that
        # dies keeps its lease until it runs out; the sweeper then takes over.
        outbox.release(rnd, owner, status)
        raise
    outbox.release(rnd, owner, status)
    retag_previous(get_settings())  # during a rotation only (seen now, even one during this round)
    final = balance(client, base_url, courier.token, deadlines.at(settings.invocation_margin_seconds))
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


# ------------------------------------------------------------------ the round report


def effect(action: Action, actions: list[Action]) -> int:
    """Money the casino moved for an action answered OK."""
    if not action.ok:
        return 0
    if action.type == "bet":
        return -action.amount
    if action.type == "betWin":
        return action.payload["winAmount"] - action.amount
    if action.type in ("win", "close", "payout", "freeRound"):
        return action.amount
    if action.rescue:
        # A rescue of an undecided debit nets to zero (a refund means that debit was applied;
        # a tombstone means it never will be); a rescue of an accepted bet gives it back.
        bet = next((a for a in actions if a.transaction_id == action.payload.get("betTransactionId")), None)
        return action.refunded if bet is not None and bet.ok else 0
    return action.refunded


def _code(action: Action, result: CallResult | None) -> str | None:
    """OK or the answer's error code; None for an action never sent (§6)."""
    if action.answered and action.final_code:
        return action.final_code
    if result is not None and result.attempts:
        return result_code(result)
    if action.attempts:
        last = action.attempts[-1]
        return result_code(CallResult([_as_attempt(last)]))
    return None


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
            "state": action.wire_state,
            "replayed": bool(result and result.replayed),
        }
        if action.rescue:
            entry["rescue"] = True
        if this_run and this_run.duplicate is not None:
            dup = this_run.duplicate
            entry["duplicate"] = {"httpStatus": dup.status, "replayed": dup.replayed, "matched": this_run.matched}
        actions.append(entry)
    if any(a.state == "parked" for a in rnd.actions):
        settlement = "parked"  # owed money refused for good, or undelivered at the horizon: an operator's
    elif any(a["state"] == "queued" for a in actions):
        settlement = "pending"
    else:
        settlement = "complete"
    start_balance = start if start is not None else 0
    expected = start_balance + effects
    return {
        "roundId": rnd.round_id,
        "status": settlement_status,
        "startingBalance": start,
        "finalBalance": final,
        "expectedFinalBalance": expected,
        "consistent": None if final is None else final == expected,
        "settlement": settlement,
        "actions": actions,
    }
