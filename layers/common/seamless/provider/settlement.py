"""Durable settlement: a credit or rollback the casino still has not answered definitively
after the client's inline retries is queued (SQS) and delivered by SettlementConsumerFunction
until it succeeds or, after the queue's maxReceiveCount, lands in the dead-letter queue.

Debits are never queued: an undecided debit is rolled back instead (provider.py). The message
names the provider session, not its token: the consumer reads the token from
provider_sessions, rebuilds the same request (same transactionId, same fields) and records
every attempt on the round's provider_bets row. Without SETTLEMENT_QUEUE_URL (the local API)
nothing is queued and the report says so.
"""

from __future__ import annotations

import json
from typing import Any

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from ..contract.client import CallResult
from ..runtime import db
from ..runtime.settings import PROVIDER_ROLE
from . import queries
from .casino_client import casino_client, result_code
from .settings import get_settings

_sqs: Any = None


def sqs() -> Any:
    global _sqs
    if _sqs is None:
        import boto3

        _sqs = boto3.client("sqs")
    return _sqs


def reset_client() -> None:
    global _sqs
    _sqs = None


def enqueue(
    provider_session_id: str, game_round_id: int, action_index: int, action_type: str, endpoint: str, payload: dict[str, Any]
) -> bool:
    """Queues a settlement for later delivery; False when no queue is configured."""
    url = get_settings().settlement_queue_url
    if not url:
        return False
    fields = {k: v for k, v in payload.items() if k != "sessionToken"}
    message = {
        "providerSessionId": provider_session_id,
        "gameRoundId": game_round_id,
        "actionIndex": action_index,
        "actionType": action_type,
        "endpoint": endpoint,
        "fields": fields,
    }
    sqs().send_message(QueueUrl=url, MessageBody=json.dumps(message, separators=(",", ":")))
    return True


class NotDelivered(Exception):
    """The casino gave no definitive answer yet: the message goes back to the queue."""


def deliver(message: dict[str, Any], receive_count: int, receipt_handle: str | None = None) -> CallResult:
    """Sends one queued settlement and records the attempt; raises NotDelivered to retry."""
    settings = get_settings()
    session = db.run_idempotent(
        PROVIDER_ROLE,
        lambda conn: (
            conn.cursor(row_factory=dict_row).execute(queries.PROVIDER_SESSION, (message["providerSessionId"],)).fetchone()
        ),
    )
    if session is None:
        raise ValueError("settlement for an unknown provider session")  # poison: ends in the DLQ
    payload = {"sessionToken": session["casino_session_token"], **message["fields"]}
    client = casino_client(settings, session["secret_ref"])
    result = client.post(f"{session['callback_base_url'].rstrip('/')}/casino/{message['endpoint']}", payload, max_attempts=1)
    attempts = [dict(a.as_json(), queued=True, receive=receive_count) for a in result.attempts]
    db.run_once(
        PROVIDER_ROLE,
        lambda conn: conn.execute(
            queries.PROVIDER_RECORD_QUEUED_ATTEMPT,
            (Jsonb(attempts), result.status, result_code(result), message["gameRoundId"], message["fields"]["transactionId"]),
        ),
    )
    if not result.definitive:
        if receipt_handle and settings.settlement_queue_url:
            # exponential backoff between deliveries, on top of the queue's own visibility timeout
            delay = min(900, int(settings.settlement_backoff_base_seconds * 2 ** max(0, receive_count - 1)))
            sqs().change_message_visibility(
                QueueUrl=settings.settlement_queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=delay
            )
        raise NotDelivered(f"casino answered {result.status or 'nothing'}")
    return result
