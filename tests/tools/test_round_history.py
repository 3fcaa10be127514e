"""GET /provider/rounds/{roundId} (docs/protocol.md §7): the provider's record of a round as JSON
and, for a browser, as an HTML page - through the handler (rows recorded in every state) and
over HTTP (a round played by simulateRound, reached from the casino's transaction lookup). Also
the local API's path parameters, which the route needs."""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
import uuid
from html.parser import HTMLParser

import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from psycopg.types.json import Jsonb
from seamless.provider.history import wire_state
from seamless.runtime.apigw import wants_html

from devtools.devserver import invoke
from devtools.lambda_local import api_event
from tests.support import ALICE, GAME, Response, admin_conn, fetch_one, function, live_api, new_id, provider_session_for
from tests.tools.helpers import OPENER, get, http_get, router

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
HOSTILE = "<script>alert('x')</script>&\""


@pytest.mark.parametrize(
    ("state", "final_status", "wire"),
    [
        ("delivered", 200, "delivered"),
        ("delivered", 409, "delivered"),
        ("resolved", None, "delivered"),
        ("parked", 409, "delivered"),  # owed money answered with a final non-OK code
        ("parked", 503, "queued"),  # undelivered at the horizon
        ("parked", None, "queued"),
        ("pending", None, "queued"),
        ("pending", 200, "queued"),
        ("queued", 503, "queued"),
        ("cancelled", None, "cancelled"),
    ],
)
def test_row_states_map_to_the_wire_states(state, final_status, wire):
    assert wire_state(state, final_status) == wire


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        (None, False),
        ("*/*", False),
        ("application/json", False),
        ("text/html", True),
        (HTML["Accept"], True),
        ("application/json, text/html;q=0.5", False),
        ("text/html;q=0.2, application/json;q=0.1", True),
        ("text/html;q=0", False),
        ("TEXT/HTML", True),
        ("text/html;q=bogus", False),
    ],
)
def test_content_negotiation(accept, html):
    event = {"headers": {"Accept": accept} if accept else {}}
    assert wants_html(APIGatewayProxyEvent(event)) is html


# ------------------------------------------------------------------ recorded rows, every state


def attempt(n: int, status: int | None, body: str | None = None, error: str | None = None) -> dict:
    return {"attempt": n, "httpStatus": status, "body": body, "error": error}


OK_BET = '{"balance":9000,"currency":"USD"}'
ROWS = [
    # (action_index, type, endpoint, amount, attempts, final_status, final_code, balance, state, rescue, note)
    (0, "bet", "debit", 1000, [attempt(1, 200, OK_BET)], 200, "OK", 9000, "delivered", False, None),
    (1, "bet", "debit", 500, [attempt(1, None, None, "ReadTimeoutError"), attempt(2, 503, "{}")], 503, "HTTP_503", None,
     "cancelled", False, None),
    (1, "rollback", "rollback", 500, [attempt(1, 200, '{"balance":9000,"tombstone":true}')], 200, "OK", 9000, "delivered",
     True, None),
    (2, "win", "credit", 2500, [attempt(1, 409, '{"error":{"code":"ROUND_CLOSED"}}')], 409, "ROUND_CLOSED", None, "parked",
     False, HOSTILE),
    (3, "win", "credit", 700, [attempt(1, 503, "<img src=x onerror=alert(1)>")], 503, "HTTP_503", None, "queued", False, None),
    (4, "close", "credit", 0, [], None, None, None, "pending", False, None),
    (5, "win", "credit", 100, [attempt(1, 200, '{"balance":9100}')], 200, "OK", 9100, "resolved", False, "closed by ops"),
]  # fmt: skip


@pytest.fixture(scope="module")
def recorded(database_url):
    """A round recorded directly in provider_* (what the round player and settlement leave)."""
    ps = provider_session_for(database_url, HOSTILE, secrets.token_urlsafe(32))
    round_id = new_id("hist")
    txids = []
    with admin_conn(database_url) as conn:
        (rid,) = fetch_one(
            conn,
            "INSERT INTO provider_game_rounds (round_id, provider_session_id, status, starting_balance) "
            "VALUES (%s, %s, 'pending_settlement', 10000) RETURNING id",
            (round_id, ps),
        )
        for index, kind, endpoint, amount, attempts, status, code, balance, state, rescue, note in ROWS:
            txid = f"{round_id}:{kind}:{index}" + (":rescue" if rescue else "")
            txids.append(txid)
            conn.execute(
                "INSERT INTO provider_bets (game_round_id, action_index, action_type, endpoint, transaction_id, amount, "
                "attempts, final_status, final_code, casino_balance, state, rescue, note) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (rid, index, kind, endpoint, txid, amount, Jsonb(attempts), status, code, balance, state, rescue, note),
            )
    yield {"round": round_id, "txids": txids}
    # The casino never saw these made-up callbacks: leave nothing for reconcile's cross-check.
    with admin_conn(database_url) as conn:
        conn.execute("DELETE FROM provider_bets WHERE game_round_id = %s", (rid,))
        conn.execute("DELETE FROM provider_game_rounds WHERE id = %s", (rid,))


def test_json_is_the_contract_shape_with_every_action_in_order(recorded):
    r = get(f"/provider/rounds/{recorded['round']}")
    assert r.status == 200 and r.headers["Content-Type"] == "application/json", r.raw
    body = r.json
    assert {k: body[k] for k in ("roundId", "status", "currency", "startingBalance", "finalBalance")} == {
        "roundId": recorded["round"],
        "status": "pending_settlement",
        "currency": "USD",
        "startingBalance": 10000,
        "finalBalance": None,
    }
    wire = [
        (a["type"], a["transactionId"], a["amount"], a["httpStatus"], a["code"], a["state"], a["attempts"])
        for a in body["actions"]
    ]
    assert wire == [
        ("bet", recorded["txids"][0], 1000, 200, "OK", "delivered", 1),
        ("bet", recorded["txids"][1], 500, 503, "HTTP_503", "cancelled", 2),
        ("rollback", recorded["txids"][2], 500, 200, "OK", "delivered", 1),
        ("win", recorded["txids"][3], 2500, 409, "ROUND_CLOSED", "delivered", 1),
        ("win", recorded["txids"][4], 700, 503, "HTTP_503", "queued", 1),
        ("close", recorded["txids"][5], 0, None, None, "queued", 0),
        ("win", recorded["txids"][6], 100, 200, "OK", "delivered", 1),
    ]
    assert [a["rescue"] for a in body["actions"]] == [False, False, True, False, False, False, False]
    assert [a["balance"] for a in body["actions"]] == [9000, None, 9000, None, None, None, 9100]


def test_unknown_round_is_404_round_not_found():
    r = get("/provider/rounds/no-such-round")
    assert (r.status, r.code) == (404, "ROUND_NOT_FOUND")
    assert get("/provider/rounds/no-such-round", headers=HTML).code == "ROUND_NOT_FOUND"  # errors stay JSON (§3)


@pytest.mark.parametrize("raw", ["a%20b", "x" * 129, "%3Cscript%3E", "a%2Fb", "%00"])
def test_invalid_round_ids_are_a_validation_error(raw):
    r = get(f"/provider/rounds/{raw}")
    assert (r.status, r.code) == (400, "VALIDATION_ERROR"), r.raw
    assert [d["field"] for d in r.json["error"]["details"]] == ["roundId"]


def test_an_event_without_path_parameters_is_a_validation_error():
    event = api_event("GET", "/provider/rounds/x", "/provider/rounds/{roundId}", [], b"")
    result = invoke(function("ProviderRoundsFunction"), event)
    assert result["statusCode"] == 400 and json.loads(result["body"])["error"]["details"][0]["field"] == "roundId"


def test_a_percent_encoded_round_id_is_the_same_round(recorded):
    encoded = recorded["round"].replace("-", "%2D")  # e.g. a client encoding ':' as %3A
    assert get(f"/provider/rounds/{encoded}").json["roundId"] == recorded["round"]


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_data(self, data):
        self.text.append(data)


def test_html_page_shows_status_timeline_attempts_and_chart_escaped(recorded):
    r = get(f"/provider/rounds/{recorded['round']}", headers=HTML)
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in r.headers["Content-Security-Policy"] and r.headers["Vary"] == "Accept"
    page = _Text()
    page.feed(r.raw)
    text = "".join(page.text)
    assert "script" not in page.tags and not any(name.startswith("on") for name, _ in page.attrs)
    assert HOSTILE not in r.raw and "&lt;script&gt;" in r.raw  # the note and the player id, escaped
    assert "<img" not in r.raw and "&lt;img src=x onerror=alert(1)&gt;" in r.raw
    assert recorded["round"] in text and "pending settlement" in text
    assert all(txid in text for txid in recorded["txids"])
    for words in ("ReadTimeoutError", "ROUND_CLOSED", "rescue rollback", "closed by ops", "not sent yet", "(parked)"):
        assert words in text, words
    assert r.raw.count('<tr class="action"') == len(ROWS)
    assert "svg" in page.tags and "polyline" in page.tags
    # start + the 7 steps: answers without a balance are drawn hollow at the previous one
    assert page.tags.count("circle") == 8 and r.raw.count('fill="#fff"') == 4
    # every callback links the casino's record of it
    assert f"/casino/transactions?transactionId={recorded['txids'][0].replace(':', '%3A')}" in r.raw


# ------------------------------------------------------------------ the local API's path parameters


def test_router_fills_path_parameters_like_api_gateway():
    fn, resource, params = router().match("GET", "/provider/rounds/r-1%3A2")  # type: ignore[misc]
    assert (fn.logical_id, resource, params) == ("ProviderRoundsFunction", "/provider/rounds/{roundId}", {"roundId": "r-1:2"})
    assert router().match("GET", "/provider/rounds/") is None
    assert router().match("GET", "/provider/rounds/a/b") is None
    assert router().match("GET", "/provider/health")[1:] == ("/provider/health", {})  # type: ignore[index]
    assert router().methods("/provider/rounds/x") == ["GET"]


# ------------------------------------------------------------------ over HTTP, from a real round


def _simulate(base: str, round_id: str, actions: list[dict]) -> dict:
    body = json.dumps({"userId": ALICE, "gameId": GAME, "currency": "USD", "roundId": round_id, "actions": actions}).encode()
    req = urllib.request.Request(base + "/casino/simulateRound", data=body, headers={"Content-Type": "application/json"})
    with OPENER.open(req, timeout=60) as resp:
        return json.loads(resp.read())


ACTIONS = [
    {"type": "bet", "amount": 1000},
    {"type": "bet", "amount": 5_000_000},  # above max_bet: BET_LIMIT_EXCEEDED
    {"type": "rollback", "betIndex": 1},
    {"type": "win", "amount": 2500, "betIndex": 0, "close": True},
]


def test_a_played_round_over_http_and_the_casinos_link_to_it(database_url):
    with live_api(database_url) as base:
        round_id = f"hist-http-{uuid.uuid4().hex[:12]}"
        report = _simulate(base, round_id, ACTIONS)
        r = http_get(base, f"/provider/rounds/{round_id}")
        assert r.status == 200, r.raw
        got = [(a["type"], a["transactionId"], a["amount"], a["httpStatus"], a["code"], a["attempts"]) for a in r.json["actions"]]
        want = [
            (a["type"], a["transactionId"], a["amount"], a["httpStatus"], a["code"], a["attempts"]) for a in report["actions"]
        ]
        assert got == want and [a["code"] for a in r.json["actions"]] == ["OK", "BET_LIMIT_EXCEEDED", "OK", "OK"]
        assert r.json["roundId"] == round_id and r.json["status"] in ("open", "pending_settlement", "completed", "cancelled")
        assert all(a["state"] in ("delivered", "queued", "cancelled") for a in r.json["actions"])
        # the casino's lookup links the provider's page of the round, and the link works
        lookup = http_get(base, "/casino/transactions", {"roundId": round_id})
        links = {t["roundUrl"] for t in lookup.json["transactions"]}
        assert links == {f"{base}/provider/rounds/{round_id}"}
        page = _get_url(links.pop(), HTML)
        assert page.status == 200 and page.headers["Content-Type"].startswith("text/html") and round_id in page.raw
        assert http_get(base, "/provider/rounds/nope").code == "ROUND_NOT_FOUND"
        assert http_get(base, "/provider/rounds/a%20b").code == "VALIDATION_ERROR"
        assert http_get(base, "/provider/rounds/").status == 404  # no route (NOT_FOUND)
        post = urllib.request.Request(f"{base}/provider/rounds/{round_id}", data=b"{}", method="POST")
        try:
            OPENER.open(post, timeout=30)
            raise AssertionError("POST answered 2xx")
        except urllib.error.HTTPError as exc:
            assert exc.code == 405 and exc.headers["Allow"] == "GET"


def _get_url(url: str, headers: dict[str, str]) -> Response:
    import urllib.parse

    split = urllib.parse.urlsplit(url)
    return http_get(f"{split.scheme}://{split.netloc}", split.path, headers=headers)
