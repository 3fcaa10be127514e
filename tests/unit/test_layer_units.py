"""Pure pieces of the layer, no database: signing, strict models, the error table, body
parsing, round planning, the retrying client (fake transport, fake sleep)."""

from __future__ import annotations

import json
import random
import uuid

import pytest
import urllib3
from seamless.contract import errors, models
from seamless.contract.client import RetryPolicy, SignedClient
from seamless.contract.round_plan import plan_round, rescue_rollback_id, transaction_ids
from seamless.contract.signing import sign, verify
from seamless.runtime.apigw import parse

from devtools.openapi import OPERATIONS

BODY = b'{"a":1}'
GOOD = sign("s3cret", BODY, "/casino/debit")


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "zz" * 32,
        GOOD[:-1],
        GOOD + "0",
        sign("other", BODY, "/casino/debit"),
        sign("s3cret", BODY + b" ", "/casino/debit"),
        42,
        "g" * 64,
    ],
)
def test_bad_signatures_are_refused_without_raising(signature):
    assert verify("s3cret", BODY, signature, "/casino/debit") is False


def test_good_signature_with_upper_case_hex():
    good = sign("s3cret", BODY, "/casino/debit")  # signed now: GOOD was signed at collection, maybe minutes ago
    head, _, digits = good.rpartition("=")
    assert verify("s3cret", BODY, good, "/casino/debit") and verify("s3cret", BODY, f"{head}={digits.upper()}", "/casino/debit")
    assert not verify("", BODY, sign("", BODY, "/casino/debit"), "/casino/debit")  # no secret configured: nothing verifies


@pytest.mark.parametrize("amount", [True, 10.5, 10.0, "100", None, [1], 0, -1, 10**12 + 1])
def test_debit_amount_is_strict(amount):
    with pytest.raises(errors.ValidationError) as exc:
        parse(models.DebitRequest, _debit(amount=amount))
    assert [d["field"] for d in exc.value.details] == ["amount"]


def _debit(**overrides) -> bytes:
    import json

    body = {"sessionToken": "t", "transactionId": "tx", "roundId": "r", "amount": 5, "currency": "USD", **overrides}
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    "field,value",
    [
        ("currency", "USD\n"),
        ("currency", "usd"),
        ("transactionId", "x" * 129),
        ("transactionId", "a b"),
        ("roundId", ""),
        ("sessionToken", ""),
    ],
)
def test_patterns_are_anchored(field, value):
    with pytest.raises(errors.ValidationError) as exc:
        parse(models.DebitRequest, _debit(**{field: value}))
    assert exc.value.details[0]["field"] == field


def test_every_bad_field_is_listed_and_extra_fields_ignored():
    with pytest.raises(errors.ValidationError) as exc:
        parse(models.DebitRequest, b'{"amount": "1", "currency": 3}')
    assert {d["field"] for d in exc.value.details} == {"sessionToken", "transactionId", "roundId", "amount", "currency"}
    assert parse(models.DebitRequest, _debit(extra={"x": 1})).amount == 5


@pytest.mark.parametrize("body", [b"", b"[]", b"null", b'"s"', b"{", b"\xff"])
def test_non_object_body_is_field_body(body):
    with pytest.raises(errors.ValidationError) as exc:
        parse(models.DebitRequest, body)
    assert exc.value.details == [{"field": "body", "message": "The body must be a JSON object."}]


PROTOCOL_TABLE = {  # code: (status, stored for replay)
    "VALIDATION_ERROR": (400, False),
    "INVALID_SIGNATURE": (401, False),
    "INSUFFICIENT_FUNDS": (402, True),
    "SESSION_EXPIRED": (403, True),
    "PLAYER_BLOCKED": (403, True),
    "GAME_DISABLED": (403, True),
    "SESSION_NOT_FOUND": (404, False),
    "USER_NOT_FOUND": (404, False),
    "GAME_NOT_FOUND": (404, False),
    "WALLET_NOT_FOUND": (404, False),
    "ROUND_NOT_FOUND": (404, False),
    "BET_NOT_FOUND": (404, True),
    "TRANSACTION_ID_CONFLICT": (409, False),
    "CURRENCY_MISMATCH": (409, True),
    "BET_ROLLED_BACK": (409, True),
    "BET_ALREADY_SETTLED": (409, True),
    "NOT_A_BET": (409, True),
    "ROUND_CLOSED": (409, True),
    "ROUND_MISMATCH": (409, True),
    "BET_LIMIT_EXCEEDED": (409, True),
    "BALANCE_LIMIT_EXCEEDED": (409, True),
    "PAYLOAD_TOO_LARGE": (413, False),
    "INTERNAL_ERROR": (500, False),
    "PROVIDER_ERROR": (502, False),
    "SERVICE_UNAVAILABLE": (503, False),
}


def test_error_catalogue_is_the_protocol_table():
    catalogue = {cls.code: (cls.status, cls.stored) for cls in errors.catalog()}
    for code, expected in PROTOCOL_TABLE.items():
        assert catalogue[code] == expected, code
    assert all(cls.message.strip() for cls in errors.catalog())


def test_error_body_shape():
    body = errors.ValidationError(details=[{"field": "amount", "message": "m"}]).body()
    assert body == {
        "error": {
            "code": "VALIDATION_ERROR",
            "message": errors.ValidationError.message,
            "details": [{"field": "amount", "message": "m"}],
        }
    }


def _spec(**fields):
    return models.RoundSpec.model_validate(fields)


def test_seed_round_plays_bets_then_rollbacks_then_wins():
    plan = plan_round(
        _spec(
            bets=[{"amount": 1000}, {"amount": 500}], wins=[{"amount": 2500, "relatedBetIndex": 0}], rollbacks=[{"betIndex": 1}]
        )
    )
    assert [(a.type, a.amount, a.close) for a in plan] == [
        ("bet", 1000, False),
        ("bet", 500, False),
        ("rollback", 500, False),
        ("win", 2500, True),
    ]


def test_losing_round_gets_a_zero_close_and_a_fully_rolled_back_one_does_not():
    assert [a.type for a in plan_round(_spec(bets=[{"amount": 5}]))] == ["bet", "close"]
    assert [a.type for a in plan_round(_spec(bets=[{"amount": 5}], rollbacks=[{"betIndex": 0}]))] == ["bet", "rollback"]


@pytest.mark.parametrize(
    "fields,field",
    [
        ({"bets": [{"amount": 1}], "rollbacks": [{"betIndex": 1}]}, "rollbacks.0.betIndex"),
        ({"bets": [{"amount": 1}], "wins": [{"amount": 1, "relatedBetIndex": 3}]}, "wins.0.relatedBetIndex"),
        ({"actions": [{"type": "rollback", "betIndex": 0}]}, "actions.0.betIndex"),
        ({"actions": [{"type": "close"}], "bets": [{"amount": 1}]}, "actions"),
        ({}, "bets"),
    ],
)
def test_bad_round_plans_name_the_field(fields, field):
    with pytest.raises(errors.ValidationError) as exc:
        plan_round(_spec(**fields))
    assert exc.value.details[0]["field"] == field


def test_transaction_ids_are_derived_and_bounded():
    plan = plan_round(_spec(bets=[{"amount": 1}]))
    assert transaction_ids("r1", plan) == {0: "r1:bet:0", 1: "r1:close:1"}
    long_ids = transaction_ids("x" * 128, plan)
    assert all(len(t) <= 128 for t in long_ids.values()) and long_ids == transaction_ids("x" * 128, plan)
    assert len(rescue_rollback_id("y" * 128)) <= 128


class FakeResponse:
    def __init__(self, status: int, data: bytes = b"{}"):
        self.status, self.data = status, data
        self.headers: dict[str, str] = {}


class Script:
    """A transport that answers from a script: an int is a status, an exception is raised."""

    def __init__(self, *steps):
        self.steps, self.seen = list(steps), []
        self.timeouts: list[dict] = []

    def request(self, method, url, *, body, headers, timeout, retries):
        self.seen.append((body, dict(headers)))
        self.timeouts.append({"timeout": timeout})
        step = self.steps.pop(0)
        if isinstance(step, Exception):
            raise step
        return step if isinstance(step, FakeResponse) else FakeResponse(step)


def _client(transport, sleeps, attempts=3):
    policy = RetryPolicy(max_attempts=attempts, backoff_base=0.1, backoff_max=1.0)
    return SignedClient("k", "x-casino-signature", policy, transport=transport, sleep=sleeps.append, rng=random.Random(7))


def test_retries_5xx_with_backoff_then_succeeds_with_the_same_bytes():
    transport, sleeps = Script(503, 503, 200), []
    result = _client(transport, sleeps).post("http://casino.test/Prod/casino/debit", {"transactionId": "t1"})
    assert result.status == 200 and len(result.attempts) == 3 and result.definitive
    assert len({body for body, _ in transport.seen}) == 1
    # each attempt signed afresh (its own t) over the same bytes and the contract path
    assert all(verify("k", transport.seen[0][0], h["x-casino-signature"], "/casino/debit") for _, h in transport.seen)
    assert len(sleeps) == 2 and 0 <= sleeps[0] <= 0.1 and 0 <= sleeps[1] <= 0.2


def contract_error(status: int, code: str) -> FakeResponse:
    return FakeResponse(status, json.dumps({"error": {"code": code, "message": "m"}}).encode())


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "VALIDATION_ERROR"),
        (401, "INVALID_SIGNATURE"),
        (402, "INSUFFICIENT_FUNDS"),
        (404, "BET_NOT_FOUND"),
        (409, "ROUND_CLOSED"),
    ],
)
def test_a_contract_4xx_is_final(status, code):
    transport, sleeps = Script(contract_error(status, code)), []
    result = _client(transport, sleeps).post("http://casino/debit", {})
    assert len(result.attempts) == 1 and result.definitive and sleeps == []


@pytest.mark.parametrize(
    "answer",
    [
        FakeResponse(429, b'{"message":"Too Many Requests"}'),  # API Gateway throttling
        contract_error(429, "INSUFFICIENT_FUNDS"),  # 429 is never a contract answer
        FakeResponse(403, b'{"message":"Missing Authentication Token"}'),  # a gateway's own 403
        FakeResponse(404, b"<html>not here</html>"),  # a load balancer's page
        contract_error(404, "NOT_FOUND"),  # the local API's routing, not §3
        FakeResponse(401, b""),  # no body at all
    ],
    ids=["429-throttled", "429-with-code", "gateway-403", "html-404", "routing-404", "empty-401"],
)
def test_a_4xx_that_is_not_a_contract_error_is_retried(answer):
    """docs/protocol.md §7: only a 2xx or a 4xx carrying a §3 error code is final."""
    transport, sleeps = Script(answer, answer, FakeResponse(200)), []
    result = _client(transport, sleeps).post("http://casino/debit", {})
    assert len(result.attempts) == 3 and result.definitive and result.status == 200 and len(sleeps) == 2


def test_no_attempt_starts_that_cannot_end_before_the_deadline():
    now = [100.0]
    transport = Script(503, 503, 503)
    client = SignedClient(
        "k",
        "x-casino-signature",
        RetryPolicy(max_attempts=3, backoff_base=0.0),
        transport=transport,
        sleep=lambda s: None,
        clock=lambda: now[0],
    )
    assert client.post("http://casino/debit", {}, deadline=100.3).attempts == []  # under half a second left
    result = client.post("http://casino/debit", {}, deadline=103.0)
    assert len(result.attempts) == 3 and not result.definitive
    assert all(t["timeout"].read_timeout <= 3.0 for t in transport.timeouts)  # cut to the time left


def test_network_errors_and_timeouts_are_retried_and_not_definitive():
    errs = [
        urllib3.exceptions.ReadTimeoutError(None, "u", "t"),
        urllib3.exceptions.NewConnectionError(None, "x"),
        urllib3.exceptions.ProtocolError("closed"),
    ]
    transport, sleeps = Script(*errs), []
    result = _client(transport, sleeps).post("http://casino/debit", {})
    assert [a.error for a in result.attempts] == ["ReadTimeoutError", "NewConnectionError", "ProtocolError"]
    assert not result.definitive and result.status is None and len(sleeps) == 2


def test_documented_operations_cover_the_error_catalogue_codes():
    codes = {code for op in OPERATIONS.values() for code in op[4]}
    assert codes <= {cls.code for cls in errors.catalog()}


@pytest.mark.parametrize("when", ["0000-00-00T00:00:00Z", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z"])
def test_a_time_the_pattern_admits_but_no_calendar_has_is_a_400(when):
    """Found by schemathesis as a 500 on POST /casino/freeRounds: the pattern alone let it through."""
    body = {"userId": str(uuid.UUID(int=1)), "gameId": str(uuid.UUID(int=2)), "currency": "USD", "rounds": 1}
    with pytest.raises(errors.ValidationError) as exc:
        parse(models.FreeRoundsGrantRequest, json.dumps({**body, "betAmount": 1, "expiresAt": when}).encode())
    assert [d["field"] for d in exc.value.details] == ["expiresAt"]
