"""The contract's scenario suite (docs/protocol.md §1-§5), run against any casino wallet that
speaks the protocol, over HTTP, as its game provider would.

Every check is a named function. It talks to the wallet through `Context`, which records each
exchange, checks the balance arithmetic after every step that could move money (the answer's
`balance` and a `getBalance` read must both equal what the accepted answers imply) and fails
the check with the exchanges that showed it. Each check leaves the players' balances where it
found them where the protocol allows (bets are rolled back or paid back), so the suite can run
against the same test accounts again and again.

A client of the contract only: it imports `seamless.contract` (signing) and nothing of the
casino's or the provider's implementation.
"""

from __future__ import annotations

import fnmatch
import json
import math
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from seamless.contract.signing import CASINO_SIGNATURE_HEADER, contract_path, sign, sign_seed

from .http import Client, Exchange

MAX_AMOUNT = 1_000_000_000_000
MAX_BODY = 65_536
#: sentinel: sign the body with the configured secret (the default of every request)
SIGNED = object()


# ------------------------------------------------------------------ configuration


@dataclass
class LaunchConfig:
    """Sessions through the wallet's own POST /casino/launchGame (§6)."""

    rich_user: str
    poor_user: str
    game_id: str
    api_key: str | None = None


@dataclass
class Config:
    casino_url: str
    secret: str
    currency: str = "USD"
    #: session tokens of the rich player (a second one enables the cross-session checks)
    rich_tokens: list[str] = field(default_factory=list)
    poor_token: str | None = None
    launch: LaunchConfig | None = None
    #: the game's max_bet, when known: enables the BET_LIMIT_EXCEEDED order check
    max_bet: int | None = None
    #: the unit of every bet the suite places (minor units); must lie within the game's limits
    stake: int = 100
    concurrency: int = 8
    max_p99_ms: float = 2000.0
    timeout: float = 30.0
    #: fnmatch patterns of check names to run (setup always runs); empty = all
    only: list[str] = field(default_factory=list)
    #: the currency's exponent, for showing money in the report (launchGame's currencyDecimals
    #: fills it when not given); None: amounts are shown as minor units
    currency_decimals: int | None = None

    def secrets_to_redact(self) -> dict[str, str]:
        out = {self.secret: "<secret>"} if self.secret else {}
        if self.launch and self.launch.api_key:
            out[self.launch.api_key] = "<api key>"
        return out


@dataclass
class Player:
    role: str
    token: str
    currency: str
    alt_tokens: list[str] = field(default_factory=list)
    start: int = 0
    expected: int = 0


# ------------------------------------------------------------------ results


class CheckFailed(Exception):
    def __init__(self, message: str, exchanges: tuple[Exchange, ...] = ()) -> None:
        super().__init__(message)
        self.exchanges = exchanges


class CheckSkipped(Exception):
    pass


@dataclass
class CheckResult:
    name: str
    section: str
    title: str
    status: str  # pass | fail | skip
    duration_ms: float
    message: str = ""
    exchanges: list[Exchange] = field(default_factory=list)
    #: the exchanges that showed the failure (a subset of `exchanges`)
    evidence: list[Exchange] = field(default_factory=list)


@dataclass
class RunResult:
    config: Config
    started_at: str
    finished_at: str
    results: list[CheckResult]
    players: dict[str, Player]
    latency: dict[str, dict[str, float]]

    @property
    def passed(self) -> bool:
        return all(r.status != "fail" for r in self.results)

    def counts(self) -> dict[str, int]:
        out = {"pass": 0, "fail": 0, "skip": 0}
        for r in self.results:
            out[r.status] += 1
        return out


@dataclass
class CheckSpec:
    name: str
    section: str
    title: str
    run: Callable[[Context], None]


CHECKS: list[CheckSpec] = []


def check(name: str, section: str, title: str) -> Callable[[Callable[[Context], None]], Callable[[Context], None]]:
    def register(fn: Callable[[Context], None]) -> Callable[[Context], None]:
        assert all(c.name != name for c in CHECKS), name
        CHECKS.append(CheckSpec(name, section, title, fn))
        return fn

    return register


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {"count": 0, "p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}

    def at(q: float) -> float:  # nearest rank
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]

    return {"count": len(ordered), "p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "max": ordered[-1]}


def encode(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode("utf-8")


# ------------------------------------------------------------------ the context a check runs in


class Context:
    def __init__(self, config: Config, client: Client) -> None:
        self.config = config
        self.client = client
        self.run_id = datetime.now(UTC).strftime("%Y%m%d%H%M%S") + "-" + secrets.token_hex(3)
        self._n = 0
        self._lock = threading.Lock()
        self.players: dict[str, Player] = {}
        self.stake = config.stake
        self.other_currency = "EUR" if config.currency != "EUR" else "USD"

    # ---- ids and players

    def new_id(self, kind: str) -> str:
        with self._lock:
            self._n += 1
            return f"cert-{self.run_id}-{kind}-{self._n}"

    @property
    def rich(self) -> Player:
        return self.players["rich"]

    @property
    def poor(self) -> Player:
        return self.players["poor"]

    # ---- sending

    def post(
        self,
        path: str,
        body: bytes | dict[str, Any],
        *,
        signature: Any = SIGNED,
        header: str = CASINO_SIGNATURE_HEADER,
        headers: dict[str, str] | None = None,
        label: str = "",
    ) -> Exchange:
        raw = body if isinstance(body, bytes) else encode(body)
        sent = {"Content-Type": "application/json", **(headers or {})}
        if signature is SIGNED:
            sent[header] = self.sign(raw, path)
        elif signature is not None:
            sent[header] = signature
        return self.client.send("POST", path, raw, sent, label=label)

    def sign(self, raw: bytes, path: str = "/casino/debit", *, secret: str | None = None, t: int | None = None) -> str:
        """§2's header for these bytes on this endpoint, at `t` (default: now)."""
        return sign(self.config.secret if secret is None else secret, raw, contract_path(path), timestamp=t)

    def get_balance(self, player: Player, *, token: str | None = None) -> Exchange:
        return self.post("/casino/getBalance", {"sessionToken": token or player.token}, label=f"getBalance {player.role}")

    def debit(
        self, player: Player, txid: str, round_id: str, amount: int, *, currency: str | None = None, token: str | None = None
    ) -> Exchange:
        return self.post(
            "/casino/debit",
            {
                "sessionToken": token or player.token,
                "transactionId": txid,
                "roundId": round_id,
                "amount": amount,
                "currency": currency or player.currency,
            },
            label=f"debit {player.role}",
        )

    def credit(
        self,
        player: Player,
        txid: str,
        round_id: str,
        amount: int,
        *,
        bet: str | None = None,
        closed: bool = False,
        currency: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Exchange:
        payload: dict[str, Any] = {
            "sessionToken": player.token,
            "transactionId": txid,
            "roundId": round_id,
            "amount": amount,
            "currency": currency or player.currency,
        }
        if bet is not None:
            payload["betTransactionId"] = bet
        if closed:
            payload["roundClosed"] = True
        payload.update(extra or {})
        return self.post("/casino/credit", payload, label=f"credit {player.role}")

    def rollback(self, player: Player, txid: str, bet: str, round_id: str | None = None) -> Exchange:
        payload: dict[str, Any] = {"sessionToken": player.token, "transactionId": txid, "betTransactionId": bet}
        if round_id is not None:
            payload["roundId"] = round_id
        return self.post("/casino/rollback", payload, label=f"rollback {player.role}")

    def parallel(self, calls: list[Callable[[], Exchange]]) -> list[Exchange]:
        """Runs the calls at the same moment (a barrier releases every thread together)."""
        barrier = threading.Barrier(len(calls))

        def go(call: Callable[[], Exchange]) -> Exchange:
            barrier.wait(timeout=30)
            return call()

        with ThreadPoolExecutor(max_workers=len(calls)) as pool:
            return list(pool.map(go, calls))

    # ---- assertions

    def fail(self, message: str, *exchanges: Exchange) -> None:
        raise CheckFailed(message, exchanges)

    def expect(self, condition: bool, message: str, *exchanges: Exchange) -> None:
        if not condition:
            self.fail(message, *exchanges)

    def expect_answer(self, ex: Exchange, status: int, code: str | None = None, what: str = "") -> Exchange:
        """The answer has this status (and, for an error, this code and the §3 error body)."""
        prefix = f"{what}: " if what else ""
        if ex.status is None:
            self.fail(f"{prefix}no answer ({ex.error})", ex)
        if ex.status != status or (code is not None and ex.code != code):
            got = f"{ex.status}{' ' + ex.code if ex.code else ''}"
            self.fail(f"{prefix}expected {status}{' ' + code if code else ''}, got {got}", ex)
        if status >= 300:
            self.expect_error_body(ex, prefix)
        else:
            self.expect(isinstance(ex.json(), dict), f"{prefix}the 2xx body is not a JSON object", ex)
        return ex

    def expect_error_body(self, ex: Exchange, prefix: str = "") -> None:
        body = ex.json()
        error = body.get("error") if isinstance(body, dict) else None
        self.expect(
            isinstance(error, dict) and isinstance(error.get("code"), str) and isinstance(error.get("message"), str),
            f'{prefix}the error body is not {{"error": {{"code", "message"}}}} (§3)',
            ex,
        )
        assert isinstance(error, dict)
        if error["code"] == "VALIDATION_ERROR":
            details = error.get("details")
            self.expect(
                isinstance(details, list)
                and bool(details)
                and all(
                    isinstance(d, dict) and isinstance(d.get("field"), str) and isinstance(d.get("message"), str) for d in details
                ),
                f"{prefix}VALIDATION_ERROR without error.details listing the fields (§3)",
                ex,
            )

    def expect_first(self, ex: Exchange, what: str = "") -> None:
        self.expect(not ex.replayed, f"{what + ': ' if what else ''}a first answer carries Idempotent-Replayed (§5)", ex)

    def expect_replay(self, first: Exchange, again: Exchange, what: str = "the repeat") -> None:
        self.expect(
            again.status == first.status, f"{what}: status {again.status}, first answer was {first.status} (§5)", first, again
        )
        self.expect(
            again.response_body == first.response_body,
            f"{what}: body differs from the first answer byte for byte (§5)",
            first,
            again,
        )
        self.expect(again.replayed, f"{what}: no `Idempotent-Replayed: true` header (§5)", first, again)

    def moved(self, player: Player, delta: int, ex: Exchange | None = None, what: str = "") -> None:
        """Balance arithmetic after a step: the player's balance moved by exactly `delta` - in
        the answer's `balance` (when it carries one) and in a getBalance read."""
        player.expected += delta
        prefix = f"{what}: " if what else ""
        if ex is not None and isinstance(ex.field("balance"), int) and ex.status is not None and ex.status < 300:
            self.expect(
                ex.field("balance") == player.expected,
                f"{prefix}answer's balance {ex.field('balance')} != expected {player.expected} ({player.role}, moved {delta:+d})",
                ex,
            )
        read = self.get_balance(player)
        self.expect_answer(read, 200, what="getBalance")
        self.expect(
            read.field("balance") == player.expected,
            f"{prefix}getBalance {read.field('balance')} != expected {player.expected} "
            f"({player.role}: the step should have moved {delta:+d})",
            *((ex, read) if ex is not None else (read,)),
        )

    def unchanged(self, player: Player, ex: Exchange | None = None, what: str = "") -> None:
        self.moved(player, 0, ex, what)

    def sync(self, player: Player) -> None:
        read = self.get_balance(player)
        if read.status == 200 and isinstance(read.field("balance"), int):
            player.expected = read.field("balance")

    def require_poor_balance(self, minimum: int = 1) -> int:
        balance = self.poor.expected
        if balance < minimum:
            raise CheckSkipped(f"the poor player's balance is {balance}; this check needs at least {minimum}")
        if self.config.max_bet is not None and balance + 1 > self.config.max_bet:
            raise CheckSkipped(f"the poor player's balance + 1 ({balance + 1}) is above --max-bet; pick a poorer player")
        return balance


# ------------------------------------------------------------------ setup


@check("setup.sessions", "§4 getBalance, §6 launchGame", "Both players have a usable session; getBalance answers and only reads")
def setup_sessions(ctx: Context) -> None:
    cfg = ctx.config
    tokens: dict[str, list[str]] = {"rich": list(cfg.rich_tokens), "poor": [cfg.poor_token] if cfg.poor_token else []}
    if cfg.launch is not None:
        headers = {"x-api-key": cfg.launch.api_key} if cfg.launch.api_key else {}
        for role, user, count in (("rich", cfg.launch.rich_user, 2), ("poor", cfg.launch.poor_user, 1)):
            for _ in range(count):
                ex = ctx.post(
                    "/casino/launchGame",
                    {"userId": user, "gameId": cfg.launch.game_id, "currency": cfg.currency},
                    signature=None,
                    headers=headers,
                    label=f"launchGame {role}",
                )
                ctx.expect_answer(ex, 200, what=f"launchGame ({role})")
                token = ex.field("sessionToken")
                if cfg.currency_decimals is None and type(ex.field("currencyDecimals")) is int:
                    cfg.currency_decimals = ex.field("currencyDecimals")
                ctx.expect(isinstance(token, str) and bool(token), "launchGame answered no sessionToken", ex)
                tokens[role].append(token)
    ctx.expect(
        bool(tokens["rich"]) and bool(tokens["poor"]), "no sessions: give --rich-token and --poor-token, or use launchGame"
    )
    for role in ("rich", "poor"):
        player = Player(role, tokens[role][0], cfg.currency, alt_tokens=tokens[role][1:])
        first, second = ctx.get_balance(player), ctx.get_balance(player)
        for ex in (first, second):
            ctx.expect_answer(ex, 200, what=f"getBalance ({role})")
            ctx.expect(type(ex.field("balance")) is int, "getBalance: balance is not an integer (§1)", ex)
            ctx.expect(ex.field("currency") == cfg.currency, f"getBalance: currency is not {cfg.currency}", ex)
        ctx.expect(
            first.response_body == second.response_body, "two getBalance reads differ: getBalance must only read", first, second
        )
        player.start = player.expected = first.field("balance")
        ctx.players[role] = player
    need = (cfg.concurrency + 6) * ctx.stake
    ctx.expect(ctx.rich.start >= need, f"the rich player's balance {ctx.rich.start} is below {need} ((concurrency + 6) x stake)")
    ctx.expect(
        ctx.poor.start < ctx.rich.start and ctx.poor.start < MAX_AMOUNT,
        "the poor player must have less than the rich one (and below 10^12) for the overdraft checks",
    )


# ------------------------------------------------------------------ signatures (§2)


@check("signature.missing-header", "§2", "No signature header -> 401 INVALID_SIGNATURE, nothing written")
def signature_missing(ctx: Context) -> None:
    p, txid, rnd = ctx.rich, ctx.new_id("bet"), ctx.new_id("round")
    body = encode({"sessionToken": p.token, "transactionId": txid, "roundId": rnd, "amount": ctx.stake, "currency": p.currency})
    ctx.expect_answer(ctx.post("/casino/getBalance", {"sessionToken": p.token}, signature=None), 401, "INVALID_SIGNATURE")
    ex = ctx.expect_answer(ctx.post("/casino/debit", body, signature=None), 401, "INVALID_SIGNATURE", "unsigned debit")
    ctx.unchanged(p, ex, "unsigned debit")
    again = ctx.expect_answer(ctx.post("/casino/debit", body), 200, what="the same debit, signed")
    ctx.expect_first(again, "the signed debit after a 401 (was the 401 stored?)")
    ctx.moved(p, -ctx.stake, again)
    ctx.moved(p, ctx.stake, ctx.expect_answer(ctx.rollback(p, ctx.new_id("rb"), txid, rnd), 200, what="clean-up rollback"))


@check("signature.malformed", "§2", "Empty, non-hex, short, long or foreign signatures -> 401, nothing written")
def signature_malformed(ctx: Context) -> None:
    p = ctx.rich
    body = encode(
        {
            "sessionToken": p.token,
            "transactionId": ctx.new_id("bet"),
            "roundId": ctx.new_id("round"),
            "amount": 1,
            "currency": p.currency,
        }
    )
    good = ctx.sign(body)
    t, _, digits = good.partition(",v1=")
    for label, value in (
        ("empty", ""),
        ("no t", f"v1={digits}"),
        ("no v1", t),
        ("t not a number", f"t=soon,v1={digits}"),
        ("non-hex", f"{t},v1={'zz' * 32}"),
        ("63 hex digits", good[:-1]),
        ("65 hex digits", good + "0"),
        ("signature of another body", ctx.sign(body + b" ")),
        ("sha256= prefix", f"{t},v1=sha256={digits}"),
        ("members in another separator", f"{t};v1={digits}"),
    ):
        ctx.expect_answer(ctx.post("/casino/debit", body, signature=value), 401, "INVALID_SIGNATURE", label)
    ctx.unchanged(p)


@check("signature.wrong-secret", "§2", "Signed with another secret -> 401, nothing written")
def signature_wrong_secret(ctx: Context) -> None:
    p, txid, rnd = ctx.rich, ctx.new_id("bet"), ctx.new_id("round")
    body = encode({"sessionToken": p.token, "transactionId": txid, "roundId": rnd, "amount": ctx.stake, "currency": p.currency})
    wrong = ctx.sign(body, secret=ctx.config.secret + "-not-it")
    ex = ctx.expect_answer(ctx.post("/casino/debit", body, signature=wrong), 401, "INVALID_SIGNATURE")
    ctx.unchanged(p, ex)
    zeros = f"t={int(time.time())},v1={'0' * 64}"
    ctx.expect_answer(ctx.post("/casino/getBalance", {"sessionToken": p.token}, signature=zeros), 401, "INVALID_SIGNATURE")
    again = ctx.expect_answer(ctx.post("/casino/debit", body), 200, what="the same debit, rightly signed")
    ctx.expect_first(again, "after a wrongly signed attempt")
    ctx.moved(p, -ctx.stake, again)
    ctx.moved(p, ctx.stake, ctx.expect_answer(ctx.rollback(p, ctx.new_id("rb"), txid, rnd), 200, what="clean-up rollback"))


@check("signature.altered-body", "§2", "A body altered after signing -> 401, nothing written")
def signature_altered(ctx: Context) -> None:
    p = ctx.rich
    fields = {"sessionToken": p.token, "transactionId": ctx.new_id("bet"), "roundId": ctx.new_id("round"), "currency": p.currency}
    signed = encode({**fields, "amount": ctx.stake})
    altered = encode({**fields, "amount": ctx.stake * 9})
    ex = ctx.expect_answer(ctx.post("/casino/debit", altered, signature=ctx.sign(signed)), 401, "INVALID_SIGNATURE")
    ctx.unchanged(p, ex)
    spaced = signed.replace(b",", b", ")  # same JSON, other bytes
    ex = ctx.post("/casino/debit", spaced, signature=ctx.sign(signed))
    ctx.expect_answer(ex, 401, "INVALID_SIGNATURE", "whitespace added after signing")
    ctx.unchanged(p, ex)


@check("signature.upper-case-hex", "§2", "An upper-case hex signature is accepted")
def signature_upper(ctx: Context) -> None:
    p, txid, rnd = ctx.rich, ctx.new_id("bet"), ctx.new_id("round")
    read = {"sessionToken": p.token}
    upper = ctx.sign(encode(read), "/casino/getBalance")
    ctx.expect_answer(ctx.post("/casino/getBalance", read, signature=_upper_hex(upper)), 200)
    body = encode({"sessionToken": p.token, "transactionId": txid, "roundId": rnd, "amount": ctx.stake, "currency": p.currency})
    ex = ctx.expect_answer(ctx.post("/casino/debit", body, signature=_upper_hex(ctx.sign(body))), 200)
    ctx.moved(p, -ctx.stake, ex)
    ctx.moved(p, ctx.stake, ctx.expect_answer(ctx.rollback(p, ctx.new_id("rb"), txid, rnd), 200, what="clean-up rollback"))


def _upper_hex(signature: str) -> str:
    head, _, digits = signature.rpartition("=")
    return f"{head}={digits.upper()}"


@check("signature.endpoint-binding", "§2", "A debit's body and signature posted to /casino/credit or /casino/rollback -> 401")
def signature_endpoint_binding(ctx: Context) -> None:
    p, txid, rnd = ctx.rich, ctx.new_id("bet"), ctx.new_id("round")
    fields = {"sessionToken": p.token, "transactionId": txid, "roundId": rnd, "amount": ctx.stake, "currency": p.currency}
    body = encode({**fields, "betTransactionId": ctx.new_id("bet")})
    signed = ctx.sign(body, "/casino/debit")
    for target in ("/casino/credit", "/casino/rollback"):
        label = f"a debit's signature on {target}"
        ex = ctx.expect_answer(ctx.post(target, body, signature=signed), 401, "INVALID_SIGNATURE", label)
        ctx.unchanged(p, ex, label)
    # the same signature where it was made for: accepted (so the refusals were the binding)
    ex = ctx.expect_answer(ctx.post("/casino/debit", body, signature=signed), 200, what="the debit on its own endpoint")
    ctx.expect_first(ex, "the debit after its signature was refused elsewhere (was a 401 stored?)")
    ctx.moved(p, -ctx.stake, ex)
    ctx.moved(p, ctx.stake, ctx.expect_answer(ctx.rollback(p, ctx.new_id("rb"), txid, rnd), 200, what="clean-up rollback"))


#: how far outside the contract's default window (300 s) the suite puts a stale or future `t`
_OUTSIDE_WINDOW = 600


@check("signature.time-window", "§2", "A signature with a stale or future t -> 401, nothing written; a t within the window works")
def signature_time_window(ctx: Context) -> None:
    p, txid, rnd = ctx.rich, ctx.new_id("bet"), ctx.new_id("round")
    body = encode({"sessionToken": p.token, "transactionId": txid, "roundId": rnd, "amount": ctx.stake, "currency": p.currency})
    now = int(time.time())
    for label, t in (("stale t", now - _OUTSIDE_WINDOW), ("future t", now + _OUTSIDE_WINDOW), ("t = 0", 0)):
        ex = ctx.expect_answer(ctx.post("/casino/debit", body, signature=ctx.sign(body, t=t)), 401, "INVALID_SIGNATURE", label)
        ctx.unchanged(p, ex, label)
    ex = ctx.expect_answer(ctx.post("/casino/debit", body, signature=ctx.sign(body, t=now - 60)), 200, what="t a minute ago")
    ctx.expect_first(ex, "the debit after stale signatures were refused (was a 401 stored?)")
    ctx.moved(p, -ctx.stake, ex)
    ctx.moved(p, ctx.stake, ctx.expect_answer(ctx.rollback(p, ctx.new_id("rb"), txid, rnd), 200, what="clean-up rollback"))


@check("signature.seed-mode", "§2", "The seed scheme (bare hex over the body) -> 401 while the provider's row has it off")
def signature_seed_mode(ctx: Context) -> None:
    p, txid, rnd = ctx.rich, ctx.new_id("bet"), ctx.new_id("round")
    body = encode({"sessionToken": p.token, "transactionId": txid, "roundId": rnd, "amount": ctx.stake, "currency": p.currency})
    bare = sign_seed(ctx.config.secret, body)
    for label, value in (("bare hex", bare), ("bare upper-case hex", bare.upper())):
        ex = ctx.expect_answer(ctx.post("/casino/debit", body, signature=value), 401, "INVALID_SIGNATURE", label)
        ctx.unchanged(p, ex, label)
    read = encode({"sessionToken": p.token})
    bare = sign_seed(ctx.config.secret, read)
    ctx.expect_answer(ctx.post("/casino/getBalance", read, signature=bare), 401, "INVALID_SIGNATURE", "bare hex getBalance")


@check("signature.header-name-case", "§1, §2", "The signature header name is case-insensitive")
def signature_header_case(ctx: Context) -> None:
    p = ctx.rich
    for name in ("X-CASINO-SIGNATURE", "X-Casino-Signature", "x-casino-signature"):
        ctx.expect_answer(ctx.post("/casino/getBalance", {"sessionToken": p.token}, header=name), 200, what=name)


@check("signature.raw-bytes", "§2", "The signature covers the raw bytes: any formatting verifies when signed as sent")
def signature_raw_bytes(ctx: Context) -> None:
    p, txid, rnd = ctx.rich, ctx.new_id("bet"), ctx.new_id("round")
    # Key order reversed, indentation, a \u escape and a trailing newline: bytes no JSON
    # library would produce by re-serialising the parsed object.
    currency = "\\u00" + format(ord(p.currency[0]), "x") + p.currency[1:]
    raw = (
        '{\n\t"currency" :  "'
        + currency
        + '",\n\t"amount": '
        + str(ctx.stake)
        + ',\n\t"roundId": "'
        + rnd
        + '",\n\t"transactionId": "'
        + txid
        + '",\n\t"sessionToken": "'
        + p.token
        + '"\n}\n'
    ).encode()
    ex = ctx.expect_answer(ctx.post("/casino/debit", raw), 200, what="debit signed over its exact (unusual) bytes")
    ctx.expect(ex.field("transactionId") == txid, "the answer names another transactionId", ex)
    ctx.moved(p, -ctx.stake, ex)
    read = b'{ "sessionToken" : "' + p.token.encode() + b'" }\r\n'
    ctx.expect_answer(ctx.post("/casino/getBalance", read), 200, what="getBalance signed over its exact bytes")
    ctx.moved(p, ctx.stake, ctx.expect_answer(ctx.rollback(p, ctx.new_id("rb"), txid, rnd), 200, what="clean-up rollback"))


# ------------------------------------------------------------------ validation (§3)


def _validation_cases(ctx: Context, endpoint: str) -> list[tuple[str, bytes, str]]:
    """(label, body, field the details must name) for one endpoint; every body signed."""
    p = ctx.rich
    base: dict[str, Any] = {"sessionToken": p.token, "transactionId": ctx.new_id("bad"), "currency": p.currency}
    if endpoint == "debit":
        valid = {**base, "roundId": ctx.new_id("round"), "amount": ctx.stake}
        edits: list[tuple[str, str, Any]] = [
            ("amount missing", "amount", ...),
            ("amount as a string", "amount", str(ctx.stake)),
            ("amount as a float", "amount", ctx.stake + 0.5),
            ("amount 10.0", "amount", float(ctx.stake)),
            ("amount as a boolean", "amount", True),
            ("amount 0", "amount", 0),
            ("amount negative", "amount", -ctx.stake),
            ("amount above 10^12", "amount", MAX_AMOUNT + 1),
            ("amount null", "amount", None),
            ("currency lower-case", "currency", p.currency.lower()),
            ("currency with a newline", "currency", p.currency + "\n"),
            ("currency of six characters", "currency", p.currency + "XYZ"),  # §1: 3 to 5
            ("currency starting with a digit", "currency", "1" + p.currency),
            ("transactionId with a space", "transactionId", "a b"),
            ("transactionId empty", "transactionId", ""),
            ("transactionId of 129 characters", "transactionId", "x" * 129),
            ("transactionId as a number", "transactionId", 12345),
            ("roundId missing", "roundId", ...),
            ("roundId with a slash", "roundId", "a/b"),
            ("sessionToken as a number", "sessionToken", 12345),
            ("sessionToken missing", "sessionToken", ...),
        ]
    elif endpoint == "credit":
        valid = {**base, "roundId": ctx.new_id("round"), "amount": ctx.stake}
        edits = [
            ("amount negative", "amount", -1),
            ("amount as a float", "amount", 1.5),
            ("amount missing", "amount", ...),
            ("roundClosed as a string", "roundClosed", "yes"),
            ("roundClosed as a number", "roundClosed", 1),
            ("betTransactionId with a space", "betTransactionId", "a b"),
            ("betTransactionId as a number", "betTransactionId", 7),
            ("currency missing", "currency", ...),
            ("roundId empty", "roundId", ""),
        ]
    elif endpoint == "rollback":
        valid = {"sessionToken": p.token, "transactionId": ctx.new_id("bad"), "betTransactionId": ctx.new_id("bet")}
        edits = [
            ("betTransactionId missing", "betTransactionId", ...),
            ("betTransactionId as a number", "betTransactionId", 5),
            ("betTransactionId of 129 characters", "betTransactionId", "b" * 129),
            ("roundId with a space", "roundId", "a b"),
            ("transactionId missing", "transactionId", ...),
        ]
    else:
        valid = {"sessionToken": p.token}
        edits = [("sessionToken missing", "sessionToken", ...), ("sessionToken as a number", "sessionToken", 5)]
    cases: list[tuple[str, bytes, str]] = []
    for label, name, value in edits:
        body = dict(valid)
        if value is ...:
            body.pop(name, None)
        else:
            body[name] = value
        cases.append((label, encode(body), name))
    cases += [
        ("body not JSON", b'{"sessionToken": ', "body"),
        ("body a JSON array", b"[]", "body"),
        ("body a JSON string", b'"text"', "body"),
        ("body null", b"null", "body"),
        ("body empty", b"", "body"),
    ]
    return cases


def _names_field(ex: Exchange, name: str) -> bool:
    body = ex.json()
    details = body["error"].get("details") if isinstance(body, dict) and isinstance(body.get("error"), dict) else None
    fields = [d.get("field") for d in details or [] if isinstance(d, dict)]
    return any(isinstance(f, str) and (f == name or f.replace("/", ".").split(".")[-1] == name) for f in fields)


def _validation(ctx: Context, endpoint: str) -> None:
    p = ctx.rich
    for label, body, name in _validation_cases(ctx, endpoint):
        ex = ctx.post(f"/casino/{endpoint}", body, label=f"{endpoint}: {label}")
        ctx.expect(
            ex.status is not None and ex.status < 500, f"{label}: answered {ex.status} - bad input is a 400, never a 5xx", ex
        )
        ctx.expect_answer(ex, 400, "VALIDATION_ERROR", label)
        ctx.expect(_names_field(ex, name), f"{label}: error.details does not name the field `{name}` (§3)", ex)
    two = {"sessionToken": p.token, "transactionId": "a b", "roundId": ctx.new_id("round"), "amount": "x", "currency": p.currency}
    if endpoint == "debit":
        ex = ctx.expect_answer(ctx.post("/casino/debit", two), 400, "VALIDATION_ERROR", "two bad fields")
        ctx.expect(_names_field(ex, "amount") and _names_field(ex, "transactionId"), "two bad fields: details must name both", ex)
    ctx.unchanged(p)


@check("validation.debit", "§1, §3", "Malformed debits -> 400 VALIDATION_ERROR naming every bad field; never a 5xx")
def validation_debit(ctx: Context) -> None:
    _validation(ctx, "debit")


@check("validation.credit", "§1, §3", "Malformed credits -> 400 VALIDATION_ERROR naming the field; never a 5xx")
def validation_credit(ctx: Context) -> None:
    _validation(ctx, "credit")


@check("validation.rollback", "§1, §3", "Malformed rollbacks -> 400 VALIDATION_ERROR naming the field; never a 5xx")
def validation_rollback(ctx: Context) -> None:
    _validation(ctx, "rollback")


@check("validation.getBalance", "§1, §3", "Malformed getBalance -> 400 VALIDATION_ERROR naming the field; never a 5xx")
def validation_get_balance(ctx: Context) -> None:
    _validation(ctx, "getBalance")


@check("validation.payload-too-large", "§1, §3", "A body over 65,536 bytes -> 413 PAYLOAD_TOO_LARGE; 65,536 bytes is accepted")
def validation_too_large(ctx: Context) -> None:
    p, txid, rnd = ctx.rich, ctx.new_id("bet"), ctx.new_id("round")
    fields = {"sessionToken": p.token, "transactionId": txid, "roundId": rnd, "amount": ctx.stake, "currency": p.currency}
    pad = MAX_BODY - len(encode({**fields, "padding": ""}))
    exact = encode({**fields, "padding": "x" * pad})
    over = encode({**fields, "padding": "x" * (pad + 1)})
    assert len(exact) == MAX_BODY and len(over) == MAX_BODY + 1
    ex = ctx.expect_answer(ctx.post("/casino/debit", over), 413, "PAYLOAD_TOO_LARGE", "65,537 bytes")
    ctx.unchanged(p, ex)
    ex = ctx.expect_answer(ctx.post("/casino/debit", exact), 200, what="exactly 65,536 bytes")
    ctx.expect_first(ex)
    ctx.moved(p, -ctx.stake, ex)
    ctx.moved(p, ctx.stake, ctx.expect_answer(ctx.rollback(p, ctx.new_id("rb"), txid, rnd), 200, what="clean-up rollback"))


# ------------------------------------------------------------------ order of checks (§4)


@check("order.size-signature-schema", "§4", "Size before signature before schema before session")
def order_pipeline(ctx: Context) -> None:
    p = ctx.rich
    big = b'{"sessionToken":"' + b"x" * (MAX_BODY + 10) + b'"}'
    ctx.expect_answer(
        ctx.post("/casino/debit", big, signature="0" * 64), 413, "PAYLOAD_TOO_LARGE", "oversized and wrongly signed"
    )
    ctx.expect_answer(
        ctx.post("/casino/debit", b"{not json", signature="0" * 64), 401, "INVALID_SIGNATURE", "not JSON, wrong signature"
    )
    ctx.expect_answer(ctx.post("/casino/debit", b"{not json", signature=None), 401, "INVALID_SIGNATURE", "not JSON, unsigned")
    unknown = {"sessionToken": "cert-no-such-session-" + secrets.token_hex(8), "transactionId": ctx.new_id("bet")}
    ex = ctx.post("/casino/debit", {**unknown, "roundId": ctx.new_id("round"), "amount": "x", "currency": p.currency})
    ctx.expect_answer(ex, 400, "VALIDATION_ERROR", "bad amount on an unknown session")
    ctx.unchanged(p)


@check(
    "order.idempotency-before-session", "§4, §5", "A replay through another session of the same player returns the stored answer"
)
def order_idempotency_before_session(ctx: Context) -> None:
    p = ctx.rich
    if not p.alt_tokens:
        raise CheckSkipped("needs a second session of the rich player (launchGame, or --rich-token twice)")
    txid, rnd = ctx.new_id("bet"), ctx.new_id("round")
    first = ctx.expect_answer(ctx.debit(p, txid, rnd, ctx.stake), 200)
    ctx.moved(p, -ctx.stake, first)
    again = ctx.debit(p, txid, rnd, ctx.stake, token=p.alt_tokens[0])
    ctx.expect_replay(first, again, "the same debit through the player's other session")
    ctx.unchanged(p)
    ctx.moved(p, ctx.stake, ctx.expect_answer(ctx.rollback(p, ctx.new_id("rb"), txid, rnd), 200, what="clean-up rollback"))


def _settled_round(ctx: Context) -> tuple[str, str, str]:
    """A round of the rich player with a bet and a closing credit of the same amount (net 0):
    (roundId, bet transactionId, credit transactionId)."""
    p, rnd, bet, win = ctx.rich, ctx.new_id("round"), ctx.new_id("bet"), ctx.new_id("win")
    ctx.moved(p, -ctx.stake, ctx.expect_answer(ctx.debit(p, bet, rnd, ctx.stake), 200, what="bet"))
    ctx.moved(p, ctx.stake, ctx.expect_answer(ctx.credit(p, win, rnd, ctx.stake, bet=bet, closed=True), 200, what="closing win"))
    return rnd, bet, win


def _tombstone(ctx: Context, player: Player | None = None) -> str:
    """A bet id the wallet holds a tombstone for (rolled back through this player's session
    before it arrived)."""
    bet = ctx.new_id("ghost")
    ex = ctx.expect_answer(ctx.rollback(player or ctx.rich, ctx.new_id("rb"), bet), 200, what="rollback of an unknown bet")
    ctx.expect(ex.field("tombstone") is True, "rollback of an unknown bet: tombstone is not true", ex)
    return bet


@check(
    "order.debit-rules", "§4", "Debit: CURRENCY_MISMATCH > BET_ROLLED_BACK > ROUND_MISMATCH > ROUND_CLOSED > INSUFFICIENT_FUNDS"
)
def order_debit(ctx: Context) -> None:
    rich, poor = ctx.rich, ctx.poor
    over = poor.expected + 1  # would be INSUFFICIENT_FUNDS for the poor player
    settled, _, _ = _settled_round(ctx)
    cases = [
        ("wrong currency on an overdraft", ctx.new_id("bet"), ctx.new_id("round"), ctx.other_currency, "CURRENCY_MISMATCH"),
        (
            "wrong currency on a tombstoned id",
            _tombstone(ctx, poor),
            ctx.new_id("round"),
            ctx.other_currency,
            "CURRENCY_MISMATCH",
        ),
        ("tombstoned id in another session's round", _tombstone(ctx, poor), settled, poor.currency, "BET_ROLLED_BACK"),
        ("tombstoned id on an overdraft", _tombstone(ctx, poor), ctx.new_id("round"), poor.currency, "BET_ROLLED_BACK"),
        ("another session's closed round", ctx.new_id("bet"), settled, poor.currency, "ROUND_MISMATCH"),
    ]
    for label, txid, rnd, currency, code in cases:
        ex = ctx.debit(poor, txid, rnd, over, currency=currency)
        ctx.expect_answer(ex, 409, code, label)
        ctx.unchanged(poor, ex, label)
    ex = ctx.debit(rich, ctx.new_id("bet"), settled, MAX_AMOUNT)
    ctx.expect_answer(ex, 409, "ROUND_CLOSED", "the player's own closed round, amount 10^12")
    ctx.unchanged(rich, ex)


@check("order.bet-limit-before-funds", "§4", "Debit: BET_LIMIT_EXCEEDED before INSUFFICIENT_FUNDS (needs --max-bet)")
def order_bet_limit(ctx: Context) -> None:
    if ctx.config.max_bet is None:
        raise CheckSkipped("give --max-bet (the game's max_bet) to check the bet limit")
    poor, amount = ctx.poor, ctx.config.max_bet + 1
    if amount <= poor.expected:
        raise CheckSkipped("the poor player could afford max_bet + 1")
    ex = ctx.debit(poor, ctx.new_id("bet"), ctx.new_id("round"), amount)
    ctx.expect_answer(ex, 409, "BET_LIMIT_EXCEEDED", "max_bet + 1 above the balance")
    ctx.unchanged(poor, ex)


@check("order.credit-rules", "§4", "Credit: CURRENCY_MISMATCH > ROUND_MISMATCH > ROUND_CLOSED > BET_NOT_FOUND")
def order_credit(ctx: Context) -> None:
    rich, poor = ctx.rich, ctx.poor
    settled, _, _ = _settled_round(ctx)
    unknown = ctx.new_id("nobet")
    cases = [
        (poor, settled, ctx.other_currency, "CURRENCY_MISMATCH", "wrong currency into another session's round"),
        (poor, settled, poor.currency, "ROUND_MISMATCH", "another session's closed round, unknown bet"),
        (rich, settled, rich.currency, "ROUND_CLOSED", "own closed round, unknown bet"),
    ]
    for player, rnd, currency, code, label in cases:
        ex = ctx.credit(player, ctx.new_id("win"), rnd, ctx.stake, bet=unknown, currency=currency)
        ctx.expect_answer(ex, 409, code, label)
        ctx.unchanged(player, ex, label)
    ex = ctx.credit(rich, ctx.new_id("win"), ctx.new_id("round"), ctx.stake, bet=unknown)
    ctx.expect_answer(ex, 404, "BET_NOT_FOUND", "unknown bet in a fresh round")
    ctx.unchanged(rich, ex)


@check("order.rollback-rules", "§4", "Rollback: NOT_A_BET > ROUND_MISMATCH > BET_ALREADY_SETTLED")
def order_rollback(ctx: Context) -> None:
    p = ctx.rich
    settled, bet, win = _settled_round(ctx)
    cases = [
        (win, ctx.new_id("round"), "NOT_A_BET", "a credit of a settled round, another roundId"),
        (win, None, "NOT_A_BET", "a credit of a settled round"),
        (bet, ctx.new_id("round"), "ROUND_MISMATCH", "a settled bet, another roundId"),
        (bet, settled, "BET_ALREADY_SETTLED", "a settled bet, its roundId"),
        (bet, None, "BET_ALREADY_SETTLED", "a settled bet, no roundId"),
    ]
    for target, rnd, code, label in cases:
        ex = ctx.rollback(p, ctx.new_id("rb"), target, rnd)
        ctx.expect_answer(ex, 409, code, label)
        ctx.unchanged(p, ex, label)


# ------------------------------------------------------------------ money (§4)


@check("money.bet-and-win", "§4", "Debit and credit answer the contract's shape and move exactly their amounts")
def money_bet_and_win(ctx: Context) -> None:
    p, rnd, bet, win = ctx.rich, ctx.new_id("round"), ctx.new_id("bet"), ctx.new_id("win")
    ex = ctx.expect_answer(ctx.debit(p, bet, rnd, 2 * ctx.stake), 200)
    ctx.expect_first(ex)
    ctx.expect(ex.field("transactionId") == bet, "debit: transactionId is not echoed", ex)
    casino_id = ex.field("casinoTransactionId")
    ctx.expect(isinstance(casino_id, str) and bool(casino_id), "debit: casinoTransactionId is not a non-empty string", ex)
    ctx.expect(ex.field("currency") == p.currency and type(ex.field("balance")) is int, "debit: balance/currency", ex)
    ctx.moved(p, -2 * ctx.stake, ex)
    ex = ctx.expect_answer(ctx.credit(p, win, rnd, 2 * ctx.stake, bet=bet, closed=True), 200)
    ctx.expect(ex.field("transactionId") == win and isinstance(ex.field("casinoTransactionId"), str), "credit: shape", ex)
    ctx.moved(p, 2 * ctx.stake, ex)


@check("money.zero-credit", "§1, §4", "A credit of 0 is accepted and moves nothing; a later credit still pays")
def money_zero_credit(ctx: Context) -> None:
    p, rnd, bet = ctx.rich, ctx.new_id("round"), ctx.new_id("bet")
    ctx.moved(p, -ctx.stake, ctx.expect_answer(ctx.debit(p, bet, rnd, ctx.stake), 200))
    ctx.unchanged(p, ctx.expect_answer(ctx.credit(p, ctx.new_id("win"), rnd, 0, bet=bet), 200, what="credit of 0"))
    ctx.moved(p, ctx.stake, ctx.expect_answer(ctx.credit(p, ctx.new_id("win"), rnd, ctx.stake, closed=True), 200))


@check(
    "money.insufficient-funds", "§3, §4", "A debit above the balance -> 402 INSUFFICIENT_FUNDS with the balance; nothing moves"
)
def money_insufficient(ctx: Context) -> None:
    poor = ctx.poor
    balance = ctx.require_poor_balance(0)
    ex = ctx.expect_answer(ctx.debit(poor, ctx.new_id("bet"), ctx.new_id("round"), balance + 1), 402, "INSUFFICIENT_FUNDS")
    ctx.expect(ex.field("balance") == balance, f"402 body's balance {ex.field('balance')} != {balance} (§3)", ex)
    ctx.unchanged(poor, ex)


@check("money.round-closed", "§4", "After a closing credit, debits and credits into the round -> 409 ROUND_CLOSED")
def money_round_closed(ctx: Context) -> None:
    p = ctx.rich
    rnd, _, _ = _settled_round(ctx)
    ex = ctx.expect_answer(ctx.debit(p, ctx.new_id("bet"), rnd, ctx.stake), 409, "ROUND_CLOSED", "debit")
    ctx.unchanged(p, ex)
    ex = ctx.expect_answer(ctx.credit(p, ctx.new_id("win"), rnd, ctx.stake), 409, "ROUND_CLOSED", "credit")
    ctx.unchanged(p, ex)


@check("money.round-mismatch", "§4", "A debit into another session's round -> 409 ROUND_MISMATCH")
def money_round_mismatch(ctx: Context) -> None:
    rich, poor, rnd, bet = ctx.rich, ctx.poor, ctx.new_id("round"), ctx.new_id("bet")
    ctx.moved(rich, -ctx.stake, ctx.expect_answer(ctx.debit(rich, bet, rnd, ctx.stake), 200))
    ex = ctx.expect_answer(ctx.debit(poor, ctx.new_id("bet"), rnd, 1), 409, "ROUND_MISMATCH")
    ctx.unchanged(poor, ex)
    ctx.moved(rich, ctx.stake, ctx.expect_answer(ctx.credit(rich, ctx.new_id("win"), rnd, ctx.stake, bet=bet, closed=True), 200))


@check("money.unknown-session", "§3", "An unknown sessionToken -> 404 SESSION_NOT_FOUND on every callback")
def money_unknown_session(ctx: Context) -> None:
    ghost = Player("ghost", "cert-no-such-session-" + secrets.token_hex(8), ctx.config.currency)
    rnd = ctx.new_id("round")
    for label, ex in (
        ("getBalance", ctx.get_balance(ghost)),
        ("debit", ctx.debit(ghost, ctx.new_id("bet"), rnd, 1)),
        ("credit", ctx.credit(ghost, ctx.new_id("win"), rnd, 1)),
        ("rollback", ctx.rollback(ghost, ctx.new_id("rb"), ctx.new_id("bet"))),
    ):
        ctx.expect_answer(ex, 404, "SESSION_NOT_FOUND", label)


# ------------------------------------------------------------------ idempotency (§5)


@check("idempotency.replay-debit", "§5", "A repeated debit: same status, byte-identical body, Idempotent-Replayed, no money")
def idem_debit(ctx: Context) -> None:
    p, txid, rnd = ctx.rich, ctx.new_id("bet"), ctx.new_id("round")
    first = ctx.expect_answer(ctx.debit(p, txid, rnd, ctx.stake), 200)
    ctx.expect_first(first)
    ctx.moved(p, -ctx.stake, first)
    for n in (1, 2):
        again = ctx.debit(p, txid, rnd, ctx.stake)
        ctx.expect_replay(first, again, f"repeat {n}")
        ctx.unchanged(p, what=f"repeat {n}")
    ctx.moved(p, ctx.stake, ctx.expect_answer(ctx.rollback(p, ctx.new_id("rb"), txid, rnd), 200, what="clean-up rollback"))


@check("idempotency.replay-credit", "§5", "A repeated credit is answered from the store and pays once")
def idem_credit(ctx: Context) -> None:
    p, rnd, bet, win = ctx.rich, ctx.new_id("round"), ctx.new_id("bet"), ctx.new_id("win")
    ctx.moved(p, -ctx.stake, ctx.expect_answer(ctx.debit(p, bet, rnd, ctx.stake), 200))
    first = ctx.expect_answer(ctx.credit(p, win, rnd, ctx.stake, bet=bet, closed=True), 200)
    ctx.expect_first(first)
    ctx.moved(p, ctx.stake, first)
    again = ctx.credit(p, win, rnd, ctx.stake, bet=bet, closed=True)
    ctx.expect_replay(first, again)
    ctx.unchanged(p)


@check("idempotency.replay-rollback", "§5", "A repeated rollback is answered from the store and refunds once")
def idem_rollback(ctx: Context) -> None:
    p, rnd, bet, rb = ctx.rich, ctx.new_id("round"), ctx.new_id("bet"), ctx.new_id("rb")
    ctx.moved(p, -ctx.stake, ctx.expect_answer(ctx.debit(p, bet, rnd, ctx.stake), 200))
    first = ctx.expect_answer(ctx.rollback(p, rb, bet, rnd), 200)
    ctx.expect_first(first)
    ctx.moved(p, ctx.stake, first)
    again = ctx.rollback(p, rb, bet, rnd)
    ctx.expect_replay(first, again)
    ctx.unchanged(p)


@check("idempotency.replay-reformatted", "§5", "Key order, whitespace and unknown fields do not make a repeat a new request")
def idem_reformatted(ctx: Context) -> None:
    p, txid, rnd = ctx.rich, ctx.new_id("bet"), ctx.new_id("round")
    fields = {"sessionToken": p.token, "transactionId": txid, "roundId": rnd, "amount": ctx.stake, "currency": p.currency}
    first = ctx.expect_answer(ctx.post("/casino/debit", fields), 200)
    ctx.moved(p, -ctx.stake, first)
    reordered = json.dumps({**dict(reversed(list(fields.items()))), "clientNote": "retry"}, indent=2).encode()
    again = ctx.post("/casino/debit", reordered)
    ctx.expect_replay(first, again, "the same debit reformatted, with an unknown field")
    ctx.unchanged(p)
    ctx.moved(p, ctx.stake, ctx.expect_answer(ctx.rollback(p, ctx.new_id("rb"), txid, rnd), 200, what="clean-up rollback"))


@check(
    "idempotency.replay-stored-rejection",
    "§5",
    "A replayed 402 is the stored answer (its old balance), even after the balance moved",
)
def idem_rejection(ctx: Context) -> None:
    poor = ctx.poor
    balance = ctx.require_poor_balance(1)
    txid, rnd = ctx.new_id("bet"), ctx.new_id("round")
    first = ctx.expect_answer(ctx.debit(poor, txid, rnd, balance + 1), 402, "INSUFFICIENT_FUNDS")
    ctx.unchanged(poor, first)
    small, small_round = ctx.new_id("bet"), ctx.new_id("round")
    ctx.moved(poor, -1, ctx.expect_answer(ctx.debit(poor, small, small_round, 1), 200, what="a debit of 1 moves the balance"))
    again = ctx.debit(poor, txid, rnd, balance + 1)
    ctx.expect_replay(first, again, "the rejected debit repeated")
    ctx.unchanged(poor)
    ctx.moved(poor, 1, ctx.expect_answer(ctx.rollback(poor, ctx.new_id("rb"), small, small_round), 200, what="clean-up rollback"))


@check("idempotency.conflict-payload", "§5", "Same transactionId, other amount/round/currency -> 409 TRANSACTION_ID_CONFLICT")
def idem_conflict_payload(ctx: Context) -> None:
    p, txid, rnd = ctx.rich, ctx.new_id("bet"), ctx.new_id("round")
    first = ctx.expect_answer(ctx.debit(p, txid, rnd, ctx.stake), 200)
    ctx.moved(p, -ctx.stake, first)
    for label, ex in (
        ("another amount", ctx.debit(p, txid, rnd, 2 * ctx.stake)),
        ("another roundId", ctx.debit(p, txid, ctx.new_id("round"), ctx.stake)),
        ("another currency", ctx.debit(p, txid, rnd, ctx.stake, currency=ctx.other_currency)),
    ):
        ctx.expect_answer(ex, 409, "TRANSACTION_ID_CONFLICT", label)
        ctx.unchanged(p, ex, label)
    ctx.expect_replay(first, ctx.debit(p, txid, rnd, ctx.stake), "the original after the conflicts")
    ctx.moved(p, ctx.stake, ctx.expect_answer(ctx.rollback(p, ctx.new_id("rb"), txid, rnd), 200, what="clean-up rollback"))


@check(
    "idempotency.conflict-endpoint", "§5", "A debit's transactionId reused on credit or rollback -> 409 TRANSACTION_ID_CONFLICT"
)
def idem_conflict_endpoint(ctx: Context) -> None:
    p, txid, rnd = ctx.rich, ctx.new_id("bet"), ctx.new_id("round")
    first = ctx.expect_answer(ctx.debit(p, txid, rnd, ctx.stake), 200)
    ctx.moved(p, -ctx.stake, first)
    ex = ctx.expect_answer(ctx.credit(p, txid, rnd, ctx.stake), 409, "TRANSACTION_ID_CONFLICT", "as a credit")
    ctx.unchanged(p, ex)
    ex = ctx.expect_answer(ctx.rollback(p, txid, txid, rnd), 409, "TRANSACTION_ID_CONFLICT", "as a rollback's own id")
    ctx.unchanged(p, ex)
    ctx.moved(p, ctx.stake, ctx.expect_answer(ctx.rollback(p, ctx.new_id("rb"), txid, rnd), 200, what="clean-up rollback"))


# ------------------------------------------------------------------ tombstones (§4 rollback)


@check(
    "tombstone.rollback-unknown-bet", "§4", "Rollback of an unknown bet -> 200, tombstone true, rolledBackAmount 0, nothing moves"
)
def tombstone_rollback(ctx: Context) -> None:
    p = ctx.rich
    ex = ctx.expect_answer(ctx.rollback(p, ctx.new_id("rb"), ctx.new_id("ghost"), ctx.new_id("round")), 200)
    ctx.expect(ex.field("tombstone") is True, "tombstone is not true", ex)
    ctx.expect(ex.field("rolledBackAmount") == 0, "rolledBackAmount is not 0", ex)
    ctx.unchanged(p, ex)


@check("tombstone.late-bet", "§4", "A debit arriving after its rollback -> 409 BET_ROLLED_BACK, no money, stored for replay")
def tombstone_late_bet(ctx: Context) -> None:
    p, rnd = ctx.rich, ctx.new_id("round")
    bet = _tombstone(ctx)
    late = ctx.debit(p, bet, rnd, ctx.stake)
    ctx.expect_answer(late, 409, "BET_ROLLED_BACK", "the late debit")
    ctx.unchanged(p, late, "the late debit")
    again = ctx.debit(p, bet, rnd, ctx.stake)
    ctx.expect_replay(late, again, "the late debit repeated")
    ctx.unchanged(p)


@check("tombstone.credit-names-tombstone", "§4", "A credit naming a rolled-back (tombstoned) bet -> 409 BET_ROLLED_BACK")
def tombstone_credit(ctx: Context) -> None:
    p = ctx.rich
    bet = _tombstone(ctx)
    ex = ctx.credit(p, ctx.new_id("win"), ctx.new_id("round"), ctx.stake, bet=bet)
    ctx.expect_answer(ex, 409, "BET_ROLLED_BACK")
    ctx.unchanged(p, ex)


# ------------------------------------------------------------------ rollback rules (§4)


@check("rollback.refund-once", "§4", "A bet is refunded exactly once: a second rollback id answers 200 with rolledBackAmount 0")
def rollback_once(ctx: Context) -> None:
    p, rnd, bet = ctx.rich, ctx.new_id("round"), ctx.new_id("bet")
    ctx.moved(p, -3 * ctx.stake, ctx.expect_answer(ctx.debit(p, bet, rnd, 3 * ctx.stake), 200))
    first = ctx.expect_answer(ctx.rollback(p, ctx.new_id("rb"), bet, rnd), 200, what="first rollback")
    ctx.expect(
        first.field("rolledBackAmount") == 3 * ctx.stake, "first rollback: rolledBackAmount is not the bet's amount", first
    )
    ctx.expect(first.field("tombstone") is False, "first rollback: tombstone is not false", first)
    ctx.moved(p, 3 * ctx.stake, first)
    for label in ("second rollback (another id)", "third rollback (another id)"):
        ex = ctx.expect_answer(ctx.rollback(p, ctx.new_id("rb"), bet, rnd), 200, what=label)
        ctx.expect(ex.field("rolledBackAmount") == 0, f"{label}: rolledBackAmount is not 0 - refunded twice?", ex)
        ctx.unchanged(p, ex, label)


@check("rollback.after-credit", "§4", "No rollback in a round with a credit -> 409 BET_ALREADY_SETTLED")
def rollback_after_credit(ctx: Context) -> None:
    p, rnd, bet = ctx.rich, ctx.new_id("round"), ctx.new_id("bet")
    ctx.moved(p, -ctx.stake, ctx.expect_answer(ctx.debit(p, bet, rnd, ctx.stake), 200))
    ctx.moved(p, ctx.stake, ctx.expect_answer(ctx.credit(p, ctx.new_id("win"), rnd, ctx.stake, bet=bet), 200))
    ex = ctx.expect_answer(ctx.rollback(p, ctx.new_id("rb"), bet, rnd), 409, "BET_ALREADY_SETTLED")
    ctx.unchanged(p, ex)
    ctx.unchanged(p, ctx.expect_answer(ctx.credit(p, ctx.new_id("win"), rnd, 0, closed=True), 200, what="closing credit of 0"))


@check("rollback.after-zero-credit", "§4", "Even a credit of 0 settles the round: rollback -> 409 BET_ALREADY_SETTLED")
def rollback_after_zero(ctx: Context) -> None:
    p, rnd, bet = ctx.rich, ctx.new_id("round"), ctx.new_id("bet")
    ctx.moved(p, -ctx.stake, ctx.expect_answer(ctx.debit(p, bet, rnd, ctx.stake), 200))
    ctx.unchanged(p, ctx.expect_answer(ctx.credit(p, ctx.new_id("win"), rnd, 0, bet=bet), 200, what="credit of 0"))
    ex = ctx.expect_answer(ctx.rollback(p, ctx.new_id("rb"), bet, rnd), 409, "BET_ALREADY_SETTLED")
    ctx.unchanged(p, ex)
    ctx.moved(p, ctx.stake, ctx.expect_answer(ctx.credit(p, ctx.new_id("win"), rnd, ctx.stake, closed=True), 200))


@check("rollback.not-a-bet", "§4", "A rollback naming a credit or a rollback -> 409 NOT_A_BET")
def rollback_not_a_bet(ctx: Context) -> None:
    p = ctx.rich
    _, _, win = _settled_round(ctx)
    ex = ctx.expect_answer(ctx.rollback(p, ctx.new_id("rb"), win), 409, "NOT_A_BET", "naming a credit")
    ctx.unchanged(p, ex)
    rb = ctx.new_id("rb")
    ctx.expect_answer(ctx.rollback(p, rb, ctx.new_id("ghost")), 200, what="a rollback (tombstone)")
    ex = ctx.expect_answer(ctx.rollback(p, ctx.new_id("rb"), rb), 409, "NOT_A_BET", "naming a rollback")
    ctx.unchanged(p, ex)


@check(
    "rollback.rejected-bet",
    "§4",
    "Rollback of a rejected bet -> 200, rolledBackAmount 0, no effect; the bet never succeeds later",
)
def rollback_rejected(ctx: Context) -> None:
    poor = ctx.poor
    balance = ctx.require_poor_balance(0)
    bet, rnd = ctx.new_id("bet"), ctx.new_id("round")
    rejected = ctx.expect_answer(ctx.debit(poor, bet, rnd, balance + 1), 402, "INSUFFICIENT_FUNDS")
    ex = ctx.expect_answer(ctx.rollback(poor, ctx.new_id("rb"), bet, rnd), 200, what="rollback of the rejected bet")
    ctx.expect(ex.field("rolledBackAmount") == 0, "rolledBackAmount is not 0 for a rejected bet", ex)
    ctx.expect(ex.field("tombstone") is False, "tombstone is not false for a rejected bet (it was found)", ex)
    ctx.unchanged(poor, ex)
    ctx.expect_replay(rejected, ctx.debit(poor, bet, rnd, balance + 1), "the rejected bet repeated")
    ctx.unchanged(poor)


@check(
    "rollback.rejected-bet-in-settled-round",
    "§4",
    "Rollback of a rejected bet in a round with a credit -> 409 BET_ALREADY_SETTLED",
)
def rollback_rejected_settled(ctx: Context) -> None:
    p, rnd, bet, refused = ctx.rich, ctx.new_id("round"), ctx.new_id("bet"), ctx.new_id("bet")
    if p.expected >= MAX_AMOUNT:
        raise CheckSkipped("the rich player can afford any bet: no debit can be refused")
    ctx.moved(p, -ctx.stake, ctx.expect_answer(ctx.debit(p, bet, rnd, ctx.stake), 200))
    ex = ctx.debit(p, refused, rnd, MAX_AMOUNT)
    ctx.expect(ex.status is not None and 400 <= ex.status < 500, "a debit of 10^12 was not refused", ex)
    ctx.unchanged(p, ex)
    ctx.moved(p, ctx.stake, ctx.expect_answer(ctx.credit(p, ctx.new_id("win"), rnd, ctx.stake, bet=bet, closed=True), 200))
    ex = ctx.expect_answer(ctx.rollback(p, ctx.new_id("rb"), refused, rnd), 409, "BET_ALREADY_SETTLED")
    ctx.unchanged(p, ex)


# ------------------------------------------------------------------ unknown fields (§1)


@check("tolerance.unknown-fields", "§1", "Unknown extra fields (objects, arrays, nulls) are ignored on every callback")
def tolerance(ctx: Context) -> None:
    p, rnd, bet = ctx.rich, ctx.new_id("round"), ctx.new_id("bet")
    extra = {"providerMeta": {"table": 7, "seats": [1, None, "x"]}, "clientVersion": "9.9.9", "note": None, "flag": True}
    ctx.expect_answer(ctx.post("/casino/getBalance", {"sessionToken": p.token, **extra}), 200, what="getBalance")
    debit = {"sessionToken": p.token, "transactionId": bet, "roundId": rnd, "amount": ctx.stake, "currency": p.currency}
    ctx.moved(p, -ctx.stake, ctx.expect_answer(ctx.post("/casino/debit", {**debit, **extra}), 200, what="debit"))
    credit = {**debit, "transactionId": ctx.new_id("win"), "betTransactionId": bet, "roundClosed": True}
    ctx.moved(p, ctx.stake, ctx.expect_answer(ctx.post("/casino/credit", {**credit, **extra}), 200, what="credit"))
    rollback = {"sessionToken": p.token, "transactionId": ctx.new_id("rb"), "betTransactionId": ctx.new_id("ghost")}
    ctx.unchanged(p, ctx.expect_answer(ctx.post("/casino/rollback", {**rollback, **extra}), 200, what="rollback"))


# ------------------------------------------------------------------ concurrency (§5)


def _no_5xx(ctx: Context, answers: list[Exchange], what: str) -> None:
    for ex in answers:
        ctx.expect(ex.status is not None and ex.status < 500, f"{what}: {ex.summary()} (never a 5xx, §5)", ex)


@check("concurrency.duplicate-debits", "§5", "The same debit sent N times at once: exactly one applies, the others replay it")
def conc_duplicates(ctx: Context) -> None:
    p, txid, rnd, n = ctx.rich, ctx.new_id("bet"), ctx.new_id("round"), ctx.config.concurrency
    answers = ctx.parallel([lambda: ctx.debit(p, txid, rnd, ctx.stake)] * n)
    _no_5xx(ctx, answers, "duplicate debits")
    for ex in answers:
        ctx.expect_answer(ex, 200, what="a duplicate")
    ctx.expect(len({ex.response_body for ex in answers}) == 1, "the duplicates got different bodies", *answers)
    first = [ex for ex in answers if not ex.replayed]
    ctx.expect(len(first) == 1, f"{len(first)} answers without Idempotent-Replayed (exactly one applies)", *answers)
    ctx.moved(p, -ctx.stake, what=f"{n} duplicates")
    ctx.moved(p, ctx.stake, ctx.expect_answer(ctx.rollback(p, ctx.new_id("rb"), txid, rnd), 200, what="clean-up rollback"))


@check("concurrency.distinct-debits", "§5", "N distinct debits of one wallet at once: all apply, each balance a distinct step")
def conc_distinct(ctx: Context) -> None:
    p, rnd, n = ctx.rich, ctx.new_id("round"), ctx.config.concurrency
    start = p.expected
    ids = [ctx.new_id("bet") for _ in range(n)]
    answers = ctx.parallel([partial(ctx.debit, p, txid, rnd, ctx.stake) for txid in ids])
    _no_5xx(ctx, answers, "distinct debits")
    for ex in answers:
        ctx.expect_answer(ex, 200, what="a distinct debit")
    balances = sorted(ex.field("balance") for ex in answers)
    expected = sorted(start - k * ctx.stake for k in range(1, n + 1))
    ctx.expect(balances == expected, f"answered balances {balances} are not the {n} steps {expected} (lost update?)", *answers)
    ctx.moved(p, -n * ctx.stake, what=f"{n} distinct debits")
    ctx.moved(p, n * ctx.stake, ctx.expect_answer(ctx.credit(p, ctx.new_id("win"), rnd, n * ctx.stake, closed=True), 200))


@check(
    "concurrency.overdraft-race", "§4, §9", "N debits that each fit but not two together: exactly one applies, balance never < 0"
)
def conc_overdraft(ctx: Context) -> None:
    poor, n = ctx.poor, ctx.config.concurrency
    balance = ctx.require_poor_balance(1)
    amount = balance // 2 + 1
    bets = [(ctx.new_id("bet"), ctx.new_id("round")) for _ in range(n)]
    answers = ctx.parallel([partial(ctx.debit, poor, txid, rnd, amount) for txid, rnd in bets])
    _no_5xx(ctx, answers, "overdraft race")
    accepted = [(b, ex) for b, ex in zip(bets, answers) if ex.status == 200]
    refused = [ex for ex in answers if ex.status == 402 and ex.code == "INSUFFICIENT_FUNDS"]
    summary = f"{len(accepted)} accepted, {len(refused)} refused with 402 (balance {balance}, {n} x {amount}: exactly one fits)"
    ctx.expect(len(accepted) == 1 and len(refused) == n - 1, summary, *answers)
    ctx.moved(poor, -amount * len(accepted), what="overdraft race")
    for (txid, rnd), _ in accepted:
        ex = ctx.expect_answer(ctx.rollback(poor, ctx.new_id("rb"), txid, rnd), 200, what="clean-up rollback")
        ctx.moved(poor, amount, ex)


@check("concurrency.duplicate-rollbacks", "§5", "The same rollback sent N times at once refunds once; the others replay it")
def conc_rollback_duplicates(ctx: Context) -> None:
    p, rnd, bet, rb, n = ctx.rich, ctx.new_id("round"), ctx.new_id("bet"), ctx.new_id("rb"), ctx.config.concurrency
    ctx.moved(p, -ctx.stake, ctx.expect_answer(ctx.debit(p, bet, rnd, ctx.stake), 200))
    answers = ctx.parallel([lambda: ctx.rollback(p, rb, bet, rnd)] * n)
    _no_5xx(ctx, answers, "duplicate rollbacks")
    ctx.expect(len({(ex.status, ex.response_body) for ex in answers}) == 1, "the duplicates got different answers", *answers)
    ctx.expect(sum(not ex.replayed for ex in answers) == 1, "not exactly one first answer", *answers)
    ctx.moved(p, ctx.stake, what="refunded once")


@check("concurrency.competing-rollbacks", "§4, §9", "N rollbacks of one bet with distinct ids at once: exactly one refunds")
def conc_rollback_competing(ctx: Context) -> None:
    p, rnd, bet, n = ctx.rich, ctx.new_id("round"), ctx.new_id("bet"), ctx.config.concurrency
    ctx.moved(p, -ctx.stake, ctx.expect_answer(ctx.debit(p, bet, rnd, ctx.stake), 200))
    ids = [ctx.new_id("rb") for _ in range(n)]
    answers = ctx.parallel([partial(ctx.rollback, p, rb, bet, rnd) for rb in ids])
    _no_5xx(ctx, answers, "competing rollbacks")
    for ex in answers:
        ctx.expect_answer(ex, 200, what="a competing rollback")
    refunds = [ex.field("rolledBackAmount") for ex in answers]
    ctx.expect(sorted(refunds) == [0] * (n - 1) + [ctx.stake], f"rolledBackAmounts {refunds}: exactly one refund", *answers)
    ctx.moved(p, ctx.stake, what="refunded once")


@check(
    "concurrency.debit-vs-rollback", "§4, §5", "A debit and its rollback racing: either refunded or tombstoned, never both lost"
)
def conc_debit_rollback(ctx: Context) -> None:
    p, pairs = ctx.rich, max(2, ctx.config.concurrency // 2)
    bets = [(ctx.new_id("bet"), ctx.new_id("round"), ctx.new_id("rb")) for _ in range(pairs)]
    calls: list[Callable[[], Exchange]] = []
    for txid, rnd, rb in bets:
        calls.append(partial(ctx.debit, p, txid, rnd, ctx.stake))
        calls.append(partial(ctx.rollback, p, rb, txid))
    answers = ctx.parallel(calls)
    _no_5xx(ctx, answers, "debit vs rollback")
    for i in range(pairs):
        debit, rollback = answers[2 * i], answers[2 * i + 1]
        ctx.expect_answer(rollback, 200, what="the rollback")
        if debit.status == 200:
            refunded = rollback.field("rolledBackAmount") == ctx.stake and rollback.field("tombstone") is False
            ctx.expect(refunded, "the debit applied but its rollback did not refund it", debit, rollback)
        else:
            ctx.expect_answer(debit, 409, "BET_ROLLED_BACK", "the debit that lost the race")
            ctx.expect(
                rollback.field("tombstone") is True, "the debit was refused but the rollback left no tombstone", debit, rollback
            )
    ctx.unchanged(p, what="every pair nets to 0")


# ------------------------------------------------------------------ one-call rounds and the funding rule (§4b)


def _debit_credit(ctx: Context, player: Player, amount: int, win: int, **fields: Any) -> tuple[dict[str, Any], Exchange]:
    body: dict[str, Any] = {
        "sessionToken": player.token,
        "transactionId": ctx.new_id("bw-bet"),
        "winTransactionId": ctx.new_id("bw-win"),
        "roundId": ctx.new_id("round"),
        "currency": player.currency,
        "amount": amount,
        "winAmount": win,
        **fields,
    }
    return body, ctx.post("/casino/debitCredit", body, label=f"debitCredit {player.role}")


def _redeemable(ctx: Context, player: Player) -> tuple[int, int]:
    """(playable, redeemable) from getBalance; skips the check when the wallet shows no
    redeemableBalance (§4: responses *may* add it)."""
    read = ctx.expect_answer(ctx.get_balance(player), 200, what="getBalance")
    redeemable = read.field("redeemableBalance")
    if type(redeemable) is not int:
        raise CheckSkipped("getBalance carries no redeemableBalance: the funding split cannot be observed")
    return read.field("balance"), redeemable


@check("debitCredit.both-legs", "§4b, §5", "A whole round in one call: balance after both legs; the repeat replays byte for byte")
def debit_credit_both_legs(ctx: Context) -> None:
    p = ctx.rich
    body, first = _debit_credit(ctx, p, ctx.stake, 3 * ctx.stake)
    ctx.expect_answer(first, 200, what="debitCredit")
    ctx.expect_first(first, "debitCredit")
    ctx.expect(
        first.field("transactionId") == body["transactionId"] and first.field("winTransactionId") == body["winTransactionId"],
        "the answer does not name both transactionId and winTransactionId (§4b)",
        first,
    )
    ctx.moved(p, 2 * ctx.stake, first, "stake and win in one call")
    again = ctx.post("/casino/debitCredit", dict(reversed(list(body.items()))), label="debitCredit again")
    ctx.expect_replay(first, again, "the same debitCredit again")
    ctx.unchanged(p, what="the repeat moves nothing")
    # back where it started: a bet of the difference, rolled back is not possible in a settled
    # round, so a second one-call round that loses it
    _, back = _debit_credit(ctx, p, 2 * ctx.stake, 0)
    ctx.moved(p, -2 * ctx.stake, ctx.expect_answer(back, 200, what="a losing debitCredit"))


@check("debitCredit.refused-stake", "§4b", "A refused stake moves nothing: no win paid, winTransactionId left unused")
def debit_credit_refused(ctx: Context) -> None:
    poor = ctx.poor
    balance = ctx.require_poor_balance(1)
    body, refused = _debit_credit(ctx, poor, balance + 1, balance + 5)
    ctx.expect_answer(refused, 402, "INSUFFICIENT_FUNDS", "a stake above the balance")
    ctx.unchanged(poor, refused, "the refused stake (and its win)")
    again = ctx.post("/casino/debitCredit", body, label="debitCredit again")
    ctx.expect_replay(refused, again, "the refused debitCredit again")
    free = {
        "sessionToken": poor.token,
        "transactionId": body["winTransactionId"],
        "roundId": ctx.new_id("round"),
        "amount": 0,
        "currency": poor.currency,
        "roundClosed": True,
    }
    ex = ctx.post("/casino/credit", free, label="credit with the unused winTransactionId")
    ctx.unchanged(poor, ctx.expect_answer(ex, 200, what="the winTransactionId of a refused debitCredit is still free"))


@check(
    "debitCredit.id-conflicts",
    "§4b, §5",
    "Both ids are reserved: reused elsewhere or with another payload is TRANSACTION_ID_CONFLICT",
)
def debit_credit_conflicts(ctx: Context) -> None:
    p = ctx.rich
    body, first = _debit_credit(ctx, p, ctx.stake, ctx.stake)
    ctx.unchanged(p, ctx.expect_answer(first, 200, what="debitCredit"))
    attempts = [
        ("/casino/debitCredit", {**body, "winAmount": ctx.stake + 1}, "the same transactionId, another winAmount"),
        ("/casino/debitCredit", {**body, "winTransactionId": ctx.new_id("bw-win")}, "the same transactionId, another win id"),
        (
            "/casino/debitCredit",
            {**body, "transactionId": ctx.new_id("bw-bet"), "roundId": ctx.new_id("round")},
            "another debitCredit naming a taken winTransactionId",
        ),
        (
            "/casino/debit",
            {k: body[k] for k in ("sessionToken", "roundId", "currency", "amount")} | {"transactionId": body["winTransactionId"]},
            "a debit reusing the winTransactionId",
        ),
        (
            "/casino/credit",
            {k: body[k] for k in ("sessionToken", "roundId", "currency")}
            | {"transactionId": body["winTransactionId"], "amount": ctx.stake, "betTransactionId": body["transactionId"]},
            "a credit reusing the winTransactionId",
        ),
    ]
    for path, payload, what in attempts:
        ex = ctx.post(path, payload, label=what)
        ctx.unchanged(p, ctx.expect_answer(ex, 409, "TRANSACTION_ID_CONFLICT", what), what)
    ctx.expect_replay(first, ctx.post("/casino/debitCredit", body, label="the original again"), "the original after conflicts")


@check("debitCredit.rollback-refused", "§4b", "A rollback of a debitCredit's bet is 409 BET_ALREADY_SETTLED and moves nothing")
def debit_credit_rollback(ctx: Context) -> None:
    p = ctx.rich
    body, first = _debit_credit(ctx, p, ctx.stake, ctx.stake, roundClosed=False)
    ctx.unchanged(p, ctx.expect_answer(first, 200, what="debitCredit (round left open)"))
    ex = ctx.rollback(p, ctx.new_id("rb"), body["transactionId"], body["roundId"])
    ctx.unchanged(p, ctx.expect_answer(ex, 409, "BET_ALREADY_SETTLED", "rollback of its bet"), "the refused rollback")


@check(
    "funding.proportional-split", "§4, §4b", "A win is redeemable in its bet's proportion: floor(win x redeemable part / stake)"
)
def funding_split(ctx: Context) -> None:
    p = ctx.rich
    playable, redeemable = _redeemable(ctx, p)
    bonus = playable - redeemable
    if bonus <= 0:
        raise CheckSkipped("the rich player holds no bonus-type money: every split is all redeemable")
    # a stake partly bonus, partly redeemable where the limits allow, else all bonus
    stake = bonus + ctx.stake if ctx.config.max_bet is None or bonus + ctx.stake <= ctx.config.max_bet else min(bonus, ctx.stake)
    taken = max(0, stake - bonus)  # bonus-type money is spent first (§4)
    win = stake  # the balance ends where it started
    _, ex = _debit_credit(ctx, p, stake, win)
    ctx.unchanged(p, ctx.expect_answer(ex, 200, what="debitCredit"), "stake and an equal win")
    expected = redeemable - taken + (win * taken) // stake
    after = _redeemable(ctx, p)[1]
    what = f"stake {stake} ({stake - taken} bonus, {taken} redeemable), win {win}"
    ctx.expect(after == expected, f"redeemableBalance {after}, expected {expected}: {what} (§4b)", ex)
    if isinstance(ex.field("redeemableBalance"), int):
        ctx.expect(ex.field("redeemableBalance") == expected, f"the answer's redeemableBalance is not {expected}", ex)


# ------------------------------------------------------------------ payout kinds (§4b)


@check(
    "payout.typed-replay-and-conflict",
    "§4b, §5",
    "A promotion payout pays once; its repeat is replayed; the same id with another campaign or reason -> 409",
)
def payout_typed_replay(ctx: Context) -> None:
    p, txid, rnd = ctx.rich, ctx.new_id("promo"), ctx.new_id("round")
    typed = {"reason": "promotion", "promotionId": f"cert-campaign-{ctx.run_id}"}
    # a stake first, so that the player ends where it started
    ctx.moved(p, -ctx.stake, ctx.expect_answer(ctx.debit(p, ctx.new_id("bet"), rnd, ctx.stake), 200, what="the bet"))
    first = ctx.expect_answer(ctx.credit(p, txid, rnd, ctx.stake, closed=True, extra=typed), 200, what="promotion payout")
    ctx.expect_first(first)
    ctx.moved(p, ctx.stake, first, "promotion payout")
    again = ctx.credit(p, txid, rnd, ctx.stake, closed=True, extra=typed)
    ctx.expect_replay(first, again)
    ctx.unchanged(p, again, "the repeat")
    for label, change in (
        ("another promotionId", {"promotionId": f"cert-other-{ctx.run_id}"}),
        ("another reason", {"reason": "tournament"}),
        ("no reason (a plain win)", {"reason": "win", "promotionId": None}),
    ):
        fields = {k: v for k, v in {**typed, **change}.items() if v is not None}
        ex = ctx.credit(p, txid, rnd, ctx.stake, closed=True, extra=fields)
        ctx.expect_answer(ex, 409, "TRANSACTION_ID_CONFLICT", label)
        ctx.unchanged(p, ex, label)


@check("payout.promotion-names-no-bet", "§4b", "A promotion or tournament payout naming a bet -> 400 VALIDATION_ERROR")
def payout_names_no_bet(ctx: Context) -> None:
    p, rnd, bet = ctx.rich, ctx.new_id("round"), ctx.new_id("bet")
    ctx.moved(p, -ctx.stake, ctx.expect_answer(ctx.debit(p, bet, rnd, ctx.stake), 200, what="the bet"))
    for reason in ("promotion", "tournament"):
        fields = {"reason": reason, "promotionId": f"cert-campaign-{ctx.run_id}"}
        ex = ctx.credit(p, ctx.new_id("promo"), rnd, ctx.stake, bet=bet, extra=fields)
        ctx.expect_answer(ex, 400, "VALIDATION_ERROR", f"a {reason} payout naming a bet")
        ctx.expect(
            any(d.get("field") == "betTransactionId" for d in (ex.field("error") or {}).get("details") or []),
            f"the {reason} payout's 400 does not name betTransactionId",
            ex,
        )
        ctx.unchanged(p, ex, f"a {reason} payout naming a bet")
    ctx.moved(p, ctx.stake, ctx.expect_answer(ctx.credit(p, ctx.new_id("win"), rnd, ctx.stake, bet=bet, closed=True), 200))


@check(
    "freeRound.grant-guard",
    "§4b",
    "A grant's free-round credits: paid after cancel, at most `rounds` (409 FREE_ROUNDS_EXHAUSTED), "
    "never on another player's session (404 GRANT_NOT_FOUND) (needs launchGame)",
)
def free_round_guard(ctx: Context) -> None:
    cfg = ctx.config
    if cfg.launch is None:
        raise CheckSkipped("needs the wallet's operator endpoints (launchGame config) to grant free rounds")
    headers = {"x-api-key": cfg.launch.api_key} if cfg.launch.api_key else {}
    p, poor = ctx.rich, ctx.poor
    expires = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    granted = ctx.post(
        "/casino/freeRounds",
        {
            "userId": cfg.launch.rich_user,
            "gameId": cfg.launch.game_id,
            "currency": cfg.currency,
            "rounds": 2,
            "betAmount": ctx.stake,
            "expiresAt": expires,
        },
        signature=None,
        headers=headers,
        label="grant free rounds",
    )
    ctx.expect_answer(granted, 200, what="POST /casino/freeRounds")
    grant_id = granted.field("grantId")
    ctx.expect(isinstance(grant_id, str) and bool(grant_id), "the grant answered no grantId", granted)
    cancelled = ctx.post(f"/casino/freeRounds/{grant_id}/cancel", {}, signature=None, headers=headers, label="cancel grant")
    ctx.expect_answer(cancelled, 200, what="cancel")
    # stakes first, so that the player ends where it started
    ctx.moved(p, -2 * ctx.stake, ctx.expect_answer(ctx.debit(p, ctx.new_id("bet"), ctx.new_id("round"), 2 * ctx.stake), 200))
    fields = {"reason": "freeRound", "grantId": grant_id}
    ex = ctx.credit(poor, ctx.new_id("fr"), ctx.new_id("round"), ctx.stake, closed=True, extra=fields)
    ctx.expect_answer(ex, 404, "GRANT_NOT_FOUND", "a free-round credit on another player's session")
    ctx.unchanged(poor, ex, "another player's grant")
    for n in (1, 2):  # started before the cancel: owed money, paid
        ex = ctx.credit(p, ctx.new_id("fr"), ctx.new_id("round"), ctx.stake, closed=True, extra=fields)
        ctx.moved(p, ctx.stake, ctx.expect_answer(ex, 200, what=f"free round {n} after the cancel"), f"free round {n}")
    ex = ctx.credit(p, ctx.new_id("fr"), ctx.new_id("round"), ctx.stake, closed=True, extra=fields)
    ctx.expect_answer(ex, 409, "FREE_ROUNDS_EXHAUSTED", "a third free-round credit of a 2-round grant")
    ctx.unchanged(p, ex, "beyond the grant's rounds")


# ------------------------------------------------------------------ latency


@check("latency.percentiles", "ops", "p50/p95/p99 per endpoint over the whole run; p99 within --max-p99-ms")
def latency(ctx: Context) -> None:
    by_endpoint = latency_table(ctx.client.exchanges)
    overall = by_endpoint.get("all", {})
    ctx.expect(bool(overall.get("count")), "no exchanges measured")
    slow = {e: s["p99"] for e, s in by_endpoint.items() if s["p99"] > ctx.config.max_p99_ms}
    ctx.expect(not slow, f"p99 above {ctx.config.max_p99_ms:.0f} ms: " + ", ".join(f"{e} {v:.0f} ms" for e, v in slow.items()))


def latency_table(exchanges: list[Exchange]) -> dict[str, dict[str, float]]:
    by: dict[str, list[float]] = {}
    for ex in exchanges:
        if ex.status is None:
            continue
        by.setdefault(ex.endpoint, []).append(ex.latency_ms)
        by.setdefault("all", []).append(ex.latency_ms)
    return {k: percentiles(v) for k, v in sorted(by.items(), key=lambda kv: (kv[0] == "all", kv[0]))}


# ------------------------------------------------------------------ the runner


def selected(config: Config) -> list[CheckSpec]:
    if not config.only:
        return list(CHECKS)
    return [c for c in CHECKS if c.name == "setup.sessions" or any(fnmatch.fnmatch(c.name, pat) for pat in config.only)]


def run(config: Config, *, progress: Callable[[str], None] | None = None, client: Client | None = None) -> RunResult:
    """Runs the suite; `progress` gets one line per check as it finishes."""
    client = client or Client(config.casino_url, timeout=config.timeout, pool_size=max(16, config.concurrency * 2 + 4))
    ctx = Context(config, client)
    started = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    results: list[CheckResult] = []
    specs = selected(config)
    for i, spec in enumerate(specs, start=1):
        result = _run_one(ctx, spec, setup_failed=bool(results) and results[0].status == "fail")
        results.append(result)
        if progress:
            progress(progress_line(i, len(specs), result))
    finished = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    for player in ctx.players.values():
        ctx.sync(player)
    return RunResult(config, started, finished, results, ctx.players, latency_table(client.exchanges))


def _run_one(ctx: Context, spec: CheckSpec, *, setup_failed: bool) -> CheckResult:
    result = CheckResult(spec.name, spec.section, spec.title, "pass", 0.0)
    if setup_failed:
        result.status, result.message = "fail", "not run: setup.sessions failed"
        return result
    mark = len(ctx.client.exchanges)
    started = time.perf_counter()
    try:
        for player in ctx.players.values():  # a failed check must not fail the next one's arithmetic
            ctx.sync(player)
        spec.run(ctx)
    except CheckFailed as exc:
        result.status, result.message, result.evidence = "fail", str(exc), list(exc.exchanges)
    except CheckSkipped as exc:
        result.status, result.message = "skip", str(exc)
    except Exception as exc:  # a wallet answer the check could not even read
        result.status, result.message = "fail", f"error: {type(exc).__name__}: {exc}"
    result.duration_ms = (time.perf_counter() - started) * 1000
    result.exchanges = ctx.client.exchanges[mark:]
    if result.status == "fail" and not result.evidence:
        result.evidence = result.exchanges[-3:]
    return result


def progress_line(i: int, total: int, result: CheckResult) -> str:
    mark = {"pass": "PASS", "fail": "FAIL", "skip": "SKIP"}[result.status]
    line = f"[{i:>2}/{total}] {mark}  {result.name:<42} {result.duration_ms:>7.0f} ms  {len(result.exchanges):>3} requests"
    return line + (f"  - {result.message}" if result.message else "")


def iter_names() -> Iterator[str]:
    return (c.name for c in CHECKS)
