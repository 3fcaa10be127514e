"""migrate, seed, reset and reconcile: the database's life cycle, run as the admin user."""

from __future__ import annotations

import os
import sys
import uuid
from dataclasses import dataclass, field

import psycopg
from psycopg.rows import dict_row
from seamless.contract import errors
from seamless.runtime.migrations import ensure_roles, migrate  # noqa: F401 - the CLI's migrate

from . import ROOT
from .fixtures import (  # noqa: F401 - re-exported: the seed ids are part of admin's interface
    ALICE,
    BOB,
    CAROL,
    CASINO_CODE,
    DEV_PROVIDER_SESSION_ID,
    DEV_SESSION_ID,
    DEV_SESSION_TOKEN,
    GAME,
    GAME_CODE,
    GAME_LIMITS,
    GAME_MAX_BET,
    GAME_MIN_BET,
    INACTIVE_GAME,
    INACTIVE_GAME_CODE,
    LOCAL_API,
    PLAYERS,
    PROVIDER_CODE,
    create_player,
    create_provider_session,
    create_session,
    returned,
)

CHECKS = ROOT / "sql" / "checks"


def seed(url: str, *, quiet: bool = False) -> None:
    """The docs/protocol.md §8 fixtures, with fixed ids. Idempotent: existing rows are kept (base
    URLs are refreshed from the environment)."""
    provider_base_url = os.environ.get("PROVIDER_BASE_URL", LOCAL_API)
    casino_base_url = os.environ.get("CASINO_BASE_URL", LOCAL_API)
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        provider_id = returned(
            conn.execute(
                """INSERT INTO casino_game_providers (code, name, api_base_url, secret_ref)
               VALUES (%s, 'Jaqpot Games', %s, 'PROVIDER_SECRET')
               ON CONFLICT (code) DO UPDATE SET api_base_url = EXCLUDED.api_base_url
               RETURNING id""",
                (PROVIDER_CODE, provider_base_url),
            ).fetchone()
        )
        for game_id, code, name, active in (
            (GAME, GAME_CODE, "Book of Jaqpot", True),
            (INACTIVE_GAME, INACTIVE_GAME_CODE, "Classic Fruits", False),
        ):
            conn.execute(
                """INSERT INTO casino_games (id, provider_id, provider_game_id, name, min_bet, max_bet, active)
                            VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING""",
                (game_id, provider_id, code, name, GAME_MIN_BET, GAME_MAX_BET, active),
            )
            for currency, (min_bet, max_bet) in GAME_LIMITS.items():
                conn.execute(
                    """INSERT INTO casino_game_limits (game_id, currency, min_bet, max_bet)
                                VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING""",
                    (game_id, currency, min_bet, max_bet),
                )
            conn.execute(
                """INSERT INTO provider_games (code, name, active) VALUES (%s, %s, %s)
                            ON CONFLICT (code) DO NOTHING""",
                (code, name, active),
            )
        for user_id, name, status, wallets in PLAYERS:
            create_player(conn, user_id, name, status, wallets, if_missing=True)
        create_session(
            conn,
            DEV_SESSION_TOKEN,
            ALICE,
            "USD",
            session_id=DEV_SESSION_ID,
            provider_session_id=DEV_PROVIDER_SESSION_ID,
            expires_in_seconds=10 * 365 * 86_400,
        )
        conn.execute(
            """INSERT INTO provider_casinos (code, name, callback_base_url, secret_ref)
               VALUES (%s, 'Demo Casino', %s, 'CASINO_SECRET')
               ON CONFLICT (code) DO UPDATE SET callback_base_url = EXCLUDED.callback_base_url
               """,
            (CASINO_CODE, casino_base_url),
        )
        # The provider's side of the dev session, so events/providerSimulate.json works as is.
        create_provider_session(conn, DEV_PROVIDER_SESSION_ID, ALICE, DEV_SESSION_TOKEN)
    if not quiet:
        print("seed: players alice, bob, carol; games; provider jaqpot; casino demo-casino", file=sys.stderr)


def currency_exponents(url: str) -> dict[str, int]:
    """Every currency the casino serves and its exponent (casino_currencies), for showing money."""
    with psycopg.connect(url, autocommit=True) as conn:
        return dict(conn.execute("SELECT code, exponent FROM casino_currencies").fetchall())


def reset(url: str, *, local_ok: bool) -> None:
    if not local_ok:
        raise SystemExit("reset drops every table: run it with --local, and only against a local database")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    print("reset: schema dropped", file=sys.stderr)
    migrate(url)
    seed(url)


@dataclass(frozen=True)
class Difference:
    """One round whose outcome at the casino is not what it owes its player (outcome.sql)."""

    round_id: str
    player: str
    #: signed minor units: what the player got more (+) or less (-) than the round implies, or
    #: the owed money concerned
    amount: int
    what: str

    def __str__(self) -> str:
        return f"round {self.round_id}, player {self.player}, {self.amount:+d}: {self.what}"


def round_timeout_seconds() -> int:
    """ROUND_TIMEOUT_SECONDS as the provider reads it (its default when unset)."""
    from seamless.provider.settings import ProviderSettings

    default = ProviderSettings.model_fields["round_timeout_seconds"].default
    return int(os.environ.get("ROUND_TIMEOUT_SECONDS") or default)


@dataclass
class Reconciliation:
    rows: list[dict]
    violations: list[str]
    #: provider records that disagree with the casino's stored answers (docs/protocol.md §7a)
    mismatches: list[str] = field(default_factory=list)
    #: rounds not finished yet and parked callbacks: listed, not failures
    open_rounds: list[dict] = field(default_factory=list)
    parked: list[dict] = field(default_factory=list)
    #: the outcome cross-check (sql/checks/outcome.sql): rounds whose movements at the casino
    #: are not what the round, as finally settled, implies for its own player
    differences: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations and not self.mismatches and not self.differences and all(r["ok"] for r in self.rows)

    def table(self) -> str:
        cols = [
            "wallet_id",
            "username",
            "currency",
            "balance",
            "ledger_balance",
            "redeemable",
            "ledger_redeemable",
            "movements",
            "ok",
        ]
        lines = [cols] + [[str(r[c]) for c in cols] for r in self.rows]
        widths = [max(len(line[i]) for line in lines) for i in range(len(cols))]
        out = ["  ".join(v.ljust(w) for v, w in zip(line, widths)) for line in lines]
        out += [f"VIOLATION: {v}" for v in self.violations]
        out += [f"MISMATCH (provider vs casino): {m}" for m in self.mismatches]
        out += [f"DIFFERENCE (round outcome): {d}" for d in self.differences]
        out += [
            f"open round {r['round_id']} ({r['status']}, since {r['updated_at']:%Y-%m-%d %H:%M:%S})" for r in self.open_rounds
        ]
        out += [f"parked: {p['action_type']} {p['transaction_id']} of round {p['round_id']}: {p['note']}" for p in self.parked]
        out.append(f"provider records checked against the casino's stored answers: {len(self.mismatches)} mismatch(es)")
        out.append(f"round outcomes checked against the casino's movements: {len(self.differences)} difference(s)")
        out.append("reconcile: OK" if self.ok else "reconcile: MISMATCH")
        return "\n".join(out)


def reconcile(url: str, *, timeout_seconds: int | None = None) -> Reconciliation:
    """docs/protocol.md §9 for every wallet, the rollback rules over the whole ledger, the §7a
    cross-check of the provider's records against the casino's stored answers, and the outcome
    cross-check of every round the provider recorded (§6, §7a; docs/settlement.md). Run as the
    database owner: it reads both sides' tables."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.cursor(row_factory=dict_row).execute((CHECKS / "reconcile.sql").read_text()).fetchall()
        violations = [row[0] for row in conn.execute((CHECKS / "violations.sql").read_text())]
        violations += [row[0] for row in conn.execute((CHECKS / "funding.sql").read_text())]
        stored = [cls.code for cls in errors.catalog() if cls.stored]
        mismatches = [
            row[0]
            for row in conn.execute(
                (CHECKS / "cross_system.sql").read_text(), {"provider_code": PROVIDER_CODE, "stored_codes": stored}
            )
        ]
        differences = [
            Difference(*row)
            for row in conn.execute(
                (CHECKS / "outcome.sql").read_text(),
                {
                    "provider_code": PROVIDER_CODE,
                    "casino_code": CASINO_CODE,
                    "timeout_seconds": round_timeout_seconds() if timeout_seconds is None else timeout_seconds,
                },
            )
        ]
        cur = conn.cursor(row_factory=dict_row)
        open_rounds = cur.execute(
            "SELECT round_id, status, updated_at FROM provider_game_rounds "
            "WHERE status IN ('open', 'pending_settlement') ORDER BY updated_at"
        ).fetchall()
        parked = cur.execute(
            "SELECT b.action_type, b.transaction_id, r.round_id, b.note FROM provider_bets b "
            "JOIN provider_game_rounds r ON r.id = b.game_round_id WHERE b.state = 'parked' "
            "ORDER BY b.updated_at"
        ).fetchall()
    return Reconciliation(rows, violations, mismatches, open_rounds, parked, differences)


def new_test_database_name() -> str:
    return f"test_{uuid.uuid4().hex[:12]}"
