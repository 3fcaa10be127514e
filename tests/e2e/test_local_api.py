"""The local API behaves like Lambda behind API Gateway under load: every request runs in a
container of its function with its own database connections, one request at a time; the listen
backlog takes a crowd; a malformed Content-Length is a clear 400 (docs/protocol.md §10.4)."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import urllib.parse
import uuid

import pytest
from seamless.contract.signing import sign
from seamless.runtime import db

from devtools import admin
from devtools.devserver import LISTEN_BACKLOG, workers_setting
from devtools.fixtures import CASINO_SECRET
from tests.reliability.conftest import HeldWallet, lock_waiters, wait_for
from tests.support import GAME, live_api, make_player, new_session, wallet

CLIENTS = 200
WORKERS = 4


def request(base: str, path: str, payload: dict, *, signed: bool = True, timeout: float = 120) -> tuple[int, dict]:
    """One request on a connection of its own (a client of its own)."""
    url = urllib.parse.urlsplit(base)
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if signed:
        headers["X-Casino-Signature"] = sign(CASINO_SECRET, body, path)
    assert url.hostname and url.port
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    try:
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"null")
    finally:
        conn.close()


def test_two_hundred_simultaneous_clients_are_all_answered(database_url):
    """200 clients connect and send at once (debits, credits, balances and launches, which call
    the provider on the same local API): every one is answered, none with a 5xx, the wallets
    moved by exactly what was accepted, reconcile clean. The containers stay within their bound.
    (The socketserver default backlog of 5 reset most of these connections.)"""
    assert LISTEN_BACKLOG >= 128  # what `sam local start-api`'s server uses
    players = [make_player(database_url, 100_000) for _ in range(10)]
    tokens = {p: new_session(database_url, p) for p in players}
    requests: list[tuple[str, str, dict, bool]] = []
    for i in range(CLIENTS):
        player = players[i % len(players)]
        token = tokens[player]
        kind = ("debit", "debit", "debit", "getBalance", "credit", "debit", "launchGame", "debit", "getBalance", "debit")[i % 10]
        if kind == "launchGame":
            requests.append((player, "/casino/launchGame", {"userId": player, "gameId": GAME, "currency": "USD"}, False))
        elif kind == "getBalance":
            requests.append((player, "/casino/getBalance", {"sessionToken": token}, True))
        else:
            body = {
                "sessionToken": token,
                "transactionId": f"crowd-{uuid.uuid4()}",
                "roundId": f"crowd-r-{uuid.uuid4()}",
                "amount": 7 if kind == "debit" else 11,
                "currency": "USD",
            }
            requests.append((player, f"/casino/{kind}", body, True))

    answers: list[tuple[int, dict] | BaseException | None] = [None] * CLIENTS
    with live_api(database_url, workers=WORKERS) as base:
        opened_before = db.connections_opened
        start = threading.Barrier(CLIENTS)

        def client(i: int) -> None:
            _, path, payload, signed = requests[i]
            start.wait(timeout=60)
            try:
                answers[i] = request(base, path, payload, signed=signed)
            except BaseException as exc:  # a reset or dropped connection: recorded, asserted below
                answers[i] = exc

        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        opened = db.connections_opened - opened_before

    failures = [(requests[i][1], a) for i, a in enumerate(answers) if not isinstance(a, tuple)]
    assert failures == [], failures[:5]
    server_errors = [(requests[i][1], a) for i, a in enumerate(answers) if isinstance(a, tuple) and a[0] >= 500]
    assert server_errors == [], server_errors[:5]
    wrong = [(requests[i][1], a) for i, a in enumerate(answers) if isinstance(a, tuple) and a[0] != 200]
    assert wrong == [], wrong[:5]

    moved = dict.fromkeys(players, 0)
    for player, path, payload, _ in requests:
        moved[player] += {"/casino/debit": -payload.get("amount", 0), "/casino/credit": payload.get("amount", 0)}.get(path, 0)
    for player in players:
        assert wallet(database_url, player)[0] == 100_000 + moved[player], player
    # launchGame, provider launch, debit, credit, getBalance: at most WORKERS containers each
    assert opened <= 5 * WORKERS, opened
    result = admin.reconcile(database_url)
    assert result.ok, result.table()


def test_each_request_runs_on_its_own_connection(database_url):
    """A debit waiting on a wallet lock holds its container and that container's connection;
    another debit meanwhile is served by another container, on its own connection, and
    answered while the first is still waiting (one shared connection made it wait behind the
    first, or run inside another request's transaction)."""
    blocked_player, free_player = make_player(database_url, 1_000), make_player(database_url, 1_000)
    blocked_token, free_token = new_session(database_url, blocked_player), new_session(database_url, free_player)

    def debit_body(token: str) -> dict:
        return {
            "sessionToken": token,
            "transactionId": f"own-{uuid.uuid4()}",
            "roundId": f"own-r-{uuid.uuid4()}",
            "amount": 10,
            "currency": "USD",
        }

    box: dict = {}
    with live_api(database_url, workers=2) as base:
        with HeldWallet(database_url, blocked_player, mode="NO KEY UPDATE") as held:
            first = threading.Thread(
                target=lambda: box.setdefault("first", request(base, "/casino/debit", debit_body(blocked_token)))
            )
            first.start()
            waiting = wait_for(lambda: lock_waiters(database_url), "the first debit to wait on its wallet")
            second = request(base, "/casino/debit", debit_body(free_token))
            still_waiting = "first" not in box and lock_waiters(database_url) == waiting
            held.release()
            first.join(timeout=60)
    assert second[0] == 200, second
    assert still_waiting, "the second request waited for the first: they shared a connection or a container"
    assert box["first"][0] in (200, 503), box  # 503: lock_timeout, if the machine was very slow
    assert wallet(database_url, free_player)[0] == 990


def raw_exchange(base: str, head: bytes) -> bytes:
    """Sends bytes as they are and reads until the server closes (bounded by a socket timeout,
    so a server that hangs fails the test instead of hanging it)."""
    url = urllib.parse.urlsplit(base)
    assert url.hostname and url.port
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(head)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(
    "lengths",
    [["abc"], ["-1"], ["-5"], ["1.5"], ["+5"], ["0x10"], ["５"], [""], ["5", "6"]],
    ids=["word", "minus-one", "negative", "decimal", "plus", "hex", "fullwidth-digit", "empty", "two-different"],
)
def test_a_malformed_content_length_is_a_clear_400(database_url, lengths):
    with live_api(database_url) as base:
        head = b"POST /casino/debit HTTP/1.1\r\nHost: local\r\nContent-Type: application/json\r\n"
        head += b"".join(b"Content-Length: " + v.encode() + b"\r\n" for v in lengths) + b"\r\n{}"
        answer = raw_exchange(base, head)
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 400 "), answer
    body = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert body["error"]["code"] == "VALIDATION_ERROR" and body["error"]["details"][0]["field"] == "Content-Length", body


@pytest.mark.parametrize("close_early", [False, True], ids=["stalls", "closes-its-side"])
def test_a_body_shorter_than_its_content_length_is_a_400_not_a_hang(database_url, close_early):
    """Content-Length 100 and a 2-byte body: the client either stalls (the read timeout ends the
    wait) or shuts its sending side (the short read is seen at once). Either way a 400 naming
    Content-Length, the connection closed, nothing invoked (the wallet untouched)."""
    player = make_player(database_url, 1_000)
    with live_api(database_url, read_timeout=0.5) as base:
        url = urllib.parse.urlsplit(base)
        assert url.hostname and url.port
        with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
            sock.sendall(
                b"POST /casino/debit HTTP/1.1\r\nHost: local\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{}"
            )
            if close_early:
                sock.shutdown(socket.SHUT_WR)
            chunks = []
            while chunk := sock.recv(65536):  # ends when the server closes (the 30 s timeout fails the test)
                chunks.append(chunk)
    answer = b"".join(chunks)
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 400 "), answer
    body = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert body["error"]["code"] == "VALIDATION_ERROR" and body["error"]["details"][0]["field"] == "Content-Length", body
    assert wallet(database_url, player)[0] == 1_000


def test_an_idle_connection_is_closed_after_the_read_timeout(database_url):
    """A client that connects and sends nothing holds no thread for ever: the server closes it."""
    with live_api(database_url, read_timeout=0.5) as base:
        url = urllib.parse.urlsplit(base)
        assert url.hostname and url.port
        with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
            assert sock.recv(1) == b""  # closed by the server (a hang fails on the 30 s timeout)


def test_a_valid_content_length_still_works_and_the_backlog_takes_a_crowd(database_url):
    assert LISTEN_BACKLOG >= 128
    with live_api(database_url) as base:
        answer = raw_exchange(
            base, b"GET /provider/health HTTP/1.1\r\nHost: local\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
    assert answer.startswith(b"HTTP/1.1 200 "), answer


@pytest.mark.parametrize(("value", "expected"), [("", 4), ("1", 1), ("16", 16), ("0", None), ("-2", None), ("many", None)])
def test_local_api_workers_setting(monkeypatch, value, expected):
    monkeypatch.setenv("LOCAL_API_WORKERS", value)
    if expected is None:
        with pytest.raises(SystemExit, match="LOCAL_API_WORKERS"):
            workers_setting()
    else:
        assert workers_setting() == expected
