"""The outcome reconcile (sql/checks/outcome.sql, devtools.admin.reconcile; docs/protocol.md §6,
§7a "Cross-check"; docs/settlement.md): for every round the provider recorded, the casino moved
only its player's wallet, every owed credit or refund was accepted or is parked, a cancelled round
refunded every bet that stood, a finished round's net movement is what its answered actions
imply, and no round sits open past ROUND_TIMEOUT_SECONDS unlisted.

Each `test_path_*` plants what one of issue 26's paths left behind - the casino's side through
its real signed callbacks (as the faulty provider sent them), the provider's records by direct
SQL as the database owner - and asserts reconcile names that round, its player and the amount.
The last tests show contract-correct outcomes of every kind reconcile clean, so it can pass as
well as fail. Everything runs in a database of its own (the session's database is reconciled at
the end and must stay clean)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from psycopg.types.json import Jsonb
from seamless.runtime import db
from seamless.runtime.settings import reload_settings

from devtools import admin, localdb
from tests.support import admin_conn, call, fetch_one, make_player, new_id, new_session, provider_session_for


def _scratch_database(database_url: str) -> Iterator[str]:
    """A database of its own, migrated and seeded, that the handlers use while it lives."""
    name = admin.new_test_database_name()
    scratch = localdb.create_database(database_url, name)
    saved = os.environ["DATABASE_URL"]
    db.close_all()
    os.environ["DATABASE_URL"] = scratch
    reload_settings()
    try:
        admin.migrate(scratch, quiet=True)
        admin.seed(scratch, quiet=True)
        yield scratch
    finally:
        db.close_all()
        os.environ["DATABASE_URL"] = saved
        reload_settings()
        localdb.drop_database(database_url, name)


@pytest.fixture(scope="module")
def url(database_url) -> Iterator[str]:
    yield from _scratch_database(database_url)


@dataclass
class Player:
    user: str
    token: str
    session: str  # the provider's session id


def player(url: str, opening: int = 100_000) -> Player:
    user = make_player(url, opening)
    token = new_session(url, user, expires_in_seconds=86_400)
    return Player(user, token, provider_session_for(url, user, token))


ENDPOINT = {"bet": "debit", "win": "credit", "close": "credit", "rollback": "rollback", "betWin": "debitCredit"}


@dataclass
class Planted:
    """One round in the provider's records, its callbacks sent to the real casino handlers."""

    url: str
    owner: Player
    round_id: str = field(default_factory=lambda: new_id("planted"))
    pk: int = 0
    index: int = 0

    def __post_init__(self) -> None:
        with admin_conn(self.url) as conn:
            (self.pk,) = fetch_one(
                conn,
                "INSERT INTO provider_game_rounds (round_id, provider_session_id, status) VALUES (%s, %s, 'open') RETURNING id",
                (self.round_id, self.owner.session),
            )

    def txid(self, kind: str) -> str:
        return f"{self.round_id}:{kind}:{self.index}"

    def payload(self, kind: str, txid: str, amount: int, bet: str | None, close: bool) -> dict[str, Any]:
        if kind == "rollback":
            return {"transactionId": txid, "betTransactionId": bet, "roundId": self.round_id}
        fields: dict[str, Any] = {"transactionId": txid, "roundId": self.round_id, "amount": amount, "currency": "USD"}
        if kind == "betWin":  # one debitCredit: the bet's amount, and a win of `bet` (a number here)
            return {**fields, "winTransactionId": f"{txid}:win", "winAmount": int(bet or 0), "roundClosed": True}
        if bet and kind != "bet":
            fields["betTransactionId"] = bet
        if close:
            fields["roundClosed"] = True
        return fields

    def action(
        self,
        kind: str,
        amount: int = 0,
        *,
        bet: str | None = None,
        close: bool = False,
        send_as: Player | None = None,
        answer: tuple[int, str] | None = None,
        state: str | None = None,
        rescue: bool = False,
        txid: str | None = None,
    ) -> str:
        """Records one callback of the round. `send_as`: sent to the casino with that player's
        token (the casino's answer is recorded); `answer`: recorded as if the casino had answered
        this (status, body) without the casino ever seeing it; neither: never sent."""
        txid = txid or self.txid(kind) + (":rescue" if rescue else "")
        self.index += 1
        fields = self.payload(kind, txid, amount, bet, close)
        attempts: list[dict[str, Any]] = []
        final: tuple[int, str] | None = None
        if send_as is not None:
            r = call(f"/casino/{ENDPOINT[kind]}", {"sessionToken": send_as.token, **fields})
            attempts.append({"attempt": 1, "httpStatus": r.status, "body": r.raw, "error": None, "replayed": r.replayed})
            final = (r.status, "OK" if r.status == 200 else str(r.code))
        elif answer is not None:
            status, body = answer
            attempts.append({"attempt": 1, "httpStatus": status, "body": body, "error": None, "replayed": False})
            final = (status, "OK" if status == 200 else json.loads(body)["error"]["code"])
        with admin_conn(self.url) as conn:
            conn.execute(
                "INSERT INTO provider_bets (game_round_id, action_index, action_type, endpoint, transaction_id, amount, "
                "payload, attempts, final_status, final_code, state, rescue, updated_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now())",
                (
                    self.pk,
                    self.index,
                    kind,
                    ENDPOINT[kind],
                    txid,
                    amount,
                    Jsonb(fields),
                    Jsonb(attempts),
                    final[0] if final else None,
                    final[1] if final else None,
                    state or ("delivered" if final else "pending"),
                    rescue,
                ),
            )
        return txid

    def status(self, status: str, *, idle_seconds: int = 0) -> None:
        with admin_conn(self.url) as conn:
            conn.execute(
                "UPDATE provider_game_rounds SET status = %s, lease_owner = NULL, lease_until = NULL, "
                "updated_at = now() - make_interval(secs => %s) WHERE id = %s",
                (status, idle_seconds, self.pk),
            )
            conn.execute(
                "UPDATE provider_bets SET next_attempt_at = now() - make_interval(secs => %s) WHERE game_round_id = %s",
                (idle_seconds, self.pk),
            )

    def differences(self) -> list[admin.Difference]:
        return [d for d in admin.reconcile(self.url).differences if d.round_id == self.round_id]


def found(differences: list[admin.Difference], player: Player, amount: int, *words: str) -> bool:
    return any(d.player == player.user and d.amount == amount and all(w in d.what for w in words) for d in differences)


def shown(differences: list[admin.Difference]) -> str:
    return "\n".join(str(d) for d in differences) or "no difference at all"


def unauthorized() -> str:
    return json.dumps({"error": {"code": "INVALID_SIGNATURE", "message": "The signature does not match."}})


# ------------------------------------------------------------------ issue 26's paths, planted


def test_path_1_a_win_of_alices_round_paid_into_bobs_wallet(url):
    """Path 1: the round's session was re-pointed to another player's before anything reached
    the casino: the round's bet and win went through bob's session."""
    alice, bob = player(url), player(url)
    rnd = Planted(url, alice)
    bet = rnd.action("bet", 500, send_as=bob)
    rnd.action("win", 1_000, bet=bet, close=True, send_as=bob)
    rnd.status("completed")
    diffs = rnd.differences()
    assert found(diffs, alice, 1_000, "credit", f"player {bob.user}'s session"), shown(diffs)
    assert found(diffs, alice, -500, "debit", f"player {bob.user}'s session"), shown(diffs)
    assert admin.reconcile(url).ok is False


def test_path_1_a_refund_refused_round_mismatch_marked_delivered_and_the_round_open_for_ever(url):
    """Path 1: alice's bet stands; its refund went out under bob's session (refused
    ROUND_MISMATCH) and was marked delivered; the round then stayed open for good."""
    alice, bob = player(url), player(url)
    rnd = Planted(url, alice)
    bet = rnd.action("bet", 100, send_as=alice)
    rnd.action("rollback", 100, bet=bet, send_as=bob)
    rnd.status("open", idle_seconds=2 * admin.round_timeout_seconds())
    diffs = rnd.differences()
    assert found(diffs, alice, 100, "rollback", "marked delivered", "ROUND_MISMATCH", "not parked"), shown(diffs)
    assert found(diffs, alice, 0, "rollback", f"player {bob.user}'s session"), shown(diffs)
    assert found(diffs, alice, 0, "idle since", "ROUND_TIMEOUT_SECONDS", "nothing of it is parked"), shown(diffs)


def test_path_2_a_retried_win_overtook_a_parked_rollback(url):
    """Path 2: the operator's retry delivered the win before the parked rollback; the rollback
    was then refused BET_ALREADY_SETTLED and marked delivered: the player is 500 short."""
    alice = player(url)
    rnd = Planted(url, alice)
    bet = rnd.action("bet", 500, send_as=alice)
    rollback_txid = rnd.txid("rollback")
    rnd.index += 1
    rnd.action("win", 700, bet=bet, close=True, send_as=alice)
    rnd.action("rollback", 500, bet=bet, send_as=alice, txid=rollback_txid)
    rnd.status("completed")
    diffs = rnd.differences()
    assert found(diffs, alice, 500, "rollback", "BET_ALREADY_SETTLED", "not parked"), shown(diffs)


def test_path_3_truncated_derived_ids_collide_and_a_round_never_ends(url):
    """Path 3: two 108-character round ids sharing 100 characters; the sweeper's closing id was
    the truncated round id, so the second round's close is the first's (TRANSACTION_ID_CONFLICT)
    and that round stays open."""
    alice, bob = player(url), player(url)
    prefix = new_id("c")
    prefix = (prefix + "x" * 100)[:100]
    one, two = Planted(url, alice, round_id=prefix + "-round-1"), Planted(url, bob, round_id=prefix + "-round-2")
    assert len(one.round_id) == len(two.round_id) == 108
    for rnd, who in ((one, alice), (two, bob)):
        rnd.action("bet", 300, send_as=who)
        rnd.action("close", 0, close=True, send_as=who, txid=f"{prefix}:sweep-close")
    one.status("completed")
    two.status("open", idle_seconds=2 * admin.round_timeout_seconds())
    diffs = two.differences()
    assert found(diffs, bob, 0, "close", "holds this transactionId for another round", one.round_id), shown(diffs)
    assert found(diffs, bob, 0, "open, idle since"), shown(diffs)
    assert one.differences() == [], shown(one.differences())


def test_path_4_an_unstored_refusal_taken_as_final_then_the_round_closed_over_a_parked_win(url):
    """Path 4: a refund answered 401 (a secret skew: the casino stored nothing) was marked
    delivered; the win behind it parked undelivered; the sweeper closed the round with a zero
    credit, so the win can no longer be paid."""
    alice = player(url)
    rnd = Planted(url, alice)
    bet = rnd.action("bet", 1_000, send_as=alice)
    rnd.action("rollback", 1_000, bet=bet, answer=(401, unauthorized()))
    rnd.action("win", 2_500, state="parked")
    rnd.action("close", 0, close=True, send_as=alice, txid=f"{rnd.round_id}:sweep-close")
    rnd.status("completed")
    diffs = rnd.differences()
    assert found(diffs, alice, 1_000, "rollback", "401 INVALID_SIGNATURE", "never accepted it"), shown(diffs)
    assert found(diffs, alice, 2_500, "win", "undelivered when close", "closed the round"), shown(diffs)


def test_path_5_a_transient_fault_voided_the_round(url):
    """Path 5: [bet 300, rollback 0, bet 200, win 900 close], the rollback answered 503 three
    times: the drainer compensated bet 200 (never sent) and cancelled the win - Δ 0, not +700."""
    alice = player(url)
    rnd = Planted(url, alice)
    bet0 = rnd.action("bet", 300, send_as=alice)
    rnd.action("rollback", 300, bet=bet0, send_as=alice)
    bet1 = rnd.action("bet", 200, state="cancelled")
    rnd.action("win", 900, bet=bet1, close=True, state="cancelled")
    rnd.action("rollback", 200, bet=bet1, rescue=True, send_as=alice, txid=f"{bet1}:rescue")
    rnd.status("cancelled")
    diffs = rnd.differences()
    assert found(diffs, alice, 700, "cancelled on account of", bet1, "never sent"), shown(diffs)


def test_path_6_the_sweeper_parked_a_bet(url):
    """Path 6: with a zero horizon the sweeper parked a pending bet instead of compensating it."""
    alice = player(url)
    rnd = Planted(url, alice)
    bet = rnd.action("bet", 400, state="parked")
    rnd.action("win", 800, bet=bet, close=True, state="parked")
    rnd.status("pending_settlement", idle_seconds=2 * admin.round_timeout_seconds())
    diffs = rnd.differences()
    assert found(diffs, alice, -400, "bet", "is parked", "never parked"), shown(diffs)


def test_path_8_a_cancelled_round_kept_its_stake(url):
    """Path 8 (seed 4244165557): the round ended `cancelled` while its bet and close were still
    pending and undelivered; the casino kept the 810 stake."""
    alice = player(url)
    rnd = Planted(url, alice)
    bet_txid = rnd.txid("bet")
    call("/casino/debit", {"sessionToken": alice.token, **rnd.payload("bet", bet_txid, 810, None, False)})
    rnd.action("bet", 810, txid=bet_txid)  # recorded, its answer lost: still pending
    rnd.action("close", 0, close=True)
    rnd.status("cancelled")
    diffs = rnd.differences()
    assert found(diffs, alice, -810, "cancelled", bet_txid, "still stands"), shown(diffs)
    assert found(diffs, alice, -810, "imply 0, the casino moved -810"), shown(diffs)
    assert found(diffs, alice, 0, "cancelled, but its bet", "still pending"), shown(diffs)


def test_a_completed_round_whose_net_movement_disagrees(url):
    """A win recorded as accepted for more than the casino paid (a provider record edited, or a
    replay answered from another id): the round's answers imply more than the casino moved."""
    alice = player(url)
    rnd = Planted(url, alice)
    bet = rnd.action("bet", 250, send_as=alice)
    win = rnd.action("win", 600, bet=bet, close=True, send_as=alice)
    with admin_conn(url) as conn:
        conn.execute("UPDATE provider_bets SET amount = 900 WHERE transaction_id = %s", (win,))
    rnd.status("completed")
    diffs = rnd.differences()
    assert found(diffs, alice, -300, "imply 650, the casino moved 350"), shown(diffs)


def test_a_bet_win_round_whose_record_disagrees_with_the_casino(url):
    """A betWin (one debitCredit) moves its win minus its bet: the casino credited 800 on a bet
    of 300, the provider's record says a win of 900."""
    alice = player(url)
    whole = Planted(url, alice)
    txid = whole.action("betWin", 300, bet="800", send_as=alice)
    whole.status("completed")
    with admin_conn(url) as conn:
        conn.execute(
            "UPDATE provider_bets SET payload = jsonb_set(payload, '{winAmount}', '900') WHERE transaction_id = %s", (txid,)
        )
    found = [d for d in admin.reconcile(url).differences if d.round_id == whole.round_id]
    assert [(d.player, d.amount) for d in found] == [(alice.user, -100)], shown(found)
    assert "imply 600, the casino moved 500" in found[0].what, shown(found)


def test_the_command_exits_1_and_names_the_round(url, capsys):
    """`python -m devtools reconcile` (make reconcile) prints each difference and exits 1."""
    from devtools.__main__ import main

    alice = player(url)
    rnd = Planted(url, alice)
    bet = rnd.action("bet", 100, send_as=alice)
    rnd.action("rollback", 100, bet=bet, answer=(401, unauthorized()))
    rnd.status("completed")
    saved = os.environ.get("DATABASE_URL")
    assert main(["reconcile"]) == 1
    out = capsys.readouterr().out
    assert f"DIFFERENCE (round outcome): round {rnd.round_id}, player {alice.user}, +100: rollback" in out, out
    assert "reconcile: MISMATCH" in out
    assert os.environ.get("DATABASE_URL") == saved


# ------------------------------------------------------------------ clean outcomes reconcile OK


@pytest.fixture
def clean_url(database_url) -> Iterator[str]:
    yield from _scratch_database(database_url)


def test_contract_outcomes_of_every_kind_reconcile_clean(clean_url):
    """What a correct provider leaves: a completed seed round; a round compensated after an
    undecided debit (cancelled, the stake refunded); a refused refund and a refused win parked
    for an operator; a round in durable settlement within its time; a round just played and not
    closed yet. Reconcile is OK."""
    url = clean_url
    alice, bob = player(url), player(url)

    seed = Planted(url, alice)  # bets 1000 and 500, rollback of bet 1, win 2500 on bet 0
    b0, b1 = seed.action("bet", 1_000, send_as=alice), seed.action("bet", 500, send_as=alice)
    seed.action("rollback", 500, bet=b1, send_as=alice)
    seed.action("win", 2_500, bet=b0, close=True, send_as=alice)
    seed.status("completed")

    rescued = Planted(url, bob)  # the debit's answer was lost: compensated, the round cancelled
    bet = rescued.action("bet", 700, send_as=bob, state="cancelled")
    with admin_conn(url) as conn:  # the provider never got the answer
        conn.execute(
            "UPDATE provider_bets SET final_status = NULL, final_code = NULL, "
            'attempts = \'[{"attempt": 1, "httpStatus": null, "error": "read timed out"}]\' '
            "WHERE transaction_id = %s",
            (bet,),
        )
    rescued.action("win", 1_400, bet=bet, close=True, state="cancelled")
    rescued.action("rollback", 700, bet=bet, rescue=True, send_as=bob, txid=f"{bet}:rescue")
    rescued.status("cancelled")

    refused = Planted(url, alice)  # a rollback after the close and a win after it: parked
    bet = refused.action("bet", 300, send_as=alice)
    refused.action("close", 0, close=True, send_as=alice)
    refused.action("rollback", 300, bet=bet, send_as=alice, state="parked")
    refused.action("win", 900, bet=bet, send_as=alice, state="parked")
    refused.status("completed")

    pending = Planted(url, bob)  # a win queued behind an undecided one, due again soon
    bet = pending.action("bet", 100, send_as=bob)
    pending.action("win", 200, bet=bet, close=True, state="queued")
    pending.status("pending_settlement", idle_seconds=60)

    whole = Planted(url, bob)  # a whole round in one debitCredit: bet 300, win 800
    whole.action("betWin", 300, bet="800", send_as=bob)
    whole.status("completed")

    playing = Planted(url, alice)  # played, not closed yet; the sweeper's time has not come
    playing.action("bet", 50, send_as=alice)
    playing.status("open", idle_seconds=10)

    result = admin.reconcile(url)
    assert result.differences == [], shown(result.differences)
    assert result.ok, result.table()
    assert "0 difference(s)" in result.table() and "reconcile: OK" in result.table()
    assert {p["transaction_id"] for p in result.parked} >= {a for a in _parked(url, refused.round_id)}


def _parked(url: str, round_id: str) -> list[str]:
    with admin_conn(url) as conn:
        rows = conn.execute(
            "SELECT b.transaction_id FROM provider_bets b JOIN provider_game_rounds r ON r.id = b.game_round_id "
            "WHERE r.round_id = %s AND b.state = 'parked'",
            (round_id,),
        ).fetchall()
    assert len(rows) == 2
    return [r[0] for r in rows]
