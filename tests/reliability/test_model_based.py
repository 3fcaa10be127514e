"""Model-based test: random sequences of launches, debits, credits, rollbacks (known, unknown,
repeated), replays with the same or an altered payload, and session expiry, through the real
handlers and through tests/reliability/model.py side by side. After every step the answers
and both players' wallets must agree; at the end of every run the ledger reconciles.

CI runs about 2,000 steps (derandomized); `make soak` runs the `soak` variant (20,000+).
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule

from devtools import admin
from tests.reliability.model import CasinoModel, Outcome, Wallet
from tests.support import call, expire_session, make_player, new_id, new_session, wallet

AMOUNTS = st.one_of(st.integers(1, 3_000), st.sampled_from([1, 2_999, 100_001]))
CREDITS = st.one_of(st.integers(0, 2_000), st.just(0))
CURRENCIES = st.sampled_from(["USD"] * 9 + ["EUR"])


class WalletMachine(RuleBasedStateMachine):
    database_url: str = ""

    sessions = Bundle("sessions")
    rounds = Bundle("rounds")
    txids = Bundle("txids")      # every transactionId sent so far (bets, wins, rollbacks)

    def __init__(self) -> None:
        super().__init__()
        self.model = CasinoModel()
        self.players: list[str] = []
        self.history: list[tuple[str, dict, object]] = []  # (path, body, first response)

    @initialize(target=sessions)
    def players_and_first_sessions(self):
        for balance, redeemable in ((5_000, 3_000), (2_000, 2_000)):
            player = make_player(self.database_url, balance, redeemable)
            self.players.append(player)
            self.model.wallets[player] = Wallet(balance, redeemable)
        return self._launch(self.players[0])

    def _launch(self, player: str) -> str:
        token = new_session(self.database_url, player)
        self.model.sessions[token] = (player, False)
        return token

    # ------------------------------------------------------------------ rules
    @rule(target=sessions, which=st.integers(0, 1))
    def launch(self, which):
        return self._launch(self.players[which])

    @rule(token=sessions)
    def expire(self, token):
        player, _ = self.model.sessions[token]
        expire_session(self.database_url, token)
        self.model.sessions[token] = (player, True)

    @rule(target=rounds)
    def new_round(self):
        return new_id("round")

    @rule(target=txids, token=sessions, round_id=rounds, amount=AMOUNTS, currency=CURRENCIES)
    def debit(self, token, round_id, amount, currency):
        txid = new_id("bet")
        body = {"sessionToken": token, "transactionId": txid, "roundId": round_id, "amount": amount,
                "currency": currency}
        self._check("/casino/debit", body, self.model.debit(token, txid, round_id, amount, currency))
        return txid

    @rule(target=txids, token=sessions, round_id=rounds, amount=CREDITS, currency=CURRENCIES,
          bet=st.one_of(st.none(), txids, st.just("never-seen")), closed=st.booleans())
    def credit(self, token, round_id, amount, currency, bet, closed):
        txid = new_id("win")
        body = {"sessionToken": token, "transactionId": txid, "roundId": round_id, "amount": amount,
                "currency": currency, "roundClosed": closed}
        if bet is not None:
            body["betTransactionId"] = bet
        self._check("/casino/credit", body, self.model.credit(token, txid, round_id, amount, currency, bet, closed))
        return txid

    @rule(target=txids, token=sessions, bet=st.one_of(txids, st.builds(lambda: new_id("ghost"))),
          round_id=st.one_of(st.none(), rounds))
    def rollback(self, token, bet, round_id):
        txid = new_id("rb")
        body = {"sessionToken": token, "transactionId": txid, "betTransactionId": bet}
        if round_id is not None:
            body["roundId"] = round_id
        self._check("/casino/rollback", body, self.model.rollback(token, txid, bet, round_id))
        return txid

    @rule(token=sessions)
    def get_balance(self, token):
        got = call("/casino/getBalance", {"sessionToken": token})
        expected = self.model.get_balance(token)
        assert (got.status, got.code or "OK") == (expected.status, expected.code), (got, expected)
        if expected.status == 200:
            assert got.json["balance"] == expected.balance

    @rule(pick=st.integers(0, 10**6))
    def replay_same(self, pick):
        """A provider retry: every first request here was stored, so the retry is a replay."""
        if not self.history:
            return
        path, body, first = self.history[pick % len(self.history)]
        again = call(path, body)
        assert again.status == first.status and again.raw == first.raw, (again, first)
        assert again.replayed

    @rule(pick=st.integers(0, 10**6), field=st.sampled_from(["amount", "roundId", "currency"]))
    def replay_altered(self, pick, field):
        if not self.history:
            return
        path, body, _ = self.history[pick % len(self.history)]
        if field not in body:
            return
        changed = {"amount": lambda v: v + 1, "roundId": lambda v: v + "-x",
                   "currency": lambda v: "EUR" if v == "USD" else "USD"}[field](body[field])
        got = call(path, dict(body, **{field: changed}))
        assert (got.status, got.code) == (409, "TRANSACTION_ID_CONFLICT"), got

    # ------------------------------------------------------------------ checks
    def _check(self, path: str, body: dict, expected: Outcome) -> None:
        got = call(path, body)
        assert got.status == expected.status and (got.code or "OK") == expected.code, (path, body, got, expected)
        assert got.replayed == expected.replayed
        if got.status == 200:
            assert got.json["balance"] == expected.balance, (got, expected)
            for k, v in expected.extra.items():
                assert got.json[k] == v, (k, got, expected)
        if expected.code == "INSUFFICIENT_FUNDS":
            assert got.json["balance"] == expected.balance
        assert "Traceback" not in got.raw
        self.history.append((path, body, got))

    @invariant()
    def wallets_agree_with_the_model(self):
        for player in self.players:
            w = self.model.wallets[player]
            assert wallet(self.database_url, player) == (w.playable, w.redeemable)

    def teardown(self):
        if self.players:
            result = admin.reconcile(self.database_url)
            assert result.ok, result.table()


def _run(database_url: str, examples: int, steps: int) -> None:
    WalletMachine.database_url = database_url
    WalletMachine.TestCase.settings = settings(
        max_examples=examples, stateful_step_count=steps, deadline=None, derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
        print_blob=True)
    WalletMachine.TestCase().runTest()


def test_wallet_matches_the_model(database_url):
    _run(database_url, examples=50, steps=40)   # about 2,000 steps


@pytest.mark.soak
def test_wallet_matches_the_model_soak(database_url):
    _run(database_url, examples=400, steps=60)  # about 24,000 steps
