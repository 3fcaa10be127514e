"""A genuine API Gateway REST (v1) proxy event and a Lambda context, as `sam local` builds
them, so handlers run in-process exactly as they would behind API Gateway."""

from __future__ import annotations

import base64
import os
import time
import uuid
from pathlib import Path
from typing import Any

from . import LAYER, ROOT


class LambdaContext:
    def __init__(self, function_name: str, timeout_s: int, memory_mb: int) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def api_event(
    method: str,
    path: str,
    resource: str,
    headers: list[tuple[str, str]],
    body: bytes,
    query: dict[str, list[str]] | None = None,
    source_ip: str = "127.0.0.1",
    *,
    path_parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A REST API proxy event. Header names keep the client's case; a body that is not
    UTF-8 text arrives base64-encoded, as API Gateway does for binary payloads. `resource` is
    the template's path (`/provider/rounds/{roundId}`), `path` the one requested."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        single[name] = value
        multi.setdefault(name, []).append(value)
    try:
        text: str | None = body.decode("utf-8")
        encoded = False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode("ascii"), True
    query = query or {}
    now = time.time()
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": single,
        "multiValueHeaders": multi,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": resource,
            "httpMethod": method,
            "path": path,
            "stage": "local",
            "protocol": "HTTP/1.1",
            "requestId": str(uuid.uuid4()),
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "requestTimeEpoch": int(now * 1000),
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": "127.0.0.1",
            "identity": {"sourceIp": source_ip, "userAgent": single.get("User-Agent")},
        },
        "body": (text if text != "" else None),
        "isBase64Encoded": encoded,
    }


def function_environment(folder: str, *, tracing: bool) -> dict[str, str]:
    """The environment Lambda gives the function in `folder` (e.g. "functions/casino/debit"), for
    a fresh interpreter: this process's environment without its Powertools, AWS and Lambda
    variables, plus the function's own. It matters for X-Ray: outside Lambda (no LAMBDA_TASK_ROOT)
    its recorder builds a botocore client for centralised sampling at import, about a third of a
    second that Lambda never pays (its recorder samples locally; the segment comes from the
    service)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "AWS_", "LAMBDA_", "_X_AMZN"))}
    env.update(
        PYTHONPATH=str(LAYER),  # the shared layer, as /opt/python is in Lambda
        POWERTOOLS_SERVICE_NAME="casino-wallet",
        POWERTOOLS_TRACE_DISABLED="false" if tracing else "true",
        LAMBDA_TASK_ROOT=str(ROOT / folder),
        AWS_LAMBDA_FUNCTION_NAME=Path(folder).name,
        AWS_EXECUTION_ENV="AWS_Lambda_python3.12",
        AWS_REGION="eu-west-1",
        AWS_DEFAULT_REGION="eu-west-1",
    )
    return env
