"""A small reference model of the casino callbacks: docs/protocol.md §3-5 and §9 plus the decisions
in docs/api.md, in plain Python and independent of the SQL. The model-based test sends every
request to the real handlers and to this model and compares the answers.

It knows only what the contract says: sessions (player, wallet currency, expired, blocked),
wallets (playable, redeemable), the stored answer of every transactionId, rounds (owning
session, has a credit, closed) and tombstones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MIN_BET, MAX_BET = 1, 100_000  # the seeded game (docs/protocol.md §8)


@dataclass
class Wallet:
    playable: int
    redeemable: int


@dataclass
class Session:
    player: str
    currency: str
    expired: bool = False
    blocked: bool = False

    @property
    def wallet(self) -> tuple[str, str]:
        return (self.player, self.currency)


@dataclass
class Stored:
    """The stored answer of a transactionId (§5) and what the ledger knows about it."""

    kind: str  # debit | credit | rollback
    key: tuple  # the normalised request (§5 "same payload")
    status: int
    code: str  # "OK" or the error code
    session: str
    round: str | None = None
    amount: int = 0
    redeemable_part: int = 0  # debits: how much came out of the redeemable balance
    refunded_by: str | None = None
    body: dict = field(default_factory=dict)  # the expected response fields

    @property
    def accepted(self) -> bool:
        return self.status == 200


@dataclass
class Round:
    session: str
    has_credit: bool = False
    closed: bool = False


@dataclass
class Expected:
    status: int
    code: str  # "OK" or the error code
    body: dict = field(default_factory=dict)  # fields the response must carry with these values
    replay_of: str | None = None  # the transactionId whose stored answer comes back
    stored: bool = False


class CasinoModel:
    def __init__(self) -> None:
        self.wallets: dict[tuple[str, str], Wallet] = {}
        self.sessions: dict[str, Session] = {}
        self.stored: dict[str, Stored] = {}
        self.rounds: dict[str, Round] = {}
        self.tombstones: set[str] = set()

    # ---------------------------------------------------------------- plumbing
    def _before_rules(self, token: str, txid: str, key_of) -> tuple[Session | None, Expected | None]:
        """Idempotency (§5) comes before the session rules (§4): a stored id answers from the
        store, or conflicts. An unknown token can never be the same request (docs/api.md)."""
        s = self.sessions.get(token)
        if s is None:
            if txid in self.stored:
                return None, Expected(409, "TRANSACTION_ID_CONFLICT")
            return None, Expected(404, "SESSION_NOT_FOUND")
        row = self.stored.get(txid)
        if row is None:
            return s, None
        if row.key == key_of(s):
            return s, Expected(row.status, row.code, dict(row.body), replay_of=txid)
        return s, Expected(409, "TRANSACTION_ID_CONFLICT")

    def _store(self, txid: str, row: Stored) -> Expected:
        self.stored[txid] = row
        return Expected(row.status, row.code, dict(row.body), stored=True)

    def _reject(
        self,
        txid: str,
        kind: str,
        key: tuple,
        token: str,
        round_id: str | None,
        code: str,
        status: int = 409,
        amount: int = 0,
        **extra,
    ) -> Expected:
        return self._store(txid, Stored(kind, key, status, code, token, round_id, amount, body=extra))

    def _money_body(self, txid: str, s: Session, **extra) -> dict:
        w = self.wallets[s.wallet]
        return {"transactionId": txid, "balance": w.playable, "redeemableBalance": w.redeemable, "currency": s.currency, **extra}

    # ---------------------------------------------------------------- §4 callbacks
    def debit(self, token: str, txid: str, round_id: str, amount: int, currency: str) -> Expected:
        s, early = self._before_rules(token, txid, lambda s: ("debit", s.player, currency, round_id, amount, None, False))
        if early is not None:
            return early
        assert s is not None
        key = ("debit", s.player, currency, round_id, amount, None, False)

        def reject(code: str, status: int = 409, **extra) -> Expected:
            return self._reject(txid, "debit", key, token, round_id, code, status, amount, **extra)

        if s.expired:
            return reject("SESSION_EXPIRED", 403)
        if s.blocked:
            return reject("PLAYER_BLOCKED", 403)
        if currency != s.currency:
            return reject("CURRENCY_MISMATCH")
        if txid in self.tombstones:
            return reject("BET_ROLLED_BACK")
        rnd = self.rounds.get(round_id)
        if rnd is not None and rnd.session != token:
            return reject("ROUND_MISMATCH")
        if rnd is not None and rnd.closed:
            return reject("ROUND_CLOSED")
        if not MIN_BET <= amount <= MAX_BET:
            return reject("BET_LIMIT_EXCEEDED")
        w = self.wallets[s.wallet]
        if amount > w.playable:
            return reject("INSUFFICIENT_FUNDS", 402, balance=w.playable)
        # §4 wallet balances: the non-redeemable part is spent first
        from_redeemable = max(0, amount - (w.playable - w.redeemable))
        w.playable -= amount
        w.redeemable -= from_redeemable
        self.rounds.setdefault(round_id, Round(token))
        return self._store(
            txid, Stored("debit", key, 200, "OK", token, round_id, amount, from_redeemable, body=self._money_body(txid, s))
        )

    def credit(self, token: str, txid: str, round_id: str, amount: int, currency: str, bet: str | None, closed: bool) -> Expected:
        def key_of(s: Session) -> tuple:
            return ("credit", s.player, currency, round_id, amount, bet, closed)

        s, early = self._before_rules(token, txid, key_of)
        if early is not None:
            return early
        assert s is not None
        key = key_of(s)

        def reject(code: str, status: int = 409) -> Expected:
            return self._reject(txid, "credit", key, token, round_id, code, status, amount)

        # credits are paid on expired sessions and to blocked players (§4)
        if currency != s.currency:
            return reject("CURRENCY_MISMATCH")
        rnd = self.rounds.get(round_id)
        if rnd is not None and rnd.session != token:
            return reject("ROUND_MISMATCH")
        if rnd is not None and rnd.closed:
            return reject("ROUND_CLOSED")
        if bet is not None:
            b = self.stored.get(bet)
            if bet in self.tombstones:  # tombstones are per provider (docs/api.md)
                return reject("BET_ROLLED_BACK")
            if b is None or b.kind != "debit" or not b.accepted or b.session != token or b.round != round_id:
                return reject("BET_NOT_FOUND", 404)
            if b.refunded_by is not None:
                return reject("BET_ROLLED_BACK")
        w = self.wallets[s.wallet]
        w.playable += amount
        # the funding rule (§4b): a win naming its bet takes the bet's proportion, floored
        w.redeemable += amount if bet is None else amount * self.stored[bet].redeemable_part // self.stored[bet].amount
        rnd = self.rounds.setdefault(round_id, Round(token))  # a credit may open a round
        rnd.has_credit = True
        rnd.closed = closed
        return self._store(txid, Stored("credit", key, 200, "OK", token, round_id, amount, body=self._money_body(txid, s)))

    def rollback(self, token: str, txid: str, bet: str, round_id: str | None) -> Expected:
        def key_of(s: Session) -> tuple:
            return ("rollback", s.player, None, round_id, None, bet, False)

        s, early = self._before_rules(token, txid, key_of)
        if early is not None:
            return early
        assert s is not None
        key = key_of(s)

        def reject(code: str) -> Expected:
            return self._reject(txid, "rollback", key, token, round_id, code)

        if bet == txid:
            return reject("NOT_A_BET")  # it names itself: a rollback, not a bet
        b = self.stored.get(bet)
        refund = refund_redeemable = 0
        tombstone = False
        if b is None:
            # unknown bet: a tombstone, unless the round named is another session's or settled
            rnd = self.rounds.get(round_id) if round_id is not None else None
            if rnd is not None and rnd.session != token:
                return reject("ROUND_MISMATCH")
            if rnd is not None and rnd.has_credit:
                return reject("BET_ALREADY_SETTLED")
            self.tombstones.add(bet)
            tombstone = True
        else:
            if b.kind != "debit":
                return reject("NOT_A_BET")
            if round_id is not None and round_id != b.round:
                return reject("ROUND_MISMATCH")
            # §4: the round checks apply to every bet named, accepted or rejected; a rejected
            # bet's round may not exist (its refused debit never opened it): nothing to check
            assert b.round is not None
            rnd = self.rounds.get(b.round)
            if rnd is not None and rnd.session != token:
                return reject("ROUND_MISMATCH")
            if rnd is not None and rnd.has_credit:
                return reject("BET_ALREADY_SETTLED")
            if b.accepted:
                if b.refunded_by is None:
                    refund, refund_redeemable = b.amount, b.redeemable_part
                    b.refunded_by = txid
            # a rejected bet, or one already refunded: 200 and nothing moves
        w = self.wallets[s.wallet]
        w.playable += refund
        w.redeemable += refund_redeemable
        return self._store(
            txid,
            Stored(
                "rollback",
                key,
                200,
                "OK",
                token,
                round_id,
                refund,
                body=self._money_body(txid, s, rolledBackAmount=refund, tombstone=tombstone),
            ),
        )

    def debit_credit(
        self, token: str, txid: str, win_txid: str, round_id: str, amount: int, win: int, currency: str, closed: bool
    ) -> Expected:
        """§4b: the debit with its rules, then the win as a credit naming it; both or neither.
        Both ids carry one key (every field, both ids): either id reused elsewhere conflicts."""

        def key_of(s: Session) -> tuple:
            return ("debitCredit", s.player, currency, round_id, amount, closed, txid, win_txid, win)

        s, early = self._before_rules(token, txid, key_of)
        if early is not None:
            return early
        assert s is not None
        if win_txid == txid or win_txid in self.stored:
            return Expected(409, "TRANSACTION_ID_CONFLICT")  # nothing stored
        key = key_of(s)

        def reject(code: str, status: int = 409, **extra) -> Expected:
            return self._reject(txid, "debit", key, token, round_id, code, status, amount, **extra)

        rnd = self.rounds.get(round_id)
        w = self.wallets[s.wallet]
        if s.expired:
            return reject("SESSION_EXPIRED", 403)
        if s.blocked:
            return reject("PLAYER_BLOCKED", 403)
        if currency != s.currency:
            return reject("CURRENCY_MISMATCH")
        if txid in self.tombstones:
            return reject("BET_ROLLED_BACK")
        if rnd is not None and rnd.session != token:
            return reject("ROUND_MISMATCH")
        if rnd is not None and rnd.closed:
            return reject("ROUND_CLOSED")
        if not MIN_BET <= amount <= MAX_BET:
            return reject("BET_LIMIT_EXCEEDED")
        if amount > w.playable:
            return reject("INSUFFICIENT_FUNDS", 402, balance=w.playable)
        from_redeemable = max(0, amount - (w.playable - w.redeemable))
        win_redeemable = win * from_redeemable // amount
        w.playable += win - amount
        w.redeemable += win_redeemable - from_redeemable
        rnd = self.rounds.setdefault(round_id, Round(token))
        rnd.has_credit, rnd.closed = True, closed
        body = self._money_body(txid, s, winTransactionId=win_txid)
        self.stored[win_txid] = Stored("credit", key, 200, "OK", token, round_id, win, body=dict(body))
        return self._store(txid, Stored("debit", key, 200, "OK", token, round_id, amount, from_redeemable, body=body))

    def get_balance(self, token: str) -> Expected:
        s = self.sessions.get(token)
        if s is None:
            return Expected(404, "SESSION_NOT_FOUND")
        if s.expired:  # a blocked player may still read (docs/api.md)
            return Expected(403, "SESSION_EXPIRED")
        w = self.wallets[s.wallet]
        return Expected(200, "OK", {"balance": w.playable, "redeemableBalance": w.redeemable, "currency": s.currency})
