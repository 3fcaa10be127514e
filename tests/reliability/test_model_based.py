"""Model-based test: random sequences of launches, debits, credits (with and without close, with
and without betTransactionId), rollbacks (known, unknown -> tombstone, repeated), late debits
after their tombstone, replays of earlier requests (same payload, reformatted, through another
session of the same player, another player, an unknown token) and altered replays, schema-invalid
requests and session expiry - through the real handlers (signed API Gateway events, real
PostgreSQL) and through tests/reliability/model.py side by side.

After every step: the response matches the model (status, code, balance, redeemable balance,
rolledBackAmount/tombstone, byte-identical replays with Idempotent-Replayed), every wallet in
play equals the model, and docs/protocol.md §9 holds for those wallets in the database (balance = its
ledger, 0 <= redeemable <= playable, a bet refunded at most once and never after a credit in its
round, no pending rows). At the end of every run the whole ledger reconciles.

Wallets in play: alice USD (mostly non-redeemable money first, then redeemable), alice EUR,
bob USD (1,000: insufficient funds come quickly), carol USD (blocked: debits refused, credits and
rollbacks paid) and a fresh player of the run's own. Ids are fresh per run (uuid4).

CI: 55 runs x up to 60 steps (about 2,900 steps, 2,300+ requests), derandomized. `make soak`: 450 runs x up to 60
(about 25,000 steps) with a fresh seed, printed at the start and on failure; RELIABILITY_SEED=<seed> replays it.
"""

from __future__ import annotations

import json
import os
import secrets
from collections import Counter

import psycopg
import pytest
from hypothesis import seed
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, multiple, rule, run_state_machine_as_test

from tests.reliability.conftest import assert_reconciled, ci_settings, soak_settings
from tests.reliability.model import MAX_BET, CasinoModel, Expected, Session, Wallet
from tests.support import ALICE, BOB, CAROL, call, enc, expire_session, make_player, new_id, new_session

PATHS = {
    "debit": "/casino/debit",
    "credit": "/casino/credit",
    "rollback": "/casino/rollback",
    "debit_credit": "/casino/debitCredit",
}
WALLETS = ["alice", "alice-eur", "bob", "carol", "fresh"]

# amounts: plain values, the game's limits, and values relative to the wallet at that moment
# ("all": exactly the balance; "all+1"; "bonus": exactly the non-redeemable part; "bonus+1")
DEBIT_AMOUNTS = st.one_of(
    st.integers(1, 3_000),
    st.integers(1, 60),
    st.sampled_from(["all", "all+1", "all+1", "bonus", "bonus+1"]),
    st.sampled_from([1, MAX_BET, MAX_BET + 1, 10**12, "all+1"]),
)
CREDIT_AMOUNTS = st.one_of(st.integers(0, 3_000), st.just(0), st.just(MAX_BET))
CURRENCIES = st.sampled_from(["session"] * 12 + ["USD", "EUR", "GBP"])  # "session": the session's own

#: §9 for the wallets in play, per step (cheap: indexed by wallet).
WALLET_CHECK = """
SELECT w.id, w.playable_balance, w.redeemable_balance,
       COALESCE(sum(t.playable_delta), 0), COALESCE(sum(t.redeemable_delta), 0),
       count(t.id) FILTER (WHERE t.status = 'pending'
           OR (t.status = 'accepted' AND t.kind = 'debit' AND t.playable_delta <> -t.amount)
           OR (t.status = 'accepted' AND t.kind <> 'debit' AND t.playable_delta <> t.amount)
           OR (t.status <> 'accepted' AND (t.playable_delta <> 0 OR t.redeemable_delta <> 0)))
  FROM casino_wallets w LEFT JOIN casino_transactions t ON t.wallet_id = w.id
 WHERE w.id = ANY(%(w)s)
 GROUP BY w.id
"""
REFUND_CHECK = """
SELECT format('bet %%s refunded %%s times', bet_transaction_id, count(*))
  FROM casino_transactions
 WHERE wallet_id = ANY(%(w)s) AND kind = 'rollback' AND status = 'accepted' AND amount > 0
 GROUP BY provider_id, bet_transaction_id HAVING count(*) > 1
UNION ALL
SELECT format('rollback %%s refunded bet %%s after credit %%s in its round', rb.transaction_id,
              rb.bet_transaction_id, cr.transaction_id)
  FROM casino_transactions rb
  JOIN casino_transactions bet ON bet.provider_id = rb.provider_id AND bet.transaction_id = rb.bet_transaction_id
  JOIN casino_transactions cr ON cr.provider_id = bet.provider_id AND cr.round_id = bet.round_id
   AND cr.kind = 'credit' AND cr.status = 'accepted' AND cr.id < rb.id
 WHERE rb.wallet_id = ANY(%(w)s) AND rb.kind = 'rollback' AND rb.status = 'accepted' AND rb.amount > 0
UNION ALL
SELECT format('rollback %%s refunded %%s but its bet took %%s', rb.transaction_id, rb.amount, bet.amount)
  FROM casino_transactions rb
  JOIN casino_transactions bet ON bet.provider_id = rb.provider_id AND bet.transaction_id = rb.bet_transaction_id
 WHERE rb.wallet_id = ANY(%(w)s) AND rb.kind = 'rollback' AND rb.status = 'accepted' AND rb.amount > 0
   AND (bet.kind <> 'debit' OR bet.status <> 'accepted' OR bet.amount <> rb.amount
        OR bet.redeemable_delta <> -rb.redeemable_delta)
"""


class WalletMachine(RuleBasedStateMachine):
    database_url: str = ""
    steps = 0  # rules run, over all runs (the CI test asserts its minimum)
    requests = 0  # requests sent to the handlers
    outcomes: Counter = Counter()  # expected codes compared, over all runs

    sessions = Bundle("sessions")
    bets = Bundle("bets")  # debit transactionIds (accepted or refused)
    others = Bundle("others")  # credit and rollback transactionIds
    ghosts = Bundle("ghosts")  # bet ids first seen by a rollback (tombstoned, unless refused)

    def __init__(self) -> None:
        super().__init__()
        self.model = CasinoModel()
        self.conn = psycopg.connect(self.database_url, autocommit=True)
        self.players: dict[str, tuple[str, str]] = {}  # label -> (user, currency)
        self.wallet_ids: dict[tuple[str, str], int] = {}
        self.history: list[tuple[str, tuple]] = []  # (kind, args) of every stored first request
        self.rejected_history: list[tuple[str, tuple]] = []  # those stored as business rejections
        self.first_raw: dict[str, str] = {}  # transactionId -> the first response's exact text
        self.bets_of: dict[str, tuple[str, str]] = {}  # bet txid -> (token, round)
        self.bets_by_token: dict[str, list[str]] = {}
        self.rounds_of: dict[str, list[str]] = {}  # token -> rounds it played
        self.all_rounds: list[str] = []
        self.ghost_ids: list[str] = []
        self.other_ids: list[str] = []
        self.rolled_back: list[str] = []

    # ------------------------------------------------------------------ setup
    @initialize(target=sessions)
    def wallets_and_first_sessions(self):
        fresh = make_player(self.database_url, 5_000, 3_000)
        for label, user, currency in (
            ("alice", ALICE, "USD"),
            ("alice-eur", ALICE, "EUR"),
            ("bob", BOB, "USD"),
            ("carol", CAROL, "USD"),
            ("fresh", fresh, "USD"),
        ):
            wid, playable, redeemable = self.conn.execute(
                "SELECT id, playable_balance, redeemable_balance FROM casino_wallets WHERE user_id = %s AND currency = %s",
                (user, currency),
            ).fetchone()
            self.players[label] = (user, currency)
            self.wallet_ids[(user, currency)] = wid
            self.model.wallets[(user, currency)] = Wallet(playable, redeemable)
        return multiple(*(self._launch(label) for label in WALLETS))

    def _launch(self, label: str) -> str:
        user, currency = self.players[label]
        token = new_session(self.database_url, user, currency)
        self.model.sessions[token] = Session(user, currency, blocked=(user == CAROL))
        return token

    def teardown(self):
        try:
            if self.players:
                assert_reconciled(self.database_url)
        finally:
            self.conn.close()

    # ------------------------------------------------------------------ sending
    def _body(self, kind: str, args: tuple, style: str = "plain") -> bytes:
        if kind == "debit":
            token, txid, round_id, amount, currency = args
            body: dict = {
                "sessionToken": token,
                "transactionId": txid,
                "roundId": round_id,
                "amount": amount,
                "currency": currency,
            }
        elif kind == "credit":
            token, txid, round_id, amount, currency, bet, closed = args
            body = {"sessionToken": token, "transactionId": txid, "roundId": round_id, "amount": amount, "currency": currency}
            if bet is not None:
                body["betTransactionId"] = bet
            # roundClosed false, null and omitted are the same request (docs/api.md)
            if closed or style in ("plain", "false"):
                body["roundClosed"] = closed
            elif style == "null":
                body["roundClosed"] = None
        elif kind == "debit_credit":
            token, txid, win_txid, round_id, amount, win, currency, closed = args
            body = {
                "sessionToken": token,
                "transactionId": txid,
                "winTransactionId": win_txid,
                "roundId": round_id,
                "amount": amount,
                "winAmount": win,
                "currency": currency,
                "roundClosed": closed,
            }
        else:
            token, txid, bet, round_id = args
            body = {"sessionToken": token, "transactionId": txid, "betTransactionId": bet}
            if round_id is not None:
                body["roundId"] = round_id
        if style == "reformatted":
            # key order, whitespace and unknown fields do not make another request (§5)
            body = dict(reversed(list({**body, "clientNote": "retry", "extra": {"n": 1}}.items())))
            return json.dumps(body, indent=2).encode()
        return enc(body)

    def _valid(self, kind: str, args: tuple) -> bool:
        """The schema (§1): debits 1 ... 10^12, credits 0 ... 10^12."""
        if kind == "rollback":
            return True
        if kind == "debit_credit":
            return 1 <= args[4] <= 10**12 and 0 <= args[5] <= 10**12
        return (1 if kind == "debit" else 0) <= args[3] <= 10**12

    def _send(self, kind: str, args: tuple, style: str = "plain") -> None:
        if not self._valid(kind, args):
            expected = Expected(400, "VALIDATION_ERROR")
        else:
            expected = getattr(self.model, kind)(*args)
        got = call(PATHS[kind], self._body(kind, args, style))
        WalletMachine.requests += 1
        self._compare(got, expected, kind, args)
        if expected.stored:
            self.history.append((kind, args))
            if expected.status != 200:
                self.rejected_history.append((kind, args))
            self.first_raw[args[1]] = got.raw

    def _compare(self, got, expected: Expected, kind: str, args: tuple) -> None:
        where = (kind, args, got.status, got.raw, expected)
        WalletMachine.outcomes[expected.code + (":replay" if expected.replay_of else "")] += 1
        assert "Traceback" not in got.raw, where
        assert got.status == expected.status and (got.code or "OK") == expected.code, where
        body = got.json
        for name, value in expected.body.items():
            assert body.get(name) == value, (name, where)
        if expected.replay_of is not None:
            # the stored status and body byte-for-byte, marked as a replay (§5)
            assert got.replayed and got.raw == self.first_raw[expected.replay_of], where
        else:
            assert not got.replayed, where
        if got.status == 200:
            assert body["casinoTransactionId"].isdigit() and body["transactionId"] == args[1], where
        else:
            assert body["error"]["message"], where
            if expected.code == "VALIDATION_ERROR":
                assert body["error"]["details"], where

    def _currency(self, token: str, choice: str) -> str:
        return self.model.sessions[token].currency if choice == "session" else choice

    def _saw_round(self, token: str, round_id: str) -> None:
        if round_id not in self.all_rounds:
            self.all_rounds.append(round_id)
            self.rounds_of.setdefault(token, []).append(round_id)

    def _amount(self, token: str, spec) -> int:
        if isinstance(spec, int):
            return spec
        w = self.model.wallets[self.model.sessions[token].wallet]
        value = {
            "all": w.playable,
            "all+1": w.playable + 1,
            "bonus": w.playable - w.redeemable,
            "bonus+1": w.playable - w.redeemable + 1,
        }[spec]
        return max(value, 1)

    # ------------------------------------------------------------------ rules
    # Choices are drawn so that most requests are plausible play (a session's own bets and rounds,
    # its own currency) with a steady share of everything that must be refused.

    def _pick(self, items: list, pick: int):
        return items[pick % len(items)] if items else None

    @rule(target=sessions, event=st.sampled_from(["launch", "launch", "expire"]), label=st.sampled_from(WALLETS), token=sessions)
    def session_event(self, event, label, token):
        """A player launches a game; or a session expires (and its player launches another)."""
        WalletMachine.steps += 1
        if event == "expire":
            expire_session(self.database_url, token)
            self.model.sessions[token].expired = True
            label = next(k for k, v in self.players.items() if v == self.model.sessions[token].wallet)
        return self._launch(label)

    @rule(
        target=bets,
        token=sessions,
        round_choice=st.sampled_from(["new", "new", "own", "own", "own", "any"]),
        pick=st.integers(0, 10**6),
        amount=DEBIT_AMOUNTS,
        currency=CURRENCIES,
        session_choice=st.sampled_from(["drawn"] * 5 + ["expired"]),
    )
    def debit(self, token, round_choice, pick, amount, currency, session_choice):
        WalletMachine.steps += 1
        if session_choice == "expired":  # a provider still betting on a session that timed out
            expired = [t for t, s in self.model.sessions.items() if s.expired]
            token = self._pick(expired, pick) or token
        own = self.rounds_of.get(token, [])
        round_id = {"new": None, "own": own[-1] if own else None, "any": self._pick(self.all_rounds, pick)}[
            round_choice
        ] or new_id("round")
        txid = new_id("bet")
        self._send("debit", (token, txid, round_id, self._amount(token, amount), self._currency(token, currency)))
        self.bets_of[txid] = (token, round_id)
        self.bets_by_token.setdefault(token, []).append(txid)
        self._saw_round(token, round_id)
        return txid

    @rule(
        target=bets,
        token=sessions,
        round_choice=st.sampled_from(["new", "new", "new", "own", "any"]),
        pick=st.integers(0, 10**6),
        amount=DEBIT_AMOUNTS,
        win=CREDIT_AMOUNTS,
        currency=CURRENCIES,
        closed=st.sampled_from([True, True, False]),
        win_choice=st.sampled_from(["fresh"] * 8 + ["taken", "same"]),
    )
    def bet_win(self, token, round_choice, pick, amount, win, currency, closed, win_choice):
        """A whole round in one call (POST /casino/debitCredit, §4b); now and then naming a
        winTransactionId that is taken (or equal to its transactionId): a conflict."""
        WalletMachine.steps += 1
        own = self.rounds_of.get(token, [])
        round_id = {"new": None, "own": own[-1] if own else None, "any": self._pick(self.all_rounds, pick)}[
            round_choice
        ] or new_id("round")
        txid = new_id("bw")
        win_txid = {"fresh": new_id("bw-win"), "taken": self._pick(list(self.first_raw), pick), "same": txid}[win_choice]
        args = (token, txid, win_txid or new_id("bw-win"), round_id, self._amount(token, amount), win)
        self._send("debit_credit", (*args, self._currency(token, currency), closed))
        self.bets_of[txid] = (token, round_id)
        self.bets_by_token.setdefault(token, []).append(txid)
        self._saw_round(token, round_id)
        return txid

    @rule(token=sessions, ghost=ghosts, amount=DEBIT_AMOUNTS, own_round=st.booleans())
    def late_debit(self, token, ghost, amount, own_round):
        """The debit of a bet a rollback saw first: refused (BET_ROLLED_BACK) if it was tombstoned."""
        WalletMachine.steps += 1
        own = self.rounds_of.get(token, [])
        round_id = own[-1] if own and own_round else new_id("round")
        self._send("debit", (token, ghost, round_id, self._amount(token, amount), self._currency(token, "session")))

    @rule(
        target=others,
        token=sessions,
        amount=CREDIT_AMOUNTS,
        currency=CURRENCIES,
        bet_choice=st.sampled_from(["latest", "latest", "latest", "any-bet", "none", "none", "ghost", "not-a-bet", "never-seen"]),
        round_choice=st.sampled_from(["bet's", "bet's", "bet's", "own", "new", "any"]),
        pick=st.integers(0, 10**6),
        closed=st.booleans(),
        style=st.sampled_from(["plain", "false", "null"]),
    )
    def credit(self, token, amount, currency, bet_choice, round_choice, pick, closed, style):
        WalletMachine.steps += 1
        mine = self.bets_by_token.get(token, [])
        bet = {
            "latest": mine[-1] if mine else None,
            "any-bet": self._pick(list(self.bets_of), pick),
            "none": None,
            "ghost": self._pick(self.ghost_ids, pick),
            "not-a-bet": self._pick(self.other_ids, pick),
            "never-seen": new_id("never"),
        }[bet_choice]
        own = self.rounds_of.get(token, [])
        round_id = {
            "bet's": self.bets_of.get(bet, (None, None))[1],
            "own": own[-1] if own else None,
            "new": None,
            "any": self._pick(self.all_rounds, pick),
        }[round_choice] or new_id("round")
        txid = new_id("win")
        self._send("credit", (token, txid, round_id, amount, self._currency(token, currency), bet, closed), style)
        self._saw_round(token, round_id)
        self.other_ids.append(txid)
        return txid

    @rule(target=others, token=sessions, amount=CREDIT_AMOUNTS, closed=st.sampled_from([True, True, False]))
    def settle(self, token, amount, closed):
        """The usual end of a round: a win (or 0) on the session's latest bet, closing the round."""
        WalletMachine.steps += 1
        mine = self.bets_by_token.get(token, [])
        bet = mine[-1] if mine else None
        round_id = self.bets_of[bet][1] if bet else new_id("round")
        txid = new_id("win")
        self._send("credit", (token, txid, round_id, amount, self.model.sessions[token].currency, bet, closed))
        self._saw_round(token, round_id)
        self.other_ids.append(txid)
        return txid

    @rule(
        target=others,
        token=sessions,
        bet_choice=st.sampled_from(["latest", "latest", "latest", "any-bet", "not-a-bet", "itself"]),
        round_choice=st.sampled_from(["none", "bet's", "bet's", "any"]),
        pick=st.integers(0, 10**6),
        own_session=st.sampled_from([True, True, True, False]),
    )
    def rollback(self, token, bet_choice, round_choice, pick, own_session):
        WalletMachine.steps += 1
        mine = self.bets_by_token.get(token, [])
        txid = new_id("rb")
        bet = {
            "latest": mine[-1] if mine else None,
            "any-bet": self._pick(list(self.bets_of), pick),
            "not-a-bet": self._pick(self.other_ids, pick),
            "itself": txid,
        }[bet_choice] or new_id("ghost")
        if own_session and bet in self.bets_of:
            token = self.bets_of[bet][0]
        round_id = {"none": None, "bet's": self.bets_of.get(bet, (None, None))[1], "any": self._pick(self.all_rounds, pick)}[
            round_choice
        ]
        self._send("rollback", (token, txid, bet, round_id))
        self.rolled_back.append(bet)
        self.other_ids.append(txid)
        return txid

    @rule(target=ghosts, token=sessions, round_choice=st.sampled_from(["none", "none", "own", "any"]), pick=st.integers(0, 10**6))
    def rollback_unknown(self, token, round_choice, pick):
        """A rollback that arrives before (or instead of) its bet: a tombstone, unless the round
        it names is another session's or already settled."""
        WalletMachine.steps += 1
        own = self.rounds_of.get(token, [])
        round_id = {"none": None, "own": own[-1] if own else None, "any": self._pick(self.all_rounds, pick)}[round_choice]
        ghost = new_id("ghost")
        txid = new_id("rb")
        self._send("rollback", (token, txid, ghost, round_id))
        self.ghost_ids.append(ghost)
        self.other_ids.append(txid)
        return ghost

    @rule(pick=st.integers(0, 10**6), own_session=st.booleans(), token=sessions, with_round=st.booleans())
    def rollback_again(self, pick, own_session, token, with_round):
        """A bet (or ghost) rolled back again under another rollback id: nothing more moves."""
        WalletMachine.steps += 1
        bet = self._pick(self.rolled_back + self.ghost_ids, pick)
        if bet is None:
            return
        if own_session and bet in self.bets_of:
            token = self.bets_of[bet][0]
        round_id = self.bets_of[bet][1] if bet in self.bets_of and with_round else None
        self._send("rollback", (token, new_id("rb"), bet, round_id))

    @rule(token=sessions, session_choice=st.sampled_from(["drawn", "drawn", "expired"]), pick=st.integers(0, 10**6))
    def get_balance(self, token, session_choice, pick):
        WalletMachine.steps += 1
        if session_choice == "expired":
            token = self._pick([t for t, s in self.model.sessions.items() if s.expired], pick) or token
        got = call("/casino/getBalance", {"sessionToken": token})
        self._compare_balance(got, self.model.get_balance(token))

    def _compare_balance(self, got, expected: Expected) -> None:
        WalletMachine.requests += 1
        WalletMachine.outcomes[expected.code] += 1
        assert (got.status, got.code or "OK") == (expected.status, expected.code), (got, expected)
        for name, value in expected.body.items():
            assert got.json[name] == value, (name, got, expected)
        assert not got.replayed

    @rule(
        pick=st.integers(0, 10**6),
        source=st.sampled_from(["latest", "any", "latest-rejected", "any-rejected"]),
        via=st.sampled_from(["same", "same", "reformatted", "same-player", "other-player", "unknown-token"]),
        other=sessions,
    )
    def replay(self, pick, source, via, other):
        """A provider retry of an earlier request: answered from the store byte-for-byte when it is
        the same request (also reformatted, or through another session of the same player), a
        409 TRANSACTION_ID_CONFLICT from another player or an unknown token (docs/api.md)."""
        WalletMachine.steps += 1
        if not self.history:
            return
        pool = self.rejected_history if source.endswith("rejected") and self.rejected_history else self.history
        kind, args = pool[-1] if source.startswith("latest") else self._pick(pool, pick)
        token = args[0]
        player = self.model.sessions[token].player
        if via == "same-player":
            same = [t for t, s in self.model.sessions.items() if s.player == player and t != token]
            token = self._pick(same, pick) or token
        elif via == "other-player" and self.model.sessions[other].player != player:
            token = other
        elif via == "unknown-token":
            token = "unknown-" + new_id("tok")
        self._send(kind, (token, *args[1:]), "reformatted" if via == "reformatted" else "plain")

    @rule(
        pick=st.integers(0, 10**6),
        field=st.sampled_from(["amount", "roundId", "currency", "betTransactionId", "roundClosed", "endpoint"]),
    )
    def replay_altered(self, pick, field):
        """The same transactionId with another payload or on another endpoint: 409, nothing changes."""
        WalletMachine.steps += 1
        if not self.history:
            return
        kind, args = self._pick(self.history, pick)
        a = list(args)
        if kind == "debit":  # token, txid, round, amount, currency
            if field == "endpoint":
                kind, a = "credit", [*a, None, False]
            else:
                index = {"amount": 3, "roundId": 2, "currency": 4}.get(field, 3)
                a[index] = {3: a[3] + 1, 2: a[2] + "-x", 4: "EUR" if a[4] == "USD" else "USD"}[index]
        elif kind == "credit":  # token, txid, round, amount, currency, bet, closed
            if field == "endpoint" and a[3] >= 1:
                kind, a = "debit", a[:5]
            else:
                index = {"amount": 3, "roundId": 2, "currency": 4, "betTransactionId": 5, "roundClosed": 6}.get(field, 3)
                a[index] = {
                    3: lambda v: v + 1,
                    2: lambda v: v + "-x",
                    4: lambda v: "EUR" if v == "USD" else "USD",
                    5: lambda v: None if v else new_id("other-bet"),
                    6: lambda v: not v,
                }[index](a[index])
        elif kind == "debit_credit":  # token, txid, win txid, round, amount, win, currency, closed
            if field == "endpoint":
                kind, a = "debit", [a[0], a[1], a[3], a[4], a[6]]
            else:
                index = {"amount": 4, "roundId": 3, "currency": 6, "betTransactionId": 2, "roundClosed": 7}[field]
                a[index] = {
                    4: lambda v: v + 1,
                    3: lambda v: v + "-x",
                    6: lambda v: "EUR" if v == "USD" else "USD",
                    2: lambda v: v + "-x",
                    7: lambda v: not v,
                }[index](a[index])
        else:  # token, txid, bet, round
            if field == "roundId":
                a[3] = None if a[3] else new_id("round")
            else:
                a[2] = a[2] + "-x"
        self._send(kind, tuple(a))

    @rule(
        token=sessions,
        pick=st.integers(0, 10**6),
        what=st.sampled_from(
            ["invalid-fresh", "invalid-stored", "unknown-getBalance", "unknown-debit", "unknown-credit", "unknown-rollback"]
        ),
        bad=st.sampled_from([0, -1, "100", 1.5, None, True, 10**12 + 1]),
    )
    def hostile(self, token, pick, what, bad):
        """Schema-invalid (400) even with a stored transactionId: validation comes before
        idempotency and nothing is stored (a later valid request with the id is a first). An
        unknown sessionToken with a fresh transactionId: 404, nothing stored."""
        WalletMachine.steps += 1
        if what.startswith("invalid"):
            stored = self._pick(self.history, pick)
            txid = stored[1][1] if stored and what == "invalid-stored" else new_id("bad")
            body = {"sessionToken": token, "transactionId": txid, "roundId": "r", "amount": bad, "currency": "USD"}
            got = call("/casino/debit", body)
            WalletMachine.requests += 1
            self._compare(got, Expected(400, "VALIDATION_ERROR"), "debit", (token, txid))
            return
        endpoint = what.removeprefix("unknown-")
        token = "no-such-" + new_id("tok")
        if endpoint == "getBalance":
            self._compare_balance(call("/casino/getBalance", {"sessionToken": token}), Expected(404, "SESSION_NOT_FOUND"))
            return
        args = {
            "debit": (token, new_id("x"), new_id("round"), 5, "USD"),
            "credit": (token, new_id("x"), new_id("round"), 5, "USD", None, False),
            "rollback": (token, new_id("x"), new_id("ghost"), None),
        }[endpoint]
        self._send(endpoint, args)

    # ------------------------------------------------------------------ after every step
    @invariant()
    def database_agrees_with_the_model(self):
        if not self.wallet_ids:
            return
        ids = list(self.wallet_ids.values())
        rows = {r[0]: r[1:] for r in self.conn.execute(WALLET_CHECK, {"w": ids})}
        for key, wid in self.wallet_ids.items():
            playable, redeemable, ledger_playable, ledger_redeemable, bad_rows = rows[wid]
            w = self.model.wallets[key]
            assert (playable, redeemable) == (w.playable, w.redeemable), (key, rows[wid], w)
            assert (ledger_playable, ledger_redeemable) == (playable, redeemable), (key, rows[wid])
            assert bad_rows == 0 and 0 <= redeemable <= playable, (key, rows[wid])
        problems = [r[0] for r in self.conn.execute(REFUND_CHECK, {"w": ids})]
        assert problems == [], problems


#: every outcome the model knows; the CI run must reach each of them (the comparison is not vacuous),
#: and replays of accepted and of several kinds of stored rejections
ALL_OUTCOMES = {
    "OK",
    "OK:replay",
    "INSUFFICIENT_FUNDS",
    "SESSION_EXPIRED",
    "PLAYER_BLOCKED",
    "CURRENCY_MISMATCH",
    "BET_ROLLED_BACK",
    "ROUND_MISMATCH",
    "ROUND_CLOSED",
    "BET_LIMIT_EXCEEDED",
    "BET_NOT_FOUND",
    "BET_ALREADY_SETTLED",
    "NOT_A_BET",
    "TRANSACTION_ID_CONFLICT",
    "VALIDATION_ERROR",
    "SESSION_NOT_FOUND",
}


def run(database_url: str, hypothesis_settings, seed_value: int | None = None) -> Counter:
    """Runs the machine; with a seed (printed now, and added to the failure) instead of the
    derandomized sequence."""
    WalletMachine.database_url = database_url
    WalletMachine.steps = WalletMachine.requests = 0
    WalletMachine.outcomes = Counter()
    if seed_value is not None:
        print(f"model-based: seed {seed_value} (replay: RELIABILITY_SEED={seed_value})")
        seed(seed_value)(WalletMachine)
    try:
        run_state_machine_as_test(WalletMachine, settings=hypothesis_settings)
    except BaseException as exc:
        if seed_value is not None:
            exc.add_note(
                f"model-based run with seed {seed_value}: replay with RELIABILITY_SEED={seed_value} "
                "(make soak, or pytest tests/reliability/test_model_based.py)"
            )
        raise
    finally:
        WalletMachine._hypothesis_internal_use_seed = None
        print(
            f"model-based: {WalletMachine.steps} steps, {WalletMachine.requests} requests; outcomes:",
            dict(sorted(WalletMachine.outcomes.items())),
        )
    return WalletMachine.outcomes


def env_seed() -> int | None:
    value = os.environ.get("RELIABILITY_SEED")
    return int(value) if value else None


def test_wallet_matches_the_model(database_url):
    """CI: derandomized (the same sequence every run) unless RELIABILITY_SEED asks for another."""
    outcomes = run(database_url, ci_settings(max_examples=55, stateful_step_count=60), env_seed())
    assert WalletMachine.steps >= 2_000, WalletMachine.steps
    if env_seed() is not None:
        return  # the counts below are properties of the derandomized sequence
    assert WalletMachine.requests >= 2_000, WalletMachine.requests
    assert ALL_OUTCOMES <= set(outcomes), f"never reached: {sorted(ALL_OUTCOMES - set(outcomes))}"
    replayed_rejections = {k for k in outcomes if k.endswith(":replay") and not k.startswith("OK")}
    assert len(replayed_rejections) >= 6, replayed_rejections


@pytest.mark.soak
def test_wallet_matches_the_model_soak(database_url):
    """make soak: 450 runs x up to 60 steps, a fresh seed each time (RELIABILITY_SEED replays one)."""
    seed_value = env_seed()
    run(
        database_url,
        soak_settings(max_examples=450, stateful_step_count=60),
        seed_value if seed_value is not None else secrets.randbits(32),
    )
    assert WalletMachine.steps >= 20_000, WalletMachine.steps
