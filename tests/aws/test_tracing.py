"""X-Ray costs what it must at cold start (issue 14): in Lambda's environment with tracing on, a
function's init patches http.client only; botocore is patched - and its client module imported -
just before the container's first AWS SDK call, the secret read it makes with tracing off too."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from devtools.lambda_local import function_environment

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
app = importlib.util.module_from_spec(spec); spec.loader.exec_module(app)
from aws_xray_sdk.core import patcher
at_init = {"patched": sorted(patcher._PATCHED_MODULES), "botocore_client": "botocore.client" in sys.modules}

import boto3
from moto import mock_aws
from seamless.runtime import settings
with mock_aws():
    arn = boto3.client("secretsmanager", region_name="eu-west-1").create_secret(
        Name="probe", SecretString="s3cret")["ARN"]
    value = settings.fetch_secret(arn, max_age=60)
print(json.dumps({"init": at_init, "after_secret": sorted(patcher._PATCHED_MODULES), "value_ok": value == "s3cret"}))
"""


def _probe(function: str, tracing: bool) -> dict:
    env = function_environment(function, tracing=tracing)
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_XRAY_CONTEXT_MISSING="IGNORE_ERROR")
    out = subprocess.run(  # noqa: S603 - our own probe
        [sys.executable, "-c", PROBE, str(ROOT / function / "app.py")], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_tracing_on_patches_http_at_init_and_botocore_before_the_first_secret():
    result = _probe("functions/casino/debit", tracing=True)
    assert result["init"] == {"patched": ["httplib"], "botocore_client": False}
    assert result["after_secret"] == ["botocore", "httplib"]
    assert result["value_ok"]


def test_tracing_off_patches_nothing():
    result = _probe("functions/provider/launch", tracing=False)
    assert result["init"]["patched"] == [] and result["after_secret"] == []
    assert result["value_ok"]
