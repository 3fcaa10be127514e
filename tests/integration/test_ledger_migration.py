"""Migration 0004 (ledger v3) on a database that ledger v2 wrote: its bet claims are carried over
into the ledger (a bet by its debit's row, a tombstone by its rollback's row), the claims table
goes, and every rule the claims held still holds under the v3 functions. A claim without its
ledger row stops the migration instead of losing a tombstone.

Each test builds its own database: migrated by this tree, taken back to v2's schema and functions
(the same statements bench/experiments.py uses for its v2 variant), written by v2, then migrated."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from bench.experiments import V2_CLAIMS, V2_FUNCTIONS, V2_WALLET_INDEX, frozen
from devtools import admin, fixtures, localdb
from tests.support import GAME, fetch_one

MIGRATION = admin.ROOT / "sql" / "casino" / "migrations" / "0004_ledger_v3.sql"
DEBIT = "SELECT status, body FROM ledger.debit(%s, %s, %s, %s, 'USD')"
ROLLBACK = "SELECT status, body FROM ledger.rollback(%s, %s, %s, %s)"


@pytest.fixture
def v2_database(database_url: str) -> Iterator[str]:
    server = localdb.with_dbname(database_url, "postgres")
    url = localdb.create_database(server, admin.new_test_database_name())
    try:
        admin.migrate(url, quiet=True)
        admin.seed(url, quiet=True)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(V2_CLAIMS)
            conn.execute(V2_WALLET_INDEX)
            conn.execute(frozen(V2_FUNCTIONS))
        yield url
    finally:
        localdb.drop_database(server, conn_dbname(url))


def conn_dbname(url: str) -> str:
    return str(conninfo_to_dict(url)["dbname"])


def player(conn: psycopg.Connection) -> bytes:
    """A player with a wallet of 1,000 and an active session; the session's token hash."""
    user, token = str(uuid.uuid4()), secrets.token_urlsafe(32)
    fixtures.create_player(conn, user, f"player-{user[:8]}", "active", [("USD", 1_000, 1_000)])
    fixtures.create_session(conn, token, user, "USD", game_id=GAME)
    return hashlib.sha256(token.encode()).digest()


def test_v2_claims_are_carried_over_and_keep_their_rules(v2_database):
    with psycopg.connect(v2_database, autocommit=True) as conn:
        me = player(conn)
        first = fetch_one(conn, DEBIT, (me, "bet-1", "round-1", 300))
        assert first[0] == 200
        tomb = fetch_one(conn, ROLLBACK, (me, "rb-1", "ghost-1", None))
        assert tomb[0] == 200 and '"tombstone": true' in tomb[1]
        assert conn.execute("SELECT transaction_id, claimed_by FROM casino_bet_claims ORDER BY 1").fetchall() == [
            ("bet-1", "bet"),
            ("ghost-1", "tombstone"),
        ]

        conn.execute(MIGRATION.read_text())
    admin.migrate(v2_database, quiet=True)  # 0004 is recorded already: this loads v3's functions

    with psycopg.connect(v2_database, autocommit=True) as conn:
        assert fetch_one(conn, "SELECT to_regclass('casino_bet_claims') IS NULL")[0]
        # the tombstone still refuses the late bet, and a second rollback of it is a tombstone again
        late = fetch_one(conn, DEBIT, (me, "ghost-1", "round-2", 300))
        assert late[0] == 409 and "BET_ROLLED_BACK" in late[1]
        again = fetch_one(conn, ROLLBACK, (me, "rb-2", "ghost-1", None))
        assert again[0] == 200 and '"rolledBackAmount": 0' in again[1]
        # the bet's own row answers for it: a byte-identical replay, then its refund once
        assert fetch_one(conn, DEBIT, (me, "bet-1", "round-1", 300)) == first
        refund = fetch_one(conn, ROLLBACK, (me, "rb-3", "bet-1", "round-1"))
        assert refund[0] == 200 and '"rolledBackAmount": 300' in refund[1]
        assert '"rolledBackAmount": 0' in fetch_one(conn, ROLLBACK, (me, "rb-4", "bet-1", "round-1"))[1]
        balance = fetch_one(conn, "SELECT sum(playable_delta) FROM casino_transactions")[0]
        assert balance == fetch_one(conn, "SELECT sum(playable_balance) FROM casino_wallets")[0]
        assert conn.execute((admin.CHECKS / "violations.sql").read_text()).fetchall() == []


def test_a_claim_without_its_ledger_row_stops_the_migration(v2_database):
    with psycopg.connect(v2_database, autocommit=True) as conn:
        provider = fetch_one(conn, "SELECT id FROM casino_game_providers LIMIT 1")[0]
        conn.execute(
            "INSERT INTO casino_bet_claims (provider_id, transaction_id, claimed_by) VALUES (%s, 'lost', 'tombstone')",
            (provider,),
        )
        with pytest.raises(psycopg.errors.RaiseException, match="without their ledger row"):
            with conn.transaction():
                conn.execute(MIGRATION.read_text())
        assert fetch_one(conn, "SELECT to_regclass('casino_bet_claims') IS NOT NULL")[0]  # nothing was dropped
