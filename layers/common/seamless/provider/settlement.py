"""Settlement: owed money is always delivered, in order (docs/protocol.md §7a).

One engine moves a round forward from its records, whoever runs it: the round player
(inline, right after recording the round), the settlement drainer (durable delivery, a
scheduled function; `python -m devtools settle` locally) and the sweeper (rounds whose player
died; `python -m devtools sweep`). It always takes the round's first undelivered action:

- a credit, rollback or close is sent until it has a final answer (§7: a 2xx or a contract
  4xx); one still undecided after the player's immediate attempts goes to durable settlement
  together with every later action of the round, which wait behind it (never overtaking);
- a debit still undecided - or found recorded by a worker that may have sent it - is
  compensated: a rescue rollback of it and of every other bet of the round that stands, the
  round's later actions cancelled, the round ending `cancelled`. In a round that already has
  an accepted credit the casino refuses rollbacks (§4), so there the debit itself is retried
  durably (same transactionId, same body) and the later actions follow it;
- durable delivery retries with backoff until the round's horizon
  (SETTLEMENT_HORIZON_SECONDS), then parks what is left for an operator; a final answer
  that is not OK for owed money (a win, a refund, a rescue rollback, a close) is parked too.
  A refusal is final for owed money only if the casino stores it (§3 "stored for replay");
  one it does not store (401, 400, 404 SESSION_NOT_FOUND, 409 TRANSACTION_ID_CONFLICT, 413)
  is retried durably like a 5xx;
- a bet no attempt was started for (a transient fault held it back) is sent in its turn;
  only a bet that may have reached the casino is compensated;
- before each attempt the worker renews its lease and marks the action started (one
  statement), so an action is sent by one worker at a time and a worker that lost its
  round stops; every attempt is recorded, whoever made it;
- a row is sent only if its integrity tag verifies (seamless.provider.integrity), with the
  token of the round's own session, never anything a row's payload says.

Why an outbox table drained in order and not a queue (docs/decisions.md): the record of a
callback and its place in the round commit in the provider's own database before anything
is sent, so there is no dual write to lose; order within a round is the table's id order,
enforced by taking only the first undelivered action; a round's lease keeps a second worker
away without a transaction held across HTTP calls.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ..contract import errors
from ..contract.client import CallResult, SignedClient
from ..contract.round_plan import rescue_rollback_id, sweep_close_id
from ..runtime import deadline as deadlines
from ..runtime.observability import count, logger
from . import integrity, outbox
from .casino_client import casino_client, result_code
from .outbox import Action, LeaseLost, Planned, Round
from .settings import ProviderSettings, get_settings

FINISHED = ("completed", "cancelled")
#: rotations (current, previous key ids) this process already ran the re-tag pass for
_retagged: set[tuple[str, str]] = set()
_rng = random.Random()  # noqa: S311 - backoff jitter, not security


#: the casino's refusals it stores for replay (docs/protocol.md §3): only these are final
#: for owed money; any other answer can change once its cause is fixed (§7a)
STORED_REFUSALS = frozenset(c.code for c in errors.catalog() if c.stored)


@dataclass
class Courier:
    """Sends a round's callbacks to the casino: the token of the round's own session, the
    casino's base URL, the provider's signed client and the outbox integrity keys."""

    client: SignedClient
    base_url: str
    token: str
    secret_ref: str

    @property
    def keys(self) -> integrity.Keys:
        """The outbox keys as the settings name them now (a rotation during the round is seen
        at once: new rows are tagged with the new key, rows tagged before verify under the
        previous one)."""
        return keys_for(get_settings(), self.secret_ref)

    def send(self, action: Action, *, max_attempts: int | None, deadline: float | None) -> CallResult:
        # the round's session token always wins over anything a row's payload carries
        payload = {**action.payload, "sessionToken": self.token}
        return self.client.post(
            f"{self.base_url}/casino/{action.endpoint}", payload, max_attempts=max_attempts, deadline=deadline
        )


def keys_for(settings: ProviderSettings, secret_ref: str) -> integrity.Keys:
    return integrity.Keys.from_secrets(settings.secrets_by_ref(secret_ref))


def courier_for(rnd: Round, settings: ProviderSettings) -> Courier | None:
    """A courier for the round's own session (never another one's)."""
    session = outbox.session_of(rnd)
    if session is None or session["id"] != rnd.provider_session_id:
        return None
    return Courier(
        casino_client(settings, session["secret_ref"]),
        session["callback_base_url"].rstrip("/"),
        session["casino_session_token"],
        session["secret_ref"],
    )


@dataclass
class Sent:
    """What this run got for one action: its (combined) result and, with duplicate
    callbacks, the second send's."""

    result: CallResult
    duplicate: CallResult | None = None
    first: CallResult | None = None

    @property
    def matched(self) -> bool:
        """Both sends of a duplicated callback got the same final answer, byte for byte."""
        one, two = self.first, self.duplicate
        return (
            one is not None
            and two is not None
            and one.definitive
            and two.definitive
            and one.status == two.status
            and one.last.body == two.last.body
        )


#: the actions sent as POST /casino/credit: a win, a close, a payout, a free round (§4b)
CREDITS = ("win", "close", "payout", "freeRound")


def standing_bets(actions: list[Action]) -> list[Action]:
    """Bets the casino accepted and nothing has refunded."""
    refunded = {a.payload.get("betTransactionId") for a in actions if a.type == "rollback" and a.refunded > 0}
    return [a for a in actions if a.type == "bet" and a.ok and a.transaction_id not in refunded]


def credited(actions: list[Action]) -> bool:
    """The casino accepted a credit in this round: from now on it refuses rollbacks (§4). An
    accepted betWin (debitCredit) is a credit too: its win leg (docs/protocol.md §10)."""
    return any(a.type in (*CREDITS, "betWin") and a.ok for a in actions)


def owed(action: Action) -> bool:
    """Owed money (§7a): a credit that pays something or closes the round, a refund (any
    rollback, a rescue among them)."""
    if action.type == "rollback":
        return True
    return action.type in CREDITS and (action.amount > 0 or bool(action.payload.get("roundClosed")))


def final_for(action: Action, code: str) -> bool:
    """Whether a contract answer is final for this action: always for a bet; for owed money
    only OK or a refusal the casino stores (§3, §7a)."""
    return code == "OK" or not owed(action) or code in STORED_REFUSALS


def owed_and_refused(action: Action, code: str) -> bool:
    """A final answer that leaves owed money unpaid: parked for an operator, never marked
    delivered (§7a). A close of 0 refused ROUND_CLOSED is simply final: the round is closed."""
    if code == "OK" or not owed(action):
        return False
    return not (action.type in CREDITS and action.amount == 0 and code == "ROUND_CLOSED")


@dataclass
class Engine:
    """Moves one round forward from its records (the caller holds the round's lease, as
    `owner`; it is renewed before every attempt)."""

    rnd: Round
    courier: Courier
    settings: ProviderSettings
    inline: bool
    deadline: float | None
    owner: str
    duplicate: bool = False
    sent: dict[int, Sent] = field(default_factory=dict)
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

    def advance(self) -> str:
        """Delivers what it can; returns the round's status afterwards."""
        self.retag_round()
        while True:
            action = next((a for a in self.rnd.actions if a.open), None)
            if action is None:
                return self.finish()
            if not self.verified(action):
                self.park_from(action, f"integrity tag does not verify: not sent (#{action.id})")
                continue
            if not self.inline and self.rnd.settle_by is not None and self.now() > self.rnd.settle_by:
                if action.type == "bet" and not credited(self.rnd.actions):
                    outbox.renew_horizon(self.rnd, self.owner, self.settings.settlement_horizon_seconds)
                    if action.started or action.id in self.sent:
                        # the sweeper and settlement compensate an undecided bet whatever the
                        # horizon; its rescues are owed money with a horizon of their own
                        self.compensate(action, "the settlement horizon passed")
                        continue
                    # never sent (its player died before the call): not undecided, so not
                    # compensated but sent in its turn, whatever the horizon (below); durable
                    # delivery of the rest of the round starts now (docs/protocol.md §10.7)
                else:
                    return self.park_the_rest()
            if deadlines.left(self.deadline) < self.courier.client.policy.attempt_seconds:
                return self.hand_over(action)  # no time for another call: settlement goes on
            if action.needs_standing_bet and not standing_bets(self.rnd.actions):
                outbox.set_state([action], "cancelled", note="no bet of the round stands: no closing credit")
                continue
            if action.type == "bet" and action.started and not credited(self.rnd.actions) and action.id not in self.sent:
                # an attempt was started by a worker that stopped: it may have reached the casino
                self.compensate(action, "an attempt was started by a worker that stopped")
                continue
            result = self.send(action)
            if result.definitive and final_for(action, code := result_code(result)):
                state = "parked" if owed_and_refused(action, code) else "delivered"
                note = f"final answer {code} for owed money" if state == "parked" else None
                self.record(action, result, state, note=note)
                if action.state == "parked":
                    count("ParkedSettlements")
                    logger.warning("settlement parked", extra={"transaction_id": action.transaction_id, "code": code})
                continue
            if action.type == "bet" and not credited(self.rnd.actions):
                self.compensate(action, None, result)
                continue
            # owed (or a debit in a credited round) without a final answer - undecided, or a
            # refusal the casino does not store: retried until final, later actions wait
            note = None
            if result.definitive:
                note = f"answer {result_code(result)} is not stored by the casino: not final, retried"
            self.record(action, result, "queued", next_attempt_at=self.next_attempt(action), note=note, final=False)
            return self.to_settlement(action)

    def retag_round(self) -> None:
        """During a rotation: the round's undelivered rows tagged under the previous key (that
        still verify under it) are tagged again with the current one, all at once."""
        keys = self.courier.keys
        if keys.previous is None:
            return
        for action in self.rnd.actions:
            if action.state in ("pending", "queued", "parked") and action.integrity_key == keys.previous.id:
                doc = outbox.action_document(self.rnd, action)
                if integrity.verify(integrity.Keys(keys.previous), doc, action.integrity_tag) is not None:
                    outbox.retag(action.id, keys.previous.id, keys.current, doc)
                    action.integrity_tag, action.integrity_key = keys.current.tag(doc), keys.current.id

    def verified(self, action: Action) -> bool:
        """The row's integrity tag verifies (under the current key, or the previous one during
        a rotation, when the round's rows are tagged again at once): only then is it signed
        and sent."""
        keys = self.courier.keys
        doc = outbox.action_document(self.rnd, action)
        key = integrity.verify(keys, doc, action.integrity_tag)
        if key is not None and key is not keys.current:
            self.retag_round()
        return key is not None

    def send(self, action: Action) -> CallResult:
        """Inline: the client's immediate attempts (twice over with duplicate callbacks);
        durable: one attempt per run, the backoff lies between runs (a bet never sent gets
        the immediate attempts: undecided, it is compensated at once). The lease is renewed
        and the action marked started first; a worker that lost its round stops here."""
        outbox.begin_send(self.rnd, action, self.owner, lease_seconds(self.deadline, self.settings))
        attempts = None if self.inline or action.type == "bet" else 1
        first = self.courier.send(action, max_attempts=attempts, deadline=self.deadline)
        if not (self.duplicate and self.inline):
            self.sent[action.id] = Sent(first)
            return first
        second = self.courier.send(action, max_attempts=attempts, deadline=self.deadline)
        decided = first if first.definitive or not second.definitive else second  # a decided answer wins
        other = second if decided is first else first
        combined = CallResult(other.attempts + decided.attempts, decided.headers)
        self.sent[action.id] = Sent(combined, second, first)
        return combined

    def record(self, action: Action, result: CallResult, state: str, **kwargs: Any) -> None:
        keys = self.courier.keys
        if keys.previous is not None and (keys.current.id, keys.previous.id) not in _retagged:
            # the signing secret rotated while this worker ran: every undelivered row tagged
            # under the previous key is tagged again now, while the previous key is known
            outbox.retag_previous(keys)
            _retagged.add((keys.current.id, keys.previous.id))
        extra = None if self.inline else {"durable": True}
        outbox.record_attempts(action, result, state, code=result_code(result), attempts_extra=extra, **kwargs)

    def compensate(self, bet: Action, note: str | None, result: CallResult | None = None) -> None:
        """Rescue rollbacks of an undecided debit and of every other bet that stands; the
        round's later actions are cancelled (§7a). The rescues are recorded first: a worker
        that stops in the middle leaves the bet open, and the next worker compensates it again
        (finding its rescues recorded) - never a bet given up without its rescue."""
        rescued = {a.payload.get("betTransactionId") for a in self.rnd.actions if a.rescue}
        targets = [bet] + [b for b in standing_bets(self.rnd.actions) if b.id != bet.id]
        planned = [
            Planned(
                index=target.index,
                type="rollback",
                transaction_id=rescue_rollback_id(target.transaction_id),
                amount=target.amount,
                rescue=True,
                payload={
                    "transactionId": rescue_rollback_id(target.transaction_id),
                    "betTransactionId": target.transaction_id,
                    "roundId": self.rnd.round_id,
                },
            )
            for target in targets
            if target.transaction_id not in rescued
        ]
        if planned:
            state = "pending" if self.inline else "queued"
            outbox.record(self.rnd, planned, keys=self.courier.keys, state=state)  # reloads the actions
            bet = next(a for a in self.rnd.actions if a.id == bet.id)
        later = [a for a in self.rnd.actions if a.open and a.id > bet.id and not a.rescue]
        outbox.set_state(later, "cancelled", note="cancelled: an earlier bet of the round is undecided")
        if result is not None:
            self.record(bet, result, "cancelled", note="undecided: compensated by a rescue rollback", final=False)
        else:
            outbox.set_state([bet], "cancelled", note=f"undecided ({note}): compensated by a rescue rollback")
        count("RescueRollbacks")

    def hand_over(self, action: Action) -> str:
        """Out of time: the round's undelivered actions go to durable settlement as they are."""
        outbox.set_state([a for a in self.rnd.actions if a.open], "queued", next_attempt_at=self.now())
        return self.to_settlement(action)

    def to_settlement(self, action: Action) -> str:
        later = [a for a in self.rnd.actions if a.open and a.id > action.id and a.state != "queued"]
        outbox.set_state(later, "queued", next_attempt_at=self.now())
        count("QueuedSettlements")
        return "pending_settlement"

    def next_attempt(self, action: Action) -> datetime:
        """Backoff between durable deliveries of one action: base * 2^(n-1), capped, jittered."""
        failures = sum(1 for a in action.attempts if a.get("durable")) + (0 if self.inline else 1)
        failures = max(1, failures)
        delay = min(
            self.settings.settlement_backoff_max_seconds, self.settings.settlement_backoff_base_seconds * 2 ** (failures - 1)
        )
        return self.now() + timedelta(seconds=delay * _rng.uniform(0.5, 1.0))

    def park_from(self, action: Action, note: str) -> None:
        """Parks an undelivered action and every later one of its round behind it (parked
        items keep the round's order)."""
        outbox.set_state([action], "parked", note=note)
        later = [a for a in self.rnd.actions if a.open and a.id > action.id]
        outbox.set_state(later, "parked", note=f"waits behind parked #{action.id}")
        count("ParkedSettlements")
        logger.warning("settlement parked", extra={"round_id": self.rnd.round_id, "reason": note})

    def park_the_rest(self) -> str:
        """The horizon has passed: what is still undelivered is parked for an operator."""
        left = [a for a in self.rnd.actions if a.open]
        outbox.set_state(left, "parked", note="undelivered at the settlement horizon")
        count("ParkedSettlements")
        logger.warning("settlement horizon passed", extra={"round_id": self.rnd.round_id, "parked": len(left)})
        return "pending_settlement"

    def finish(self) -> str:
        """Every action has its final answer: the round ends."""
        return round_status(self.rnd.actions)


def round_status(actions: list[Action]) -> str:
    """How a round whose actions all have their final answer ends."""
    if any(a.state == "parked" and a.final_status is None for a in actions):
        return "pending_settlement"  # an operator retries or resolves what was parked
    if any(a.rescue for a in actions):
        return "cancelled"
    if any(a.type in (*CREDITS, "betWin") and a.payload.get("roundClosed") and (a.ok or a.state == "resolved") for a in actions):
        return "completed"  # a credit closed it (or an operator settled the closing credit)
    if not standing_bets(actions) and not credited(actions):
        return "cancelled"  # nothing stands and nothing was paid: nothing to close
    if any(a.state == "parked" and a.transaction_id.endswith(":sweep-close") for a in actions):
        return "pending_settlement"  # even the sweeper's close was refused: an operator decides
    return "open"  # played but not closed (explicit actions): the sweeper closes it later


def owner_id(kind: str) -> str:
    return f"{kind}:{uuid.uuid4().hex[:12]}"


def lease_seconds(deadline: float | None, settings: ProviderSettings) -> float:
    left = deadlines.left(deadline)
    budget = settings.round_inline_budget_seconds if left == float("inf") else left
    return budget + settings.invocation_margin_seconds + 5


# ------------------------------------------------------------------ durable workers


@dataclass
class RunSummary:
    rounds: int = 0
    delivered: int = 0
    finished: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"rounds": self.rounds, "delivered": self.delivered, "finished": self.finished}


def _work_on(
    round_pk: int,
    kind: str,
    statuses: tuple[str, ...],
    deadline: float | None,
    settings: ProviderSettings,
    summary: RunSummary,
    *,
    close_idle: bool = False,
) -> None:
    owner = owner_id(kind)
    rnd = outbox.lease(round_pk, owner, lease_seconds(deadline, settings), statuses)
    if rnd is None:
        return  # another worker has it
    summary.rounds += 1
    status = rnd.status
    try:
        courier = courier_for(rnd, settings)
        if courier is None:
            outbox.set_state([a for a in rnd.actions if a.open], "parked", note="the round's provider session is gone")
            status = "pending_settlement"
            return
        engine = Engine(rnd, courier, settings, inline=False, deadline=deadline, owner=owner)
        try:
            status = engine.advance()
            if status == "open" and close_idle:
                status = close_round(engine)
        except LeaseLost:
            logger.warning("settlement lease lost", extra={"round_id": rnd.round_id})
            return  # another worker holds the round now: nothing more is sent or released
        summary.delivered += sum(1 for s in engine.sent.values() if s.result.definitive)
        summary.finished[status] = summary.finished.get(status, 0) + 1
    finally:
        outbox.release(rnd, owner, status)  # only while this worker still holds the lease


def close_round(engine: Engine) -> str:
    """A round played to its end but never closed (no activity for ROUND_TIMEOUT_SECONDS):
    the sweeper closes it with a credit of 0, delivered like any owed action."""
    rnd = engine.rnd
    if any(a.transaction_id.endswith(":sweep-close") for a in rnd.actions):
        return engine.advance()  # closed by the sweeper already (an id of before hashing included)
    txid = sweep_close_id(rnd.round_id)
    payload = {"transactionId": txid, "roundId": rnd.round_id, "amount": 0, "currency": _currency(rnd), "roundClosed": True}
    planned = [Planned(index=len(rnd.actions), type="close", transaction_id=txid, amount=0, payload=payload)]
    outbox.record(rnd, planned, keys=engine.courier.keys, state="queued")
    return engine.advance()


def _currency(rnd: Round) -> str:
    session = outbox.session_of(rnd)
    return str(session["currency"]) if session else "USD"


def drain(deadline: float | None = None, settings: ProviderSettings | None = None) -> RunSummary:
    """One settlement run: every round whose first undelivered action is due, oldest first,
    until the batch or the time is used up."""
    settings = settings or get_settings()
    summary = RunSummary()
    retag_previous(settings)
    for round_pk in outbox.due_rounds(settings.settlement_batch_rounds):
        if deadlines.left(deadline) < 2 * settings.retry_policy().attempt_seconds:
            break
        _work_on(round_pk, "settle", ("pending_settlement",), deadline, settings, summary)
    return summary


def sweep(
    deadline: float | None = None, settings: ProviderSettings | None = None, timeout_seconds: int | None = None
) -> RunSummary:
    """Finishes every round left open longer than ROUND_TIMEOUT_SECONDS: a player that died
    mid-round (its recorded actions are compensated or delivered) or a round played but
    never closed (closed with a credit of 0, or cancelled when nothing stands)."""
    settings = settings or get_settings()
    timeout = settings.round_timeout_seconds if timeout_seconds is None else timeout_seconds
    summary = RunSummary()
    retag_previous(settings)
    for round_pk in outbox.stale_rounds(timeout, settings.settlement_batch_rounds):
        if deadlines.left(deadline) < 2 * settings.retry_policy().attempt_seconds:
            break
        _work_on(round_pk, "sweep", ("open",), deadline, settings, summary, close_idle=True)
    return summary


def retag_previous(settings: ProviderSettings) -> int:
    """During a rotation of the signing secret: undelivered rows tagged under the previous
    key are tagged again with the current one, while the previous secret is still known."""
    keys = keys_for(settings, "CASINO_SECRET")
    return outbox.retag_previous(keys) if keys.previous is not None else 0


# ------------------------------------------------------------------ operator


class RetryRefused(Exception):
    """An operator's retry that would not help or would break the round's order: the
    message says why and what to do instead."""


@dataclass
class RetryOutcome:
    round_pk: int
    requeued: int
    status: str


def retry(action_id: int, settings: ProviderSettings | None = None) -> RetryOutcome:
    """An operator's retry of a parked item (§7a): every parked item of its round without a
    final answer goes back to durable settlement in the round's order (so none overtakes an
    earlier one), with a fresh horizon, and the round gets an attempt at once. Refused
    (RetryRefused) for an item that has the casino's stored final answer (sending it again
    returns the same answer: resolve it), one whose integrity tag does not verify, or while
    a worker holds the round."""
    settings = settings or get_settings()
    item = outbox.parked_one(action_id)
    if item is None:
        raise RetryRefused(f"#{action_id} is not a parked settlement (see `settlement list`)")
    if item["final_status"] is not None:
        raise RetryRefused(
            f"#{action_id} has the casino's final answer {item['final_code']} (stored for replay): sent again it gets the "
            "same answer; settle it by other means and `resolve` it"
        )
    if item["note"] and item["note"].startswith("integrity tag"):
        raise RetryRefused(
            f"#{action_id} was not recorded by the round player (its integrity tag does not verify): it is never sent; "
            "check it against the round and `resolve` it"
        )
    if item["busy"]:
        raise RetryRefused(f"#{action_id}: a worker holds its round right now; try again in a minute")
    moved = outbox.retry_parked(action_id, settings.settlement_horizon_seconds)
    if moved is None:
        raise RetryRefused(f"#{action_id}: its round changed meanwhile; see `settlement list` again")
    round_pk, requeued = moved
    summary = RunSummary()
    _work_on(round_pk, "operator", ("pending_settlement",), deadlines.at(0, cap=60), settings, summary)
    status = next(iter(summary.finished), "pending_settlement")
    return RetryOutcome(round_pk, int(requeued), status)


def resolve(action_id: int, note: str) -> bool:
    """Marks a parked action as resolved by an operator (e.g. paid by other means); its round
    then ends."""
    round_pk = outbox.resolve_parked(action_id, note)
    if round_pk is None:
        return False
    owner = owner_id("operator")
    rnd = outbox.lease(round_pk, owner, 30, ("pending_settlement", "open"))
    if rnd is not None:
        status = rnd.status
        try:
            if not any(a.open for a in rnd.actions):
                status = round_status(rnd.actions)
        finally:
            outbox.release(rnd, owner, status)
    return True
