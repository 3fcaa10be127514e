"""Database access for Lambda: one psycopg connection per role per container.

Opened lazily on first use and reused across invocations; autocommit, so every ledger
call is one statement and one transaction and nothing sits idle in a transaction while
the sandbox is frozen. No server-side prepared statements (RDS Proxy pinning); session
settings such as statement_timeout live on the roles (see devtools/admin.py).

The cache is per thread. A Lambda container serves one request at a time on one thread, so
there it is one set per container; a process that serves requests from several threads (the
local API's container-like workers, the concurrency tests) gives each thread its own
connections, as separate containers have. Sharing one connection between threads would let
one request's statements run inside another's transaction (and psycopg would serialise every
statement). A thread's connections are closed when the thread ends.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from typing import TypeVar

import psycopg
from psycopg import errors as pg_errors

from ..contract import errors
from .settings import common

T = TypeVar("T")
log = logging.getLogger(__name__)
DEADLOCK_RETRIES = 3
#: deadlocks/serialization failures retried by this process (a lock-order bug shows here)
retried_conflicts = 0
#: connections opened by this process (tests check that concurrent requests had their own)
connections_opened = 0
_opened_lock = threading.Lock()


class _Mine:
    """One thread's connections, by role; closed when the thread ends and this is collected."""

    def __init__(self) -> None:
        self.conns: dict[str, psycopg.Connection] = {}
        weakref.finalize(self, _close, self.conns)


def _close(conns: dict[str, psycopg.Connection]) -> None:
    for conn in list(conns.values()):
        conn.close()
    conns.clear()


class ConnectionsPerThread:
    """The connection cache: a dict of role -> connection for the calling thread."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._every: weakref.WeakSet[_Mine] = weakref.WeakSet()
        self._lock = threading.Lock()

    def _mine(self) -> dict[str, psycopg.Connection]:
        mine: _Mine | None = getattr(self._local, "mine", None)
        if mine is None:
            mine = self._local.mine = _Mine()
            with self._lock:
                self._every.add(mine)
        return mine.conns

    def get(self, role: str, default: psycopg.Connection | None = None) -> psycopg.Connection | None:
        return self._mine().get(role, default)

    def __setitem__(self, role: str, conn: psycopg.Connection) -> None:
        self._mine()[role] = conn

    def pop(self, role: str, default: psycopg.Connection | None = None) -> psycopg.Connection | None:
        return self._mine().pop(role, default)

    def close_mine(self) -> None:
        _close(self._mine())

    def close_every(self) -> None:
        """Every thread's connections (tests, shutdown): nothing may be using them."""
        with self._lock:
            every = list(self._every)
        for mine in every:
            _close(mine.conns)


_connections = ConnectionsPerThread()


def connection(role: str) -> psycopg.Connection:
    global connections_opened
    conn = _connections.get(role)
    if conn is None or conn.closed or conn.broken:
        settings = common()
        conn = psycopg.connect(
            settings.dsn_for(role),
            autocommit=True,
            prepare_threshold=None,
            connect_timeout=settings.db_connect_timeout_seconds,
            application_name=role,
        )
        with _opened_lock:
            connections_opened += 1
        _connections[role] = conn
    return conn


def close_mine() -> None:
    """Closes the calling thread's connections (a worker thread that is about to end)."""
    _connections.close_mine()


def close_all() -> None:
    """Closes every thread's connections; each reconnects on its next use."""
    _connections.close_every()


def run_idempotent(role: str, work: Callable[[psycopg.Connection], T]) -> T:
    """Runs work(conn) as `role` for work that is safe to run again (a money callback, whose
    retry is answered from the idempotency store; a read).

    A connection found dead (e.g. after a freeze or a database restart) is replaced and the
    work retried once - even when the commit may have happened and only its acknowledgement
    was lost. A deadlock or serialization failure is retried a few times. Anything else that
    goes wrong with the database is a 503.
    """
    return _run(role, work, retry_lost_connection=True)


def run_once(role: str, work: Callable[[psycopg.Connection], T]) -> T:
    """Runs work(conn) as `role` for work that must not run twice (it creates rows with fresh
    ids). A lost connection is a 503 - the work may or may not have committed, and the
    caller's retry decides - never a transparent re-run. Deadlocks and serialization
    failures are still retried: they abort the transaction, so nothing was committed."""
    return _run(role, work, retry_lost_connection=False)


def _run(role: str, work: Callable[[psycopg.Connection], T], *, retry_lost_connection: bool) -> T:
    global retried_conflicts
    reconnected = not retry_lost_connection
    deadlocks = 0
    while True:
        try:
            return work(connection(role))
        except (pg_errors.DeadlockDetected, pg_errors.SerializationFailure) as exc:
            retried_conflicts += 1
            log.warning("retrying after %s", type(exc).__name__)
            deadlocks += 1
            if deadlocks > DEADLOCK_RETRIES:
                log.warning("giving up after %d deadlock/serialization retries", deadlocks)
                raise errors.ServiceUnavailable() from None
        except psycopg.OperationalError as exc:
            conn = _connections.get(role)
            lost = conn is not None and (conn.closed or conn.broken)
            if lost:
                _connections.pop(role, None)
            if lost and not reconnected:
                reconnected = True
                log.warning("database connection lost (%s); reconnecting once", type(exc).__name__)
                continue
            log.warning("database unavailable: %s", type(exc).__name__)
            raise errors.ServiceUnavailable() from None
