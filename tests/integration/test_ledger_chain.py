"""The ledger's hash chain (docs/protocol.md §6, §9; docs/records.md): written by the INSERT of
every ledger row, one chain per wallet that never forks or skips a place under concurrency,
backfilled by migration 0007, out of the application role's reach, and every kind of tampering
by the database's owner named by verify-ledger - against the newest anchor too."""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import psycopg
import pytest
from moto import mock_aws
from psycopg import errors as pg_errors
from psycopg.rows import dict_row
from seamless.casino import anchor
from seamless.contract import chain as recipe
from seamless.runtime.settings import CASINO_ROLE, common

from bench.chain_cost import UNDO_0007
from devtools import admin, chain, fixtures, localdb
from tests.support import GAME, admin_conn, call, fetch_one, make_player, new_id, new_session

DEBIT = "SELECT status, body FROM ledger.debit(%s, %s, %s, %s, 'USD')"


def wallet_of(conn: psycopg.Connection, user: str) -> int:
    return fetch_one(conn, "SELECT id FROM casino_wallets WHERE user_id = %s", (user,))[0]


def lines_of(conn: psycopg.Connection, wallet_id: int) -> list[dict]:
    rows = (
        conn.cursor(row_factory=dict_row)
        .execute(chain.ROWS.replace("ORDER BY", "WHERE t.wallet_id = %s ORDER BY"), (wallet_id,))
        .fetchall()
    )
    return [recipe.line_of(row) for row in rows]


def assert_one_chain(conn: psycopg.Connection, wallet_id: int) -> list[dict]:
    """seq 1..n without a gap, each prevHash the previous rowHash, each rowHash recomputed in
    Python, and the wallet's head on the last row."""
    lines = lines_of(conn, wallet_id)
    assert [line["seq"] for line in lines] == list(range(1, len(lines) + 1))
    previous = recipe.GENESIS
    for line in lines:
        assert line["prevHash"] == previous, line
        assert recipe.row_hash(line) == line["rowHash"], line
        previous = line["rowHash"]
    assert fetch_one(conn, "SELECT chain_seq, chain_head FROM casino_wallets WHERE id = %s", (wallet_id,)) == (
        len(lines),
        previous,
    )
    return lines


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


# ------------------------------------------------------------------ the write path


def test_every_row_accepted_and_refused_of_every_kind_is_chained(database_url):
    user = make_player(database_url, 1_000, 600)
    token = new_session(database_url, user)
    rnd = new_id("round")
    bet = new_id("bet")
    steps = [
        ("/casino/debit", {"transactionId": bet, "roundId": rnd, "amount": 700, "currency": "USD"}, 200),
        ("/casino/debit", {"transactionId": new_id("bet"), "roundId": rnd, "amount": 9_999, "currency": "USD"}, 402),
        ("/casino/rollback", {"transactionId": new_id("rb"), "betTransactionId": new_id("ghost")}, 200),
        (
            "/casino/credit",
            {
                "transactionId": new_id("win"),
                "roundId": rnd,
                "betTransactionId": bet,
                "amount": 50,
                "currency": "USD",
                "roundClosed": True,
            },
            200,
        ),
    ]
    for path, body, status in steps:
        assert call(path, {"sessionToken": token, **body}).status == status
    assert call(path, {"sessionToken": token, **body}).status == 200  # a replay writes no row
    with admin_conn(database_url) as conn:
        lines = assert_one_chain(conn, wallet_of(conn, user))
    assert [(x["kind"], x["status"]) for x in lines] == [
        ("deposit", "accepted"),
        ("debit", "accepted"),
        ("debit", "rejected"),
        ("rollback", "accepted"),
        ("credit", "accepted"),
    ]
    deposit, debit, refused = lines[0], lines[1], lines[2]
    # bonus money (400) is spent first: 300 of the 700 came from the withdrawable part
    assert (deposit["amount"], deposit["redeemableAmount"]) == (1_000, 600)
    assert (debit["amount"], debit["redeemableAmount"], debit["balanceAfter"]) == (700, 300, 300)
    assert (refused["redeemableAmount"], refused["balanceAfter"], refused["errorCode"]) == (0, None, "INSUFFICIENT_FUNDS")
    assert all(x["reason"] is None and x["currency"] == "USD" and x["userId"] == user for x in lines)


def test_the_chain_hash_in_the_database_is_the_recipe_of_the_contract(database_url):
    """One row by hand: the §6 members joined by '|', hashed, equal the stored rowHash."""
    user = make_player(database_url, 250, 100)
    with admin_conn(database_url) as conn:
        row = lines_of(conn, wallet_of(conn, user))[0]
    text = "|".join(
        [
            recipe.GENESIS,
            str(row["walletId"]),
            "1",
            row["transactionId"],
            "deposit",
            "accepted",
            "250",
            "100",
            "250",
            "USD",
            user,
            "",
            "",
            "",
            row["createdAt"],
        ]
    )
    assert row["createdAt"].endswith("Z") and len(row["createdAt"]) == len("2026-12-02T11:36:05.123456Z")
    assert hashlib.sha256(text.encode()).hexdigest() == row["rowHash"]


def test_many_callbacks_on_one_wallet_at_once_make_one_chain_without_fork_or_gap(database_url):
    user = make_player(database_url, 100_000)
    token = token_hash(new_session(database_url, user))
    threads, per_thread = 12, 6
    barrier = threading.Barrier(threads)
    failures: list[BaseException] = []

    def play(n: int) -> None:
        try:
            with admin_conn(database_url) as conn:
                barrier.wait()
                for k in range(per_thread):
                    # debits of one round each, some refused (over the bet limit): both kinds chained
                    amount = 10 if k % 3 else fixtures.GAME_MAX_BET + 1
                    conn.execute(DEBIT, (token, f"c-{n}-{k}-{uuid.uuid4().hex[:6]}", f"r-{n}-{k}-{uuid.uuid4().hex[:6]}", amount))
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            failures.append(exc)

    workers = [threading.Thread(target=play, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not failures, failures
    with admin_conn(database_url) as conn:
        lines = assert_one_chain(conn, wallet_of(conn, user))
    assert len(lines) == 1 + threads * per_thread
    assert {x["status"] for x in lines} == {"accepted", "rejected"}


def test_rows_of_one_wallet_inserted_by_one_statement_are_chained_in_order(database_url):
    """The link reads a row the same statement inserted before (its head moves only at the
    statement's end): a multi-row insert still makes one chain."""
    user = make_player(database_url, 0)
    with admin_conn(database_url) as conn, conn.transaction(force_rollback=True):
        wallet_id = wallet_of(conn, user)
        conn.execute(
            "INSERT INTO casino_transactions (transaction_id, kind, status, user_id, wallet_id, amount, playable_delta, "
            "redeemable_delta, balance_after, redeemable_after) "
            "SELECT 'multi-' || g || '-' || %s, 'deposit', 'accepted', %s, %s, 0, 0, 0, 0, 0 FROM generate_series(1, 3) g",
            (wallet_id, user, wallet_id),
        )
        assert len(assert_one_chain(conn, wallet_id)) == 4


def test_an_insert_that_stores_nothing_moves_no_head(database_url):
    """ON CONFLICT DO NOTHING (the idempotency gate): no row, no new place in the chain."""
    user = make_player(database_url, 100)
    with admin_conn(database_url) as conn, conn.transaction(force_rollback=True):
        wallet_id = wallet_of(conn, user)
        sql = (
            "INSERT INTO casino_transactions (provider_id, transaction_id, kind, status, user_id, wallet_id) "
            "SELECT id, %s, 'debit', 'rejected', %s, %s FROM casino_game_providers WHERE code = %s "
            "ON CONFLICT (provider_id, transaction_id) DO NOTHING"
        )
        txid = new_id("gate")
        conn.execute(sql, (txid, user, wallet_id, fixtures.PROVIDER_CODE))
        conn.execute(sql, (txid, user, wallet_id, fixtures.PROVIDER_CODE))
        assert len(assert_one_chain(conn, wallet_id)) == 2


def test_whatever_an_insert_names_for_the_link_the_chain_decides_it(database_url):
    user = make_player(database_url, 0)
    with admin_conn(database_url) as conn, conn.transaction(force_rollback=True):
        wallet_id = wallet_of(conn, user)
        conn.execute(
            "INSERT INTO casino_transactions (transaction_id, kind, status, user_id, wallet_id, seq, prev_hash, row_hash) "
            "VALUES (%s, 'deposit', 'accepted', %s, %s, 99, repeat('a', 64), repeat('b', 64))",
            (new_id("forged"), user, wallet_id),
        )
        assert [x["seq"] for x in assert_one_chain(conn, wallet_id)] == [1, 2]


def test_a_rows_place_in_its_chain_never_changes_even_for_the_admin(database_url):
    user = make_player(database_url, 10)
    with admin_conn(database_url) as conn:
        row_id = fetch_one(conn, "SELECT id FROM casino_transactions WHERE user_id = %s", (user,))[0]
        for change in ("seq = seq + 1", "row_hash = repeat('0', 64)", "prev_hash = row_hash"):
            with pytest.raises(pg_errors.RestrictViolation):
                conn.execute(f"UPDATE casino_transactions SET {change} WHERE id = %s", (row_id,))


def test_the_application_role_has_no_hand_on_the_chain(database_url):
    user = make_player(database_url, 10)
    with admin_conn(database_url) as conn:
        wallet_id = wallet_of(conn, user)
    with psycopg.connect(common().dsn_for(CASINO_ROLE), autocommit=True) as app:
        with pytest.raises(pg_errors.InsufficientPrivilege):
            app.execute("UPDATE casino_wallets SET chain_head = repeat('a', 64) WHERE id = %s", (wallet_id,))
        with pytest.raises(pg_errors.InsufficientPrivilege):
            app.execute("UPDATE casino_wallets SET chain_seq = 0 WHERE id = %s", (wallet_id,))
        with pytest.raises(pg_errors.InsufficientPrivilege):
            app.execute(
                "INSERT INTO casino_transactions (transaction_id, kind, status, wallet_id, seq) VALUES ('x', 'deposit', "
                "'accepted', %s, 5)",
                (wallet_id,),
            )
        with pytest.raises(pg_errors.InsufficientPrivilege):
            app.execute("SELECT casino_chain_row_hash(NULL, 1, 1, 'x', 'x', 'x', 1, 1, 1, 'x', NULL, NULL, NULL, NULL, now())")


# ------------------------------------------------------------------ a database of its own


@pytest.fixture(scope="module")
def own_database(database_url) -> Iterator[str]:
    """A database of this module's own, for what the session's database must never see: undone
    migrations and tampered chains."""
    server = localdb.with_dbname(database_url, "postgres")
    name = admin.new_test_database_name()
    url = localdb.create_database(server, name)
    try:
        admin.migrate(url, quiet=True)
        admin.seed(url, quiet=True)
        yield url
    finally:
        localdb.drop_database(server, name)


def test_the_migration_backfills_existing_chains_in_their_original_order(own_database):
    """Rows written before migration 0007 (a debit, a refusal, deposits, a row of no wallet)
    get their chains in id order per wallet; then the write path carries each chain on."""
    with admin_conn(own_database) as conn:
        conn.execute(UNDO_0007)
        user, token = str(uuid.uuid4()), secrets.token_urlsafe(32)
        fixtures.create_player(conn, user, f"pre-{user[:8]}", "active", [("USD", 1_000, 1_000), ("EUR", 500, 500)])
        fixtures.create_session(conn, token, user, "USD", game_id=GAME)
        assert fetch_one(conn, DEBIT, (token_hash(token), "pre-bet-1", "pre-round-1", 300))[0] == 200
        assert fetch_one(conn, DEBIT, (token_hash(token), "pre-bet-2", "pre-round-2", 5_000))[0] == 402
        conn.execute(
            "INSERT INTO casino_transactions (transaction_id, kind, status) VALUES (%s, 'deposit', 'rejected')",
            (new_id("nowallet"),),
        )
        before = conn.execute("SELECT id, wallet_id FROM casino_transactions WHERE wallet_id IS NOT NULL ORDER BY id").fetchall()
    assert admin.migrate(own_database, quiet=True) == ["casino/0007_ledger_chain.sql"]
    with admin_conn(own_database) as conn:
        wallets = {w for _, w in before}
        for wallet_id in wallets:
            lines = assert_one_chain(conn, wallet_id)
            ids = [i for i, w in before if w == wallet_id]
            stored = conn.execute("SELECT id FROM casino_transactions WHERE wallet_id = %s ORDER BY seq", (wallet_id,)).fetchall()
            assert [r[0] for r in stored] == ids and len(lines) == len(ids)
        usd = fetch_one(conn, "SELECT id FROM casino_wallets WHERE user_id = %s AND currency = 'USD'", (user,))[0]
        assert [x["kind"] for x in lines_of(conn, usd)] == ["deposit", "debit", "debit"]
        # the write path carries the backfilled chain on
        assert fetch_one(conn, DEBIT, (token_hash(token), "post-bet-1", "post-round-1", 100))[0] == 200
        assert len(assert_one_chain(conn, usd)) == 4
        # and the guard refusing changes to finished rows is back on
        with pytest.raises(pg_errors.RestrictViolation):
            conn.execute("UPDATE casino_transactions SET amount = 1 WHERE wallet_id = %s", (usd,))
    result = chain.verify(own_database)
    assert result.ok, result.report()


# ------------------------------------------------------------------ tampering, done as the owner


def tamper(url: str, *statements: tuple[str, tuple]) -> None:
    """What the database's owner can do: the guards are triggers, which the owner turns off."""
    with admin_conn(url) as conn, conn.transaction():
        conn.execute("SET LOCAL session_replication_role = replica")
        for sql, params in statements:
            conn.execute(sql, params)


def played_wallet(url: str, debits: int = 4) -> tuple[int, list[dict]]:
    """A wallet of 1 deposit and `debits` accepted debits; its id and its lines."""
    user, token = str(uuid.uuid4()), secrets.token_urlsafe(32)
    with admin_conn(url) as conn:
        fixtures.create_player(conn, user, f"t-{user[:8]}", "active", [("USD", 10_000, 10_000)])
        fixtures.create_session(conn, token, user, "USD", game_id=GAME)
        for k in range(debits):
            assert fetch_one(conn, DEBIT, (token_hash(token), new_id("b"), new_id("r"), 10 + k))[0] == 200
        wallet_id = wallet_of(conn, user)
        return wallet_id, assert_one_chain(conn, wallet_id)


def break_of(url: str, wallet_id: int, target: anchor.Target | None = None) -> chain.Break:
    result = chain.verify(url, target)
    assert not result.ok
    found = [b for b in result.breaks if b.wallet_id == wallet_id]
    assert len(found) == 1, result.report()
    return found[0]


def row_id(url: str, wallet_id: int, seq: int) -> int:
    with admin_conn(url) as conn:
        return fetch_one(conn, "SELECT id FROM casino_transactions WHERE wallet_id = %s AND seq = %s", (wallet_id, seq))[0]


def test_verify_ledger_passes_an_untouched_database_and_can_fail(own_database, capsys, monkeypatch, tmp_path):
    from devtools.__main__ import main
    from tests.support import restore_env

    played_wallet(own_database)
    assert chain.verify(own_database).ok
    wallet_id, _ = played_wallet(own_database)
    tamper(
        own_database,
        ("UPDATE casino_transactions SET balance_after = balance_after + 1 WHERE wallet_id = %s AND seq = 3", (wallet_id,)),
    )
    result = chain.verify(own_database)
    assert [(b.wallet_id, b.kind, b.seq) for b in result.breaks] == [(wallet_id, "changed", 3)]
    assert f"BROKEN: wallet {wallet_id}: changed at row id {row_id(own_database, wallet_id, 3)} (seq 3)" in result.report()
    # the CLI (make verify-ledger) exits 1 on it; undo, so the other tests see one break each
    import os

    saved = {"DATABASE_URL": os.environ.get("DATABASE_URL")}
    monkeypatch.setenv("ANCHOR_DIR", str(tmp_path))  # no anchor
    os.environ["DATABASE_URL"] = own_database
    try:
        assert main(["verify-ledger"]) == 1
    finally:
        restore_env(saved)
    assert "verify-ledger: 1 broken chain(s)" in capsys.readouterr().out
    tamper(
        own_database,
        ("UPDATE casino_transactions SET balance_after = balance_after - 1 WHERE wallet_id = %s AND seq = 3", (wallet_id,)),
    )
    assert chain.verify(own_database).ok


@pytest.fixture
def clean_own(own_database) -> Iterator[str]:
    """Each tampering test leaves its break behind; the next one starts from a database whose
    tampered wallets are gone from the report (their rows deleted, as the owner)."""
    before = {b.wallet_id for b in chain.verify(own_database).breaks}
    assert not before
    yield own_database
    broken = [b.wallet_id for b in chain.verify(own_database).breaks]
    for wallet_id in broken:
        tamper(
            own_database,
            ("DELETE FROM casino_transactions WHERE wallet_id = %s", (wallet_id,)),
            ("UPDATE casino_wallets SET chain_seq = 0, chain_head = repeat('0', 64) WHERE id = %s", (wallet_id,)),
        )


def test_a_changed_row_is_named_changed(clean_own):
    wallet_id, _ = played_wallet(clean_own)
    tamper(clean_own, ("UPDATE casino_transactions SET amount = 1 WHERE wallet_id = %s AND seq = 2", (wallet_id,)))
    found = break_of(clean_own, wallet_id)
    assert (found.kind, found.seq, found.row_id) == ("changed", 2, row_id(clean_own, wallet_id, 2))


def test_a_removed_row_is_named_removed(clean_own):
    wallet_id, _ = played_wallet(clean_own)
    gone = row_id(clean_own, wallet_id, 3)
    tamper(clean_own, ("DELETE FROM casino_transactions WHERE id = %s", (gone,)))
    found = break_of(clean_own, wallet_id)
    assert (found.kind, found.seq) == ("removed", 4)
    assert "seq 3 missing" in found.detail


def test_a_removed_last_row_is_named_removed_by_the_head(clean_own):
    wallet_id, lines = played_wallet(clean_own)
    tamper(clean_own, ("DELETE FROM casino_transactions WHERE wallet_id = %s AND seq = %s", (wallet_id, len(lines))))
    found = break_of(clean_own, wallet_id)
    assert (found.kind, found.seq) == ("removed", len(lines))


def test_an_inserted_row_is_named_inserted(clean_own):
    """A forged row in the middle, correctly hashed for its place, the later rows moved up one:
    every later row still tells (by its hash) the place it was written at."""
    wallet_id, lines = played_wallet(clean_own)
    forged = {
        **lines[1],
        "seq": 3,
        "transactionId": "forged-bonus",
        "kind": "deposit",
        "status": "accepted",
        "amount": 5_000,
        "redeemableAmount": 0,
        "roundId": None,
        "errorCode": None,
        "prevHash": lines[1]["rowHash"],
    }
    forged["rowHash"] = recipe.row_hash(forged)
    tamper(
        clean_own,
        ("UPDATE casino_transactions SET seq = seq + 1000 WHERE wallet_id = %s AND seq >= 3", (wallet_id,)),
        ("UPDATE casino_transactions SET seq = seq - 999 WHERE wallet_id = %s AND seq > 1000", (wallet_id,)),
        (
            "INSERT INTO casino_transactions (transaction_id, kind, status, user_id, wallet_id, amount, balance_after, "
            "created_at, seq, prev_hash, row_hash) VALUES (%s, 'deposit', 'accepted', %s, %s, 5000, %s, %s, 3, %s, %s)",
            (
                forged["transactionId"],
                forged["userId"],
                wallet_id,
                forged["balanceAfter"],
                datetime.fromisoformat(forged["createdAt"].replace("Z", "+00:00")),
                forged["prevHash"],
                forged["rowHash"],
            ),
        ),
    )
    found = break_of(clean_own, wallet_id)
    assert (found.kind, found.seq) == ("inserted", 3)
    with admin_conn(clean_own) as conn:
        assert found.row_id == fetch_one(conn, "SELECT id FROM casino_transactions WHERE transaction_id = 'forged-bonus'")[0]


def test_reordered_rows_are_named_reordered(clean_own):
    wallet_id, _ = played_wallet(clean_own)
    tamper(
        clean_own,
        ("UPDATE casino_transactions SET seq = 100 WHERE wallet_id = %s AND seq = 2", (wallet_id,)),
        ("UPDATE casino_transactions SET seq = 2 WHERE wallet_id = %s AND seq = 3", (wallet_id,)),
        ("UPDATE casino_transactions SET seq = 3 WHERE wallet_id = %s AND seq = 100", (wallet_id,)),
    )
    found = break_of(clean_own, wallet_id)
    assert (found.kind, found.seq) == ("reordered", 2)


def test_a_consistently_rewritten_chain_is_caught_by_the_anchor(clean_own, tmp_path):
    """The owner rewrites a row and every hash after it, and the wallet's head: the database alone
    cannot tell; the anchor published before can. Rows written after it are reported."""
    wallet_id, lines = played_wallet(clean_own)
    target = anchor.Target(directory=tmp_path)
    with admin_conn(clean_own) as conn:
        published = anchor.publish(target, conn)
    assert published["wallets"] >= 1 and published["location"].startswith(str(tmp_path))
    result = chain.verify(clean_own, target)
    assert result.ok and result.anchor == published["location"] and wallet_id not in result.after_anchor
    played_more = played_wallet(clean_own, debits=1)[0]
    assert chain.verify(clean_own, target).after_anchor[played_more] == 2

    rewritten = [dict(x) for x in lines]
    rewritten[1]["amount"] = 1
    for i in range(1, len(rewritten)):
        rewritten[i]["prevHash"] = rewritten[i - 1]["rowHash"]
        rewritten[i]["rowHash"] = recipe.row_hash(rewritten[i])
    tamper(
        clean_own,
        *[
            (
                "UPDATE casino_transactions SET amount = %s, prev_hash = %s, row_hash = %s WHERE wallet_id = %s AND seq = %s",
                (x["amount"], x["prevHash"], x["rowHash"], wallet_id, x["seq"]),
            )
            for x in rewritten[1:]
        ],
        ("UPDATE casino_wallets SET chain_head = %s WHERE id = %s", (rewritten[-1]["rowHash"], wallet_id)),
    )
    assert not [b for b in chain.verify(clean_own).breaks if b.wallet_id == wallet_id]  # the database alone agrees
    found = break_of(clean_own, wallet_id, target)
    assert found.kind == "changed" and "anchor" in found.detail and found.seq == len(lines)


# ------------------------------------------------------------------ anchors


def test_anchor_files_are_never_overwritten_and_the_newest_is_read(tmp_path):
    target = anchor.Target(directory=tmp_path)
    old = anchor.document([(1, 3, "a" * 64)], datetime(2026, 12, 1, tzinfo=UTC))
    new = anchor.document([(1, 4, "b" * 64)], datetime(2026, 12, 2, tzinfo=UTC))
    anchor.put(new, target)
    anchor.put(old, target)
    with pytest.raises(FileExistsError):
        anchor.put(old, target)
    where, doc = anchor.newest(target)
    assert doc == new and where.endswith("20261202T000000.000000Z.json")
    assert doc["digest"] == hashlib.sha256(json.dumps(doc["wallets"], separators=(",", ":"), sort_keys=True).encode()).hexdigest()


def test_the_anchor_function_publishes_every_head_to_the_locked_bucket(database_url, monkeypatch):
    from tests.support import function

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="anchors", ObjectLockEnabledForBucket=True)
        s3.put_object_lock_configuration(
            Bucket="anchors",
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}},
            },
        )
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        monkeypatch.setenv("ANCHOR_BUCKET", "anchors")
        monkeypatch.setenv("ANCHOR_RETENTION_DAYS", "30")
        from devtools.devserver import invoke

        out = invoke(function("LedgerAnchorFunction"), json.loads((admin.ROOT / "events" / "anchor.json").read_text()))
        key = out["location"].removeprefix("s3://anchors/")
        head = s3.head_object(Bucket="anchors", Key=key)
        assert head["ObjectLockMode"] == "COMPLIANCE"
        days = (head["ObjectLockRetainUntilDate"] - datetime.now(UTC)).days
        assert 28 <= days <= 30
        doc = json.loads(s3.get_object(Bucket="anchors", Key=key)["Body"].read())
        with admin_conn(database_url) as conn:
            heads = conn.execute(
                "SELECT id, chain_seq, chain_head FROM casino_wallets WHERE chain_seq > 0 ORDER BY id"
            ).fetchall()
        assert [(w["walletId"], w["seq"], w["rowHash"]) for w in doc["wallets"]] == [tuple(h) for h in heads]
        # verify-ledger reads the newest anchor from the bucket too
        result = chain.verify(database_url, anchor.Target(bucket="anchors"))
        assert result.anchor == out["location"] and result.ok, result.report()
