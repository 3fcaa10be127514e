"""Deliberately broken wallets for the certification test: a stdlib HTTP server on 127.0.0.1
(port 0) in front of our real casino (the local API), planting one defect each. Everything the
defect does not touch is the real wallet, so a check that fails names the defect and nothing
else (the honest proxy, without a defect, is the control).

The proxy holds the callback secret because some defects forge requests of their own (a
wallet that applies a duplicate again, pays a refund twice): it re-signs what it sends.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import urllib3
from seamless.contract.signing import CASINO_SIGNATURE_HEADER, SIGNED_PATHS, contract_path, parse, sign, sign_seed, verify

HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "keep-alive", "host", "date", "server"}


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def _compact(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


class Proxy:
    """Forwards every request to the real wallet unchanged. Subclasses plant a defect."""

    def __init__(self, upstream: str, secret: str) -> None:
        self.upstream, self.secret = upstream, secret
        self.pool = urllib3.PoolManager(maxsize=32, retries=False)
        self.lock = threading.Lock()

    def forward(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        sent = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}
        resp = self.pool.request(method, self.upstream + path, body=body or None, headers=sent, retries=False, redirect=False)
        return Answer(resp.status, {k: v for k, v in resp.headers.items() if k.lower() not in HOP_BY_HOP}, resp.data or b"")

    def forged(self, path: str, payload: dict[str, Any]) -> Answer:
        body = _compact(payload)
        return self.forward(
            "POST", path, body, {"Content-Type": "application/json", CASINO_SIGNATURE_HEADER: sign(self.secret, body, path)}
        )

    def handle(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        return self.forward(method, path, body, headers)

    @staticmethod
    def renamed(answer: Answer, txid: str, **fields: Any) -> Answer:
        """The answer as if it were the one for `txid` (a forged request's answer passed off)."""
        payload = answer.json()
        if isinstance(payload, dict) and "transactionId" in payload:
            payload = {**payload, "transactionId": txid, **fields}
        headers = {k: v for k, v in answer.headers.items() if k.lower() != "idempotent-replayed"}
        return Answer(answer.status, headers, _compact(payload) if isinstance(payload, dict) else answer.body)


class AppliesDuplicatesTwice(Proxy):
    """A repeated debit is applied again: the wallet keys nothing on transactionId, so where the
    real one answers from its idempotency store (a replay, or a conflict) this one debits anew."""

    def __init__(self, upstream: str, secret: str) -> None:
        super().__init__(upstream, secret)
        self.repeats = 0

    def handle(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        answer = self.forward(method, path, body, headers)
        payload, result = _json(body), answer.json()
        repeated = answer.headers.get("Idempotent-Replayed") == "true" or (
            isinstance(result, dict) and result.get("error", {}).get("code") == "TRANSACTION_ID_CONFLICT"
        )
        if path != "/casino/debit" or not repeated or not isinstance(payload, dict):
            return answer
        with self.lock:
            self.repeats += 1
            n = self.repeats
        txid = payload["transactionId"]
        return self.renamed(self.forged(path, {**payload, "transactionId": f"{txid}.dup{n}"}), txid)


class AcceptsLateBets(Proxy):
    """A debit whose id was rolled back (tombstoned) is taken anyway."""

    def handle(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        answer = self.forward(method, path, body, headers)
        payload = _json(body)
        refused = answer.json()
        if (
            path == "/casino/debit"
            and isinstance(payload, dict)
            and isinstance(refused, dict)
            and refused.get("error", {}).get("code") == "BET_ROLLED_BACK"
        ):
            txid = payload["transactionId"]
            return self.renamed(self.forged(path, {**payload, "transactionId": f"{txid}.late"}), txid)
        return answer


class AcceptsPromotionNamingABet(Proxy):
    """A promotion or tournament payout naming a bet is paid (the bet dropped) instead of 400."""

    def handle(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        payload = _json(body)
        if (
            path == "/casino/credit"
            and isinstance(payload, dict)
            and payload.get("reason") in ("promotion", "tournament")
            and "betTransactionId" in payload
        ):
            return self.forged(path, {k: v for k, v in payload.items() if k != "betTransactionId"})
        return self.forward(method, path, body, headers)


class PaysBeyondGrantRounds(Proxy):
    """A free-round credit beyond its grant's rounds is paid anyway (as a plain win)."""

    def handle(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        answer = self.forward(method, path, body, headers)
        payload, refused = _json(body), answer.json()
        if (
            path == "/casino/credit"
            and isinstance(payload, dict)
            and isinstance(refused, dict)
            and refused.get("error", {}).get("code") == "FREE_ROUNDS_EXHAUSTED"
        ):
            txid = payload["transactionId"]
            plain = {k: v for k, v in payload.items() if k not in ("reason", "grantId")}
            return self.renamed(self.forged(path, {**plain, "transactionId": f"{txid}.paid"}), txid)
        return answer


class RefundsTwice(Proxy):
    """A bet already refunded is refunded again by the next rollback (another rollback id)."""

    def __init__(self, upstream: str, secret: str) -> None:
        super().__init__(upstream, secret)
        self.bets: dict[str, dict[str, Any]] = {}
        self.refunded: set[str] = set()

    def handle(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        answer = self.forward(method, path, body, headers)
        payload, result = _json(body), answer.json()
        if answer.status != 200 or not isinstance(payload, dict) or not isinstance(result, dict):
            return answer
        with self.lock:
            if path == "/casino/debit":
                self.bets[payload["transactionId"]] = payload
                return answer
            if path != "/casino/rollback":
                return answer
            bet = self.bets.get(payload["betTransactionId"])
            if bet is None or result.get("tombstone"):
                return answer
            if result.get("rolledBackAmount", 0) > 0:
                self.refunded.add(bet["transactionId"])
                return answer
            if bet["transactionId"] not in self.refunded:
                return answer
        # pay the bet back once more, as a bonus credit in a round of its own
        paid = self.forged(
            "/casino/credit",
            {
                "sessionToken": payload["sessionToken"],
                "transactionId": f"{payload['transactionId']}.refund",
                "roundId": f"{bet['transactionId']}.refund",
                "amount": bet["amount"],
                "currency": bet["currency"],
            },
        )
        return self.renamed(answer, payload["transactionId"], rolledBackAmount=bet["amount"], balance=paid.json()["balance"])


class VerifiesReserialisedBody(Proxy):
    """Verifies the signature over json.dumps(parsed body) instead of the raw bytes received."""

    def handle(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        if not path.startswith("/casino/") or path == "/casino/launchGame":
            return self.forward(method, path, body, headers)
        parsed = _json(body)
        if parsed is None:
            return self.forward(method, path, body, headers)
        given = next((v for k, v in headers.items() if k.lower() == CASINO_SIGNATURE_HEADER), None)
        if not verify(self.secret, _compact(parsed), given, contract_path(path)):
            return _refused()
        return _resigned(self, method, path, body, headers)


def _refused() -> Answer:
    error = {"error": {"code": "INVALID_SIGNATURE", "message": "The request signature does not match."}}
    return Answer(401, {"Content-Type": "application/json"}, _compact(error))


def _resigned(proxy: Proxy, method: str, path: str, body: bytes, headers: dict[str, str]) -> Answer:
    """Forwards the request with a signature the real wallet accepts (made now, for its path)."""
    rest = {k: v for k, v in headers.items() if k.lower() != CASINO_SIGNATURE_HEADER}
    return proxy.forward(method, path, body, {**rest, CASINO_SIGNATURE_HEADER: sign(proxy.secret, body, contract_path(path))})


class LaxSignatures(Proxy):
    """Checks callback signatures itself, laxer than §2 in one way (a subclass's `accepts`), and
    hands what it accepts to the real wallet re-signed; anything it refuses is a 401."""

    def accepts(self, path: str, body: bytes, given: str) -> bool:
        return verify(self.secret, body, given, path)

    def handle(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        if contract_path(path) not in SIGNED_PATHS:
            return self.forward(method, path, body, headers)
        given = next((v for k, v in headers.items() if k.lower() == CASINO_SIGNATURE_HEADER), None)
        if given is None or not self.accepts(contract_path(path), body, given):
            return _refused()
        return _resigned(self, method, path, body, headers)


class IgnoresSignatureTime(LaxSignatures):
    """Accepts a signature whatever its `t`: a captured request works forever."""

    def accepts(self, path: str, body: bytes, given: str) -> bool:
        parsed = parse(given)
        return parsed is not None and verify(self.secret, body, given, path, now=parsed[0])


class IgnoresSignatureEndpoint(LaxSignatures):
    """Accepts a signature made for any of the casino's endpoints: a debit's body and signature
    are taken as a credit."""

    def accepts(self, path: str, body: bytes, given: str) -> bool:
        return any(verify(self.secret, body, given, other) for other in SIGNED_PATHS if other.startswith("/casino/"))


class AcceptsSeedSignatures(LaxSignatures):
    """Takes the seed scheme (bare hex over the body) although no row enables it."""

    def accepts(self, path: str, body: bytes, given: str) -> bool:
        return super().accepts(path, body, given) or given.strip().lower() == sign_seed(self.secret, body)


class AppliesStakeWithoutWin(Proxy):
    """debitCredit takes the stake and drops the win: played as a plain debit, answered as if
    the whole round applied (the balance after the stake only)."""

    def handle(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        payload = _json(body)
        if path != "/casino/debitCredit" or not isinstance(payload, dict):
            return self.forward(method, path, body, headers)
        debit = {k: payload.get(k) for k in ("sessionToken", "transactionId", "roundId", "amount", "currency")}
        answer = self.forged("/casino/debit", debit)
        return self.renamed(answer, payload["transactionId"], winTransactionId=payload.get("winTransactionId"))


class PaysBonusWinAsCash(Proxy):
    """debitCredit pays its win as withdrawable cash whatever funded the stake: played as a debit
    and a credit naming no bet (all redeemable), answered with the credit's balances."""

    def handle(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        payload = _json(body)
        if path != "/casino/debitCredit" or not isinstance(payload, dict):
            return self.forward(method, path, body, headers)
        debit = {k: payload.get(k) for k in ("sessionToken", "transactionId", "roundId", "amount", "currency")}
        answer = self.forged("/casino/debit", debit)
        if answer.status != 200:
            return answer
        credit = {**debit, "transactionId": payload["winTransactionId"], "amount": payload["winAmount"], "roundClosed": True}
        paid = self.forged("/casino/credit", credit)
        result = paid.json() or {}
        return self.renamed(
            answer,
            payload["transactionId"],
            winTransactionId=payload["winTransactionId"],
            balance=result.get("balance"),
            redeemableBalance=result.get("redeemableBalance"),
        )


#: what a careless error page may echo; the HTML report must show it as text
HOSTILE = "<script>alert('wallet')</script>"


class FailsOnBadInput(Proxy):
    """Bad input crashes the handler: 500 instead of 400 VALIDATION_ERROR."""

    def handle(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        answer = self.forward(method, path, body, headers)
        if answer.status == 400:
            error = {"error": {"code": "INTERNAL_ERROR", "message": f"Traceback (most recent call last): {HOSTILE}"}}
            return Answer(500, {"Content-Type": "application/json"}, _compact(error))
        return answer


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


@contextmanager
def serve(proxy: Proxy) -> Iterator[str]:
    """The proxy on a free loopback port; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as separate writes

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            answer = proxy.handle(self.command, self.path, body, dict(self.headers.items()))
            self.send_response(answer.status)
            for k, v in answer.headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        do_GET = do_POST = _any

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
