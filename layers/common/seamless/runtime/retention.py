"""The retention jobs (docs/retention.md, docs/protocol.md §5): each side purges what it keeps
only for a while, in its own database functions (sql/casino/retention.sql,
sql/provider/retention.sql), as its own role. Run daily by CasinoRetentionFunction and
ProviderRetentionFunction, locally by `python -m devtools purge`.

Each call of a purge function handles one batch per kind; the job repeats it until nothing
is left or its time is up (the next run carries on), so no statement holds locks for long.
Stored outcomes - the ledger - are never purged here.
"""

from __future__ import annotations

import time
from typing import Any

from psycopg.rows import dict_row
from pydantic import Field

from . import db
from .settings import CASINO_ROLE, PROVIDER_ROLE, CommonSettings, load

CASINO_PURGE = """
SELECT bet_claims, tombstones, launch_urls, stale_launches
  FROM casino_retention.purge(%(batch)s, %(tombstone_days)s, %(claim_seconds)s, %(launch_grace_seconds)s,
                              %(pending_seconds)s)
"""
PROVIDER_PURGE = """
SELECT tokens FROM provider_retention.purge_casino_session_tokens(%(session_seconds)s, %(settlement_seconds)s, %(batch)s)
"""


class RetentionSettings(CommonSettings):
    retention_batch_size: int = Field(default=5000, ge=1)
    #: tombstones (and stored outcomes) are kept at least this long (§5: 120 days)
    outcome_retention_days: int = Field(default=120, ge=120)
    bet_claim_retention_seconds: int = Field(default=86_400, ge=3600)
    launch_url_grace_seconds: int = Field(default=3600, ge=0)
    pending_launch_seconds: int = Field(default=3600, ge=300)
    #: the provider's sessions live this long (the casino's SESSION_TTL_SECONDS) ...
    session_ttl_seconds: int = Field(default=1800, ge=1)
    #: ... and settlement may still deliver owed money this long after (settlement's setting)
    settlement_horizon_seconds: int = Field(default=86_400, ge=0)


def settings() -> RetentionSettings:
    return load(RetentionSettings)


def _repeat(role: str, statement: str, params: dict[str, Any], deadline: float | None) -> dict[str, int]:
    totals: dict[str, int] = {}
    while True:
        row = db.run_idempotent(role, lambda conn: conn.cursor(row_factory=dict_row).execute(statement, params).fetchone())
        assert row is not None  # a function with OUT parameters returns one row
        for key, value in row.items():
            totals[key] = totals.get(key, 0) + value
        if not any(row.values()) or (deadline is not None and time.monotonic() >= deadline):
            return totals


def purge_casino(*, deadline: float | None = None) -> dict[str, int]:
    s = settings()
    params = {
        "batch": s.retention_batch_size,
        "tombstone_days": s.outcome_retention_days,
        "claim_seconds": s.bet_claim_retention_seconds,
        "launch_grace_seconds": s.launch_url_grace_seconds,
        "pending_seconds": s.pending_launch_seconds,
    }
    return _repeat(CASINO_ROLE, CASINO_PURGE, params, deadline)


def purge_provider(*, deadline: float | None = None) -> dict[str, int]:
    s = settings()
    params = {
        "session_seconds": s.session_ttl_seconds,
        "settlement_seconds": s.settlement_horizon_seconds,
        "batch": s.retention_batch_size,
    }
    return _repeat(PROVIDER_ROLE, PROVIDER_PURGE, params, deadline)
