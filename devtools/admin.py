"""migrate, seed, reset and reconcile: the database's life cycle, run as the admin user."""
from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass

import psycopg
from psycopg.rows import dict_row
from wallet_common.migrations import ensure_roles, migrate  # noqa: F401 - the CLI's migrate
from wallet_common.settings import get_settings

from . import ROOT

CHECKS = ROOT / "sql" / "checks"

ALICE = "11111111-1111-4111-8111-111111111111"
BOB = "22222222-2222-4222-8222-222222222222"
CAROL = "33333333-3333-4333-8333-333333333333"
GAME = "99999999-9999-4999-8999-999999999991"
INACTIVE_GAME = "99999999-9999-4999-8999-999999999992"
GAME_CODE = "book-of-jaqpot"
INACTIVE_GAME_CODE = "classic-fruits"
PROVIDER_CODE = "jaqpot"
CASINO_CODE = "demo-casino"
# A long-lived local session for alice (USD), so the sample events and the README's curl
# examples work without a launch. Seeded for local development only.
DEV_SESSION_ID = "44444444-4444-4444-8444-444444444444"
DEV_SESSION_TOKEN = "dev-session-alice-usd-0000000000000000000000"
DEV_PROVIDER_SESSION_ID = "dev-provider-session"


def _returned(row: tuple | None) -> object:
    if row is None:
        raise RuntimeError("an upsert ... RETURNING returned no row")
    return row[0]


def seed(url: str, *, quiet: bool = False) -> None:
    """The PROTOCOL §8 fixtures, with fixed ids. Idempotent: existing rows are kept (base
    URLs are refreshed from the environment)."""
    settings = get_settings()
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        provider_id = _returned(conn.execute(
            """INSERT INTO casino_game_providers (code, name, api_base_url, secret_ref)
               VALUES (%s, 'Jaqpot Games', %s, 'PROVIDER_SECRET')
               ON CONFLICT (code) DO UPDATE SET api_base_url = EXCLUDED.api_base_url
               RETURNING id""", (PROVIDER_CODE, settings.provider_base_url)).fetchone())
        for game_id, code, name, active in ((GAME, GAME_CODE, "Book of Jaqpot", True),
                                            (INACTIVE_GAME, INACTIVE_GAME_CODE, "Classic Fruits", False)):
            conn.execute("""INSERT INTO casino_games (id, provider_id, provider_game_id, name, min_bet, max_bet, active)
                            VALUES (%s, %s, %s, %s, 1, 100000, %s) ON CONFLICT (id) DO NOTHING""",
                         (game_id, provider_id, code, name, active))
            conn.execute("""INSERT INTO provider_games (code, name, active) VALUES (%s, %s, %s)
                            ON CONFLICT (code) DO NOTHING""", (code, name, active))
        users = ((ALICE, "alice", "active", [("USD", 1_000_000, 900_000), ("EUR", 50_000, 50_000)]),
                 (BOB, "bob", "active", [("USD", 1_000, 1_000)]),
                 (CAROL, "carol", "blocked", [("USD", 100_000, 100_000)]))
        for user_id, name, status, wallets in users:
            conn.execute("INSERT INTO casino_users (id, username, status) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                         (user_id, name, status))
            for currency, playable, redeemable in wallets:
                row = conn.execute(
                    """INSERT INTO casino_wallets (user_id, currency, playable_balance, redeemable_balance)
                       VALUES (%s, %s, %s, %s) ON CONFLICT (user_id, currency) DO NOTHING RETURNING id""",
                    (user_id, currency, playable, redeemable)).fetchone()
                if row:  # a new wallet: its opening deposit is its first ledger row
                    conn.execute(
                        """INSERT INTO casino_transactions (transaction_id, kind, status, user_id, wallet_id,
                               amount, playable_delta, redeemable_delta, balance_after, redeemable_after)
                           VALUES (%s, 'deposit', 'accepted', %s, %s, %s, %s, %s, %s, %s)""",
                        (f"opening-deposit:{row[0]}", user_id, row[0], playable, playable, redeemable,
                         playable, redeemable))
        conn.execute(
            """INSERT INTO casino_game_sessions (id, token_hash, user_id, wallet_id, game_id, provider_id,
                   currency, status, provider_session_id, expires_at)
               SELECT %s, sha256(convert_to(%s, 'UTF8')), %s, w.id, %s, %s, 'USD', 'active',
                      %s, now() + interval '10 years'
                 FROM casino_wallets w WHERE w.user_id = %s AND w.currency = 'USD'
               ON CONFLICT (id) DO NOTHING""",
            (DEV_SESSION_ID, DEV_SESSION_TOKEN, ALICE, GAME, provider_id, DEV_PROVIDER_SESSION_ID, ALICE))
        casino_id = _returned(conn.execute(
            """INSERT INTO provider_casinos (code, name, callback_base_url, secret_ref)
               VALUES (%s, 'Demo Casino', %s, 'CASINO_SECRET')
               ON CONFLICT (code) DO UPDATE SET callback_base_url = EXCLUDED.callback_base_url
               RETURNING id""", (CASINO_CODE, settings.casino_base_url)).fetchone())
        # The provider's side of the dev session, so events/providerSimulate.json works as is.
        customer_id = _returned(conn.execute(
            """INSERT INTO provider_casino_users (casino_id, casino_player_id) VALUES (%s, %s)
               ON CONFLICT (casino_id, casino_player_id) DO UPDATE SET casino_player_id = EXCLUDED.casino_player_id
               RETURNING id""", (casino_id, ALICE)).fetchone())
        conn.execute(
            """INSERT INTO provider_sessions (id, casino_user_id, game_id, currency, casino_session_token)
               SELECT %s, %s, g.id, 'USD', %s FROM provider_games g WHERE g.code = %s
               ON CONFLICT (id) DO NOTHING""",
            (DEV_PROVIDER_SESSION_ID, customer_id, DEV_SESSION_TOKEN, GAME_CODE))
    if not quiet:
        print("seed: players alice, bob, carol; games; provider jaqpot; casino demo-casino", file=sys.stderr)


def reset(url: str, *, local_ok: bool) -> None:
    if not local_ok:
        raise SystemExit("reset drops every table: run it with --local, and only against a local database")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    print("reset: schema dropped", file=sys.stderr)
    migrate(url)
    seed(url)


@dataclass
class Reconciliation:
    rows: list[dict]
    violations: list[str]

    @property
    def ok(self) -> bool:
        return not self.violations and all(r["ok"] for r in self.rows)

    def table(self) -> str:
        cols = ["wallet_id", "username", "currency", "balance", "ledger_balance", "redeemable",
                "ledger_redeemable", "movements", "ok"]
        lines = [cols] + [[str(r[c]) for c in cols] for r in self.rows]
        widths = [max(len(line[i]) for line in lines) for i in range(len(cols))]
        out = ["  ".join(v.ljust(w) for v, w in zip(line, widths)) for line in lines]
        out += [f"VIOLATION: {v}" for v in self.violations]
        out.append("reconcile: OK" if self.ok else "reconcile: MISMATCH")
        return "\n".join(out)


def reconcile(url: str) -> Reconciliation:
    """PROTOCOL §9 for every wallet, and the rollback rules over the whole ledger."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.cursor(row_factory=dict_row).execute((CHECKS / "reconcile.sql").read_text()).fetchall()
        violations = [row[0] for row in conn.execute((CHECKS / "violations.sql").read_text())]
    return Reconciliation(rows, violations)


def new_test_database_name() -> str:
    return f"test_{uuid.uuid4().hex[:12]}"


