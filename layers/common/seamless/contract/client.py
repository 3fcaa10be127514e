"""Signed JSON-over-HTTP client used in both directions (casino -> provider, provider -> casino).

urllib3 does the HTTP (it is in the Lambda runtime already, through botocore); this module
adds only what the protocol needs and no library does for our design: sign exactly the bytes
sent, with a fresh `t` on every attempt, over the contract's endpoint path (§2); classify every
answer as docs/protocol.md §7 says (final: a 2xx, or a 4xx whose body is
a contract error of §3; everything else - network errors, timeouts, 5xx, 429, a gateway's own
4xx - is retried); retry with exponential backoff and full jitter, always the same body, hence
the same transactionId; and never start an attempt that cannot finish before the caller's
deadline. Every attempt is kept so callers can record it.
"""

from __future__ import annotations

import json
import random
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import urllib3

from .errors import catalog
from .signing import contract_path, sign

#: every error code of the contract's table (§3): a 4xx carrying one is a final answer
CONTRACT_CODES = frozenset(cls.code for cls in catalog() if cls.contract)
#: no attempt starts with less time than this left before the deadline
MIN_ATTEMPT_SECONDS = 0.5


class Transport(Protocol):
    def request(
        self, method: str, url: str, *, body: bytes, headers: dict[str, str], timeout: urllib3.Timeout, retries: bool
    ) -> Any: ...


def contract_code(body: str | None) -> str | None:
    """The §3 error code of a response body, or None when it is not a contract error."""
    try:
        parsed = json.loads(body or "")
    except ValueError:
        return None
    error = parsed.get("error") if isinstance(parsed, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) and code in CONTRACT_CODES else None


def is_final(status: int | None, body: str | None) -> bool:
    """§7: a 2xx, or a 4xx (not 429) with a contract error body, is the receiver's decision."""
    if status is None:
        return False
    if 200 <= status < 300:
        return True
    return 400 <= status < 500 and status != 429 and contract_code(body) is not None


@dataclass(frozen=True)
class Attempt:
    number: int
    status: int | None
    body: str | None
    error: str | None = None
    replayed: bool = False

    @property
    def final(self) -> bool:
        return is_final(self.status, self.body)

    def as_json(self) -> dict[str, Any]:
        return {
            "attempt": self.number,
            "httpStatus": self.status,
            "body": self.body,
            "error": self.error,
            "replayed": self.replayed,
        }


@dataclass
class CallResult:
    attempts: list[Attempt] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def last(self) -> Attempt:
        return self.attempts[-1]

    @property
    def status(self) -> int | None:
        return self.last.status if self.attempts else None

    @property
    def definitive(self) -> bool:
        """The receiver decided (§7): a 2xx or a contract 4xx. Anything else is undecided."""
        return bool(self.attempts) and self.last.final

    @property
    def replayed(self) -> bool:
        return bool(self.attempts) and self.last.replayed

    def json(self) -> Any:
        try:
            return json.loads(self.last.body or "") if self.attempts else None
        except ValueError:
            return None


@dataclass
class RetryPolicy:
    max_attempts: int = 3
    connect_timeout: float = 2.0
    read_timeout: float = 5.0
    backoff_base: float = 0.1
    backoff_max: float = 1.0

    def delay(self, failed_attempt: int, rng: random.Random) -> float:
        """Exponential backoff with full jitter: uniform(0, min(max, base * 2^(n-1)))."""
        return rng.uniform(0, min(self.backoff_max, self.backoff_base * 2 ** (failed_attempt - 1)))

    @property
    def attempt_seconds(self) -> float:
        """The longest one attempt can take."""
        return self.connect_timeout + self.read_timeout


_POOL: urllib3.PoolManager | None = None


def default_transport() -> urllib3.PoolManager:
    global _POOL
    if _POOL is None:
        _POOL = urllib3.PoolManager(num_pools=4, maxsize=8)
    return _POOL


class SignedClient:
    def __init__(
        self,
        secret: str,
        signature_header: str,
        policy: RetryPolicy | None = None,
        *,
        transport: Transport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secret = secret
        self._header = signature_header
        self.policy = policy or RetryPolicy()
        self._transport = transport
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security

    def post(
        self,
        url: str,
        payload: dict[str, Any],
        *,
        max_attempts: int | None = None,
        deadline: float | None = None,
        path: str | None = None,
    ) -> CallResult:
        """POSTs payload (signed), retrying what §7 says is retryable. `deadline` is a time of
        `clock` (time.monotonic): no attempt starts that could not end before it, and each
        attempt's read timeout is cut to what is left. The signature covers `path` (default:
        the contract endpoint the URL ends in, whatever base path is in front of it) and is made
        afresh for every attempt; the body bytes stay the same."""
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        signed_path = path or contract_path(urllib.parse.urlsplit(url).path)
        transport = self._transport or default_transport()
        result = CallResult()
        attempts = max_attempts or self.policy.max_attempts
        for number in range(1, attempts + 1):
            timeout = self._timeout(deadline)
            if timeout is None:
                break
            headers = {"Content-Type": "application/json", self._header: sign(self._secret, body, signed_path)}
            try:
                resp = transport.request("POST", url, body=body, headers=headers, timeout=timeout, retries=False)
            except urllib3.exceptions.HTTPError as exc:
                result.attempts.append(Attempt(number, None, None, type(exc).__name__))
            else:
                text = resp.data.decode("utf-8", "replace") if resp.data is not None else ""
                result.headers = {k.lower(): v for k, v in resp.headers.items()}
                replayed = result.headers.get("idempotent-replayed", "").lower() == "true"
                result.attempts.append(Attempt(number, resp.status, text, replayed=replayed))
                if result.last.final:
                    return result
            if number < attempts:
                pause = self.policy.delay(number, self._rng)
                if deadline is not None and self._clock() + pause + MIN_ATTEMPT_SECONDS > deadline:
                    break
                self._sleep(pause)
        return result

    def _timeout(self, deadline: float | None) -> urllib3.Timeout | None:
        if deadline is None:
            return urllib3.Timeout(connect=self.policy.connect_timeout, read=self.policy.read_timeout)
        left = deadline - self._clock()
        if left < MIN_ATTEMPT_SECONDS:
            return None
        return urllib3.Timeout(connect=min(self.policy.connect_timeout, left), read=min(self.policy.read_timeout, left))

    def get(self, url: str) -> CallResult:
        transport = self._transport or default_transport()
        timeout = urllib3.Timeout(connect=self.policy.connect_timeout, read=self.policy.read_timeout)
        result = CallResult()
        try:
            resp = transport.request("GET", url, body=b"", headers={}, timeout=timeout, retries=False)
        except urllib3.exceptions.HTTPError as exc:
            result.attempts.append(Attempt(1, None, None, type(exc).__name__))
        else:
            result.attempts.append(Attempt(1, resp.status, resp.data.decode("utf-8", "replace")))
        return result
