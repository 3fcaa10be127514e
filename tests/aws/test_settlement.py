"""Durable settlement delivery: a queued credit reaches the casino exactly once, however often
it is delivered, and a settlement that never gets through ends in the dead-letter queue.
moto stands in for SQS; the casino is the real handlers on the real database."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
from moto import mock_aws
from seamless.contract import client as signed_client
from seamless.provider import settlement
from seamless.runtime.settings import reload_settings

from devtools import admin
from devtools.lambda_local import LambdaContext
from tests.support import HandlerTransport, admin_conn, function, new_id, new_session, wallet

CONTEXT = LambdaContext("SettlementConsumerFunction", 60, 256)


def FlakyCasino(failures: int) -> HandlerTransport:
    """Answers 503 `failures` times, then hands requests to the real handlers."""
    remaining = [failures]

    def fault(path, body, n):
        if remaining[0] > 0:
            remaining[0] -= 1
            return 503
        return None

    return HandlerTransport(fault)


def _consumer():
    return function("SettlementConsumerFunction").load()


def _record(message: dict) -> dict:
    """An SQS event record, as the event source mapping delivers a received message."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message["Attributes"],
        "messageAttributes": {},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:settlement",
        "awsRegion": "us-east-1",
    }


@pytest.fixture
def queues(aws_env, monkeypatch):
    with mock_aws():
        sqs = boto3.client("sqs")
        dlq = sqs.create_queue(QueueName="settlement-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        main = sqs.create_queue(
            QueueName="settlement",
            Attributes={
                "VisibilityTimeout": "30",
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"}),
            },
        )["QueueUrl"]
        monkeypatch.setenv("SETTLEMENT_QUEUE_URL", main)
        monkeypatch.setenv("SETTLEMENT_BACKOFF_BASE_SECONDS", "0")  # visible again at once: no waiting
        reload_settings()
        settlement.reset_client()
        yield sqs, main, dlq
        settlement.reset_client()
    reload_settings()


@pytest.fixture
def queued_credit(database_url):
    """A provider round whose closing credit of 500 was not answered and is queued."""
    token = new_session(database_url)
    provider_session = f"ps-settle-{uuid.uuid4().hex[:8]}"
    round_id, txid = new_id("round"), new_id("win")
    with admin_conn(database_url) as conn:
        customer = conn.execute(
            "SELECT cu.id FROM provider_casino_users cu JOIN provider_casinos c ON c.id = cu.casino_id "
            "WHERE c.code = %s AND cu.casino_player_id = %s",
            (admin.CASINO_CODE, admin.ALICE),
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO provider_sessions (id, casino_user_id, game_id, currency, casino_session_token) "
            "SELECT %s, %s, id, 'USD', %s FROM provider_games WHERE code = %s",
            (provider_session, customer, token, admin.GAME_CODE),
        )
        game_round = conn.execute(
            "INSERT INTO provider_game_rounds (round_id, provider_session_id) VALUES (%s, %s) RETURNING id",
            (round_id, provider_session),
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO provider_bets (game_round_id, action_index, action_type, endpoint, transaction_id, "
            "amount, attempts, final_status, final_code) VALUES (%s, 0, 'win', 'credit', %s, 500, "
            '\'[{"attempt": 1, "httpStatus": null, "error": "ReadTimeoutError"}]\', NULL, \'NO_RESPONSE\')',
            (game_round, txid),
        )
    payload = {
        "sessionToken": token,
        "transactionId": txid,
        "roundId": round_id,
        "amount": 500,
        "currency": "USD",
        "roundClosed": True,
    }
    return provider_session, game_round, txid, payload


def _enqueue(queued):
    provider_session, game_round, _, payload = queued
    assert settlement.enqueue(provider_session, game_round, 0, "win", "credit", payload)


def _receive_and_consume(sqs, url, consumer) -> tuple[int, list]:
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])
    messages = got.get("Messages", [])
    if not messages:
        return 0, []
    records = [_record(m) for m in messages]
    result = consumer({"Records": records}, CONTEXT)
    failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
    for m in messages:  # what a real event source mapping does with successes
        if m["MessageId"] not in failed:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return len(messages), result["batchItemFailures"]


def _attempts(database_url, game_round, txid):
    with admin_conn(database_url) as conn:
        return conn.execute(
            "SELECT attempts, final_status FROM provider_bets WHERE game_round_id = %s AND transaction_id = %s",
            (game_round, txid),
        ).fetchone()


def test_delivered_after_two_failures(database_url, queues, queued_credit, monkeypatch):
    sqs, main, dlq = queues
    casino = FlakyCasino(failures=2)
    monkeypatch.setattr(signed_client, "default_transport", lambda: casino)
    before = wallet(database_url)[0]
    _enqueue(queued_credit)
    consumer, deliveries = _consumer(), 0
    for _ in range(5):
        received, failures = _receive_and_consume(sqs, main, consumer)
        deliveries += received
        if received and not failures:
            break
    assert deliveries == 3
    assert wallet(database_url)[0] == before + 500
    attempts, final_status = _attempts(database_url, queued_credit[1], queued_credit[2])
    queued = [a for a in attempts if a.get("queued")]
    assert [a["httpStatus"] for a in queued] == [503, 503, 200] and final_status == 200
    assert "Messages" not in sqs.receive_message(QueueUrl=dlq)


def test_dead_letter_queue_after_max_receives(database_url, queues, queued_credit, monkeypatch):
    sqs, main, dlq = queues
    monkeypatch.setattr(signed_client, "default_transport", lambda: FlakyCasino(failures=10**6))
    before = wallet(database_url)[0]
    _enqueue(queued_credit)
    consumer, deliveries = _consumer(), 0
    for _ in range(6):
        received, _ = _receive_and_consume(sqs, main, consumer)
        deliveries += received
    assert deliveries == 3  # maxReceiveCount
    dead = sqs.receive_message(QueueUrl=dlq).get("Messages", [])
    assert len(dead) == 1 and json.loads(dead[0]["Body"])["fields"]["transactionId"] == queued_credit[2]
    assert "sessionToken" not in dead[0]["Body"]
    assert wallet(database_url)[0] == before


def test_same_message_delivered_twice_moves_money_once(database_url, queues, queued_credit, monkeypatch):
    sqs, main, _ = queues
    monkeypatch.setattr(signed_client, "default_transport", lambda: FlakyCasino(failures=0))
    before = wallet(database_url)[0]
    _enqueue(queued_credit)
    message = sqs.receive_message(QueueUrl=main, AttributeNames=["All"])["Messages"][0]
    record = _record(message)
    consumer = _consumer()
    assert consumer({"Records": [record]}, CONTEXT)["batchItemFailures"] == []
    assert consumer({"Records": [record]}, CONTEXT)["batchItemFailures"] == []
    assert wallet(database_url)[0] == before + 500


def test_without_a_queue_nothing_is_queued(queued_credit, monkeypatch):
    monkeypatch.delenv("SETTLEMENT_QUEUE_URL", raising=False)
    reload_settings()
    provider_session, game_round, _, payload = queued_credit
    assert settlement.enqueue(provider_session, game_round, 0, "win", "credit", payload) is False
