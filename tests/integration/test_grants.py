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
    bet: str
    provider_id: int
    other_user: str


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
        wallet_id, session, provider_id = fetch_one(
            conn, "SELECT wallet_id, session_id, provider_id FROM casino_rounds WHERE round_id = %s", (round_id,)
        )
    return Settled(
        user,
        wallet_id,
        ids["debit"],
        ids["credit"],
        ids["deposit"],
        round_id,
        str(session),
        provider_session_for(database_url, user, token),
        bet,
        provider_id,
        make_player(database_url, 1),
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


#: the ledger's bet-id lock key of a bet id (ledger.lock_bet_id): anyone can compute it
BET_LOCK = "pg_advisory_xact_lock(hashtextextended('{s.bet}', {s.provider_id}))"

#: what either role tries against the database itself: locks, large objects, new objects, itself
BOTH_REFUSED = [
    # the ledger's bet-id lock, and any advisory lock (sql/database.sql)
    (f"SELECT {BET_LOCK}", DENIED),
    ("SELECT pg_try_advisory_xact_lock(hashtextextended('{s.bet}', {s.provider_id}))", DENIED),
    ("SELECT pg_advisory_lock(hashtextextended('{s.bet}', {s.provider_id}))", DENIED),
    ("SELECT pg_advisory_lock_shared(1, 2)", DENIED),
    ("SELECT pg_try_advisory_lock(727272)", DENIED),
    # large objects: no storage outside the project's tables
    ("SELECT lo_create(0)", DENIED),
    ("SELECT lo_creat(-1)", DENIED),
    ("SELECT lo_from_bytea(0, 'x')", DENIED),
    ("SELECT lo_import('/etc/hostname')", DENIED),
    # nothing new in the shared schema, no schema, no temporary object: no shadowing of names
    ("CREATE TABLE public.shadow_table (id INT)", DENIED),
    ("CREATE FUNCTION public.now() RETURNS TIMESTAMPTZ LANGUAGE sql AS 'SELECT NULL::TIMESTAMPTZ'", DENIED),
    ("CREATE FUNCTION ledger.planted() RETURNS INT LANGUAGE sql AS 'SELECT 1'", DENIED),
    ("CREATE TEMPORARY TABLE casino_error_catalog (code TEXT)", DENIED),
    ("CREATE FUNCTION pg_temp.planted() RETURNS INT LANGUAGE sql AS 'SELECT 1'", DENIED),
    ("CREATE SCHEMA shadow", DENIED),
    # the owners never log in, and neither login role can become one
    ("SET ROLE casino_owner", DENIED),
    ("SET ROLE provider_owner", DENIED),
    # ALTER ROLE: beyond its own password and session defaults (test_trust_boundaries shows what
    # happens to those), nothing of a role may be changed by itself
    ("ALTER ROLE {role} CONNECTION LIMIT 0", DENIED),
    ("ALTER ROLE {role} NOLOGIN", DENIED),
    ("ALTER ROLE {role} CREATEROLE", DENIED),
    ("ALTER ROLE {role} BYPASSRLS", DENIED),
    ("ALTER ROLE {role} SET event_triggers = off", DENIED),
    ("ALTER ROLE {role} RENAME TO mallory", pg_errors.FeatureNotSupported),  # and not by the role anyway
    ("ALTER ROLE {other} PASSWORD 'x'", DENIED),
    ("ALTER ROLE {other} SET statement_timeout = 0", DENIED),
    ("ALTER ROLE casino_owner LOGIN PASSWORD 'x'", DENIED),
    ("ALTER EVENT TRIGGER app_roles_login_settings DISABLE", DENIED),
    ("DROP EVENT TRIGGER app_roles_login_settings", DENIED),
]

CASINO_REFUSED = [
    # the ledger: a leaked password adds no row, changes none, deletes none
    (
        "INSERT INTO casino_transactions (transaction_id, kind, status, user_id, wallet_id, amount, playable_delta, "
        "redeemable_delta, balance_after, redeemable_after) VALUES ('mint', 'deposit', 'accepted', '{s.user}', "
        "{s.wallet}, 5000000, 5000000, 5000000, 5000000, 5000000)",
        DENIED,
    ),
    (
        "INSERT INTO casino_transactions (transaction_id, kind, status, created_at) VALUES ('x', 'deposit', 'accepted', now())",
        DENIED,
    ),
    ("DELETE FROM casino_transactions WHERE id = {s.debit}", DENIED),
    ("TRUNCATE casino_transactions", DENIED),
    ("UPDATE casino_transactions SET user_id = NULL WHERE id = {s.debit}", DENIED),
    ("UPDATE casino_transactions SET created_at = now() WHERE id = {s.debit}", DENIED),
    ("UPDATE casino_transactions SET response_body = '{{}}' WHERE id = {s.debit}", DENIED),
    ("UPDATE casino_transactions SET status = 'rejected', playable_delta = 0 WHERE id = {s.debit}", DENIED),
    ("UPDATE casino_transactions SET amount = 0 WHERE id = {s.credit}", DENIED),
    ("UPDATE casino_transactions SET balance_after = 0 WHERE id = {s.deposit}", DENIED),
    ("UPDATE casino_transactions SET tombstone = false WHERE tombstone", DENIED),
    ("DELETE FROM casino_transactions WHERE tombstone", DENIED),
    ("SELECT nextval('casino_transactions_id_seq')", DENIED),
    # wallets: no balance changes but through a callback, no wallet made or moved, no row lock
    (
        "UPDATE casino_wallets SET playable_balance = playable_balance + 5000000, "
        "redeemable_balance = redeemable_balance + 5000000 WHERE id = {s.wallet}",
        DENIED,
    ),
    ("UPDATE casino_wallets SET updated_at = now() WHERE id = {s.wallet}", DENIED),
    ("INSERT INTO casino_wallets (user_id, currency) VALUES ('{s.user}', 'GBP')", DENIED),
    ("DELETE FROM casino_wallets WHERE id = {s.wallet}", DENIED),
    ("UPDATE casino_wallets SET user_id = user_id WHERE id = {s.wallet}", DENIED),
    ("TRUNCATE casino_wallets", DENIED),
    ("SELECT 1 FROM casino_wallets WHERE id = {s.wallet} FOR UPDATE", DENIED),
    ("SELECT 1 FROM casino_wallets WHERE id = {s.wallet} FOR KEY SHARE", DENIED),
    ("LOCK TABLE casino_wallets IN EXCLUSIVE MODE", DENIED),
    ("ALTER TABLE casino_wallets DROP CONSTRAINT playable_balance_within_limit", DENIED),
    ("ALTER TABLE casino_transactions DISABLE TRIGGER USER", DENIED),
    # sessions: made only by ledger.open_session (its player's wallet, an expiry it computes)
    (
        "INSERT INTO casino_game_sessions (id, token_hash, user_id, wallet_id, game_id, provider_id, currency, status, "
        "expires_at) SELECT gen_random_uuid(), sha256('forged'), '{s.other_user}', {s.wallet}, g.id, g.provider_id, "
        "'USD', 'active', now() + interval '1 year' FROM casino_games g LIMIT 1",
        DENIED,
    ),
    ("UPDATE casino_game_sessions SET expires_at = now() + interval '1 year' WHERE id = '{s.session}'", DENIED),
    ("UPDATE casino_game_sessions SET status = 'active' WHERE id = '{s.session}'", DENIED),
    ("UPDATE casino_game_sessions SET wallet_id = wallet_id WHERE id = '{s.session}'", DENIED),
    ("DELETE FROM casino_game_sessions WHERE id = '{s.session}'", DENIED),
    # rounds: neither made, settled, reopened nor dropped outside the ledger
    (
        "INSERT INTO casino_rounds (provider_id, round_id, session_id, wallet_id) "
        "VALUES ({s.provider_id}, 'planted', '{s.session}', {s.wallet})",
        DENIED,
    ),
    ("UPDATE casino_rounds SET has_credit = false WHERE round_id = '{s.round_id}'", DENIED),
    ("UPDATE casino_rounds SET closed = false WHERE round_id = '{s.round_id}'", DENIED),
    ("DELETE FROM casino_rounds WHERE round_id = '{s.round_id}'", DENIED),
    # players, games, providers, the error catalogue
    ("UPDATE casino_users SET status = 'active' WHERE id = '{s.user}'", DENIED),
    ("INSERT INTO casino_users (id, username) VALUES (gen_random_uuid(), 'mallory')", DENIED),
    ("DELETE FROM casino_users WHERE id = '{s.user}'", DENIED),
    ("UPDATE casino_game_providers SET api_base_url = 'https://attacker.invalid'", DENIED),
    ("UPDATE casino_game_providers SET disabled = false", DENIED),
    ("INSERT INTO casino_game_providers (code, name, api_base_url, secret_ref) VALUES ('x', 'x', 'x', 'x')", DENIED),
    ("UPDATE casino_games SET max_bet = 1000000000000", DENIED),
    ("UPDATE casino_games SET active = true", DENIED),
    ("DELETE FROM casino_games", DENIED),
    ("UPDATE casino_error_catalog SET http_status = 200", DENIED),
    ("UPDATE casino_ledger_settings SET value = 315360000", DENIED),
    # the ledger's helpers run inside its entry points only; the owner's functions stay its own
    ("SELECT ledger.lock_bet_id({s.provider_id}, '{s.bet}')", DENIED),
    (
        "SELECT * FROM ledger.record({s.provider_id}, 'mint', 'credit', NULL, '{s.session}', '{s.user}', {s.wallet}, "
        "'r', NULL, 5000000, false, false, NULL, NULL, '{{}}', 5000000, 5000000, 5010000, 5010000, 'USD')",
        DENIED,
    ),
    (
        "ALTER FUNCTION ledger.credit(bytea, text, text, bigint, text, text, boolean, uuid, text, text, text) SECURITY INVOKER",
        DENIED,
    ),
    ("DROP FUNCTION ledger.debit(bytea, text, text, bigint, text, uuid)", DENIED),
    # the provider's side
    ("SELECT 1 FROM provider_sessions LIMIT 1", DENIED),
    ("UPDATE provider_casinos SET callback_base_url = 'x'", DENIED),
    (
        "INSERT INTO provider_bets (game_round_id, action_index, action_type, endpoint, transaction_id, amount, payload) "
        "VALUES (1, 99, 'win', '/casino/credit', 'x', 1, '{{}}')",
        DENIED,
    ),
    ("SELECT * FROM provider_retention.purge_casino_session_tokens(0, 0)", DENIED),
] + BOTH_REFUSED

PROVIDER_REFUSED = (
    [
        (f"DELETE FROM {table}", DENIED)
        for table in (
            "provider_games",
            "provider_casinos",
            "provider_casino_users",
            "provider_sessions",
            "provider_game_rounds",
            "provider_bets",
        )
    ]
    + [
        ("UPDATE provider_casinos SET callback_base_url = 'https://attacker.invalid'", DENIED),
        ("UPDATE provider_casinos SET secret_ref = 'PROVIDER_SECRET'", DENIED),
        ("INSERT INTO provider_casinos (code, name, callback_base_url, secret_ref) VALUES ('x', 'x', 'x', 'x')", DENIED),
        ("UPDATE provider_games SET active = true", DENIED),
        ("INSERT INTO provider_games (code, name) VALUES ('x', 'x')", DENIED),
        ("UPDATE provider_sessions SET casino_user_id = casino_user_id WHERE id = '{s.provider_session}'", DENIED),
        ("UPDATE provider_sessions SET game_id = game_id WHERE id = '{s.provider_session}'", DENIED),
        ("UPDATE provider_casino_users SET casino_id = casino_id", DENIED),
        ("TRUNCATE provider_bets", DENIED),
        # the tables' owner is provider_owner: no DDL, no trigger switched off, no grant passed on
        ("ALTER TABLE provider_bets ADD COLUMN planted TEXT", DENIED),
        ("ALTER TABLE provider_bets DISABLE TRIGGER ALL", DENIED),
        ("DROP TABLE provider_bets", DENIED),
        # the casino's side: tables, the ledger's functions, its purge
        ("SELECT 1 FROM casino_wallets LIMIT 1", DENIED),
        ("UPDATE casino_wallets SET playable_balance = playable_balance + 1", DENIED),
        (
            "INSERT INTO casino_game_sessions (id, token_hash, user_id, wallet_id, game_id, provider_id, currency, expires_at) "
            "VALUES (gen_random_uuid(), sha256('x'), '{s.user}', {s.wallet}, gen_random_uuid(), 1, 'USD', now())",
            DENIED,
        ),
        ("SELECT * FROM ledger.debit('\\x00', 'a', 'b', 1, 'USD')", DENIED),
        ("SELECT * FROM ledger.credit('\\x00', 'a', 'b', 1, 'USD', NULL, false)", DENIED),
        ("SELECT * FROM ledger.open_session(gen_random_uuid(), sha256('x'), '{s.user}', gen_random_uuid(), 'USD', 60)", DENIED),
        ("SELECT * FROM casino_retention.purge()", DENIED),
    ]
    + BOTH_REFUSED
)


def _attempt(conn: psycopg.Connection, statement: str) -> str:
    """Runs one statement in a transaction that is always rolled back: the exception's name, or
    ALLOWED (an unexpected success then changes nothing either)."""
    try:
        with conn.transaction(force_rollback=True):
            conn.execute(statement)
    except psycopg.Error as exc:
        return type(exc).__name__
    return "ALLOWED"


def _try_everything(conn: psycopg.Connection, role: str, attempts: list, fill: dict) -> list[tuple[str, str, str]]:
    """Every statement as the role, with its outcome (printed: `pytest -s` shows the record)."""
    report = []
    for statement, expected in attempts:
        text = statement.format(**fill)
        report.append((text, expected.__name__, _attempt(conn, text)))
    width = max(len(outcome) for _, _, outcome in report)
    print(f"\n{role}: {len(report)} statements tried")
    for text, _, outcome in report:
        print(f"  {outcome:<{width}}  {text}")
    return report


def test_the_casino_role_is_refused_every_direct_write_and_forbidden_statement(casino, settled):
    report = _try_everything(casino, "casino_app", CASINO_REFUSED, {"s": settled, "role": "casino_app", "other": "provider_app"})
    assert [r for r in report if r[2] == "ALLOWED"] == []  # no unexpected success
    assert [r for r in report if r[1] != r[2]] == []  # each refused for the reason expected


def test_the_provider_role_is_refused_every_direct_write_and_forbidden_statement(provider, settled):
    report = _try_everything(
        provider, "provider_app", PROVIDER_REFUSED, {"s": settled, "role": "provider_app", "other": "casino_app"}
    )
    assert [r for r in report if r[2] == "ALLOWED"] == []
    assert [r for r in report if r[1] != r[2]] == []


def test_a_statement_the_role_may_run_is_reported_allowed(casino, settled):
    """The harness itself: a statement the role may run is not mistaken for a refusal, and a
    wrong expectation fails (so the two tests above can fail)."""
    report = _try_everything(casino, "casino_app", [("SELECT 1 FROM casino_wallets LIMIT 1", DENIED)], {"s": settled})
    assert report[0][2] == "ALLOWED" and report[0][1] != report[0][2]


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


def test_a_round_created_and_refused_in_one_transaction_is_dropped_again(database_url):
    """ledger.drop_round_if_created: the only DELETE of a round, by the request that created it."""
    user = make_player(database_url, 1_000)
    token = new_session(database_url, user)
    round_id = new_id("round")
    r = call(
        "/casino/debit",
        {"sessionToken": token, "transactionId": new_id("bet"), "roundId": round_id, "amount": 5_000, "currency": "USD"},
    )
    assert r.code == "INSUFFICIENT_FUNDS"
    with admin_conn(database_url) as conn:
        assert fetch_one(conn, "SELECT count(*) FROM casino_rounds WHERE round_id = %s", (round_id,)) == (0,)


def _functions(conn: psycopg.Connection, schemas: tuple[str, ...]) -> list[tuple[str, list[str] | None]]:
    return conn.execute(
        "SELECT p.oid::regprocedure::text, p.proconfig FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = ANY(%s) OR (n.nspname = 'public' AND p.proname LIKE 'casino\\_%%') ORDER BY 1",
        (list(schemas),),
    ).fetchall()


#: the helpers the (pinned) callbacks call on every request (ledger v3): a SET clause would stop
#: the planner inlining the SQL ones (test_wallet_rules checks a plan) and costs each call of the
#: others a GUC save and restore. Each names its tables by schema instead (the shadowing test below
#: calls them under a hostile search_path). They run as the owner inside an entry point: no
#: SECURITY DEFINER of their own (which would stop inlining too), and casino_app cannot call them.
UNPINNED = {
    "ledger.stored_transaction(text)",
    "ledger.request_hash(text,uuid,text,text,bigint,text,boolean)",
    "ledger.session_by_token(bytea)",
    "ledger.stored_answer(bigint,text,bytea,uuid)",
    "ledger.lock_bet_id(bigint,text)",
    "ledger.tombstones(bigint,text)",
    "ledger.debit_credit_hash(uuid,text,text,bigint,boolean,text,text,bigint)",
    "ledger.win_redeemable(bigint,bigint,bigint)",
    "ledger.credit_hash(uuid,text,text,bigint,text,boolean,text,text,text)",
    "ledger.promotion_is_bonus(text)",
    "ledger.error_body(text,jsonb)",
    "ledger.balance_limit()",
    "ledger.record(bigint,text,text,bytea,uuid,uuid,bigint,text,text,bigint,boolean,boolean,uuid,text,jsonb,bigint,bigint,"
    "bigint,bigint,text,text,text,text)",
    # the hash chain's recipe, inlined into its trigger's expression (migration 0007)
    "casino_chain_hash_of(casino_transactions,text)",
    "casino_chain_row_hash(text,bigint,bigint,text,text,text,bigint,bigint,bigint,text,uuid,text,text,text,"
    "timestampwithtimezone)",
}
#: what casino_app may call: the SECURITY DEFINER entry points, owned by casino_owner
ENTRY_POINTS = {
    "ledger.get_balance(bytea)",
    "ledger.debit(bytea,text,text,bigint,text,uuid)",
    "ledger.credit(bytea,text,text,bigint,text,text,boolean,uuid,text,text,text)",
    "ledger.rollback(bytea,text,text,text,uuid)",
    "ledger.debit_credit(bytea,text,text,text,bigint,bigint,text,boolean,uuid)",
    "ledger.open_session(uuid,bytea,uuid,uuid,text,integer)",
    "ledger.activate_session(uuid,text,text)",
    "ledger.fail_session(uuid)",
    "ledger.open_grant(text,uuid,uuid,text,integer,bigint,timestampwithtimezone,text)",
    "ledger.settle_grant(text,boolean)",
    "ledger.cancel_grant(text)",
    "casino_retention.purge(integer,integer,integer,integer,integer)",
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


def test_the_casino_role_may_call_exactly_the_ledgers_security_definer_functions(database_url):
    with admin_conn(database_url) as conn:
        rows = conn.execute(
            "SELECT p.oid::regprocedure::text, p.prosecdef, pg_get_userbyid(p.proowner), "
            "has_function_privilege('casino_app', p.oid, 'EXECUTE'), has_function_privilege('provider_app', p.oid, 'EXECUTE') "
            "FROM pg_proc p WHERE p.pronamespace IN ('ledger'::regnamespace, 'casino_retention'::regnamespace)"
        ).fetchall()
    rows = [(name.replace(" ", ""), definer, owner, casino, provider) for name, definer, owner, casino, provider in rows]
    assert {name for name, definer, *_ in rows if definer} == ENTRY_POINTS
    assert {name for name, _, _, casino, _ in rows if casino} == ENTRY_POINTS
    assert {owner for _, _, owner, _, _ in rows} == {"casino_owner"}
    assert not [row[0] for row in rows if row[4]]


def test_the_tables_belong_to_owner_roles_that_cannot_log_in(database_url):
    with admin_conn(database_url) as conn:
        owners = dict(
            conn.execute(
                "SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_class c "
                "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' "
                "AND (c.relname LIKE 'casino\\_%%' OR c.relname LIKE 'provider\\_%%')"
            ).fetchall()
        )
        roles = dict(
            conn.execute(
                "SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname IN "
                "('casino_owner', 'provider_owner', 'casino_app', 'provider_app')"
            ).fetchall()
        )
        members = conn.execute(
            "SELECT pg_get_userbyid(member) FROM pg_auth_members WHERE roleid IN "
            "('casino_owner'::regrole, 'provider_owner'::regrole)"
        ).fetchall()
    assert owners and {t: o for t, o in owners.items() if t.startswith("casino_")} == {
        t: "casino_owner" for t in owners if t.startswith("casino_")
    }
    assert {t: o for t, o in owners.items() if t.startswith("provider_")} == {
        t: "provider_owner" for t in owners if t.startswith("provider_")
    }
    assert roles == {"casino_owner": False, "provider_owner": False, "casino_app": True, "provider_app": True}
    assert not {m for (m,) in members} & {"casino_app", "provider_app"}


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
        # the unpinned helpers (the owner's: casino_app cannot call them), called directly under
        # that path, name their tables by schema
        with admin_conn(database_url) as conn:
            conn.execute("SET search_path = shadow, public")
            status, body = fetch_one(conn, "SELECT * FROM ledger.error_body('SESSION_NOT_FOUND')")
        assert status == 404 and "planted" not in body
    finally:
        with admin_conn(database_url) as conn:
            conn.execute("DROP SCHEMA shadow CASCADE")


def test_nobody_but_the_owner_creates_in_public(database_url):
    with admin_conn(database_url) as conn:
        assert fetch_one(conn, "SELECT has_schema_privilege('public', 'public', 'CREATE')") == (False,)
        assert fetch_one(conn, "SELECT has_database_privilege('public', current_database(), 'TEMPORARY')") == (False,)
        assert fetch_one(conn, "SELECT has_database_privilege('public', current_database(), 'CREATE')") == (False,)
        # large objects keep their owner checks (a superuser setting, off by default)
        assert fetch_one(conn, "SHOW lo_compat_privileges") == ("off",)


# ------------------------------------------------------------------ the grant table itself (docs/security.md)

#: casino_app reads; every write is a ledger function's (grants.sql)
CASINO_TABLE_GRANTS = {
    "casino_game_sessions": {"SELECT"},
    "casino_wallets": {"SELECT"},
    "casino_transactions": {"SELECT"},
    "casino_game_providers": {"SELECT"},
    "casino_free_round_grants": {"SELECT"},
}
CASINO_COLUMN_GRANTS: dict[tuple[str, str], set[str]] = {}
PROVIDER_TABLE_GRANTS = {
    "provider_games": {"SELECT"},
    "provider_casinos": {"SELECT"},
    "provider_casino_users": {"SELECT"},
    "provider_sessions": {"SELECT", "INSERT"},
    "provider_game_rounds": {"SELECT", "INSERT", "UPDATE"},
    "provider_bets": {"SELECT", "INSERT", "UPDATE"},
    "provider_free_round_grants": {"SELECT", "INSERT"},
    "provider_free_round_plays": {"SELECT", "INSERT"},
}
PROVIDER_COLUMN_GRANTS = {
    ("provider_casino_users", "INSERT"): {"casino_id", "casino_player_id"},
    ("provider_casino_users", "UPDATE"): {"casino_player_id"},
    ("provider_sessions", "UPDATE"): {"casino_session_token"},
    ("provider_free_round_grants", "UPDATE"): {"status", "cancelled_at", "rounds_started"},
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
