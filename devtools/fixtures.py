"""The one owner of the project's fixtures: the documented local development secrets, the
seed ids of docs/protocol.md §8 and the SQL that creates a player, a casino session and the
provider's side of one. `seed`, the tests and the bench all use these (run as the admin)."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

# Local development secrets (docs/protocol.md §8): events/ are signed with them; never used
# outside a local run or a test.
CASINO_SECRET = "dev-casino-secret"
PROVIDER_SECRET = "dev-provider-secret"
DEV_SECRETS = {"CASINO_SECRET": CASINO_SECRET, "PROVIDER_SECRET": PROVIDER_SECRET}

ALICE = "11111111-1111-4111-8111-111111111111"
BOB = "22222222-2222-4222-8222-222222222222"
CAROL = "33333333-3333-4333-8333-333333333333"
GAME = "99999999-9999-4999-8999-999999999991"
INACTIVE_GAME = "99999999-9999-4999-8999-999999999992"
GAME_CODE = "book-of-jaqpot"
#: the seeded games' USD bet limits (also casino_games.min_bet / max_bet, no longer read by the checks)
GAME_MIN_BET, GAME_MAX_BET = 1, 100_000
INACTIVE_GAME_CODE = "classic-fruits"
#: the seeded games' bet limits per currency (casino_game_limits), in that currency's minor units
GAME_LIMITS = {"USD": (1, 100_000), "EUR": (1, 100_000), "JPY": (1, 100_000), "BTC": (100, 1_000_000)}
PROVIDER_CODE = "jaqpot"
CASINO_CODE = "demo-casino"
#: (user id, username, status, [(currency, playable, redeemable), ...])
PLAYERS = (
    (
        ALICE,
        "alice",
        "active",
        [("USD", 1_000_000, 900_000), ("EUR", 50_000, 50_000), ("JPY", 1_000_000, 1_000_000), ("BTC", 100_000_000, 100_000_000)],
    ),
    (BOB, "bob", "active", [("USD", 1_000, 1_000)]),
    (CAROL, "carol", "blocked", [("USD", 100_000, 100_000)]),
)
# A long-lived local session for alice (USD), so the sample events and the README's curl
# examples work without a launch. Seeded for local development only.
DEV_SESSION_ID = "44444444-4444-4444-8444-444444444444"
DEV_SESSION_TOKEN = "dev-session-alice-usd-0000000000000000000000"
DEV_PROVIDER_SESSION_ID = "dev-provider-session"
#: where the seeded provider and casino rows point (PROVIDER_BASE_URL / CASINO_BASE_URL override it)
LOCAL_API = "http://127.0.0.1:3000"


def returned(row: tuple[Any, ...] | None) -> Any:
    """The first column of the row an INSERT/upsert ... RETURNING must return."""
    if row is None:
        raise RuntimeError("an INSERT ... RETURNING returned no row")
    return row[0]


def create_player(
    conn: psycopg.Connection,
    user_id: str,
    username: str,
    status: str,
    wallets: list[tuple[str, int, int]],
    *,
    if_missing: bool = False,
) -> dict[str, int]:
    """A player and its wallets, each with its opening deposit as its first ledger row (so
    reconcile holds). With if_missing, rows that exist are kept as they are (seed is
    idempotent). Returns {currency: wallet id} of the wallets created."""
    skip = " ON CONFLICT DO NOTHING" if if_missing else ""
    conn.execute(f"INSERT INTO casino_users (id, username, status) VALUES (%s, %s, %s){skip}", (user_id, username, status))
    created: dict[str, int] = {}
    for currency, playable, redeemable in wallets:
        row = conn.execute(
            "INSERT INTO casino_wallets (user_id, currency, playable_balance, redeemable_balance) "
            f"VALUES (%s, %s, %s, %s){skip} RETURNING id",
            (user_id, currency, playable, redeemable),
        ).fetchone()
        if row is None:
            continue
        conn.execute(
            "INSERT INTO casino_transactions (transaction_id, kind, status, user_id, wallet_id, amount, playable_delta, "
            "redeemable_delta, balance_after, redeemable_after) VALUES (%s, 'deposit', 'accepted', %s, %s, %s, %s, %s, "
            "%s, %s)",
            (f"opening-deposit:{row[0]}", user_id, row[0], playable, playable, redeemable, playable, redeemable),
        )
        created[currency] = row[0]
    return created


def create_session(
    conn: psycopg.Connection,
    token: str,
    user_id: str,
    currency: str = "USD",
    *,
    game_id: str = GAME,
    expires_in_seconds: int = 1800,
    session_id: str | None = None,
    provider_session_id: str | None = None,
) -> str:
    """An active casino session (what launchGame leaves, minus the provider call), stored by
    the SHA-256 of its token. An existing session_id is kept. Returns the session id."""
    session_id = session_id or str(uuid.uuid4())
    conn.execute(
        """INSERT INTO casino_game_sessions (id, token_hash, user_id, wallet_id, game_id, provider_id,
               currency, status, provider_session_id, expires_at)
           SELECT %s, sha256(convert_to(%s, 'UTF8')), w.user_id, w.id, g.id, g.provider_id, w.currency,
                  'active', %s, now() + make_interval(secs => %s)
             FROM casino_wallets w, casino_games g
            WHERE w.user_id = %s AND w.currency = %s AND g.id = %s
           ON CONFLICT (id) DO NOTHING""",
        (session_id, token, provider_session_id, expires_in_seconds, user_id, currency, game_id),
    )
    return session_id


def create_provider_session(
    conn: psycopg.Connection,
    provider_session_id: str,
    player_id: str,
    token: str,
    *,
    casino_code: str = CASINO_CODE,
    game_code: str = GAME_CODE,
    currency: str = "USD",
) -> str:
    """The provider's side of a casino session: its customer for the casino player and its
    session holding the casino's token. An existing session id is kept."""
    customer = returned(
        conn.execute(
            "INSERT INTO provider_casino_users (casino_id, casino_player_id) SELECT id, %s FROM provider_casinos "
            "WHERE code = %s ON CONFLICT (casino_id, casino_player_id) DO UPDATE SET casino_player_id = "
            "EXCLUDED.casino_player_id RETURNING id",
            (player_id, casino_code),
        ).fetchone()
    )
    conn.execute(
        "INSERT INTO provider_sessions (id, casino_user_id, game_id, currency, casino_session_token) "
        "SELECT %s, %s, id, %s, %s FROM provider_games WHERE code = %s ON CONFLICT (id) DO NOTHING",
        (provider_session_id, customer, currency, token, game_code),
    )
    return provider_session_id
