"""Secrets: env vars locally, AWS Secrets Manager (through Powertools Parameters, cached)
when deployed. moto stands in for Secrets Manager; the database is real."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters import base as parameters_base
from moto import mock_aws
from seamless.casino.settings import get_settings as casino_settings
from seamless.contract.signing import sign
from seamless.runtime.settings import reload_settings

from tests.support import call, new_id, new_session


@pytest.fixture
def secretsmanager(aws_env):
    with mock_aws():
        parameters.clear_caches()
        yield boto3.client("secretsmanager")
        parameters.clear_caches()
    reload_settings()


def _use(monkeypatch, **env):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    reload_settings()
    return casino_settings()


def test_env_var_secret_locally(monkeypatch):
    settings = _use(monkeypatch, CASINO_SECRET="local-only-value")
    assert settings.secret("casino_secret") == "local-only-value"


def test_missing_secret_is_a_clear_configuration_error(monkeypatch):
    monkeypatch.delenv("CASINO_SECRET", raising=False)
    monkeypatch.delenv("CASINO_SECRET_ARN", raising=False)
    with pytest.raises(RuntimeError, match="CASINO_SECRET is not set"):
        reload_settings()
        casino_settings().secret("casino_secret")
    reload_settings()


def test_secret_from_secrets_manager_wins_over_env(secretsmanager, monkeypatch):
    arn = secretsmanager.create_secret(Name="casino-hmac", SecretString="from-secrets-manager")["ARN"]
    settings = _use(monkeypatch, CASINO_SECRET="env-value", CASINO_SECRET_ARN=arn)
    assert settings.secret("casino_secret") == "from-secrets-manager"


def test_rotated_secret_is_picked_up_after_the_cache_ttl(secretsmanager, monkeypatch):
    arn = secretsmanager.create_secret(Name="casino-hmac-rot", SecretString="v1")["ARN"]
    settings = _use(monkeypatch, CASINO_SECRET_ARN=arn, SECRETS_CACHE_SECONDS="300")
    assert settings.secret("casino_secret") == "v1"
    secretsmanager.put_secret_value(SecretId=arn, SecretString="v2")
    assert settings.secret("casino_secret") == "v1"  # still cached

    class Later(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.now(tz) + timedelta(seconds=301)

    monkeypatch.setattr(parameters_base, "datetime", Later)
    assert settings.secret("casino_secret") == "v2"


def test_database_credentials_from_a_secret(secretsmanager, monkeypatch):
    creds = {"username": "casino_app", "password": "pw-from-secret", "host": "db.internal", "port": 5432, "dbname": "casino"}
    arn = secretsmanager.create_secret(Name="casino-db", SecretString=json.dumps(creds))["ARN"]
    settings = _use(monkeypatch, CASINO_DATABASE_SECRET_ARN=arn, DATABASE_HOST="proxy.internal")
    dsn = settings.dsn_for("casino_app")
    assert "host=proxy.internal" in dsn and "user=casino_app" in dsn and "dbname=casino" in dsn
    assert "password=pw-from-secret" in dsn


def test_handler_verifies_with_the_secrets_manager_secret(database_url, secretsmanager, monkeypatch):
    arn = secretsmanager.create_secret(Name="casino-hmac-live", SecretString="rotated-live-secret")["ARN"]
    _use(monkeypatch, CASINO_SECRET_ARN=arn)
    token = new_session(database_url)
    payload = {"sessionToken": token, "transactionId": new_id("sm"), "roundId": new_id("r"), "amount": 5, "currency": "USD"}
    # signed with the old local secret: refused
    assert call("/casino/debit", payload).status == 401
    body = json.dumps(payload).encode()
    accepted = call("/casino/debit", body, sign_with=None, headers=[("X-Casino-Signature", sign("rotated-live-secret", body))])
    assert accepted.status == 200, accepted.raw
    monkeypatch.delenv("CASINO_SECRET_ARN")
    reload_settings()
