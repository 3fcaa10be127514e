"""Database access for Lambda: one psycopg connection per role per container.

Opened lazily on first use and reused across invocations; autocommit, so every ledger
call is one statement and one transaction and nothing sits idle in a transaction while
the sandbox is frozen. No server-side prepared statements (RDS Proxy pinning); session
settings such as statement_timeout live on the roles (see devtools/admin.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import psycopg
from psycopg import errors as pg_errors

from ..contract import errors
from .settings import common

T = TypeVar("T")
log = logging.getLogger(__name__)
_connections: dict[str, psycopg.Connection] = {}
DEADLOCK_RETRIES = 3
#: deadlocks/serialization failures retried by this process (a lock-order bug shows here)
retried_conflicts = 0


def connection(role: str) -> psycopg.Connection:
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
        _connections[role] = conn
    return conn


def close_all() -> None:
    for conn in _connections.values():
        conn.close()
    _connections.clear()


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
