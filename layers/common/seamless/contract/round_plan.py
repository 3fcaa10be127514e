"""Turns a simulateRound request into the ordered list of actions the provider plays
(docs/protocol.md §6). Pure: used by the casino to refuse a bad request before launching, and by
the provider to play it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from . import errors
from .models import RoundSpec


@dataclass(frozen=True)
class PlannedAction:
    type: str  # bet | win | rollback | close | betWin
    index: int  # position in the played order
    amount: int  # money it names (a rollback: its bet's amount; close: 0)
    bet_index: int | None  # the bet it refers to (bets counted from 0)
    close: bool = False  # credit carries roundClosed: true
    #: the automatic closing credit of a bets/wins/rollbacks round: sent only while at least
    #: one bet of the round stands (§6), so a round whose bets were all refused sends none
    needs_standing_bet: bool = False
    #: betWin (one debitCredit): the win paid with its stake (`amount`)
    win_amount: int = 0
    #: payout: its reason and campaign; freeRound: its grant (§4b)
    reason: str | None = None
    promotion_id: str | None = None
    grant_id: str | None = None


def plan_round(spec: RoundSpec) -> list[PlannedAction]:
    shaped = any(v is not None for v in (spec.bets, spec.wins, spec.rollbacks))
    if spec.actions is not None and shaped:
        raise _invalid("actions", "Give either actions or bets/wins/rollbacks, not both.")
    plan = _explicit(spec) if spec.actions is not None else _shaped(spec)
    if not plan:
        raise _invalid("bets", "A round needs at least one action.")
    return plan


def _shaped(spec: RoundSpec) -> list[PlannedAction]:
    bets, wins, rollbacks = spec.bets or [], spec.wins or [], spec.rollbacks or []
    for i, rb in enumerate(rollbacks):
        _check_index(f"rollbacks.{i}.betIndex", rb.bet_index, len(bets))
    for i, win in enumerate(wins):
        _check_index(f"wins.{i}.relatedBetIndex", win.related_bet_index, len(bets))
    plan: list[PlannedAction] = []
    for i, bet in enumerate(bets):
        plan.append(PlannedAction("bet", len(plan), bet.amount, i))
    for rb in rollbacks:
        plan.append(PlannedAction("rollback", len(plan), bets[rb.bet_index].amount, rb.bet_index))
    for i, win in enumerate(wins):
        plan.append(PlannedAction("win", len(plan), win.amount, win.related_bet_index, close=i == len(wins) - 1))
    standing = set(range(len(bets))) - {rb.bet_index for rb in rollbacks}
    if not wins and standing:
        plan.append(PlannedAction("close", len(plan), 0, None, close=True, needs_standing_bet=True))
    return plan


def _explicit(spec: RoundSpec) -> list[PlannedAction]:
    actions = spec.actions or []
    bet_amounts = [a.amount for a in actions if a.type == "bet"]
    plan: list[PlannedAction] = []
    bets_seen = 0
    for i, action in enumerate(actions):
        if action.type == "bet":
            plan.append(PlannedAction("bet", i, action.amount, bets_seen))
            bets_seen += 1
        elif action.type == "win":
            if action.bet_index is not None:
                _check_index(f"actions.{i}.betIndex", action.bet_index, len(bet_amounts))
            plan.append(PlannedAction("win", i, action.amount, action.bet_index, close=bool(action.close)))
        elif action.type == "rollback":
            _check_index(f"actions.{i}.betIndex", action.bet_index, len(bet_amounts))
            plan.append(PlannedAction("rollback", i, bet_amounts[action.bet_index], action.bet_index))
        elif action.type == "betWin":
            # A whole round in one call; it closes the round (debitCredit's default). It is not a
            # bet of betIndex's count: a win or rollback cannot name it.
            plan.append(PlannedAction("betWin", i, action.amount, None, close=True, win_amount=action.win_amount))
        elif action.type == "payout":
            plan.append(
                PlannedAction(
                    "payout",
                    i,
                    action.amount,
                    None,
                    close=bool(action.close),
                    reason=action.reason,
                    promotion_id=action.promotion_id,
                )
            )
        elif action.type == "freeRound":
            # One free round is a round of its own: no debit, one closing credit (§4b).
            if len(actions) != 1:
                raise _invalid(f"actions.{i}", "A freeRound is a round of its own: the only action of its round.")
            plan.append(
                PlannedAction("freeRound", i, action.win_amount, None, close=True, reason="freeRound", grant_id=action.grant_id)
            )
        else:
            plan.append(PlannedAction("close", i, 0, None, close=True))
    return plan


def _check_index(field: str, index: int, bets: int) -> None:
    if index >= bets:
        raise _invalid(field, f"There are only {bets} bet(s); indexes count from 0.")


def _invalid(field: str, message: str) -> errors.ValidationError:
    return errors.ValidationError(details=[{"field": field, "message": message}])


def id_base(round_id: str) -> str:
    """What every id derived from a round id starts with: the round id itself up to 100
    characters, else its SHA-256 (40 hex digits). Never truncated: two distinct round ids the
    contract allows (up to 128 characters) always give distinct bases (docs/protocol.md §6)."""
    return round_id if len(round_id) <= 100 else hashlib.sha256(round_id.encode()).hexdigest()[:40]


def transaction_ids(round_id: str, plan: list[PlannedAction]) -> dict[int, str]:
    """Deterministic ids derived from the round id (a replayed run reuses them), each within
    the protocol's 128 characters."""
    base = id_base(round_id)
    ids: dict[int, str] = {}
    for action in plan:
        if action.type == "bet":
            ids[action.index] = f"{base}:bet:{action.bet_index}"
        elif action.type == "betWin":
            ids[action.index] = f"{base}:betWin:{action.index}"
        else:
            ids[action.index] = f"{base}:{action.type}:{action.index}"
    return ids


def bet_win_win_id(transaction_id: str) -> str:
    """The winTransactionId of a betWin's debitCredit, derived from its transactionId."""
    return f"{transaction_id}:win"


def sweep_close_id(round_id: str) -> str:
    """The closing credit of 0 the sweeper sends for a round played but never closed."""
    return f"{id_base(round_id)}:sweep-close"


def rescue_rollback_id(bet_transaction_id: str) -> str:
    """The rollback sent for a debit that got no definitive answer: the bet's id and
    `:rescue`, or, where that would pass 128 characters, the bet id's SHA-256 (hashed, never
    truncated)."""
    if len(bet_transaction_id) + len(":rescue") <= 128:
        return f"{bet_transaction_id}:rescue"
    return f"{hashlib.sha256(bet_transaction_id.encode()).hexdigest()[:40]}:rescue"
