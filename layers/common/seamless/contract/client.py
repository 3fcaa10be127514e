"""Signed JSON-over-HTTP client used in both directions (casino -> provider, provider -> casino).

urllib3 does the HTTP (it is in the Lambda runtime already, through botocore); this module
adds only what the protocol needs and no library does for our design: sign exactly the bytes
sent, retry network errors, timeouts and 5xx with exponential backoff and full jitter -
always the same body, hence the same transactionId - and never retry a 4xx (final).
Every attempt is kept so callers can record it.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import urllib3

from .signing import sign


class Transport(Protocol):
    def request(
        self, method: str, url: str, *, body: bytes, headers: dict[str, str], timeout: urllib3.Timeout, retries: bool
    ) -> Any: ...


@dataclass(frozen=True)
class Attempt:
    number: int
    status: int | None
    body: str | None
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"attempt": self.number, "httpStatus": self.status, "body": self.body, "error": self.error}


@dataclass
class CallResult:
    attempts: list[Attempt] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def last(self) -> Attempt:
        return self.attempts[-1]

    @property
    def status(self) -> int | None:
        return self.last.status

    @property
    def definitive(self) -> bool:
        """The server decided: a 2xx or a 4xx. 5xx, timeouts and network errors are not."""
        return self.status is not None and self.status < 500

    @property
    def replayed(self) -> bool:
        return self.headers.get("idempotent-replayed", "").lower() == "true"

    def json(self) -> Any:
        try:
            return json.loads(self.last.body or "")
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
    ) -> None:
        self._secret = secret
        self._header = signature_header
        self.policy = policy or RetryPolicy()
        self._transport = transport
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security

    def post(self, url: str, payload: dict[str, Any], *, max_attempts: int | None = None) -> CallResult:
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        headers = {"Content-Type": "application/json", self._header: sign(self._secret, body)}
        transport = self._transport or default_transport()
        timeout = urllib3.Timeout(connect=self.policy.connect_timeout, read=self.policy.read_timeout)
        result = CallResult()
        attempts = max_attempts or self.policy.max_attempts
        for number in range(1, attempts + 1):
            try:
                resp = transport.request("POST", url, body=body, headers=headers, timeout=timeout, retries=False)
            except urllib3.exceptions.HTTPError as exc:
                result.attempts.append(Attempt(number, None, None, type(exc).__name__))
            else:
                text = resp.data.decode("utf-8", "replace") if resp.data is not None else ""
                result.attempts.append(Attempt(number, resp.status, text))
                result.headers = {k.lower(): v for k, v in resp.headers.items()}
                if resp.status < 500:
                    return result
            if number < attempts:
                self._sleep(self.policy.delay(number, self._rng))
        return result

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
