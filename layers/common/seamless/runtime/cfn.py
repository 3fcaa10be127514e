"""CloudFormation custom resources: run an action on Create/Update and report the outcome
to the pre-signed ResponseURL. Hand-written (a few lines over urllib3) because the response
protocol is all we need and no Powertools utility covers it; AWS's crhelper would add a
dependency for the same twenty lines."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import urllib3

from .observability import logger


def custom_resource(action: Callable[[], Any]) -> Callable[[dict, Any], dict]:
    @logger.inject_lambda_context(clear_state=True)
    def handler(event: dict, context: Any) -> dict:
        request_type = event.get("RequestType")
        if request_type is None:  # a direct invoke (`sam remote invoke`): just run it
            return {"result": action()}
        status, reason, data = "SUCCESS", "", {}
        if request_type in ("Create", "Update"):
            try:
                data = {"Result": json.dumps(action())[:2000]}
            except Exception as exc:  # reported to CloudFormation, which rolls the deploy back
                logger.exception("custom resource action failed")
                status, reason = "FAILED", f"{type(exc).__name__}: see the function's logs"
        response = {
            "Status": status,
            "Reason": reason or "ok",
            "PhysicalResourceId": event.get("PhysicalResourceId") or context.log_stream_name,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": data,
        }
        body = json.dumps(response).encode()
        urllib3.request(
            "PUT",
            event["ResponseURL"],
            body=body,
            headers={"Content-Type": "", "Content-Length": str(len(body))},
            retries=3,
            timeout=10,
        )
        return response

    return handler
