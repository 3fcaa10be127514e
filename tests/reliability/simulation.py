"""A deterministic fault simulation of the provider's settlement and the casino together
(docs/protocol.md §7, §7a), in the spirit of TigerBeetle's simulator.

One seed (random.Random(seed)) decides everything: the players (rich ones and poor ones that
hit INSUFFICIENT_FUNDS), the rounds (both shapes, duplicate callbacks, replay-safe round ids
sent again) and the fault schedule - casino 5xx, timeouts before the casino sees a request,
responses lost after the casino committed, 429s and a gateway's own 4xx, settlement runs in
shuffled order and interleaved with the sweeper and with rounds being played, time passing
(leases running out), the provider process killed between any two steps (a casino call or
an outbox write, before or after it), the provider's database down while recording, and a
rotation of CASINO_SECRET in the middle of a round. The rounds run against the real casino
handlers and the real PostgreSQL (in-process, through tests.support.HandlerTransport); then
the faults heal, settlement and the sweeper drain everything, and `check` compares what the
provider recorded with what the casino did:

- every round of the seed ended `completed` or `cancelled`; no callback is left pending or
  queued; a completed round has a closing credit the casino accepted, a cancelled one moved
  no money;
- owed money was delivered: every win, close and rollback not cancelled with its round has
  the casino's final answer, every rescue rollback was accepted, every refusal is one the
  round itself explains in its own order (a win on a bet the casino refused, a rollback
  after a credit, ...), and parked rows are only such refusals;
- order: the casino saw each round's callbacks in the order the provider recorded them;
- money: per round, what the provider's records imply (accepted bets -amount, accepted
  wins and closes +amount, rollbacks +rolledBackAmount of the casino's answer) equals what
  the casino's ledger moved, and each player's wallet = opening + the sum over its rounds;
- reconcile (wallets = ledger, and the §7a cross-check of provider records vs the casino's
  stored answers) is OK.

Widened for issue 26 (each kind is counted on its own, and the CI run asserts every kind fired
at least once, FAULT_KINDS): a round id sent again under a new session of the same player (its
report, nothing re-sent) and under another player's session (409 ROUND_MISMATCH, nothing
changes on either side); round ids of up to the contract's 128 characters sharing their first
100; an operator's `settlement retry` and `resolve` of parked items in random order; the
settlement horizon on a simulated clock (a casino outage outlasting it parks for real); the real
lease lengths, with a drainer that outlives its lease while another worker runs; CASINO_SECRET
rotations in both orders (the casino first, or the provider first: 401s until the casino
follows); the round player's inline budget running out. Every round's report is checked too
(`settlement` never "complete" with owed money undelivered or refused; an action never sent
has `code`, `httpStatus` null and 0 attempts). The outcome reconcile (sql/checks/outcome.sql)
is the oracle beside the round-by-round checks.

No sleeping and no wall clock: backoff sleeps are skipped, and the provider's time is a
simulated clock - "time passes" moves every timestamp of the seed's rounds back (leases,
horizons, next attempts, last activity), so the database's now() sees that much time gone by
and a seed replays exactly (SETTLEMENT_SEED=<n>). Real settings otherwise: leases as the engine
sizes them, durable backoff 30 s x 2^n up to 15 min, ROUND_TIMEOUT_SECONDS 900 and a horizon
of SIM_HORIZON_SECONDS.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
import urllib3
from seamless.casino import handlers as casino_handlers
from seamless.contract import client as signed_client
from seamless.contract import errors
from seamless.contract.models import ProviderSimulateRequest, RoundSpec
from seamless.contract.round_plan import plan_round
from seamless.provider import outbox, settlement
from seamless.provider import rounds as provider
from seamless.provider.settings import get_settings as provider_settings
from seamless.runtime import deadline as deadlines
from seamless.runtime.settings import reload_settings

from devtools import admin
from tests.support import FakeHTTPResponse, HandlerTransport, admin_conn, make_player, new_session, provider_session_for

#: rounds per seed in the default run, and how the default run's seeds are chosen (9 x 116 =
#: 1,044 rounds; 4244165557 is the seed on which issue 26's soak lost 810)
DEFAULT_ROUNDS = 116
DEFAULT_SEEDS = (20_251_201, 7, 42, 1_234, 31_337, 271_828, 314_159, 8_675_309, 4_244_165_557)
#: the simulated settings: a horizon the clock can outrun within a seed (>= ROUND_TIMEOUT_SECONDS
#: plus the drainer's schedule, as §7a requires), the sweeper's real timeout
SIM_HORIZON_SECONDS = 3_600
SIM_ROUND_TIMEOUT_SECONDS = 900
#: the fault kinds a CI run (all DEFAULT_SEEDS) must have fired at least once each
FAULT_KINDS = (
    "5xx",
    "timeout",
    "lost-response",
    "429",
    "gateway-4xx",
    "casino outage",
    "killed before a casino call",
    "killed after the casino committed",
    "killed at an outbox write",
    "provider db blip",
    "provider db outage",
    "settlement and sweep interleaved mid-round",
    "settlement run (shuffled)",
    "sweep",
    "time passes",
    "horizon passed (parked)",
    "drainer outlived its lease",
    "inline budget ran out",
    "rotation, casino first",
    "rotation, provider first",
    "round re-sent (same session)",
    "round re-sent (new session, same player)",
    "round re-sent (another player)",
    "long round id (shared 100-character prefix)",
    "operator retry",
    "operator resolve",
)
#: the heal loop gives up (and the check says what is left) after this many passes
HEAL_PASSES = 20
#: the figures of every seed run in this pytest process (printed at the end of the run)
RESULTS: list[Figures] = []


class ProviderDied(BaseException):
    """The provider's process ends between two steps (nothing in it catches this, and a dead
    process runs nothing more: no `finally`, no lease release)."""


# ------------------------------------------------------------------ faults at the wire

CASINO_FAULTS = ("5xx", "timeout", "lost-response", "429", "gateway-4xx")


def read_timeout() -> urllib3.exceptions.ReadTimeoutError:
    pool: Any = None  # raised by a fake transport: there is no connection pool
    return urllib3.exceptions.ReadTimeoutError(pool, "/casino", "read timed out")


def wire_fault(kind: str, rng: random.Random) -> object:
    """What HandlerTransport does for one call: see its docstring."""
    if kind == "5xx":
        return rng.choice((500, 502, 503, 504))
    if kind == "timeout":  # before the casino sees the request
        return rng.choice(
            (
                read_timeout(),
                urllib3.exceptions.ConnectTimeoutError("connect timed out"),
                urllib3.exceptions.ProtocolError("Connection aborted."),
            )
        )
    if kind == "lost-response":  # the casino commits, the answer never arrives
        return (
            rng.choice(
                (
                    read_timeout(),
                    urllib3.exceptions.ProtocolError("Connection reset by peer"),
                )
            ),
        )
    if kind == "429":
        return FakeHTTPResponse(429, b'{"message":"Too Many Requests"}')
    if kind == "gateway-4xx":  # API Gateway's own answers: not a contract error, so retried
        return rng.choice(
            (
                FakeHTTPResponse(403, b'{"message":"Forbidden"}'),
                FakeHTTPResponse(401, b'{"message":"Unauthorized"}'),
                FakeHTTPResponse(404, b"<html>Not Found</html>"),
            )
        )
    raise ValueError(kind)


@dataclass
class Plan:
    """The faults of one top-level operation (a round played, a settlement run, a sweep).
    Calls and steps count from 1 within the operation; a step is a casino call or an outbox
    write."""

    #: casino call number -> fault kind (bursts of consecutive calls)
    calls: dict[int, str] = field(default_factory=dict)
    #: (step, "before" | "after"): the provider process dies there
    die: tuple[int, str] | None = None
    #: (write, "before" | "after", outage): the provider's database fails there (and, in an
    #: outage, stays down for the rest of the operation)
    db_down: tuple[int, str, bool] | None = None
    #: casino call at which CASINO_SECRET is rotated, and which side moves first
    rotate_at: int | None = None
    provider_first: bool = False
    #: casino call during which a settlement run and a sweep happen (another worker)
    interleave_at: int | None = None
    #: casino call during which this worker's lease runs out (the clock jumps past it) and
    #: another worker runs
    outlive_at: int | None = None
    #: casino call after which the round player's inline budget is used up
    budget_at: int | None = None


#: outbox functions that write (the steps the provider can die or lose its database between)
WRITES = (
    "claim",
    "lease",
    "release",
    "record",
    "record_attempts",
    "set_state",
    "set_round_status",
    "finish_report",
    "retry_parked",
    "resolve_parked",
)
#: outbox functions that read (fail too while the database is down)
READS = ("find", "load_actions", "session_of", "due_rounds", "stale_rounds")


class Faults:
    """Injects the current Plan into the casino transport and the provider's outbox."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.plan = Plan()
        self.calls = self.steps = self.writes = 0
        self.dead = False
        self.outage = False
        self.budget_spent = False
        self.op = ""
        self.nested = 0
        self.injected: Counter[str] = Counter()
        self.kinds: Counter[str] = Counter()
        #: SETTLEMENT_TRACE=1 prints every operation and every step of it (to study a seed)
        self.tracing = bool(os.environ.get("SETTLEMENT_TRACE"))

    def trace(self, message: str) -> None:
        if self.tracing and not self.nested:
            print(f"    step {self.steps}: {message}")

    def begin(self, plan: Plan, op: str = "") -> None:
        self.plan = plan
        self.op = op
        self.calls = self.steps = self.writes = 0
        self.dead = self.outage = self.budget_spent = False
        self.sim.transport.seen.clear()

    def heal(self) -> None:
        self.begin(Plan())

    @contextmanager
    def suspended(self) -> Iterator[None]:
        """Another worker runs (inside a call of this one): it sees no faults."""
        self.nested += 1
        try:
            yield
        finally:
            self.nested -= 1

    def _die(self, when: str) -> bool:
        return self.plan.die is not None and self.plan.die == (self.steps, when)

    def count(self, kind: str, detail: str = "") -> None:
        """One fault of `kind` (FAULT_KINDS; a detail such as the operation is shown apart)."""
        assert kind in FAULT_KINDS, kind
        self.kinds[kind] += 1
        self.injected[f"{kind} ({detail})" if detail else kind] += 1

    def died(self, where: str) -> ProviderDied:
        self.dead = True
        self.count("killed before a casino call" if "casino" in where else "killed at an outbox write", self.op)
        self.trace(f"the provider is killed {where}")
        return ProviderDied(f"killed {where} at step {self.steps}")

    # the casino, as the provider's HTTP client sees it (HandlerTransport's fault hook)
    def casino(self, path: str, body: bytes, n: int) -> object:
        if self.nested:
            return None
        if self.dead:
            raise ProviderDied("a dead process sends nothing")
        self.calls += 1
        self.steps += 1
        self.trace(f"casino {path} {body[:160].decode(errors='replace')} -> {self.plan.calls.get(self.calls)}")
        if self.plan.rotate_at == self.calls:
            self.sim.rotate(provider_first=self.plan.provider_first)
        if self.plan.interleave_at == self.calls:
            self.count("settlement and sweep interleaved mid-round")
            with self.suspended():
                settlement.drain()
                settlement.sweep(timeout_seconds=0)
        if self.plan.outlive_at == self.calls:
            # this worker is slow: its lease runs out while it waits for the casino, and
            # another worker takes what is due (then this one goes on as if nothing happened)
            self.count("drainer outlived its lease", self.op)
            self.sim.advance(self.sim.rng.choice((30, 60, 300)))
            with self.suspended():
                settlement.drain()
                settlement.sweep()
        if self.plan.budget_at is not None and self.calls >= self.plan.budget_at and not self.budget_spent:
            self.budget_spent = True
            self.count("inline budget ran out")
        if self._die("before"):
            raise self.died("before a casino call")
        if self._die("after"):
            self.dead = True
            self.count("killed after the casino committed", self.op)
            self.trace("the provider is killed after the casino commits")
            return (ProviderDied("killed after the casino answered"),)
        if self.sim.clock < self.sim.outage_until:  # the casino is down (simulated time)
            self.count("casino outage")
            return 503
        kind = self.plan.calls.get(self.calls)
        if kind is None:
            return None
        self.count(kind)
        return wire_fault(kind, self.sim.rng)

    # the provider's database, as its outbox functions see it
    def around(self, name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        write = name in WRITES

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if self.nested:
                return real(*args, **kwargs)
            if self.dead:
                raise ProviderDied("a dead process writes nothing")
            if self.outage:
                raise errors.ServiceUnavailable()
            if not write:
                return real(*args, **kwargs)
            self.steps += 1
            self.writes += 1
            self.trace(f"outbox.{name} (write {self.writes})")
            down = self.plan.db_down
            if self._die("before"):
                raise self.died(f"before outbox.{name}")
            if down is not None and down[:2] == (self.writes, "before"):
                self._down(down[2], name)
            result = real(*args, **kwargs)
            if self._die("after"):
                raise self.died(f"after outbox.{name}")
            if down is not None and down[:2] == (self.writes, "after"):
                self._down(down[2], name)  # committed, but the acknowledgement is lost
            return result

        return wrapper

    def _down(self, outage: bool, name: str) -> None:
        self.outage = outage
        self.count(f"provider db {'outage' if outage else 'blip'}", self.op)
        self.trace(f"the provider's database fails at outbox.{name}{' and stays down' if outage else ''}")
        raise errors.ServiceUnavailable()


def fresh_invocation() -> None:
    """A new invocation of the provider, with no Lambda deadline: the casino's handlers run
    in-process (HandlerTransport) and each sets the deadline of its own invocation in this
    thread's context, which must not cut short the provider's next operation, minutes later."""
    deadlines.start(None)


def operator_retry(action_id: int) -> bool:
    """`settlement retry ID`: False when the command refuses it (with its reason, e.g. the item
    has the casino's stored answer, or a worker holds its round)."""
    refused: Any = getattr(settlement, "RetryRefused", ())
    fresh_invocation()
    try:
        return bool(settlement.retry(action_id))
    except refused:
        return False


def casino_view(secrets: list[str]) -> list[str]:
    """The secrets the casino accepts for a callback (a planted defect replaces this)."""
    return secrets


# ------------------------------------------------------------------ rounds


@dataclass
class Player:
    user_id: str
    provider_session: str
    opening: int
    poor: bool
    #: the player's other sessions (a re-launch), for re-sends of a round id
    more_sessions: list[str] = field(default_factory=list)


def generate_round(rng: random.Random, player: Player) -> dict[str, Any]:
    """One round's simulate fields: 2-5 actions, either shape. Most rounds are what a game
    plays; about one in ten is played in an order the casino refuses some of (a win on a bet
    rolled back, a rollback after a win, a win after the close): their refusals are final and
    a refused win is parked, which the checks expect of exactly those rounds. Poor players'
    bets are refused (INSUFFICIENT_FUNDS) and so are wins on them (BET_NOT_FOUND)."""
    low, high = (50, 1_500) if player.poor else (1, 5_000)
    chaotic = rng.random() < 0.1

    def bet() -> int:
        return rng.randint(low, high)

    def win(stake: int) -> int:
        return rng.choice((0, stake // 2, stake, 2 * stake, rng.randint(1, 3 * max(stake, 1))))

    spec: dict[str, Any]
    if rng.random() < 0.5:  # bets / wins / rollbacks: all bets, then rollbacks, then wins
        while True:
            bets = [{"amount": bet()} for _ in range(rng.choice((1, 1, 2, 2, 3)))]
            rollbacks = [{"betIndex": rng.randrange(len(bets))} for _ in range(rng.choice((0, 0, 0, 1)))]
            standing = sorted(set(range(len(bets))) - {r["betIndex"] for r in rollbacks})
            targets = list(range(len(bets))) if chaotic or not standing else standing
            wins = [
                {"amount": win(bets[i]["amount"]), "relatedBetIndex": i}
                for i in (rng.choice(targets) for _ in range(rng.choice((0, 1, 1, 1, 2))))
            ]
            size = len(bets) + len(rollbacks) + len(wins) + (1 if not wins and standing else 0)
            if 2 <= size <= 5:
                break
        spec = {"bets": bets, "wins": wins, "rollbacks": rollbacks}
    elif chaotic:  # explicit actions in any order
        actions: list[dict[str, Any]] = [{"type": "bet", "amount": bet()}]
        stakes = [actions[0]["amount"]]
        for _ in range(rng.randint(1, 4)):
            draw = rng.random()
            if draw < 0.25:
                stakes.append(bet())
                actions.append({"type": "bet", "amount": stakes[-1]})
            elif draw < 0.6:
                i = rng.randrange(len(stakes))
                actions.append({"type": "win", "amount": win(stakes[i]), "betIndex": i, "close": rng.random() < 0.4})
            elif draw < 0.75:
                actions.append({"type": "rollback", "betIndex": rng.randrange(len(stakes))})
            else:
                actions.append({"type": "close"})
        spec = {"actions": actions}
    else:  # explicit actions as a game plays them: bets, a rollback maybe, wins, the close
        actions = []
        if rng.random() < 0.1:
            actions.append({"type": "win", "amount": rng.randint(1, high)})  # a bonus: a win without a bet
        stakes = [bet() for _ in range(rng.choice((1, 1, 2)))]
        actions += [{"type": "bet", "amount": a} for a in stakes]
        open_bets = list(range(len(stakes)))
        if len(stakes) > 1 and rng.random() < 0.3:
            i = open_bets.pop(rng.randrange(len(open_bets)))
            actions.append({"type": "rollback", "betIndex": i})
        for i in rng.sample(open_bets, k=rng.randint(0, len(open_bets))):
            if len(actions) < 4:
                actions.append({"type": "win", "amount": win(stakes[i]), "betIndex": i})
        ending = rng.random()
        if ending < 0.4 and actions[-1]["type"] == "win":
            actions[-1]["close"] = True
        elif ending < 0.8:
            actions.append({"type": "close"})
        # else: left open - the sweeper closes it
        if len(actions) < 2:
            actions.append({"type": "close"})
        spec = {"actions": actions}
    if rng.random() < 0.15:
        spec["duplicateCallbacks"] = True
    return spec


# ------------------------------------------------------------------ the simulation


@dataclass
class Figures:
    seed: int
    rounds: int = 0
    not_started: int = 0
    resent: int = 0
    actions: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    parked: int = 0
    parked_explained: int = 0
    parked_codes: Counter[str] = field(default_factory=Counter)
    heal_passes: int = 0
    findings: list[str] = field(default_factory=list)
    digest: str = ""
    #: simulated seconds that passed
    clock: int = 0
    #: faults by kind (FAULT_KINDS), without the details `faults` shows
    kinds: Counter[str] = field(default_factory=Counter)
    #: differences the outcome reconcile found (also among the findings)
    differences: int = 0

    @property
    def mismatches(self) -> int:
        return len(self.findings)

    def line(self) -> str:
        faults = ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items()))
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items()))
        return (
            f"seed {self.seed}: {self.rounds} rounds ({self.not_started} not started, {self.resent} re-sent; {statuses}), "
            f"{self.actions} callbacks; faults {sum(self.faults.values())} ({faults}); "
            f"parked {self.parked} ({self.parked_explained} explained by the round itself: "
            f"{', '.join(f'{k} {v}' for k, v in sorted(self.parked_codes.items())) or 'none'}); "
            f"heal passes {self.heal_passes}; simulated time {self.clock} s; outcome differences {self.differences}; "
            f"mismatches {self.mismatches}"
        )


def summary() -> list[str]:
    """One line per seed and a total, for the end of the pytest run."""
    if not RESULTS:
        return []
    faults: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    for f in RESULTS:
        faults.update(f.faults)
        codes.update(f.parked_codes)
    total = (
        f"total: {len(RESULTS)} seeds, {sum(f.rounds for f in RESULTS)} rounds, "
        f"{sum(f.actions for f in RESULTS)} callbacks, {sum(faults.values())} faults "
        f"({', '.join(f'{k} {v}' for k, v in sorted(faults.items()))}), "
        f"parked {sum(f.parked for f in RESULTS)} ({sum(f.parked_explained for f in RESULTS)} explained by the round itself: "
        f"{', '.join(f'{k} {v}' for k, v in sorted(codes.items())) or 'none'}), "
        f"outcome differences {sum(f.differences for f in RESULTS)}, mismatches {sum(f.mismatches for f in RESULTS)}"
    )
    return [f.line() for f in RESULTS] + [total]


def kinds_fired(results: list[Figures]) -> Counter[str]:
    """How often each of FAULT_KINDS fired over these seeds."""
    fired: Counter[str] = Counter()
    for f in results:
        fired.update(f.kinds)
    return fired


def replay_command(seed: int, rounds: int) -> str:
    extra = "" if rounds == DEFAULT_ROUNDS else f" SETTLEMENT_ROUNDS={rounds}"
    test = "tests/reliability/test_settlement_simulation.py::test_settlement_simulation"
    return f"SETTLEMENT_SEED={seed}{extra} python -m pytest {test}"


class Simulation:
    """One seed's run. `run()` plays, heals, settles and checks; returns the Figures."""

    def __init__(self, seed: int, rounds: int, url: str, monkeypatch: Any, *, players: int = 5) -> None:
        self.seed = seed
        self.n_rounds = rounds
        self.url = url
        self.mp = monkeypatch
        self.rng = random.Random(seed)
        self.figures = Figures(seed)
        self.faults = Faults(self)
        self.transport = HandlerTransport(self.faults.casino)
        self.transport.request = self._observed(self.transport.request)  # type: ignore[method-assign]
        self.players: list[Player] = []
        self.n_players = players
        self.replay_safe: list[tuple[Player, dict[str, Any]]] = []
        self.round_pks: set[int] = set()
        self.original_secret = os.environ["CASINO_SECRET"]
        self.rotations = 0
        self.casino_accepts: list[str] = [self.original_secret]
        #: the secrets the casino takes on after a provider-first rotation (after the operation)
        self.casino_follows: list[str] | None = None
        #: the simulated clock (seconds since the start) and the casino's outage, until then
        self.clock = 0
        self.outage_until = 0
        #: the round after which the casino goes down for longer than the horizon (once a seed)
        self.long_outage_at = -1
        self.rounds_played = 0
        #: names this run's round ids apart from another run of the same seed in the same
        #: database (names only: nothing the seed decides depends on it)
        self.run_tag = uuid.uuid4().hex[:6]
        self.long_prefix = (f"sim-{seed}-{self.run_tag}-long-" + "x" * 100)[:100]
        self.admin: psycopg.Connection[Any]

    # -------------------------------------------------------------- set-up

    def install(self) -> None:
        mp = self.mp
        # real settings, on the simulated clock: durable backoff 30 s x 2^n (at most 15 min), the
        # sweeper's timeout, a horizon the clock can outrun (module docstring)
        mp.delenv("SETTLEMENT_BACKOFF_BASE_SECONDS", raising=False)
        mp.setenv("SETTLEMENT_HORIZON_SECONDS", str(SIM_HORIZON_SECONDS))
        mp.setenv("ROUND_TIMEOUT_SECONDS", str(SIM_ROUND_TIMEOUT_SECONDS))
        reload_settings()
        mp.setattr(signed_client, "default_transport", lambda: self.transport)
        real_init = signed_client.SignedClient.__init__

        def init(client: Any, *args: Any, **kwargs: Any) -> None:
            kwargs["sleep"] = lambda seconds: None  # the client's backoff is not slept
            real_init(client, *args, **kwargs)

        mp.setattr(signed_client.SignedClient, "__init__", init)
        # The casino's own view of CASINO_SECRET (a rotation moves the two sides one after the
        # other); the provider signs with the environment's CASINO_SECRET.
        mp.setattr(casino_handlers, "callback_secrets", lambda: casino_view(list(self.casino_accepts)))
        # The round player's inline budget runs out when the plan says so (Plan.budget_at).
        real_left = deadlines.left
        mp.setattr(
            deadlines,
            "left",
            lambda deadline: 0.0 if self.faults.budget_spent and not self.faults.nested else real_left(deadline),
        )
        for name in WRITES + READS:
            real = getattr(outbox, name)
            if name in ("due_rounds", "stale_rounds"):
                real = self._mine_shuffled(real)
            mp.setattr(outbox, name, self.faults.around(name, real))

    def _observed(self, request: Callable[..., Any]) -> Callable[..., Any]:
        """The casino's answers as they leave it: a 401 is right only while a provider-first
        rotation waits for the casino to follow; otherwise the casino refused a callback signed
        with a secret it must accept (§2: no request is refused during the grace)."""

        def observed(method: str, url: str, **kwargs: Any) -> Any:
            response = request(method, url, **kwargs)
            if getattr(response, "status", None) == 401 and b"INVALID_SIGNATURE" in getattr(response, "data", b""):
                if self.casino_follows is None:
                    self.figures.findings.append(f"the casino refused a callback to {url.rsplit('/', 1)[-1]} INVALID_SIGNATURE")
            return response

        return observed

    def _mine_shuffled(self, real: Callable[..., list[int]]) -> Callable[..., list[int]]:
        """Workers see only this seed's rounds, in an order the seed shuffles (queued
        deliveries of different rounds are reordered; a round's own order must hold)."""

        def rounds(*args: Any) -> list[int]:
            *rest, limit = args
            found = sorted(pk for pk in real(*rest, 1_000_000) if pk in self.round_pks)
            self.rng.shuffle(found)
            return found[:limit]

        return rounds

    def create_players(self) -> None:
        for i in range(self.n_players):
            poor = i >= self.n_players - 2  # the last two hit INSUFFICIENT_FUNDS
            opening = self.rng.randint(300, 2_500) if poor else self.rng.randint(200_000, 2_000_000)
            user = make_player(self.url, opening)
            token = new_session(self.url, user, expires_in_seconds=30 * 86_400)
            self.players.append(Player(user, provider_session_for(self.url, user, token), opening, poor))

    def another_session(self, player: Player) -> str:
        """The player launches the game again: a new casino session and its provider session."""
        token = new_session(self.url, player.user_id, expires_in_seconds=30 * 86_400)
        session = provider_session_for(self.url, player.user_id, token)
        player.more_sessions.append(session)
        return session

    # -------------------------------------------------------------- the schedule

    def casino_bursts(self, first: int, last: int, bursts: int) -> dict[int, str]:
        calls: dict[int, str] = {}
        for _ in range(bursts):
            start = self.rng.randint(first, last)
            same = self.rng.random() < 0.6
            kind = self.rng.choice(CASINO_FAULTS)
            for c in range(start, start + self.rng.randint(1, 6)):
                calls[c] = kind if same else self.rng.choice(CASINO_FAULTS)
        return calls

    def round_plan(self) -> Plan:
        rng = self.rng
        if rng.random() < 0.35:
            return Plan()
        # call 1 is the opening getBalance: a burst there means the round is not played
        plan = Plan(calls=self.casino_bursts(1 if rng.random() < 0.1 else 2, 10, rng.choice((1, 1, 1, 2))))
        if rng.random() < 0.12:
            plan.die = (rng.randint(1, 16), rng.choice(("before", "after")))
        if rng.random() < 0.08:
            plan.db_down = (rng.randint(1, 10), rng.choice(("before", "after")), rng.random() < 0.5)
        if rng.random() < 0.05:
            plan.interleave_at = rng.randint(2, 8)
        if rng.random() < 0.05:
            plan.budget_at = rng.randint(2, 6)
        return plan

    def worker_plan(self) -> Plan:
        rng = self.rng
        if rng.random() < 0.5:
            return Plan()
        plan = Plan(calls=self.casino_bursts(1, 12, rng.choice((1, 2, 3))))
        if rng.random() < 0.2:
            plan.die = (rng.randint(1, 10), rng.choice(("before", "after")))
        if rng.random() < 0.15:
            plan.db_down = (rng.randint(1, 10), rng.choice(("before", "after")), rng.random() < 0.5)
        if rng.random() < 0.3:
            plan.outlive_at = rng.randint(1, 2)
        return plan

    # -------------------------------------------------------------- operations

    def guarded(self, what: str, plan: Plan, op: Callable[[], Any]) -> Any:
        """Runs one top-level operation under its faults; the provider dying or its database
        failing ends the operation (as it ends a Lambda invocation), nothing else is caught."""
        self.faults.begin(plan, what.split(" ", 1)[0])
        fresh_invocation()
        if self.faults.tracing:
            print(f"  {what}: {plan}")
        try:
            return op()
        except ProviderDied as exc:
            self.faults.trace(f"the provider died ({exc})")
            return None
        except errors.ServiceUnavailable:
            self.faults.trace("the provider's database is down")
            return None
        finally:
            self.faults.heal()
            if self.casino_follows is not None:  # a provider-first rotation: the casino follows now
                self.casino_accepts, self.casino_follows = self.casino_follows, None

    def play(self, player: Player, spec: dict[str, Any], plan: Plan, session: str | None = None) -> None:
        request = ProviderSimulateRequest.model_validate({"providerSessionId": session or player.provider_session, **spec})

        def op() -> None:
            try:
                report = provider.simulate(request)
            except errors.ProviderError:  # no opening balance: nothing was played
                self.figures.not_started += 1
            else:
                self.figures.findings += check_report(report)
            finally:
                self.track()

        self.guarded(f"play {spec.get('roundId', '(no roundId)')} for {player.user_id[:8]}: {spec}", plan, op)

    def resend(self) -> None:
        """The casino sends a replay-safe round again: under the same session, under a new
        session of the same player (its report; nothing already sent is sent again), or under
        another player's session (409 ROUND_MISMATCH; nothing changes on either side)."""
        owner, spec = self.rng.choice(self.replay_safe)
        self.figures.resent += 1
        draw = self.rng.random()
        if draw < 0.35:
            self.faults.count("round re-sent (same session)")
            self.play(owner, spec, self.round_plan())
        elif draw < 0.7:
            self.faults.count("round re-sent (new session, same player)")
            self.play(owner, spec, self.round_plan(), session=self.another_session(owner))
        else:
            other = self.rng.choice([p for p in self.players if p.user_id != owner.user_id])
            before = self.snapshot(spec["roundId"])
            if before is None or self.clock < self.outage_until:
                # never recorded (its opening getBalance failed): nothing holds the id; or the
                # casino is down: the provider cannot start anything (502), whoever asks
                return
            self.faults.count("round re-sent (another player)")
            request = ProviderSimulateRequest.model_validate({"providerSessionId": other.provider_session, **spec})

            def op() -> object:
                try:
                    return provider.simulate(request)
                except errors.ApiError as exc:
                    return exc
                finally:
                    self.track()

            answer = self.guarded(f"re-send {spec['roundId']} as {other.user_id[:8]}", Plan(), op)
            code = answer.code if isinstance(answer, errors.ApiError) else type(answer).__name__
            if code != "ROUND_MISMATCH":
                self.figures.findings.append(
                    f"round {spec['roundId']} of player {owner.user_id} re-sent under player {other.user_id}'s session: "
                    f"answered {code}, not 409 ROUND_MISMATCH"
                )
            after = self.snapshot(spec["roundId"])
            if after != before:
                self.figures.findings.append(
                    f"round {spec['roundId']} of player {owner.user_id} changed when re-sent under player "
                    f"{other.user_id}'s session: {before} -> {after}"
                )

    def snapshot(self, round_id: str) -> tuple[Any, ...] | None:
        """What a refused re-send must leave as it was: the provider's round and its records,
        and the casino's rows of the round."""
        row = self.admin.execute(
            "SELECT id, provider_session_id, status FROM provider_game_rounds WHERE round_id = %s", (round_id,)
        ).fetchone()
        if row is None:
            return None
        actions = self.admin.execute(
            "SELECT transaction_id, state, jsonb_array_length(attempts), final_code FROM provider_bets "
            "WHERE game_round_id = %s ORDER BY id",
            (row[0],),
        ).fetchall()
        casino = self.admin.execute(
            "SELECT count(*), coalesce(sum(playable_delta), 0) FROM casino_transactions WHERE round_id = %s "
            "OR transaction_id IN (SELECT transaction_id FROM provider_bets WHERE game_round_id = %s)",
            (round_id, row[0]),
        ).fetchone()
        return (row[1], row[2], tuple(actions), casino)

    def track(self) -> None:
        """This seed's rounds (workers see only these)."""
        sessions = [s for p in self.players for s in (p.provider_session, *p.more_sessions)]
        rows = self.admin.execute(
            "SELECT id FROM provider_game_rounds WHERE id > %s AND provider_session_id = ANY(%s)",
            (max(self.round_pks, default=0), sessions),
        ).fetchall()
        self.round_pks |= {r[0] for r in rows}

    def advance(self, seconds: int) -> None:
        """Simulated time passes: every timestamp of this seed's rounds moves back by `seconds`
        (so the database's now() is that much later for them): leases run out, next attempts
        and horizons come due, rounds become idle for the sweeper."""
        self.clock += seconds
        self.faults.trace(f"{seconds} s pass (simulated clock at {self.clock} s)")
        shift = {"ids": list(self.round_pks), "s": seconds}
        self.admin.execute(
            "UPDATE provider_game_rounds SET created_at = created_at - make_interval(secs => %(s)s), "
            "updated_at = updated_at - make_interval(secs => %(s)s), "
            "lease_until = lease_until - make_interval(secs => %(s)s), "
            "settle_by = settle_by - make_interval(secs => %(s)s) WHERE id = ANY(%(ids)s)",
            shift,
        )
        self.admin.execute(
            "UPDATE provider_bets SET created_at = created_at - make_interval(secs => %(s)s), "
            "updated_at = updated_at - make_interval(secs => %(s)s), "
            "next_attempt_at = next_attempt_at - make_interval(secs => %(s)s) WHERE game_round_id = ANY(%(ids)s)",
            shift,
        )

    def parked_rows(self, *, undelivered_only: bool = False) -> list[int]:
        rows = self.admin.execute(
            "SELECT id FROM provider_bets WHERE game_round_id = ANY(%s) AND state = 'parked' "
            + ("AND final_status IS NULL " if undelivered_only else "")
            + "ORDER BY id",
            (list(self.round_pks),),
        ).fetchall()
        return [r[0] for r in rows]

    def operator(self, *, retry_only: bool = False) -> None:
        """An operator acts on one parked item, picked at random: `settlement retry` (it must
        wait for its round's earlier items) or `settlement resolve` (settled by other means)."""
        parked = self.parked_rows()
        if not parked:
            return
        pick = self.rng.choice(parked)
        # only a refused item is resolved (paid by other means: the simulation pays nothing for
        # it, as for any refusal); one that was never delivered is retried
        refused = pick not in self.parked_rows(undelivered_only=True)
        if retry_only or not refused or self.rng.random() < 0.75:
            self.faults.count("operator retry")
            self.guarded(f"retry {pick}", Plan(), lambda: operator_retry(pick))
        else:
            self.faults.count("operator resolve")
            self.guarded(f"resolve {pick}", Plan(), lambda: settlement.resolve(pick, "settled by other means (simulation)"))

    def between_rounds(self) -> None:
        """Other workers run between rounds: settlement (several runs in a row, shuffled),
        the sweeper, an operator, time passing, a casino outage beginning - in an order the
        seed picks, under faults of their own."""
        rng = self.rng
        if rng.random() < 0.01:  # the casino goes down for a while (sometimes past the horizon)
            self.outage_until = self.clock + rng.choice((600, 1_800, 2 * SIM_HORIZON_SECONDS))
        if self.rounds_played == self.long_outage_at:  # once a seed, for longer than the horizon
            self.outage_until = self.clock + 2 * SIM_HORIZON_SECONDS
        if self.clock < self.outage_until:  # while it is down, time goes by faster between rounds
            self.advance(rng.choice((300, 600, 1_200)))
        if rng.random() >= 0.3:
            return
        undelivered = len(self.parked_rows(undelivered_only=True))
        for _ in range(rng.randint(1, 4)):
            draw = rng.random()
            if draw < 0.45:
                self.faults.count("settlement run (shuffled)")
                self.guarded("settlement run", self.worker_plan(), settlement.drain)
            elif draw < 0.65:
                self.faults.count("sweep")
                self.guarded("sweep", self.worker_plan(), settlement.sweep)
            elif draw < 0.75:
                self.operator()
            else:
                self.faults.count("time passes")
                self.advance(rng.choice((30, 60, 300, 1_000, 1_800)))
        now_parked = len(self.parked_rows(undelivered_only=True))
        for _ in range(max(0, now_parked - undelivered)):
            self.faults.count("horizon passed (parked)")

    def rotate(self, *, provider_first: bool) -> None:
        """CASINO_SECRET rotates mid-round. Casino first: it accepts the new and the previous
        secret, then the provider signs with the new one. Provider first: the provider signs
        with the new one at once and the casino refuses it (401) until it follows, after this
        operation."""
        self.rotations += 1
        old, new = os.environ["CASINO_SECRET"], f"sim-rotated-{self.seed}-{self.rotations}"
        self.mp.setenv("CASINO_SECRET", new)
        self.mp.setenv("CASINO_SECRET_PREVIOUS", old)  # the provider's own grace (what it recorded with the old one)
        self.mp.setenv("CASINO_SECRET_ROTATED_AT", str(int(time.time())))  # its grace starts now
        reload_settings()
        if provider_first:
            self.faults.count("rotation, provider first")
            self.casino_follows = [new, old]
        else:
            self.faults.count("rotation, casino first")
            self.casino_accepts = [new, old]

    def end_rotation(self) -> None:
        """The rounds in flight at the rotation are over: the grace ends on both sides (the
        provider first re-tags what it recorded under the previous secret, as its drainer does
        during the grace, where the engine does so)."""
        retag = getattr(settlement, "retag_previous", None)
        if retag is not None and os.environ.get("CASINO_SECRET_PREVIOUS"):
            with self.faults.suspended():
                retag(provider_settings())
        self.mp.delenv("CASINO_SECRET_PREVIOUS", raising=False)
        reload_settings()
        self.casino_accepts = [os.environ["CASINO_SECRET"]]
        self.casino_follows = None

    def restore_secret(self) -> None:
        self.mp.setenv("CASINO_SECRET", self.original_secret)
        self.mp.delenv("CASINO_SECRET_PREVIOUS", raising=False)
        reload_settings()
        self.casino_accepts = [self.original_secret]
        self.casino_follows = None

    # -------------------------------------------------------------- the run

    def round_id(self, i: int) -> str:
        """A replay-safe round id: short, or up to 128 characters sharing the seed's first 100."""
        if self.rng.random() < 0.4:
            suffix = f"-{i}"
            self.faults.count("long round id (shared 100-character prefix)")
            return self.long_prefix + suffix + "z" * self.rng.randint(0, 28 - len(suffix))
        return f"sim-{self.seed}-{self.run_tag}-{i}"

    def run(self) -> Figures:
        self.install()
        self.admin = admin_conn(self.url)
        try:
            self.create_players()
            k = min(self.n_rounds - 1, 2 + self.n_rounds // 400)
            rotations = sorted(self.rng.sample(range(1, self.n_rounds), k=k))
            rotation_ends: dict[int, int] = {}
            self.long_outage_at = self.rng.randrange(self.n_rounds // 4, max(self.n_rounds // 4 + 1, self.n_rounds // 2))
            for i in range(self.n_rounds):
                self.rounds_played = i
                if i in rotation_ends.values():
                    self.end_rotation()
                # the poor players play a quarter of the rounds (broke, every bet and its win is refused)
                player = self.rng.choice(self.players[:-2] if self.rng.random() < 0.75 else self.players[-2:])
                spec = generate_round(self.rng, player)
                if self.rng.random() < 0.4:
                    spec["roundId"] = self.round_id(i)
                    self.replay_safe.append((player, spec))
                plan = self.round_plan()
                if i in rotations:  # at one of the round's callbacks (call 1 is the opening getBalance)
                    plan.rotate_at = self.rng.randint(2, 1 + len(plan_round(RoundSpec.model_validate(spec))))
                    plan.provider_first = rotations.index(i) % 2 == 1  # both orders in every seed
                    rotation_ends[i] = i + self.rng.randint(1, 5)
                self.figures.rounds += 1
                if self.faults.tracing:
                    print(f"round {i}")
                self.play(player, spec, plan)
                if self.replay_safe and self.rng.random() < 0.08:
                    self.resend()
                self.between_rounds()
            self.end_rotation()
            self.figures.heal_passes = self.settle()
            self.figures.faults = self.faults.injected
            self.figures.kinds = self.faults.kinds
            self.figures.clock = self.clock
            self.check()
        finally:
            self.faults.heal()
            self.restore_secret()
            self.admin.close()
        return self.figures

    def unsettled(self) -> int:
        row = self.admin.execute(
            "SELECT (SELECT count(*) FROM provider_game_rounds WHERE id = ANY(%(ids)s) "
            "          AND status IN ('open', 'pending_settlement')) "
            "     + (SELECT count(*) FROM provider_bets WHERE game_round_id = ANY(%(ids)s) "
            "          AND state IN ('pending', 'queued'))",
            {"ids": list(self.round_pks)},
        ).fetchone()
        return int(row[0]) if row else 0

    def settle(self) -> int:
        """Faults healed (the casino is back): time passes, settlement and the sweeper run, and
        the operator retries what parked undelivered (in random order), until nothing is open
        or pending (bounded)."""
        self.faults.heal()
        self.outage_until = 0
        for passes in range(HEAL_PASSES + 1):
            if not self.unsettled() or passes == HEAL_PASSES:
                return passes
            self.advance(SIM_ROUND_TIMEOUT_SECONDS + 100)
            fresh_invocation()
            for _ in range(10):
                if settlement.drain().rounds == 0:
                    break
            settlement.sweep()
            undelivered = self.parked_rows(undelivered_only=True)
            self.rng.shuffle(undelivered)
            for pick in undelivered:
                self.faults.count("operator retry")
                operator_retry(pick)
        return HEAL_PASSES

    # -------------------------------------------------------------- the checks

    def check(self) -> None:
        result = check_rounds(self.url, self.players, self.round_pks)
        self.figures.actions = result.actions
        self.figures.statuses = result.statuses
        self.figures.parked = result.parked
        self.figures.parked_explained = result.parked_explained
        self.figures.parked_codes = result.parked_codes
        self.figures.findings += result.findings
        self.figures.digest = result.digest
        # the oracle: the outcome reconcile of this seed's rounds, and the rest of reconcile
        reconciliation = admin.reconcile(self.url, timeout_seconds=SIM_ROUND_TIMEOUT_SECONDS)
        mine = {
            r[0]
            for r in self.admin.execute(
                "SELECT round_id FROM provider_game_rounds WHERE id = ANY(%s)", (list(self.round_pks),)
            ).fetchall()
        }
        differences = [d for d in reconciliation.differences if d.round_id in mine]
        self.figures.differences = len(differences)
        self.figures.findings += [f"outcome reconcile: {d}" for d in differences]
        if reconciliation.violations or reconciliation.mismatches or not all(r["ok"] for r in reconciliation.rows):
            self.figures.findings.append("reconcile: " + reconciliation.table().replace("\n", " | ")[-2000:])


# ------------------------------------------------------------------ the checker


@dataclass
class Row:
    id: int
    round_pk: int
    type: str
    transaction_id: str
    amount: int
    payload: dict[str, Any]
    state: str
    rescue: bool
    needs_standing_bet: bool
    attempts: list[dict[str, Any]]
    final_status: int | None
    final_code: str | None

    @property
    def ok(self) -> bool:
        return self.final_code == "OK"

    @property
    def bet_id(self) -> str | None:
        return self.payload.get("betTransactionId")

    @property
    def closes(self) -> bool:
        return self.type in ("win", "close") and bool(self.payload.get("roundClosed"))

    def answer(self) -> dict[str, Any]:
        """The casino's final answer body, as the provider recorded it."""
        for attempt in reversed(self.attempts):
            if attempt.get("httpStatus") == self.final_status and attempt.get("body"):
                try:
                    body = json.loads(attempt["body"])
                except ValueError:
                    return {}
                return body if isinstance(body, dict) else {}
        return {}


@dataclass
class CheckResult:
    actions: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    parked: int = 0
    parked_explained: int = 0
    parked_codes: Counter[str] = field(default_factory=Counter)
    findings: list[str] = field(default_factory=list)
    #: what every round ended as, callback by callback (names aside): equal for equal runs
    digest: str = ""


def refusal_explained(row: Row, earlier: list[Row], rows: list[Row]) -> bool:
    """A final answer other than OK that the round's own actions, in its order, explain."""
    code = row.final_code
    credited = any(r.type in ("win", "close") and r.ok for r in earlier)
    closed = any(r.closes and r.ok for r in earlier)
    rolled_back = {r.bet_id for r in earlier if r.type == "rollback" and r.ok}
    if code == "INVALID_SIGNATURE":  # a bet signed with a secret the casino did not know yet (a rotation)
        return row.type == "bet"
    if code == "INSUFFICIENT_FUNDS":
        balance = row.answer().get("balance")
        return row.type == "bet" and type(balance) is int and balance < row.amount
    if code == "ROUND_CLOSED":
        return row.type in ("bet", "win", "close") and closed
    if code == "BET_ALREADY_SETTLED":
        return row.type == "rollback" and not row.rescue and credited
    if code == "BET_NOT_FOUND":  # a win naming a bet the casino refused, or not yet placed
        bet = next((r for r in rows if r.transaction_id == row.bet_id), None)
        return row.type == "win" and (bet is None or bet.id > row.id or (bet.final_status is not None and not bet.ok))
    if code == "BET_ROLLED_BACK":
        target = row.bet_id if row.type == "win" else row.transaction_id
        return target in rolled_back
    return False


#: codes a round report may show (docs/protocol.md §3), besides OK and null
REPORT_CODES = {cls.code for cls in errors.catalog()}


def check_report(report: dict[str, Any]) -> list[str]:
    """A round report as §6 says it: an action never sent has `code` and `httpStatus` null and
    0 attempts, and no made-up code; `settlement` is never "complete" while an action is queued
    or a win was not paid."""
    found: list[str] = []
    round_id = report.get("roundId")
    actions = report.get("actions") or []
    for a in actions:
        what = f"report of round {round_id}: {a.get('type')} {a.get('transactionId')} ({a.get('state')})"
        if a.get("attempts") == 0 and (a.get("code") is not None or a.get("httpStatus") is not None):
            found.append(f"{what} was never sent but shows code {a.get('code')!r}, httpStatus {a.get('httpStatus')!r}")
        if a.get("state") == "delivered" and a.get("code") not in REPORT_CODES | {"OK"}:
            found.append(f"{what} shows code {a.get('code')!r}, which is not in the error table")
    if report.get("settlement") == "complete":
        unpaid = [
            a
            for a in actions
            if a.get("state") == "queued"
            or (a.get("state") == "delivered" and a.get("type") in ("win", "close") and a.get("amount") and a.get("code") != "OK")
        ]
        if unpaid:
            a = unpaid[0]
            found.append(
                f'report of round {round_id}: settlement "complete" while {a.get("type")} {a.get("transactionId")} is '
                f"{a.get('state')} with {a.get('code')}"
            )
    return found


def check_rounds(url: str, players: list[Player], round_pks: set[int]) -> CheckResult:
    result = CheckResult()
    findings = result.findings
    sessions = {s: p for p in players for s in (p.provider_session, *p.more_sessions)}
    with admin_conn(url) as conn:
        rounds = conn.execute(
            "SELECT id, round_id, status, provider_session_id FROM provider_game_rounds WHERE id = ANY(%s) ORDER BY id",
            (list(round_pks),),
        ).fetchall()
        rows: dict[int, list[Row]] = {pk: [] for pk, *_ in rounds}
        for r in conn.execute(
            "SELECT id, game_round_id, action_type, transaction_id, amount, payload, state, rescue, needs_standing_bet, "
            "attempts, final_status, final_code FROM provider_bets WHERE game_round_id = ANY(%s) ORDER BY id",
            (list(round_pks),),
        ).fetchall():
            rows[r[1]].append(
                Row(
                    id=r[0],
                    round_pk=r[1],
                    type=r[2],
                    transaction_id=r[3],
                    amount=r[4],
                    payload=r[5] or {},
                    state=r[6],
                    rescue=r[7],
                    needs_standing_bet=r[8],
                    attempts=list(r[9] or []),
                    final_status=r[10],
                    final_code=r[11],
                )
            )
        casino = conn.execute(
            "SELECT id, transaction_id, kind, status, round_id, playable_delta FROM casino_transactions "
            "WHERE user_id = ANY(%s) AND kind <> 'deposit' ORDER BY id",
            ([p.user_id for p in players],),
        ).fetchall()
        wallets: dict[str, int] = dict(
            conn.execute(
                "SELECT user_id::text, playable_balance FROM casino_wallets WHERE user_id = ANY(%s)",
                ([p.user_id for p in players],),
            ).fetchall()
        )
    by_txid = {c[1]: c for c in casino}
    recorded = {row.transaction_id for rs in rows.values() for row in rs}
    for c in casino:
        if c[1] not in recorded:
            findings.append(f"the casino holds {c[2]} {c[1]} ({c[3]}, delta {c[5]}) that no provider record names")
    implied_by_player: Counter[str] = Counter()
    outcome = hashlib.sha256()
    for pk, round_id, status, session in rounds:
        player = sessions[session]
        rs = rows[pk]
        result.statuses[status] += 1
        result.actions += len(rs)
        outcome.update(repr((status, [(r.type, r.amount, r.state, r.final_code, r.rescue) for r in rs])).encode())

        def finding(message: str, round_id: str = round_id, status: str = status) -> None:
            findings.append(f"round {round_id} ({status}): {message}")

        if status not in ("completed", "cancelled"):
            finding("not finished")
        implied = 0
        for i, row in enumerate(rs):
            earlier = [r for r in rs[:i] if r.final_status is not None]
            what = f"{'rescue ' if row.rescue else ''}{row.type} {row.transaction_id} [{row.state}, {row.final_code}]"
            sent = row.transaction_id in by_txid
            if row.state in ("pending", "queued"):
                finding(f"{what} left undelivered")
            if row.state == "delivered" and row.final_status is None:
                finding(f"{what} marked delivered without the casino's answer")
            if row.final_status is not None and not row.ok:
                explained = refusal_explained(row, earlier, rs)
                if row.state == "parked":
                    result.parked += 1
                    result.parked_explained += explained
                    result.parked_codes[f"{row.type} {row.final_code}"] += explained
                if not explained:
                    finding(f"{what}: a refusal the round does not explain")
            elif row.state == "parked":
                result.parked += 1
                finding(f"{what} parked without a refusal (undelivered)")
            if row.rescue and not (row.state == "delivered" and row.ok):
                finding(f"{what}: a rescue rollback not accepted")
            if row.state == "cancelled":
                if row.type == "bet":
                    rescued = any(r.rescue and r.bet_id == row.transaction_id and r.ok for r in rs)
                    if (row.attempts or sent) and not rescued:
                        finding(f"{what} cancelled after it was sent, with no accepted rescue rollback")
                    if status != "cancelled":
                        finding(f"{what} cancelled in a round that was not")
                elif not row.rescue:
                    if sent:
                        finding(f"{what} cancelled but the casino received it")
                    standing = any(r.type == "bet" and r.ok for r in rs)
                    if status != "cancelled" and not (row.needs_standing_bet and not standing):
                        finding(f"{what}: owed action cancelled in a round that was not")
            # what the provider's records imply for the player's balance
            if row.ok:
                if row.type == "bet":
                    implied -= row.amount
                elif row.type in ("win", "close"):
                    implied += row.amount
                else:
                    refunded = row.answer().get("rolledBackAmount")
                    refunded = refunded if type(refunded) is int else 0
                    bet = next((r for r in rs if r.transaction_id == row.bet_id), None)
                    if row.rescue and (bet is None or not bet.ok):
                        # the rescue of an undecided debit: it refunds that debit if the casino
                        # applied it, or tombstones it - either way the pair moved nothing
                        refunded = 0
                    implied += refunded
        moved = sum(by_txid[r.transaction_id][5] for r in rs if r.transaction_id in by_txid)
        if implied != moved:
            finding(f"the provider's records imply {implied:+d}, the casino moved {moved:+d}")
        if status == "cancelled":
            if moved != 0:
                finding(f"cancelled, but the casino moved {moved:+d}")
            if any(r.type in ("win", "close") and r.ok for r in rs):
                finding("cancelled, but a credit was accepted")
        if status == "completed" and not any(r.closes and r.ok for r in rs):
            finding("completed without an accepted closing credit")
        # order: the casino first saw the round's callbacks in the order they were recorded
        arrivals = sorted((by_txid[r.transaction_id][0], r.id, r) for r in rs if r.transaction_id in by_txid)
        for (_, a, ra), (_, b, rb) in zip(arrivals, arrivals[1:]):
            if b < a:
                finding(f"the casino saw {rb.type} {rb.transaction_id} before the earlier {ra.type} {ra.transaction_id}")
        implied_by_player[player.user_id] += implied
    result.digest = outcome.hexdigest()
    for p in players:
        expected = p.opening + implied_by_player[p.user_id]
        if wallets.get(p.user_id) != expected:
            findings.append(
                f"player {p.user_id}: wallet {wallets.get(p.user_id)}, but opening {p.opening} + the rounds as "
                f"settled = {expected}"
            )
    return result
