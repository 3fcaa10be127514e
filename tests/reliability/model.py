"""A small reference model of the casino callbacks (PROTOCOL.md §3-5 and the decisions in
docs/api.md), in plain Python, independent of the SQL. The model-based test runs every
request through it and through the real handlers and compares the answers."""
from __future__ import annotations

from dataclasses import dataclass, field

MAX_BET = 100_000


@dataclass
class Wallet:
    playable: int
    redeemable: int


@dataclass
class Row:
    """A stored transactionId (what the casino_transactions row knows)."""
    kind: str                 # debit | credit | rollback
    key: tuple                # the normalised request
    status: int
    code: str
    session: str
    round: str | None = None
    amount: int = 0
    redeemable_part: int = 0
    accepted: bool = False
    refunded_by: str | None = None   # debits: the rollback that refunded it
    balance: int | None = None       # as stored in the response


@dataclass
class Round:
    session: str
    has_credit: bool = False
    closed: bool = False


@dataclass
class Outcome:
    status: int
    code: str
    balance: int | None = None
    replayed: bool = False
    extra: dict = field(default_factory=dict)


class CasinoModel:
    def __init__(self) -> None:
        self.wallets: dict[str, Wallet] = {}
        self.sessions: dict[str, tuple[str, bool]] = {}   # token -> (player, expired)
        self.rows: dict[str, Row] = {}
        self.rounds: dict[str, Round] = {}
        self.tombstones: set[str] = set()

    # ---------------------------------------------------------------- helpers
    def _gate(self, txid: str, kind: str, key: tuple) -> Outcome | None:
        row = self.rows.get(txid)
        if row is None:
            return None
        if row.key == key:
            return Outcome(row.status, row.code, row.balance, replayed=True)
        return Outcome(409, "TRANSACTION_ID_CONFLICT")

    def _store(self, txid: str, row: Row) -> Outcome:
        self.rows[txid] = row
        return Outcome(row.status, row.code, row.balance)

    def _reject(self, txid: str, kind: str, key: tuple, status: int, code: str, session: str,
                round_id: str | None, amount: int = 0, balance: int | None = None) -> Outcome:
        return self._store(txid, Row(kind, key, status, code, session, round_id, amount, balance=balance))

    # ---------------------------------------------------------------- callbacks
    def debit(self, token: str, txid: str, round_id: str, amount: int, currency: str) -> Outcome:
        player, expired = self.sessions[token]
        key = ("debit", player, currency, round_id, amount, None, False)
        if (gate := self._gate(txid, "debit", key)) is not None:
            return gate
        w = self.wallets[player]
        if expired:
            return self._reject(txid, "debit", key, 403, "SESSION_EXPIRED", token, round_id, amount)
        if currency != "USD":
            return self._reject(txid, "debit", key, 409, "CURRENCY_MISMATCH", token, round_id, amount)
        if txid in self.tombstones:
            return self._reject(txid, "debit", key, 409, "BET_ROLLED_BACK", token, round_id, amount)
        rnd = self.rounds.get(round_id)
        if rnd and rnd.session != token:
            return self._reject(txid, "debit", key, 409, "ROUND_MISMATCH", token, round_id, amount)
        if rnd and rnd.closed:
            return self._reject(txid, "debit", key, 409, "ROUND_CLOSED", token, round_id, amount)
        if amount > MAX_BET:
            return self._reject(txid, "debit", key, 409, "BET_LIMIT_EXCEEDED", token, round_id, amount)
        if amount > w.playable:
            return self._reject(txid, "debit", key, 402, "INSUFFICIENT_FUNDS", token, round_id, amount,
                                balance=w.playable)
        from_redeemable = max(0, amount - (w.playable - w.redeemable))
        w.playable -= amount
        w.redeemable -= from_redeemable
        self.rounds.setdefault(round_id, Round(token))
        return self._store(txid, Row("debit", key, 200, "OK", token, round_id, amount, from_redeemable,
                                     accepted=True, balance=w.playable))

    def credit(self, token: str, txid: str, round_id: str, amount: int, currency: str, bet: str | None,
               closed: bool) -> Outcome:
        player, _ = self.sessions[token]
        key = ("credit", player, currency, round_id, amount, bet, closed)
        if (gate := self._gate(txid, "credit", key)) is not None:
            return gate
        if currency != "USD":
            return self._reject(txid, "credit", key, 409, "CURRENCY_MISMATCH", token, round_id, amount)
        rnd = self.rounds.get(round_id)
        if rnd and rnd.session != token:
            return self._reject(txid, "credit", key, 409, "ROUND_MISMATCH", token, round_id, amount)
        if rnd and rnd.closed:
            return self._reject(txid, "credit", key, 409, "ROUND_CLOSED", token, round_id, amount)
        if bet is not None:
            b = self.rows.get(bet)
            if bet in self.tombstones:
                code = "BET_ROLLED_BACK"
            elif (b is None or b.kind != "debit" or not b.accepted or b.session != token
                  or b.round != round_id):
                code = "BET_NOT_FOUND"
            elif b.refunded_by is not None:
                code = "BET_ROLLED_BACK"
            else:
                code = ""
            if code:
                return self._reject(txid, "credit", key, 404 if code == "BET_NOT_FOUND" else 409, code, token,
                                    round_id, amount)
        w = self.wallets[player]
        w.playable += amount
        w.redeemable += amount
        rnd = self.rounds.setdefault(round_id, Round(token))
        rnd.has_credit = True
        rnd.closed = closed
        return self._store(txid, Row("credit", key, 200, "OK", token, round_id, amount, accepted=True,
                                     balance=w.playable))

    def rollback(self, token: str, txid: str, bet: str, round_id: str | None) -> Outcome:
        player, _ = self.sessions[token]
        key = ("rollback", player, None, round_id, None, bet, False)
        if (gate := self._gate(txid, "rollback", key)) is not None:
            return gate
        w = self.wallets[player]
        b = self.rows.get(bet)
        refund, refund_redeemable, tombstone = 0, 0, False
        if b is None:
            new_claim = bet not in self.tombstones
            rnd = self.rounds.get(round_id) if round_id else None
            if rnd and (rnd.session != token or rnd.has_credit):
                code = "ROUND_MISMATCH" if rnd.session != token else "BET_ALREADY_SETTLED"
                return self._reject(txid, "rollback", key, 409, code, token, round_id)
            if new_claim:
                self.tombstones.add(bet)
            tombstone = True
        else:
            if b.kind != "debit":
                return self._reject(txid, "rollback", key, 409, "NOT_A_BET", token, round_id)
            if round_id is not None and round_id != b.round:
                return self._reject(txid, "rollback", key, 409, "ROUND_MISMATCH", token, round_id)
            if b.accepted:
                rnd = self.rounds[b.round]
                if rnd.session != token:
                    return self._reject(txid, "rollback", key, 409, "ROUND_MISMATCH", token, round_id)
                if rnd.has_credit:
                    return self._reject(txid, "rollback", key, 409, "BET_ALREADY_SETTLED", token, round_id)
                if b.refunded_by is None:
                    refund, refund_redeemable = b.amount, b.redeemable_part
                    b.refunded_by = txid
        w.playable += refund
        w.redeemable += refund_redeemable
        out = self._store(txid, Row("rollback", key, 200, "OK", token, round_id, refund, accepted=True,
                                    balance=w.playable))
        out.extra = {"rolledBackAmount": refund, "tombstone": tombstone}
        return out

    def get_balance(self, token: str) -> Outcome:
        player, expired = self.sessions[token]
        if expired:
            return Outcome(403, "SESSION_EXPIRED")
        return Outcome(200, "OK", self.wallets[player].playable)
