"""The certification run's HTTP client: exact bytes out, exact bytes back, every exchange
recorded with its latency. No retries, no redirects, no proxies from the environment: what
the wallet answered is what the report shows."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import urllib3


@dataclass
class Exchange:
    """One request and its answer (or the network error that stood instead of one)."""

    label: str
    method: str
    url: str
    request_headers: dict[str, str]
    request_body: bytes
    started_at: str
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: bytes = b""
    latency_ms: float = 0.0
    error: str | None = None
    endpoint: str = ""

    def header(self, name: str) -> str | None:
        for key, value in self.response_headers.items():
            if key.lower() == name.lower():
                return value
        return None

    @property
    def replayed(self) -> bool:
        return (self.header("Idempotent-Replayed") or "").strip().lower() == "true"

    @property
    def text(self) -> str:
        return self.response_body.decode("utf-8", "replace")

    def json(self) -> Any:
        try:
            return json.loads(self.response_body)
        except ValueError:
            return None

    @property
    def code(self) -> str | None:
        body = self.json()
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            code = body["error"].get("code")
            return code if isinstance(code, str) else None
        return None

    def field(self, name: str) -> Any:
        body = self.json()
        return body.get(name) if isinstance(body, dict) else None

    def summary(self) -> str:
        if self.status is None:
            return f"{self.method} {self.endpoint} -> no answer ({self.error})"
        code = self.code
        return (
            f"{self.method} {self.endpoint} -> {self.status}{' ' + code if code else ''}{' (replayed)' if self.replayed else ''}"
        )


class Client:
    """Thread-safe; one connection pool for the whole run."""

    def __init__(
        self, base_url: str, *, timeout: float = 30.0, pool_size: int = 16, default_headers: dict[str, str] | None = None
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = urllib3.Timeout(connect=min(10.0, timeout), read=timeout)
        self.pool = urllib3.PoolManager(num_pools=2, maxsize=pool_size, retries=False)
        self.default_headers = default_headers or {}
        self._lock = threading.Lock()
        self.exchanges: list[Exchange] = []

    def send(self, method: str, path: str, body: bytes, headers: dict[str, str], *, label: str = "") -> Exchange:
        url = self.base_url + path
        sent = {**self.default_headers, **headers}
        exchange = Exchange(
            label=label or path,
            method=method,
            url=url,
            request_headers=sent,
            request_body=body,
            started_at=datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            endpoint=path.split("?", 1)[0],
        )
        started = time.perf_counter()
        try:
            resp = self.pool.request(
                method, url, body=body or None, headers=sent, timeout=self.timeout, retries=False, redirect=False
            )
        except urllib3.exceptions.HTTPError as exc:
            exchange.error = f"{type(exc).__name__}: {exc}"
        else:
            exchange.status = resp.status
            exchange.response_headers = dict(resp.headers.items())
            exchange.response_body = resp.data or b""
        exchange.latency_ms = (time.perf_counter() - started) * 1000
        with self._lock:
            self.exchanges.append(exchange)
        return exchange
