"""Issue 20's attacks on the casino's side of the database, each as the real role, and the
smaller money rules it asked for (docs/security.md maps each attack to its test):

- casino_app's password: a deposit row minting money, a forged session debiting a blocked
  player's wallet, `ledger.debit(..., currency => NULL)`; what the role can still do is what
  the API does (a session through launch's checks, callbacks through the ledger's rules).
- each role against the other and itself: the bet-id lock, ALTER ROLE itself.
- GAME_DISABLED and BALANCE_LIMIT_EXCEEDED (docs/protocol.md §3, §4, §10)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import errors as pg_errors

from tests.support import BOB, CAROL, admin_conn, call, fetch_one, make_player, new_id, new_session, wallet

LIMIT = 2**53 - 1


def _connect(role: str) -> psycopg.Connection:
    from seamless.runtime.settings import common

    return psycopg.connect(common().dsn_for(role), autocommit=True)


def _as(role: str) -> Iterator[psycopg.Connection]:
    with _connect(role) as conn:
        yield conn


@pytest.fixture
def casino(database_url) -> Iterator[psycopg.Connection]:
    yield from _as("casino_app")


@pytest.fixture
def provider(database_url) -> Iterator[psycopg.Connection]:
    yield from _as("provider_app")


def _ledger_rows(url: str, user: str) -> list[tuple]:
    with admin_conn(url) as conn:
        return conn.execute(
            "SELECT kind, status, amount FROM casino_transactions WHERE user_id = %s ORDER BY id", (user,)
        ).fetchall()


def _wallet_id(url: str, user: str, currency: str = "USD") -> int:
    with admin_conn(url) as conn:
        return fetch_one(conn, "SELECT id FROM casino_wallets WHERE user_id = %s AND currency = %s", (user, currency))[0]


def _session_count(url: str, user: str) -> int:
    with admin_conn(url) as conn:
        return fetch_one(conn, "SELECT count(*) FROM casino_game_sessions WHERE user_id = %s", (user,))[0]


# ------------------------------------------------------------------ casino_app's password


def test_the_casino_password_cannot_mint_money_with_a_deposit_row(database_url, casino):
    """The attack: INSERT an accepted deposit row for bob, then UPDATE his wallet to match
    (+5,000,000 redeemable, reconcile OK). Both statements are refused; nothing changed."""
    before, rows = wallet(database_url, BOB), _ledger_rows(database_url, BOB)
    bob_wallet = _wallet_id(database_url, BOB)
    with pytest.raises(pg_errors.InsufficientPrivilege):
        casino.execute(
            "INSERT INTO casino_transactions (transaction_id, kind, status, user_id, wallet_id, amount, playable_delta, "
            "redeemable_delta, balance_after, redeemable_after) "
            "VALUES (%s, 'deposit', 'accepted', %s, %s, 5000000, 5000000, 5000000, 5000000, 5000000)",
            (new_id("mint"), BOB, bob_wallet),
        )
    with pytest.raises(pg_errors.InsufficientPrivilege):
        casino.execute(
            "UPDATE casino_wallets SET playable_balance = playable_balance + 5000000, "
            "redeemable_balance = redeemable_balance + 5000000 WHERE id = %s",
            (bob_wallet,),
        )
    assert wallet(database_url, BOB) == before and _ledger_rows(database_url, BOB) == rows


def test_a_forged_session_cannot_debit_a_blocked_players_wallet(database_url, casino):
    """The attack: INSERT a session of an active player (bob) on blocked carol's wallet, then
    debit it (200). Now: the INSERT is refused; the only way to a session, ledger.open_session,
    refuses carol and takes a player's own wallet; even the owner cannot pair a session with
    another player's wallet (a foreign key)."""
    carol_wallet, before = _wallet_id(database_url, CAROL), wallet(database_url, CAROL)
    sessions_before = _session_count(database_url, CAROL)  # other tests may have tried to launch her
    forged = {"id": str(uuid.uuid4()), "token": hashlib.sha256(b"forged").digest(), "user": BOB, "wallet": carol_wallet}
    insert = (
        "INSERT INTO casino_game_sessions (id, token_hash, user_id, wallet_id, game_id, provider_id, currency, status, "
        "expires_at) SELECT %(id)s, %(token)s, %(user)s, %(wallet)s, g.id, g.provider_id, 'USD', 'active', "
        "now() + interval '1 year' FROM casino_games g WHERE g.active LIMIT 1"
    )
    with pytest.raises(pg_errors.InsufficientPrivilege):
        casino.execute(insert, forged)
    with admin_conn(database_url) as conn:
        with pytest.raises(pg_errors.ForeignKeyViolation):
            conn.execute(insert, forged)
    opened = fetch_one(
        casino,
        "SELECT code FROM ledger.open_session(%s, %s, %s, %s, 'USD', 60)",
        (str(uuid.uuid4()), secrets.token_bytes(32), CAROL, "99999999-9999-4999-8999-999999999991"),
    )
    assert opened == ("PLAYER_BLOCKED",)
    r = call(
        "/casino/debit",
        {"sessionToken": "forged", "transactionId": new_id("bet"), "roundId": new_id("r"), "amount": 100, "currency": "USD"},
    )
    assert r.code == "SESSION_NOT_FOUND"
    assert wallet(database_url, CAROL) == before
    assert _session_count(database_url, CAROL) == sessions_before


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM ledger.debit(%(token)s, %(tx)s, 'r', 100, currency => NULL)",
        "SELECT * FROM ledger.debit(%(token)s, %(tx)s, 'r', 100, p_currency => NULL)",
        "SELECT * FROM ledger.debit(%(token)s, %(tx)s, NULL, 100, 'USD')",
        "SELECT * FROM ledger.debit(%(token)s, %(tx)s, 'r', 0, 'USD')",
        "SELECT * FROM ledger.debit(%(token)s, %(tx)s, 'r', 1000000000001, 'USD')",
        "SELECT * FROM ledger.credit(%(token)s, %(tx)s, 'r', -5000, 'USD', NULL, false)",
        "SELECT * FROM ledger.credit(%(token)s, %(tx)s, 'r', 9223372036854775807, 'USD', NULL, false)",
        "SELECT * FROM ledger.credit(%(token)s, %(tx)s, 'r', 100, NULL, NULL, false)",
        "SELECT * FROM ledger.credit(%(token)s, %(tx)s, 'r', 100, 'USD', NULL, NULL)",
        "SELECT * FROM ledger.rollback(%(token)s, %(tx)s, NULL, 'r')",
        "SELECT * FROM ledger.get_balance(NULL)",
        "SELECT * FROM ledger.open_session(gen_random_uuid(), %(hash)s, %(user)s, %(game)s, 'USD', 315360000)",
        "SELECT * FROM ledger.open_session(gen_random_uuid(), %(hash)s, %(user)s, %(game)s, 'USD', 0)",
        "SELECT * FROM ledger.open_session(gen_random_uuid(), '\\x00', %(user)s, %(game)s, 'USD', 60)",
        "SELECT * FROM ledger.open_session(gen_random_uuid(), %(hash)s, %(user)s, %(game)s, NULL, 60)",
        "SELECT * FROM ledger.activate_session(gen_random_uuid(), NULL, 'https://x')",
    ],
)
def test_the_ledger_functions_refuse_what_the_api_never_sends(database_url, casino, statement):
    """`ledger.debit(..., currency => NULL)` skipped the currency check. Every entry point now
    refuses a NULL where the contract has none, an amount outside its range and a session
    longer than the ledger's setting: an error, nothing stored, nothing moved."""
    user = make_player(database_url, 10_000)
    token = new_session(database_url, user, currency="USD")
    params = {
        "token": hashlib.sha256(token.encode()).digest(),
        "tx": new_id("tx"),
        "hash": secrets.token_bytes(32),
        "user": user,
        "game": "99999999-9999-4999-8999-999999999991",
    }
    if ", currency => NULL" in statement:
        # PostgreSQL names the argument p_currency: the spelling is refused as unknown
        with pytest.raises(pg_errors.UndefinedFunction):
            casino.execute(statement, params)
        return
    with pytest.raises(pg_errors.InvalidParameterValue):
        casino.execute(statement, params)
    assert wallet(database_url, user) == (10_000, 10_000)
    assert _ledger_rows(database_url, user) == [("deposit", "accepted", 10_000)]
    assert _session_count(database_url, user) == 1


def test_what_the_casino_role_can_still_do_is_what_the_api_does(database_url, casino):
    """The role keeps the API's own powers (docs/security.md, "what remains"): it opens a
    session through launch's checks (its expiry computed by the database) and calls the ledger's
    callbacks under every rule of the contract; each movement is a ledger row with its session."""
    user = make_player(database_url, 1_000)
    session_id, token = str(uuid.uuid4()), secrets.token_urlsafe(32)
    token_hash = hashlib.sha256(token.encode()).digest()
    code, *_, expires_at = fetch_one(
        casino,
        "SELECT * FROM ledger.open_session(%s, %s, %s, %s, 'USD', 60)",
        (session_id, token_hash, user, "99999999-9999-4999-8999-999999999991"),
    )
    assert code is None
    assert fetch_one(casino, "SELECT ledger.activate_session(%s, 'p', 'https://game')", (session_id,)) == (1_000,)
    with admin_conn(database_url) as conn:
        lifetime = fetch_one(conn, "SELECT expires_at - created_at FROM casino_game_sessions WHERE id = %s", (session_id,))[0]
    assert lifetime.total_seconds() == 60
    status, _, _ = fetch_one(casino, "SELECT * FROM ledger.debit(%s, %s, 'r', 5000, 'USD')", (token_hash, new_id("bet")))
    assert status == 402  # the ledger's rules hold
    assert fetch_one(casino, "SELECT ledger.activate_session(%s, 'p', 'https://game')", (session_id,)) == (None,)


# ------------------------------------------------------------------ each role against the other and itself


def test_neither_role_can_take_the_ledgers_bet_id_lock(database_url, casino, provider):
    """The attack: take the ledger's bet-id advisory lock on a bet id's key and hold it (the
    casino then answered that bet 503 after 3 s). Refused to both roles; the ledger still takes
    it (a debit of that id goes through)."""
    bet = new_id("bet")
    for conn in (casino, provider):
        with pytest.raises(pg_errors.InsufficientPrivilege):
            conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 1))", (bet,))
        with pytest.raises(pg_errors.InsufficientPrivilege):
            conn.execute("SELECT ledger.lock_bet_id(1, %s)", (bet,))
    user = make_player(database_url, 1_000)
    token = new_session(database_url, user)
    r = call(
        "/casino/debit", {"sessionToken": token, "transactionId": bet, "roundId": new_id("r"), "amount": 10, "currency": "USD"}
    )
    assert r.status == 200


@pytest.fixture
def restore_roles(database_url) -> Iterator[None]:
    yield
    from seamless.runtime.migrations import ensure_roles

    with admin_conn(database_url) as conn:
        ensure_roles(conn)


@pytest.mark.parametrize("role", ["casino_app", "provider_app"])
def test_a_roles_own_session_defaults_never_reach_its_sessions(database_url, role, restore_roles):
    """PostgreSQL lets every role ALTER ROLE itself SET ...: the attack set statement_timeout = 0
    (and a lock or idle timeout of 0) for every later session of the application. The role still
    may (the catalogue shows it), but `migrate`'s login trigger sets the project's values again at
    the start of each session of the role, and the role can neither drop nor disable that trigger
    nor turn event triggers off (tests/integration/test_grants.py)."""
    from seamless.runtime.migrations import ROLE_SETTINGS

    with _connect(role) as conn:
        dbname = conn.info.dbname
        for name in ROLE_SETTINGS:
            conn.execute(f"ALTER ROLE {role} SET {name} = 0")
            conn.execute(f'ALTER ROLE {role} IN DATABASE "{dbname}" SET {name} = 0')
    with admin_conn(database_url) as conn:
        stored = fetch_one(
            conn,
            "SELECT setconfig FROM pg_db_role_setting WHERE setrole = %s::regrole AND setdatabase = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())",
            (role,),
        )[0]
    assert {f"{name}=0" for name in ROLE_SETTINGS} <= set(stored)  # the attack landed in the catalogue
    with _connect(role) as conn:
        seen = {name: fetch_one(conn, f"SHOW {name}")[0] for name in ROLE_SETTINGS}
    assert seen == ROLE_SETTINGS


def test_a_role_may_change_only_its_own_password(database_url, casino, provider):
    """What PostgreSQL does not let anyone take away: a login role may set its own password
    (here to the same one, so the suite keeps connecting). The attacker then holds the only
    password that works, until `migrate` sets the secret's again (docs/security.md). Another
    role's password stays out of reach."""
    from seamless.runtime.migrations import scram_verifier
    from seamless.runtime.settings import common

    verifier = scram_verifier(casino, "casino_app", common().role_password("casino_app"))
    casino.execute(f"ALTER ROLE casino_app PASSWORD '{verifier}'")  # allowed: PostgreSQL's rule
    with pytest.raises(pg_errors.InsufficientPrivilege):
        provider.execute(f"ALTER ROLE casino_app PASSWORD '{verifier}'")


def test_migrate_leaves_nothing_it_could_not_harden(database_url):
    """On this server (a superuser migrates, PostgreSQL 17+), every built-in function was
    revoked and the login trigger exists: harden_roles reports nothing."""
    from seamless.runtime.migrations import harden_roles

    with admin_conn(database_url) as conn:
        with conn.transaction():
            assert harden_roles(conn) == []
        assert fetch_one(conn, "SELECT evtenabled FROM pg_event_trigger WHERE evtname = 'app_roles_login_settings'") == ("O",)


# ------------------------------------------------------------------ GAME_DISABLED


@pytest.fixture
def own_game(database_url) -> Iterator[dict]:
    """A game of the seeded provider, and a game of a provider of its own (so switching either
    off touches nobody else's sessions)."""
    game, other_game = str(uuid.uuid4()), str(uuid.uuid4())
    code = new_id("prov")
    with admin_conn(database_url) as conn:
        provider_id = fetch_one(conn, "SELECT id FROM casino_game_providers WHERE code = 'jaqpot'")[0]
        conn.execute(
            "INSERT INTO casino_games (id, provider_id, provider_game_id, name, min_bet, max_bet) "
            "VALUES (%s, %s, %s, 'g', 1, 100000)",
            (game, provider_id, new_id("code")),
        )
        other_provider = fetch_one(
            conn,
            "INSERT INTO casino_game_providers (code, name, api_base_url, secret_ref) "
            "VALUES (%s, 'other', 'http://127.0.0.1:9', 'PROVIDER_SECRET') RETURNING id",
            (code,),
        )[0]
        conn.execute(
            "INSERT INTO casino_games (id, provider_id, provider_game_id, name, min_bet, max_bet) "
            "VALUES (%s, %s, 'g', 'g', 1, 100000)",
            (other_game, other_provider),
        )
        for g in (game, other_game):  # bet limits are per game and currency (migration 0008)
            conn.execute(
                "INSERT INTO casino_game_limits (game_id, currency, min_bet, max_bet) VALUES (%s, 'USD', 1, 100000)", (g,)
            )
    yield {"game": game, "other_game": other_game, "other_provider": other_provider}


def _money(path: str, token: str, **fields) -> object:
    body = {"sessionToken": token, "currency": "USD", **fields}
    if path == "/casino/rollback":
        body.pop("currency")
    return call(path, body)


@pytest.mark.parametrize("switch_off", ["game", "provider"])
def test_a_debit_on_a_session_whose_game_or_provider_was_switched_off_is_game_disabled(database_url, own_game, switch_off):
    user = make_player(database_url, 10_000)
    game = own_game["game"] if switch_off == "game" else own_game["other_game"]
    token = new_session(database_url, user, game=game)
    rnd, bet, late_bet, refund_bet = new_id("r"), new_id("bet"), new_id("late"), new_id("rb-bet")
    assert _money("/casino/debit", token, transactionId=bet, roundId=rnd, amount=1_000).status == 200
    assert _money("/casino/debit", token, transactionId=refund_bet, roundId=new_id("r2"), amount=500).status == 200
    with admin_conn(database_url) as conn:
        if switch_off == "game":
            conn.execute("UPDATE casino_games SET active = false WHERE id = %s", (game,))
        else:
            conn.execute("UPDATE casino_game_providers SET disabled = true WHERE id = %s", (own_game["other_provider"],))
    refused = _money("/casino/debit", token, transactionId=late_bet, roundId=rnd, amount=100)
    assert (refused.status, refused.code, refused.replayed) == (403, "GAME_DISABLED", False)
    again = _money("/casino/debit", token, transactionId=late_bet, roundId=rnd, amount=100)
    assert (again.status, again.raw, again.replayed) == (403, refused.raw, True)  # stored for replay
    # money already staked still settles: a win, a refund; the balance stays readable
    win = _money(
        "/casino/credit", token, transactionId=new_id("win"), roundId=rnd, amount=3_000, betTransactionId=bet, roundClosed=True
    )
    assert win.status == 200, win.raw
    refund = _money("/casino/rollback", token, transactionId=new_id("rb"), betTransactionId=refund_bet)
    assert (refund.status, refund.json["rolledBackAmount"]) == (200, 500)
    assert call("/casino/getBalance", {"sessionToken": token}).json["balance"] == 10_000 - 1_000 + 3_000
    assert wallet(database_url, user)[0] == 12_000


def test_game_disabled_sits_after_session_expired_and_player_blocked_and_before_the_rest(database_url, own_game):
    """§4's debit order with GAME_DISABLED beside the session's own state (docs/protocol.md §10):
    expired → blocked → game disabled → currency → … → funds."""
    from tests.support import expire_session

    user = make_player(database_url, 10)
    expired, blocked, plain = (new_session(database_url, user, game=own_game["game"]) for _ in range(3))
    expire_session(database_url, expired)
    with admin_conn(database_url) as conn:
        conn.execute("UPDATE casino_games SET active = false WHERE id = %s", (own_game["game"],))
    # currency mismatch, an amount above the limits and above the balance: still GAME_DISABLED
    r = call(
        "/casino/debit",
        {"sessionToken": plain, "transactionId": new_id("b"), "roundId": new_id("r"), "amount": 999_999, "currency": "EUR"},
    )
    assert r.code == "GAME_DISABLED"
    assert _money("/casino/debit", expired, transactionId=new_id("b"), roundId=new_id("r"), amount=1).code == "SESSION_EXPIRED"
    with admin_conn(database_url) as conn:
        conn.execute("UPDATE casino_users SET status = 'blocked' WHERE id = %s", (user,))
    assert _money("/casino/debit", blocked, transactionId=new_id("b"), roundId=new_id("r"), amount=1).code == "PLAYER_BLOCKED"


# ------------------------------------------------------------------ BALANCE_LIMIT_EXCEEDED


def test_a_credit_past_the_balance_limit_is_refused_and_its_retry_replays_it(database_url):
    user = make_player(database_url, LIMIT - 100)
    token = new_session(database_url, user)
    rnd = new_id("r")
    over = {"transactionId": new_id("win"), "roundId": rnd, "amount": 101}
    refused = _money("/casino/credit", token, **over)
    assert (refused.status, refused.code) == (409, "BALANCE_LIMIT_EXCEEDED"), refused.raw
    again = _money("/casino/credit", token, **over)
    assert (again.status, again.raw, again.replayed) == (409, refused.raw, True)
    top = _money("/casino/credit", token, transactionId=new_id("win"), roundId=rnd, amount=100)
    assert (top.status, top.json["balance"]) == (200, LIMIT)
    # the largest credit the contract allows, on a full wallet: 409, never an overflow's 500
    huge = _money("/casino/credit", token, transactionId=new_id("win"), roundId=new_id("r"), amount=10**12)
    assert (huge.status, huge.code) == (409, "BALANCE_LIMIT_EXCEEDED")
    assert wallet(database_url, user) == (LIMIT, LIMIT)
    with admin_conn(database_url) as conn:  # the constraint holds for everyone, the owner too
        with pytest.raises(pg_errors.CheckViolation):
            conn.execute("UPDATE casino_wallets SET playable_balance = playable_balance + 1 WHERE user_id = %s", (user,))


def test_a_refund_past_the_balance_limit_is_refused_too(database_url):
    """A bet's refund after wins of other rounds filled the wallet: BALANCE_LIMIT_EXCEEDED,
    stored (the provider parks it for an operator, §7a), nothing moves."""
    user = make_player(database_url, LIMIT - 50)
    token = new_session(database_url, user)
    bet = new_id("bet")
    assert _money("/casino/debit", token, transactionId=bet, roundId=new_id("r"), amount=50).status == 200
    assert _money("/casino/credit", token, transactionId=new_id("win"), roundId=new_id("r2"), amount=100).status == 200
    r = _money("/casino/rollback", token, transactionId=new_id("rb"), betTransactionId=bet)
    assert (r.status, r.code) == (409, "BALANCE_LIMIT_EXCEEDED"), r.raw
    assert wallet(database_url, user)[0] == LIMIT


def test_migrate_as_a_managed_services_admin_works_and_says_what_it_could_not_harden(database_url, capsys):
    """A managed database's admin is no superuser (CREATEROLE, CREATEDB, owner of its
    database): migrate still applies everything - the owner roles, ownership, functions, grants
    - and prints a WARNING for each built-in it could not revoke and for the login trigger it
    could not create (docs/security.md, what remains)."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from devtools import admin

    name, role = f"managed_{uuid.uuid4().hex[:8]}", f"master_{uuid.uuid4().hex[:8]}"
    with admin_conn(database_url) as su:
        su.execute(f"CREATE ROLE {role} LOGIN CREATEROLE CREATEDB PASSWORD 'pw'")
        # as if it had created the roles itself (PostgreSQL 16+ gives their creator ADMIN)
        su.execute(f"GRANT casino_app, provider_app, casino_owner, provider_owner TO {role} WITH ADMIN OPTION")
        su.execute(f'CREATE DATABASE "{name}" OWNER {role}')
    params = conninfo_to_dict(database_url)
    params.update(dbname=name, user=role, password="pw")
    url = make_conninfo(**params)
    try:
        admin.migrate(url, quiet=False)
        admin.seed(url, quiet=True)
        warnings = [line for line in capsys.readouterr().err.splitlines() if "WARNING" in line]
        assert any("pg_advisory_xact_lock" in w for w in warnings) and any("login event trigger" in w for w in warnings)
        with psycopg.connect(url, autocommit=True) as conn:
            owners = {
                o
                for (o,) in conn.execute(
                    "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class WHERE relname LIKE 'casino\\_%' AND relkind = 'r'"
                )
            }
            assert owners == {"casino_owner"}
    finally:
        with admin_conn(database_url) as su:
            su.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            su.execute(f"REASSIGN OWNED BY {role} TO CURRENT_USER")
            su.execute(f"DROP OWNED BY {role}")
            su.execute(f"DROP ROLE {role}")
