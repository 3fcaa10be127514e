"""Retention (docs/retention.md, docs/protocol.md §5) against the real database: each side's
purge removes what lives shorter than the ledger, on its own role, and nothing the money
rules still read. Rows are aged by moving their timestamps back (as the admin)."""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid

import psycopg
import pytest
from seamless.runtime.retention import purge_casino, purge_provider

from devtools import admin
from devtools.lambda_local import LambdaContext
from tests.support import admin_conn, call, fetch_one, function, make_player, new_id, new_session, provider_session_for


def _debit(token: str, txid: str, round_id: str, amount: int = 100):
    return call(
        "/casino/debit", {"sessionToken": token, "transactionId": txid, "roundId": round_id, "amount": amount, "currency": "USD"}
    )


def _rollback(token: str, txid: str, bet: str, round_id: str | None = None):
    body = {"sessionToken": token, "transactionId": txid, "betTransactionId": bet}
    if round_id:
        body["roundId"] = round_id
    return call("/casino/rollback", body)


def _ledger(url: str) -> list[tuple]:
    with admin_conn(url) as conn:
        return conn.execute("SELECT id, status, response_body FROM casino_transactions ORDER BY id").fetchall()


DAY = 86_400


def test_the_casino_purge_keeps_every_rule_and_the_ledger(database_url):
    """Since ledger v3 a bet is claimed by its debit's ledger row and a tombstone is its rollback's
    ledger row: the purge touches neither, so every rule they hold outlives any purge (and the
    result keeps its bet_claims and tombstones counts, always 0)."""
    user = make_player(database_url, 10_000)
    token = new_session(database_url, user, expires_in_seconds=10 * DAY)
    bet, round_id, ghost = new_id("bet"), new_id("round"), new_id("ghost")
    first = _debit(token, bet, round_id)
    assert first.status == 200
    # a tombstone: the rollback of a bet that never arrived
    assert _rollback(token, new_id("rb"), ghost).json["tombstone"] is True
    before = _ledger(database_url)

    purged = purge_casino()
    with psycopg.connect(_casino_dsn(), autocommit=True) as conn:  # the floors asked away: nothing more
        zero = conn.execute("SELECT bet_claims, tombstones FROM casino_retention.purge(5000, 0, 0, 0, 0)").fetchone()

    assert purged["bet_claims"] == 0 and purged["tombstones"] == 0 and zero == (0, 0)
    assert _ledger(database_url) == before  # stored outcomes untouched, byte for byte
    # the ledger row answers for its bet: a replay, a conflicting reuse, the refund
    replay = _debit(token, bet, round_id)
    assert replay.replayed and replay.raw == first.raw
    assert _debit(token, bet, new_id("round")).code == "TRANSACTION_ID_CONFLICT"
    refund = _rollback(token, new_id("rb"), bet, round_id)
    assert refund.json["rolledBackAmount"] == 100 and refund.json["tombstone"] is False
    # the tombstone still refuses the late bet
    assert _debit(token, ghost, new_id("round")).code == "BET_ROLLED_BACK"


def _casino_dsn() -> str:
    from seamless.runtime.settings import common

    return common().dsn_for("casino_app")


def test_expired_sessions_lose_their_launch_url_and_stale_launches_fail(database_url):
    user = make_player(database_url, 1_000)
    live, expired = new_session(database_url, user), new_session(database_url, user)
    pending_id = str(uuid.uuid4())
    with admin_conn(database_url) as conn:
        conn.execute(
            "UPDATE casino_game_sessions SET launch_url = 'https://games.example/x?session=s' WHERE user_id = %s", (user,)
        )
        conn.execute(
            "UPDATE casino_game_sessions SET expires_at = now() - interval '2 hours' "
            "WHERE token_hash = sha256(convert_to(%s, 'UTF8'))",
            (expired,),
        )
        conn.execute(
            "INSERT INTO casino_game_sessions (id, token_hash, user_id, wallet_id, game_id, provider_id, currency, status, "
            "created_at, expires_at) SELECT %s, sha256(convert_to(%s, 'UTF8')), user_id, wallet_id, game_id, provider_id, "
            "currency, 'pending', now() - interval '2 hours', now() FROM casino_game_sessions WHERE user_id = %s LIMIT 1",
            (pending_id, secrets.token_urlsafe(32), user),
        )
    purge_casino()
    with admin_conn(database_url) as conn:
        urls = dict(conn.execute("SELECT token_hash, launch_url FROM casino_game_sessions WHERE user_id = %s", (user,)))
        status = fetch_one(conn, "SELECT status FROM casino_game_sessions WHERE id = %s", (pending_id,))[0]
    assert urls[hashlib.sha256(live.encode()).digest()] == "https://games.example/x?session=s"
    assert urls[hashlib.sha256(expired.encode()).digest()] is None
    assert status == "failed"
    # the expired session still takes the credits owed to it (§4)
    assert (
        call(
            "/casino/credit",
            {"sessionToken": expired, "transactionId": new_id("win"), "roundId": new_id("round"), "amount": 5, "currency": "USD"},
        ).status
        == 200
    )


def _provider_session(url: str, user: str, token: str, *, age_seconds: int, rounds: list[str]) -> str:
    """A provider session holding `token`, created age_seconds ago, with rounds in these statuses."""
    ps = provider_session_for(url, user, token)
    with admin_conn(url) as conn:
        conn.execute(
            "UPDATE provider_sessions SET created_at = now() - make_interval(secs => %s) WHERE id = %s", (age_seconds, ps)
        )
        for status in rounds:
            conn.execute(
                "INSERT INTO provider_game_rounds (round_id, provider_session_id, status) VALUES (%s, %s, %s)",
                (new_id("round"), ps, status),
            )
    return ps


def _token(url: str, ps: str) -> str:
    with admin_conn(url) as conn:
        return fetch_one(conn, "SELECT casino_session_token FROM provider_sessions WHERE id = %s", (ps,))[0]


HORIZON = 1800 + DAY  # session TTL + settlement horizon (defaults)


def test_the_provider_purges_a_casino_token_only_when_settlement_is_done_with_it(database_url):
    user = make_player(database_url, 1_000)
    tokens = {name: secrets.token_urlsafe(32) for name in ("done", "open", "young", "none")}
    done = _provider_session(database_url, user, tokens["done"], age_seconds=HORIZON + 60, rounds=["completed", "cancelled"])
    still_open = _provider_session(
        database_url, user, tokens["open"], age_seconds=HORIZON + 60, rounds=["completed", "pending_settlement"]
    )
    young = _provider_session(database_url, user, tokens["young"], age_seconds=HORIZON - 60, rounds=["completed"])
    no_rounds = _provider_session(database_url, user, tokens["none"], age_seconds=HORIZON + 60, rounds=[])

    assert purge_provider()["tokens"] >= 2

    assert _token(database_url, done) == "sha256:" + hashlib.sha256(tokens["done"].encode()).hexdigest()
    assert _token(database_url, no_rounds).startswith("sha256:")
    assert _token(database_url, still_open) == tokens["open"]  # a round may still settle
    assert _token(database_url, young) == tokens["young"]  # within the horizon
    # the kept hash is the casino's own token_hash: the two sides' sessions still match
    assert bytes.fromhex(_token(database_url, done).removeprefix("sha256:")) == hashlib.sha256(tokens["done"].encode()).digest()
    assert purge_provider()["tokens"] == 0  # a hash is never hashed again


def test_only_settlements_open_and_pending_rounds_keep_the_token(database_url):
    tokens = {s: secrets.token_urlsafe(32) for s in ("open", "pending_settlement", "completed", "cancelled")}
    sessions = {
        status: _provider_session(database_url, admin.ALICE, token, age_seconds=HORIZON + 60, rounds=[status])
        for status, token in tokens.items()
    }
    from seamless.runtime.settings import common

    password = common().role_password("provider_app")
    with psycopg.connect(database_url, autocommit=True, user="provider_app", password=password) as conn:
        # horizons of 0 still mean the settlement floor (86,400 s); these sessions are older
        fetch_one(conn, "SELECT tokens FROM provider_retention.purge_casino_session_tokens(0, 0)")
    for status, ps in sessions.items():
        kept = _token(database_url, ps) == tokens[status]
        assert kept == (status in ("open", "pending_settlement")), status


def test_each_side_runs_only_its_own_purge(database_url):
    from seamless.runtime.settings import common

    with psycopg.connect(common().dsn_for("provider_app"), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM casino_retention.purge()")
    with psycopg.connect(common().dsn_for("casino_app"), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM provider_retention.purge_casino_session_tokens(0, 0)")


def test_the_scheduled_functions_and_the_local_command_run_the_purges(database_url, capsys):
    for logical_id, keys in (
        ("CasinoRetentionFunction", {"bet_claims", "tombstones", "launch_urls", "stale_launches"}),
        ("ProviderRetentionFunction", {"tokens"}),
    ):
        fn = function(logical_id)
        result = fn.load()({"source": "aws.events"}, LambdaContext(logical_id, fn.timeout, fn.memory))
        assert set(result) == keys and all(isinstance(v, int) for v in result.values())
    from devtools.__main__ import main

    assert main(["purge"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(out) == {"casino", "provider"}
