"""Shared by the reliability tests: hypothesis settings (seeded and reproducible), reconcile after
every test, counting the connections per thread (one set per simulated Lambda container) and
bounded waits on observable database state.

Reproducing a failure: the CI runs are derandomized (the same examples every run, so a failure
shows again on the next run; hypothesis prints the failing steps and a @reproduce_failure blob).
The soak runs draw a fresh seed each time and hypothesis prints it on failure
("@seed(...)"); run `pytest -m soak tests/reliability --hypothesis-seed=<that seed>` to replay.
Shrinking is off by default (minutes against a real database); RELIABILITY_SHRINK=1 turns it on.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import psycopg
import pytest
from hypothesis import HealthCheck, Phase, settings
from seamless.runtime import db

from devtools import admin
from tests.support import admin_conn

T = TypeVar("T")
SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
#: Shrinking a failure against a real database can take minutes: off unless asked for
#: (RELIABILITY_SHRINK=1); the unshrunk failing steps are printed either way.
PHASES = tuple(Phase) if os.environ.get("RELIABILITY_SHRINK") else (Phase.explicit, Phase.reuse, Phase.generate)


def ci_settings(**overrides) -> settings:
    """Derandomized: the same sequence on every run and every machine."""
    return settings(
        **{
            "deadline": None,
            "derandomize": True,
            "database": None,
            "print_blob": True,
            "suppress_health_check": SLOW_OK,
            "phases": PHASES,
            **overrides,
        }
    )


def soak_settings(**overrides) -> settings:
    """A fresh random seed per run (printed by hypothesis on failure)."""
    return settings(
        **{
            "deadline": None,
            "derandomize": False,
            "database": None,
            "print_blob": True,
            "suppress_health_check": SLOW_OK,
            "phases": PHASES,
            **overrides,
        }
    )


# ------------------------------------------------------------------ §9 after every test


def assert_reconciled(url: str) -> None:
    result = admin.reconcile(url)
    assert result.ok, "reconcile found a mismatch:\n" + result.table()


@pytest.fixture(autouse=True)
def reconciled(database_url):
    """Every reliability test ends with reconcile (docs/protocol.md §9: every wallet equals its ledger,
    no pending rows, each bet refunded at most once and exactly) clean on the test database."""
    yield
    assert_reconciled(database_url)


def pytest_terminal_summary(terminalreporter) -> None:
    """The settlement simulation's figures (tests/reliability/simulation.py): a line per seed
    and the total."""
    from tests.reliability.simulation import summary

    lines = summary()
    if lines:
        terminalreporter.write_sep("-", "settlement simulation")
        for line in lines:
            terminalreporter.write_line(line)


# ------------------------------------------------------------------ one connection per thread


class ConnectionsOpened:
    """seamless.runtime.db caches connections per thread, as every Lambda container has its own
    (a connection shared by threads would serialise every statement: no concurrency would reach
    the database). This counts the connections opened since the fixture started."""

    def __init__(self) -> None:
        self._start = db.connections_opened

    def opened(self) -> int:
        return db.connections_opened - self._start


@pytest.fixture
def connections_per_thread() -> Iterator[ConnectionsOpened]:
    db.close_all()
    try:
        yield ConnectionsOpened()
    finally:
        db.close_all()  # closes every thread's connections


# ------------------------------------------------------------------ waiting on observable state


def wait_for(predicate: Callable[[], T], what: str, timeout: float = 20.0) -> T:
    """Polls an observable condition (pg_stat_activity, pg_locks) until it holds, with a deadline.
    Used only where there is no event to await."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.01)


def lock_waiters(url: str, role: str = "casino_app", exclude: frozenset[int] = frozenset()) -> list[int]:
    """Backends of `role` in this test database that are waiting for a lock."""
    with admin_conn(url) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE usename = %s AND datname = current_database() "
            "AND wait_event_type = 'Lock' AND NOT (pid = ANY(%s)) ORDER BY backend_start",
            (role, list(exclude)),
        ).fetchall()
    return [r[0] for r in rows]


class HeldWallet:
    """An admin transaction holding a wallet's row lock, as a long job (or a stuck session)
    would; the casino's callbacks on that wallet wait for it."""

    def __init__(self, url: str, user: str, currency: str = "USD", *, mode: str = "UPDATE"):
        assert mode in ("UPDATE", "NO KEY UPDATE")
        self.conn = psycopg.connect(url)
        self.conn.execute(f"SELECT 1 FROM casino_wallets WHERE user_id = %s AND currency = %s FOR {mode}", (user, currency))

    def release(self) -> None:
        if not self.conn.closed:
            self.conn.rollback()
            self.conn.close()

    def __enter__(self) -> HeldWallet:
        return self

    def __exit__(self, *exc) -> None:
        self.release()
