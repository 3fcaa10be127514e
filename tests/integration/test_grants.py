"""Least privilege in the database (docs/security.md): each app role may run what its side's
code and the ledger functions run, and every other statement below is refused - by the
grants (InsufficientPrivilege) or, for history, by the ledger's triggers (RestrictViolation,
which even the admin meets). The rest of the suite shows the roles can still do all the app
does: every handler runs as its side's role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import errors as pg_errors

from tests.support import admin_conn, call, fetch_one, make_player, new_id, new_session, provider_session_for

DENIED = pg_errors.InsufficientPrivilege
HISTORY = pg_errors.RestrictViolation


@dataclass
class Settled:
    user: str
    wallet: int
    debit: int
    credit: int
    deposit: int
    round_id: str
    session: str
    provider_session: str


@pytest.fixture(scope="module")
def settled(database_url) -> Settled:
    """A player whose round was debited and closed by a credit (finished ledger rows)."""
    user = make_player(database_url, 10_000)
    token = new_session(database_url, user)
    round_id, bet = new_id("round"), new_id("bet")
    assert (
        call(
            "/casino/debit", {"sessionToken": token, "transactionId": bet, "roundId": round_id, "amount": 100, "currency": "USD"}
        ).status
        == 200
    )
    win = {
        "sessionToken": token,
        "transactionId": new_id("win"),
        "roundId": round_id,
        "amount": 50,
        "currency": "USD",
        "betTransactionId": bet,
        "roundClosed": True,
    }
    assert call("/casino/credit", win).status == 200
    with admin_conn(database_url) as conn:
        ids: dict[str, int] = dict(
            conn.execute(
                "SELECT kind, id FROM casino_transactions WHERE user_id = %s AND kind IN ('debit', 'credit', 'deposit')",
                (user,),
            ).fetchall()
        )
        wallet_id, session = fetch_one(conn, "SELECT wallet_id, session_id FROM casino_rounds WHERE round_id = %s", (round_id,))
    return Settled(
        user,
        wallet_id,
        ids["debit"],
        ids["credit"],
        ids["deposit"],
        round_id,
        str(session),
        provider_session_for(database_url, user, token),
    )


def _as(role: str) -> Iterator[psycopg.Connection]:
    from seamless.runtime.settings import common

    with psycopg.connect(common().dsn_for(role), autocommit=True) as conn:
        yield conn


@pytest.fixture
def casino(database_url) -> Iterator[psycopg.Connection]:
    yield from _as("casino_app")


@pytest.fixture
def provider(database_url) -> Iterator[psycopg.Connection]:
    yield from _as("provider_app")


CASINO_REFUSED = [
    # the ledger: no DELETE, no TRUNCATE, no rewrite of who or when
    ("DELETE FROM casino_transactions WHERE id = {s.debit}", DENIED),
    ("TRUNCATE casino_transactions", DENIED),
    ("UPDATE casino_transactions SET user_id = NULL WHERE id = {s.debit}", DENIED),
    ("UPDATE casino_transactions SET created_at = now() WHERE id = {s.debit}", DENIED),
    (
        "INSERT INTO casino_transactions (transaction_id, kind, status, created_at) VALUES ('x', 'deposit', 'accepted', now())",
        DENIED,
    ),
    # the ledger writes each row once, final: no UPDATE of any of its columns
    ("UPDATE casino_transactions SET response_body = '{{}}' WHERE id = {s.debit}", DENIED),
    ("UPDATE casino_transactions SET status = 'rejected', playable_delta = 0 WHERE id = {s.debit}", DENIED),
    ("UPDATE casino_transactions SET amount = 0 WHERE id = {s.credit}", DENIED),
    ("UPDATE casino_transactions SET balance_after = 0 WHERE id = {s.deposit}", DENIED),
    # wallets: balances move, wallets are never created, deleted or re-owned
    ("INSERT INTO casino_wallets (user_id, currency) VALUES ('{s.user}', 'GBP')", DENIED),
    ("DELETE FROM casino_wallets WHERE id = {s.wallet}", DENIED),
    ("UPDATE casino_wallets SET user_id = user_id WHERE id = {s.wallet}", DENIED),
    ("UPDATE casino_wallets SET currency = 'EUR' WHERE id = {s.wallet}", DENIED),
    ("TRUNCATE casino_wallets", DENIED),
    # players, games, providers, the error catalogue: read only
    ("UPDATE casino_users SET status = 'active' WHERE id = '{s.user}'", DENIED),
    ("INSERT INTO casino_users (id, username) VALUES (gen_random_uuid(), 'mallory')", DENIED),
    ("DELETE FROM casino_users WHERE id = '{s.user}'", DENIED),
    ("UPDATE casino_game_providers SET api_base_url = 'https://attacker.invalid'", DENIED),
    ("UPDATE casino_game_providers SET secret_ref = 'CASINO_SECRET'", DENIED),
    ("INSERT INTO casino_game_providers (code, name, api_base_url, secret_ref) VALUES ('x', 'x', 'x', 'x')", DENIED),
    ("UPDATE casino_games SET max_bet = 1000000000000", DENIED),
    ("DELETE FROM casino_games", DENIED),
    ("UPDATE casino_error_catalog SET http_status = 200", DENIED),
    # sessions: never extended, re-pointed or deleted
    ("UPDATE casino_game_sessions SET expires_at = now() + interval '1 year' WHERE id = '{s.session}'", DENIED),
    ("UPDATE casino_game_sessions SET wallet_id = wallet_id WHERE id = '{s.session}'", DENIED),
    ("UPDATE casino_game_sessions SET token_hash = token_hash WHERE id = '{s.session}'", DENIED),
    ("DELETE FROM casino_game_sessions WHERE id = '{s.session}'", DENIED),
    # rounds: a credited, closed, committed round stays as it is
    ("UPDATE casino_rounds SET has_credit = false WHERE round_id = '{s.round_id}'", HISTORY),
    ("UPDATE casino_rounds SET closed = false WHERE round_id = '{s.round_id}'", HISTORY),
    ("DELETE FROM casino_rounds WHERE round_id = '{s.round_id}'", HISTORY),
    ("UPDATE casino_rounds SET session_id = session_id WHERE round_id = '{s.round_id}'", DENIED),
    ("UPDATE casino_rounds SET wallet_id = wallet_id WHERE round_id = '{s.round_id}'", DENIED),
    # a tombstone is a ledger row (ledger v3): the role can neither lift nor delete it
    ("UPDATE casino_transactions SET tombstone = false WHERE tombstone", DENIED),
    ("DELETE FROM casino_transactions WHERE tombstone", DENIED),
    # the provider's side
    ("SELECT 1 FROM provider_sessions LIMIT 1", DENIED),
    ("UPDATE provider_casinos SET callback_base_url = 'x'", DENIED),
    # nothing new in the shared schema: no shadowing of the ledger's names
    ("CREATE TABLE public.casino_wallets_shadow (id INT)", DENIED),
    ("CREATE FUNCTION public.now() RETURNS TIMESTAMPTZ LANGUAGE sql AS 'SELECT NULL::TIMESTAMPTZ'", DENIED),
    ("CREATE TEMPORARY TABLE casino_error_catalog (code TEXT)", DENIED),
    ("CREATE SCHEMA shadow", DENIED),
]

PROVIDER_REFUSED = [
    (f"DELETE FROM {table}", DENIED)
    for table in (
        "provider_games",
        "provider_casinos",
        "provider_casino_users",
        "provider_sessions",
        "provider_game_rounds",
        "provider_bets",
    )
] + [
    ("UPDATE provider_casinos SET callback_base_url = 'https://attacker.invalid'", DENIED),
    ("UPDATE provider_casinos SET secret_ref = 'PROVIDER_SECRET'", DENIED),
    ("INSERT INTO provider_casinos (code, name, callback_base_url, secret_ref) VALUES ('x', 'x', 'x', 'x')", DENIED),
    ("UPDATE provider_games SET active = true", DENIED),
    ("INSERT INTO provider_games (code, name) VALUES ('x', 'x')", DENIED),
    ("UPDATE provider_sessions SET casino_user_id = casino_user_id WHERE id = '{s.provider_session}'", DENIED),
    ("UPDATE provider_sessions SET game_id = game_id WHERE id = '{s.provider_session}'", DENIED),
    ("UPDATE provider_casino_users SET casino_id = casino_id", DENIED),
    ("TRUNCATE provider_bets", DENIED),
    ("SELECT 1 FROM casino_wallets LIMIT 1", DENIED),
    ("UPDATE casino_wallets SET playable_balance = playable_balance + 1", DENIED),
    ("SELECT * FROM ledger.debit('\\x00', 'a', 'b', 1, 'USD')", DENIED),
    ("CREATE TABLE public.provider_shadow (id INT)", DENIED),
    ("CREATE TEMPORARY TABLE provider_sessions (id TEXT)", DENIED),
]


@pytest.mark.parametrize(("statement", "error"), CASINO_REFUSED, ids=[s for s, _ in CASINO_REFUSED])
def test_the_casino_role_is_refused(casino, settled, statement, error):
    with pytest.raises(error):
        casino.execute(statement.format(s=settled))


@pytest.mark.parametrize(("statement", "error"), PROVIDER_REFUSED, ids=[s for s, _ in PROVIDER_REFUSED])
def test_the_provider_role_is_refused(provider, settled, statement, error):
    with pytest.raises(error):
        provider.execute(statement.format(s=settled))


def test_the_refusals_changed_nothing(database_url, settled):
    with admin_conn(database_url) as conn:
        rows = conn.execute(
            "SELECT kind, status, amount, playable_delta FROM casino_transactions WHERE user_id = %s ORDER BY id",
            (settled.user,),
        ).fetchall()
        assert rows == [("deposit", "accepted", 10_000, 10_000), ("debit", "accepted", 100, -100), ("credit", "accepted", 50, 50)]
        assert fetch_one(conn, "SELECT has_credit, closed FROM casino_rounds WHERE round_id = %s", (settled.round_id,)) == (
            True,
            True,
        )


def test_even_the_admin_cannot_rewrite_or_delete_ledger_history(database_url, settled):
    with admin_conn(database_url) as conn:
        with pytest.raises(HISTORY, match="a finished ledger row never changes"):
            conn.execute("UPDATE casino_transactions SET amount = 1 WHERE id = %s", (settled.debit,))
        with pytest.raises(HISTORY, match="append-only"):
            conn.execute("DELETE FROM casino_transactions WHERE id = %s", (settled.deposit,))


def test_a_pending_row_is_finished_once_and_then_final(database_url):
    """What every ledger function does - insert pending, finish in the same transaction - and
    no second finish afterwards, whoever tries."""
    user = make_player(database_url, 1)
    with admin_conn(database_url) as conn:
        with conn.transaction():
            row = fetch_one(
                conn,
                "INSERT INTO casino_transactions (transaction_id, kind, status, user_id) "
                "VALUES (%s, 'deposit', 'pending', %s) RETURNING id",
                (new_id("dep"), user),
            )[0]
            conn.execute("UPDATE casino_transactions SET amount = 0 WHERE id = %s", (row,))  # still pending: allowed
            conn.execute("UPDATE casino_transactions SET status = 'rejected' WHERE id = %s", (row,))
        with pytest.raises(HISTORY):
            conn.execute("UPDATE casino_transactions SET status = 'accepted' WHERE id = %s", (row,))


def test_a_round_created_and_refused_in_one_transaction_is_dropped_again(database_url, casino):
    """ledger.drop_round_if_created: the only DELETE of a round, by the request that created it."""
    user = make_player(database_url, 1_000)
    token = new_session(database_url, user)
    round_id = new_id("round")
    r = call(
        "/casino/debit",
        {"sessionToken": token, "transactionId": new_id("bet"), "roundId": round_id, "amount": 5_000, "currency": "USD"},
    )
    assert r.code == "INSUFFICIENT_FUNDS"
    assert casino.execute("SELECT count(*) FROM casino_rounds WHERE round_id = %s", (round_id,)).fetchone() == (0,)


def _functions(conn: psycopg.Connection, schemas: tuple[str, ...]) -> list[tuple[str, list[str] | None]]:
    return conn.execute(
        "SELECT p.oid::regprocedure::text, p.proconfig FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = ANY(%s) OR (n.nspname = 'public' AND p.proname LIKE 'casino\\_%%') ORDER BY 1",
        (list(schemas),),
    ).fetchall()


#: the helpers the (pinned) callbacks call on every request (ledger v3): a SET clause would stop
#: the planner inlining the SQL ones (test_wallet_rules checks a plan) and costs each call of the
#: others a GUC save and restore. Each names its tables by schema instead (the shadowing test below
#: calls them under a hostile search_path).
UNPINNED = {
    "ledger.stored_transaction(text)",
    "ledger.request_hash(text,uuid,text,text,bigint,text,boolean)",
    "ledger.session_by_token(bytea)",
    "ledger.stored_answer(bigint,text,bytea,uuid)",
    "ledger.lock_bet_id(bigint,text)",
    "ledger.tombstones(bigint,text)",
    "ledger.debit_credit_hash(uuid,text,text,bigint,boolean,text,text,bigint)",
    "ledger.win_redeemable(bigint,bigint,bigint)",
    "ledger.error_body(text,jsonb)",
    "ledger.record(bigint,text,text,bytea,uuid,uuid,bigint,text,text,bigint,boolean,boolean,uuid,text,jsonb,bigint,bigint,"
    "bigint,bigint,text)",
}


def test_every_ledger_function_pins_its_search_path(database_url):
    with admin_conn(database_url) as conn:
        functions = _functions(conn, ("ledger", "casino_retention", "provider_retention"))
    assert len(functions) >= 12  # the ledger (helpers and callbacks) and both retention schemas
    for name, config in functions:
        if name.replace(" ", "") in UNPINNED:
            assert config is None, name
            continue
        assert config == ["search_path=pg_catalog, public, pg_temp"], name


def test_a_shadowing_schema_earlier_in_the_callers_path_changes_nothing(database_url, casino):
    """Were a schema with a look-alike table first in the role's search_path (the attack that
    CREATE on public opened), the ledger still reads its own tables."""
    with admin_conn(database_url) as conn:
        conn.execute("DROP SCHEMA IF EXISTS shadow CASCADE")
        conn.execute("CREATE SCHEMA shadow")
        conn.execute("CREATE TABLE shadow.casino_error_catalog (LIKE public.casino_error_catalog)")
        conn.execute("INSERT INTO shadow.casino_error_catalog VALUES ('SESSION_NOT_FOUND', 200, 'planted')")
        conn.execute("GRANT USAGE ON SCHEMA shadow TO casino_app")
        conn.execute("GRANT SELECT ON shadow.casino_error_catalog TO casino_app")
    try:
        casino.execute("SET search_path = shadow, public")
        assert casino.execute("SELECT message FROM casino_error_catalog").fetchone() == ("planted",)  # the trap works
        status, body, _ = fetch_one(casino, "SELECT * FROM ledger.get_balance('\\x00')")
        assert status == 404 and "planted" not in body
        # the unpinned helpers, called directly under that path, name their tables by schema
        status, body = fetch_one(casino, "SELECT * FROM ledger.error_body('SESSION_NOT_FOUND')")
        assert status == 404 and "planted" not in body
    finally:
        with admin_conn(database_url) as conn:
            conn.execute("DROP SCHEMA shadow CASCADE")


def test_nobody_but_the_owner_creates_in_public(database_url):
    with admin_conn(database_url) as conn:
        assert fetch_one(conn, "SELECT has_schema_privilege('public', 'public', 'CREATE')") == (False,)
        assert fetch_one(conn, "SELECT has_database_privilege('public', current_database(), 'TEMPORARY')") == (False,)


# ------------------------------------------------------------------ the grant table itself (docs/security.md)

CASINO_TABLE_GRANTS = {
    "casino_users": {"SELECT"},
    "casino_games": {"SELECT"},
    "casino_game_providers": {"SELECT"},
    "casino_error_catalog": {"SELECT"},
    "casino_currencies": {"SELECT"},
    "casino_game_limits": {"SELECT"},
    "casino_wallets": {"SELECT"},
    "casino_game_sessions": {"SELECT"},
    "casino_transactions": {"SELECT"},
    "casino_rounds": {"SELECT", "DELETE"},
    # the ledger draws a row's id before writing it once (casinoTransactionId is in its body)
    "casino_transactions_id_seq": {"USAGE"},
}
CASINO_COLUMN_GRANTS = {
    ("casino_wallets", "UPDATE"): {"playable_balance", "redeemable_balance", "updated_at"},
    ("casino_game_sessions", "INSERT"): {
        "id",
        "token_hash",
        "user_id",
        "wallet_id",
        "game_id",
        "provider_id",
        "currency",
        "status",
        "expires_at",
    },
    ("casino_game_sessions", "UPDATE"): {"status", "provider_session_id", "launch_url"},
    ("casino_transactions", "INSERT"): {
        "provider_id",
        "transaction_id",
        "kind",
        "status",
        "request_hash",
        "session_id",
        "user_id",
        "wallet_id",
        "round_id",
        "bet_transaction_id",
        "amount",
        "round_closed",
        "invocation_id",
        "id",
        "tombstone",
        "playable_delta",
        "redeemable_delta",
        "balance_after",
        "redeemable_after",
        "error_code",
        "response_status",
        "response_body",
    },
    ("casino_rounds", "INSERT"): {"provider_id", "round_id", "session_id", "wallet_id", "has_credit", "closed"},
    ("casino_rounds", "UPDATE"): {"has_credit", "closed"},
}
PROVIDER_TABLE_GRANTS = {
    "provider_games": {"SELECT"},
    "provider_casinos": {"SELECT"},
    "provider_casino_users": {"SELECT"},
    "provider_sessions": {"SELECT", "INSERT"},
    "provider_game_rounds": {"SELECT", "INSERT", "UPDATE"},
    "provider_bets": {"SELECT", "INSERT", "UPDATE"},
}
PROVIDER_COLUMN_GRANTS = {
    ("provider_casino_users", "INSERT"): {"casino_id", "casino_player_id"},
    ("provider_casino_users", "UPDATE"): {"casino_player_id"},
    ("provider_sessions", "UPDATE"): {"casino_session_token"},
}


def _grants(conn: psycopg.Connection, role: str) -> tuple[dict[str, set[str]], dict[tuple[str, str], set[str]]]:
    tables: dict[str, set[str]] = {}
    for table, privilege in conn.execute(
        "SELECT c.relname, a.privilege_type FROM pg_class c, aclexplode(c.relacl) a "
        "WHERE c.relnamespace = 'public'::regnamespace AND a.grantee = %s::regrole",
        (role,),
    ):
        tables.setdefault(table, set()).add(privilege)
    columns: dict[tuple[str, str], set[str]] = {}
    for table, column, privilege in conn.execute(
        "SELECT c.relname, att.attname, a.privilege_type FROM pg_attribute att JOIN pg_class c ON c.oid = att.attrelid, "
        "aclexplode(att.attacl) a WHERE c.relnamespace = 'public'::regnamespace AND a.grantee = %s::regrole",
        (role,),
    ):
        columns.setdefault((table, privilege), set()).add(column)
    return tables, columns


def test_the_casino_role_holds_exactly_the_documented_grants(database_url):
    with admin_conn(database_url) as conn:
        tables, columns = _grants(conn, "casino_app")
    assert tables == CASINO_TABLE_GRANTS
    assert columns == CASINO_COLUMN_GRANTS


def test_the_provider_role_holds_the_documented_grants_and_never_delete(database_url):
    """Exact for the tables listed; a provider table added later (settlement's) may have its own
    grants, but never DELETE or TRUNCATE."""
    with admin_conn(database_url) as conn:
        tables, columns = _grants(conn, "provider_app")
    assert {t: p for t, p in tables.items() if t in PROVIDER_TABLE_GRANTS} == PROVIDER_TABLE_GRANTS
    assert {k: c for k, c in columns.items() if k[0] in PROVIDER_TABLE_GRANTS} == PROVIDER_COLUMN_GRANTS
    assert not {t for t, p in tables.items() if p & {"DELETE", "TRUNCATE"}}
    assert all(t.startswith("provider_") for t in tables)


def test_a_database_migrated_with_broader_grants_loses_them_on_the_next_migrate(database_url):
    from devtools import admin

    with admin_conn(database_url) as conn:
        conn.execute("GRANT ALL ON casino_transactions, casino_wallets TO casino_app")
        conn.execute("GRANT ALL ON provider_bets TO provider_app")
        assert fetch_one(conn, "SELECT has_table_privilege('casino_app', 'casino_transactions', 'DELETE')") == (True,)
    admin.migrate(database_url, quiet=True)
    with admin_conn(database_url) as conn:
        assert _grants(conn, "casino_app") == (CASINO_TABLE_GRANTS, CASINO_COLUMN_GRANTS)
        assert fetch_one(conn, "SELECT has_table_privilege('provider_app', 'provider_bets', 'DELETE')") == (False,)
