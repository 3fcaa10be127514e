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

from . import errors
from .settings import get_settings

T = TypeVar("T")
log = logging.getLogger(__name__)
_connections: dict[str, psycopg.Connection] = {}
DEADLOCK_RETRIES = 3
#: deadlocks/serialization failures retried by this process (a lock-order bug shows here)
retried_conflicts = 0


def connection(role: str) -> psycopg.Connection:
    conn = _connections.get(role)
    if conn is None or conn.closed or conn.broken:
        settings = get_settings()
        conn = psycopg.connect(settings.dsn_for(role), autocommit=True, prepare_threshold=None,
                               connect_timeout=settings.db_connect_timeout_seconds,
                               application_name=role)
        _connections[role] = conn
    return conn


def close_all() -> None:
    for conn in _connections.values():
        conn.close()
    _connections.clear()


def run(role: str, work: Callable[[psycopg.Connection], T]) -> T:
    """Runs work(conn) once as `role`, mapping database trouble to contract errors.

    A connection found dead (e.g. after a freeze or a database restart) is replaced and the
    work retried once; a deadlock or serialization failure is retried a few times. Both are
    safe because every call is idempotent: a retry of a committed callback is answered from
    the idempotency store. Anything else that goes wrong with the database is a 503.
    """
    reconnected = False
    deadlocks = 0
    while True:
        try:
            return work(connection(role))
        except (pg_errors.DeadlockDetected, pg_errors.SerializationFailure) as exc:
            global retried_conflicts
            retried_conflicts += 1
            log.warning("retrying after %s", type(exc).__name__)
            deadlocks += 1
            if deadlocks > DEADLOCK_RETRIES:
                log.warning("giving up after %d deadlock/serialization retries", deadlocks)
                raise errors.ServiceUnavailable() from None
        except psycopg.OperationalError as exc:
            conn = _connections.get(role)
            if conn is not None and (conn.closed or conn.broken) and not reconnected:
                reconnected = True
                _connections.pop(role, None)
                log.warning("database connection lost (%s); reconnecting once", type(exc).__name__)
                continue
            log.warning("database unavailable: %s", type(exc).__name__)
            if conn is not None and (conn.closed or conn.broken):
                _connections.pop(role, None)
            raise errors.ServiceUnavailable() from None
