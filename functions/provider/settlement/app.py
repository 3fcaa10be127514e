"""SettlementConsumerFunction: delivers queued credits/rollbacks (SQS event source, partial
batch failures) until the casino answers definitively or the message reaches the DLQ."""

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from seamless.provider import settlement
from seamless.runtime.observability import logger

# A batch whose every record failed is reported item by item too (no function error).
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord) -> None:
    receive_count = int(record.attributes.approximate_receive_count or 1)
    settlement.deliver(json.loads(record.body), receive_count, record.receipt_handle)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: Any) -> Any:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
