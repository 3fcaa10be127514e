"""Signatures v2 at the handlers (docs/protocol.md §2, §10.7) and the strict HTTP surface
(§3): a captured request works on its own endpoint only and only for a short time, the seed
scheme only where the counterparty's row enables it, strict JSON, no snake_case aliases,
short quotes of input, nosniff on every answer. Real handlers, real database."""

from __future__ import annotations

import time

import pytest
from seamless.contract.signing import sign, sign_seed

from tests.support import (
    CASINO_SECRET,
    PROVIDER_SECRET,
    admin_conn,
    call,
    enc,
    fetch_one,
    function_for,
    make_player,
    new_id,
    new_session,
    wallet,
)


def rows(url: str, *transaction_ids: str) -> int:
    """Ledger rows of any status under these ids: nothing written means 0."""
    with admin_conn(url) as conn:
        return fetch_one(
            conn, "SELECT count(*) FROM casino_transactions WHERE transaction_id = ANY(%s)", (list(transaction_ids),)
        )[0]


@pytest.fixture
def player(database_url):
    user = make_player(database_url, 100_000)
    return user, new_session(database_url, user)


def debit(token: str, amount: int = 5_000, **extra) -> dict:
    return {
        "sessionToken": token,
        "transactionId": new_id("d"),
        "roundId": new_id("r"),
        "amount": amount,
        "currency": "USD",
        **extra,
    }


def signed(raw: bytes, path: str, *, secret: str = CASINO_SECRET, t: int | None = None) -> list[tuple[str, str]]:
    return [("X-Casino-Signature", sign(secret, raw, path, timestamp=t))]


# ------------------------------------------------------------------ endpoint binding


@pytest.mark.parametrize("target", ["/casino/credit", "/casino/rollback", "/casino/getBalance"])
def test_a_debits_body_and_signature_on_another_endpoint_is_401(database_url, player, target):
    """The issue's attack: a debit's body and signature posted to /casino/credit paid +5,000."""
    user, token = player
    body = debit(token, betTransactionId=new_id("b"))
    raw = enc(body)
    r = call(target, raw, sign_with=None, headers=signed(raw, "/casino/debit"))
    assert (r.status, r.code) == (401, "INVALID_SIGNATURE"), r
    assert wallet(database_url, user)[0] == 100_000 and rows(database_url, body["transactionId"]) == 0
    # the same bytes signed for where they are sent pass the signature check
    assert call(target, raw, sign_with=None, headers=signed(raw, target)).status != 401


def test_a_zero_close_replayed_as_a_rollback_refunds_nothing(database_url, player):
    user, token = player
    bet = debit(token)
    assert call("/casino/debit", bet).status == 200
    close = {
        "sessionToken": token,
        "transactionId": new_id("c"),
        "roundId": bet["roundId"],
        "amount": 0,
        "currency": "USD",
        "betTransactionId": bet["transactionId"],
        "roundClosed": True,
    }
    raw = enc(close)
    r = call("/casino/rollback", raw, sign_with=None, headers=signed(raw, "/casino/credit"))
    assert (r.status, r.code) == (401, "INVALID_SIGNATURE")
    assert wallet(database_url, user)[0] == 100_000 - 5_000


# ------------------------------------------------------------------ the time window


@pytest.mark.parametrize("skew", [-301, 301, -30 * 86_400], ids=["stale", "future", "a-month-old"])
def test_a_signature_outside_the_window_is_401_and_writes_nothing(database_url, player, skew):
    user, token = player
    body = debit(token)
    raw = enc(body)
    r = call("/casino/debit", raw, sign_with=None, headers=signed(raw, "/casino/debit", t=int(time.time()) + skew))
    assert (r.status, r.code) == (401, "INVALID_SIGNATURE"), r
    assert wallet(database_url, user)[0] == 100_000 and rows(database_url, body["transactionId"]) == 0


@pytest.mark.parametrize("skew", [-290, 290])
def test_a_signature_inside_the_window_is_accepted(player, skew):
    _, token = player
    raw = enc(debit(token))
    assert (
        call("/casino/debit", raw, sign_with=None, headers=signed(raw, "/casino/debit", t=int(time.time()) + skew)).status == 200
    )


def test_the_window_is_a_setting(player, monkeypatch):
    from seamless.runtime.settings import reload_settings

    _, token = player
    raw = enc(debit(token))
    headers = signed(raw, "/casino/debit", t=int(time.time()) - 100)
    monkeypatch.setenv("SIGNATURE_TOLERANCE_SECONDS", "60")
    reload_settings()
    try:
        assert call("/casino/debit", raw, sign_with=None, headers=headers).status == 401
    finally:
        monkeypatch.delenv("SIGNATURE_TOLERANCE_SECONDS")
        reload_settings()
    assert call("/casino/debit", raw, sign_with=None, headers=headers).status == 200


# ------------------------------------------------------------------ stage and base path


def _rest(path: str, resource: str, raw: bytes, headers: list[tuple[str, str]]) -> dict:
    from devtools.lambda_local import api_event

    return api_event("POST", path, resource, [("Content-Type", "application/json"), *headers], raw)


def test_the_contract_path_is_signed_whatever_the_stage_or_base_path(player):
    from devtools.devserver import invoke

    _, token = player
    fn = function_for("/casino/debit")
    raw = enc(debit(token, amount=3))
    prefixed = "/wallet/v1/casino/debit"  # a custom domain's base path in front of the route
    refused = invoke(fn, _rest(prefixed, "/casino/debit", raw, signed(raw, prefixed)))
    assert refused["statusCode"] == 401
    accepted = invoke(fn, _rest(prefixed, "/casino/debit", raw, signed(raw, "/casino/debit")))
    assert accepted["statusCode"] == 200, accepted


def test_http_api_events_with_a_stage_in_the_raw_path(player):
    from devtools.devserver import invoke
    from tests.integration.test_concurrency_and_input import http_api_event

    _, token = player
    raw = enc(debit(token, amount=4))
    event = http_api_event("POST", "/casino/debit", raw, {"X-Casino-Signature": sign(CASINO_SECRET, raw, "/casino/debit")})
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/prod/casino/debit"
    assert invoke(function_for("/casino/debit"), event)["statusCode"] == 200
    other = http_api_event("POST", "/casino/credit", raw, {"X-Casino-Signature": sign(CASINO_SECRET, raw, "/casino/debit")})
    assert invoke(function_for("/casino/credit"), other)["statusCode"] == 401


# ------------------------------------------------------------------ the seed-compatible scheme


@pytest.fixture
def seed_mode(database_url):
    """Turns the seed scheme on for a counterparty row for one test (the seeded rows have it off)."""
    changed: list[tuple[str, str]] = []

    def enable(table: str, code: str) -> None:
        with admin_conn(database_url) as conn:
            conn.execute(f"UPDATE {table} SET accepts_seed_signatures = true WHERE code = %s", (code,))  # noqa: S608 - test constant
        changed.append((table, code))

    yield enable
    with admin_conn(database_url) as conn:
        for table, code in changed:
            conn.execute(f"UPDATE {table} SET accepts_seed_signatures = false WHERE code = %s", (code,))  # noqa: S608


def test_the_seeded_counterparties_have_the_seed_scheme_off(database_url):
    with admin_conn(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM casino_game_providers WHERE accepts_seed_signatures").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM provider_casinos WHERE accepts_seed_signatures").fetchone() == (0,)


def test_a_bare_hex_signature_is_refused_while_the_mode_is_off(database_url, player):
    user, token = player
    body = debit(token)
    raw = enc(body)
    r = call("/casino/debit", raw, sign_with=None, headers=[("X-Casino-Signature", sign_seed(CASINO_SECRET, raw))])
    assert (r.status, r.code) == (401, "INVALID_SIGNATURE")
    assert wallet(database_url, user)[0] == 100_000 and rows(database_url, body["transactionId"]) == 0


def test_a_bare_hex_signature_is_accepted_where_the_providers_row_enables_it(database_url, player, seed_mode, monkeypatch):
    from seamless.runtime.settings import reload_settings

    user, token = player
    seed_mode("casino_game_providers", "jaqpot")
    raw = enc(debit(token, amount=7))
    r = call("/casino/debit", raw, sign_with=None, headers=[("X-Casino-Signature", sign_seed(CASINO_SECRET, raw).upper())])
    assert r.status == 200, r
    assert wallet(database_url, user)[0] == 100_000 - 7
    # v2 keeps working beside it, window included
    assert call("/casino/debit", debit(token, amount=1)).status == 200
    stale = enc(debit(token))
    assert (
        call("/casino/debit", stale, sign_with=None, headers=signed(stale, "/casino/debit", t=int(time.time()) - 400)).status
        == 401
    )
    # another provider's row does not open it for this deployment's callbacks
    monkeypatch.setenv("CALLBACK_PROVIDER_CODE", "someone-else")
    reload_settings()
    try:
        raw = enc(debit(token, amount=9))
        r = call("/casino/debit", raw, sign_with=None, headers=[("X-Casino-Signature", sign_seed(CASINO_SECRET, raw))])
        assert (r.status, r.code) == (401, "INVALID_SIGNATURE")
    finally:
        monkeypatch.delenv("CALLBACK_PROVIDER_CODE")
        reload_settings()


def test_the_provider_accepts_the_seed_scheme_only_from_a_casino_that_enables_it(database_url, seed_mode):
    body = {"sessionToken": new_id("tok"), "playerId": new_id("p"), "gameId": "no-such-game", "currency": "USD"}
    raw = enc(body)
    bare = [("X-Provider-Signature", sign_seed(PROVIDER_SECRET, raw))]
    off = call("/provider/launch", raw, sign_with=None, headers=bare)
    assert (off.status, off.code) == (401, "INVALID_SIGNATURE")
    seed_mode("provider_casinos", "demo-casino")
    on = call("/provider/launch", raw, sign_with=None, headers=bare)
    assert (on.status, on.code) == (404, "GAME_NOT_FOUND"), on  # past the signature check


# ------------------------------------------------------------------ strict JSON (§3)

STRICT = {
    "NaN in an ignored field": '"note":NaN',
    "Infinity in an ignored field": '"note":Infinity',
    "-Infinity nested": '"extra":{"deep":[1,-Infinity]}',
    "duplicate key at the top": '"amount":5000',
    "duplicate key nested in an ignored object": '"extra":{"k":1,"k":2}',
}


@pytest.mark.parametrize("name", sorted(STRICT))
def test_non_strict_json_is_400_on_body_and_writes_nothing(database_url, player, name):
    user, token = player
    body = debit(token, amount=5000)
    raw = (enc(body)[:-1].decode() + "," + STRICT[name] + "}").encode()
    r = call("/casino/debit", raw)  # rightly signed over these bytes: the signature is not the issue
    assert (r.status, r.code) == (400, "VALIDATION_ERROR"), r
    assert [d["field"] for d in r.json["error"]["details"]] == ["body"]
    assert wallet(database_url, user)[0] == 100_000 and rows(database_url, body["transactionId"]) == 0


def test_a_duplicate_amount_cannot_smuggle_a_second_value(database_url, player):
    user, token = player
    body = debit(token, amount=1)
    raw = enc(body)[:-1] + b',"amount":99999}'
    assert call("/casino/debit", raw).status == 400
    assert wallet(database_url, user)[0] == 100_000


def test_unsigned_operator_endpoints_are_strict_too():
    raw = b'{"userId":"11111111-1111-4111-8111-111111111111","userId":"x","gameId":"g","currency":"USD"}'
    r = call("/casino/launchGame", raw, sign_with=None)
    assert (r.status, r.code) == (400, "VALIDATION_ERROR")
    assert r.json["error"]["details"][0]["field"] == "body"


# ------------------------------------------------------------------ no snake_case aliases


def test_a_snake_case_name_is_an_unknown_field(player):
    _, token = player
    r = call("/casino/getBalance", {"session_token": token})
    assert (r.status, r.code) == (400, "VALIDATION_ERROR"), r
    assert [d["field"] for d in r.json["error"]["details"]] == ["sessionToken"]
    mixed = debit(token)
    mixed["transaction_id"] = mixed.pop("transactionId")
    r = call("/casino/debit", mixed)
    assert [d["field"] for d in r.json["error"]["details"]] == ["transactionId"]
    r = call(
        "/casino/transactions", b"", sign_with=None, method="GET", event_overrides={"queryStringParameters": {"round_id": "r"}}
    )
    assert (r.status, r.code) == (400, "VALIDATION_ERROR"), r


# ------------------------------------------------------------------ quotes and nosniff


def test_error_messages_quote_at_most_100_characters_of_input(player):
    _, token = player
    huge = "Q" * 20_000
    for path, body in (
        ("/casino/debit", debit(token, transactionId=huge, currency=huge, amount=huge)),
        ("/casino/getBalance", {"sessionToken": huge}),
        ("/casino/launchGame", {"userId": huge, "gameId": huge, "currency": huge}),
        # pydantic's message for an unknown action type quoted the whole type given
        ("/casino/simulateRound", {"userId": huge, "gameId": huge, "currency": "USD", "actions": [{"type": huge}]}),
    ):
        r = call(path, body, sign_with=CASINO_SECRET if path.startswith(("/casino/debit", "/casino/getBalance")) else None)
        assert r.status == 400 and "Q" * 101 not in r.raw, (path, r.raw[:300])


def test_every_answer_says_nosniff(player):
    _, token = player
    answers = [
        call("/casino/getBalance", {"sessionToken": token}),  # 200
        call("/casino/getBalance", {"sessionToken": token}, sign_with="wrong"),  # 401
        call("/casino/debit", b"{", sign_with=CASINO_SECRET),  # 400
        call("/casino/debit", b"x" * 70_000),  # 413
        call("/casino/getBalance", {"sessionToken": "nobody"}),  # 404
        call(
            "/casino/transactions", b"", sign_with=None, method="GET", event_overrides={"queryStringParameters": {"roundId": "r"}}
        ),
        call("/provider/health", b"", sign_with=None, method="GET"),
    ]
    for r in answers:
        assert r.headers.get("X-Content-Type-Options") == "nosniff", (r.status, r.headers)
    assert {r.status for r in answers} >= {200, 400, 401, 404, 413}


def test_the_local_servers_own_answers_say_nosniff(database_url):
    import urllib.error
    import urllib.request

    from tests.support import live_api

    with live_api(database_url) as base:
        for url, data in ((base + "/no/such/route", None), (base + "/casino/debit", None), (base + "/casino/getBalance", b"{}")):
            try:
                with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=30) as resp:  # noqa: S310 - local
                    headers = resp.headers
            except urllib.error.HTTPError as exc:
                headers = exc.headers
            assert headers.get("X-Content-Type-Options") == "nosniff", url
