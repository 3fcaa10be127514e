"""Secrets: env vars locally, AWS Secrets Manager (through Powertools Parameters, cached)
when deployed. moto stands in for Secrets Manager; the database is real."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters import base as parameters_base
from moto import mock_aws
from seamless.casino.settings import get_settings as casino_settings
from seamless.contract.signing import sign
from seamless.runtime import db
from seamless.runtime.settings import clear_secret_caches, reload_settings

from tests.support import PROVIDER_SECRET, call, new_id, new_session, wallet


@pytest.fixture
def secretsmanager(aws_env):
    with mock_aws():
        clear_secret_caches()
        yield boto3.client("secretsmanager")
        clear_secret_caches()
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
    accepted = call(
        "/casino/debit",
        body,
        sign_with=None,
        headers=[("X-Casino-Signature", sign("rotated-live-secret", body, "/casino/debit"))],
    )
    assert accepted.status == 200, accepted.raw
    monkeypatch.delenv("CASINO_SECRET_ARN")
    reload_settings()


# ------------------------------------------------------------------ Secrets Manager failing


def _gone(secretsmanager, name: str) -> str:
    """The ARN of a secret that no longer exists: every fetch of it fails."""
    arn = secretsmanager.create_secret(Name=name, SecretString="short-lived")["ARN"]
    secretsmanager.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    return arn


def test_a_failed_signing_secret_fetch_is_503_and_nothing_is_written(database_url, secretsmanager, monkeypatch):
    """Unavailable, retry (docs/protocol.md §3, §10.4), never a 500: the callback could not be
    checked, so it was not applied, and the provider's retry is safe."""
    token = new_session(database_url)
    before = wallet(database_url)
    _use(monkeypatch, CASINO_SECRET_ARN=_gone(secretsmanager, "casino-hmac-gone"))
    payload = {"sessionToken": token, "transactionId": new_id("sm"), "roundId": new_id("r"), "amount": 5, "currency": "USD"}
    r = call("/casino/debit", payload)
    assert (r.status, r.code) == (503, "SERVICE_UNAVAILABLE"), r
    assert "short-lived" not in r.raw and "arn:" not in r.raw
    assert wallet(database_url) == before
    monkeypatch.delenv("CASINO_SECRET_ARN")
    reload_settings()
    assert call("/casino/debit", payload).status == 200  # the retry applies it


def test_a_failed_provider_secret_fetch_is_503(database_url, secretsmanager, monkeypatch):
    monkeypatch.setenv("PROVIDER_SECRET_ARN", _gone(secretsmanager, "provider-hmac-gone"))
    reload_settings()
    body = {"sessionToken": new_id("tok"), "playerId": new_id("p"), "gameId": "book-of-jaqpot", "currency": "USD"}
    r = call("/provider/launch", body, sign_with=PROVIDER_SECRET, header_name="X-Provider-Signature")
    assert (r.status, r.code) == (503, "SERVICE_UNAVAILABLE"), r


def test_a_failed_database_secret_fetch_is_503(database_url, secretsmanager, monkeypatch):
    token = new_session(database_url)
    db.close_all()  # the next callback opens a connection, reading the database secret
    _use(monkeypatch, CASINO_DATABASE_SECRET_ARN=_gone(secretsmanager, "casino-db-gone"))
    try:
        r = call("/casino/getBalance", {"sessionToken": token})
        assert (r.status, r.code) == (503, "SERVICE_UNAVAILABLE"), r
    finally:
        monkeypatch.delenv("CASINO_DATABASE_SECRET_ARN")
        reload_settings()
        db.close_all()
    assert call("/casino/getBalance", {"sessionToken": token}).status == 200


def test_during_a_rotation_both_the_current_and_the_previous_secret_verify(database_url, secretsmanager, monkeypatch):
    """docs/protocol.md §2: AWSCURRENT and AWSPREVIOUS are both accepted while a rotation is
    under way; a value older than that is refused."""
    arn = secretsmanager.create_secret(Name="casino-hmac-rotating", SecretString="first")["ARN"]
    secretsmanager.put_secret_value(SecretId=arn, SecretString="second")  # first is now AWSPREVIOUS
    secretsmanager.put_secret_value(SecretId=arn, SecretString="third")  # second is AWSPREVIOUS, first is gone
    _use(monkeypatch, CASINO_SECRET_ARN=arn)
    assert casino_settings().callback_secrets() == ["third", "second"]
    token = new_session(database_url)
    for secret, status in (("third", 200), ("second", 200), ("first", 401)):
        body = json.dumps({"sessionToken": token}).encode()
        r = call(
            "/casino/getBalance", body, sign_with=None, headers=[("X-Casino-Signature", sign(secret, body, "/casino/getBalance"))]
        )
        assert r.status == status, (secret, r.raw)
    monkeypatch.delenv("CASINO_SECRET_ARN")
    reload_settings()


def test_a_secret_never_rotated_has_only_its_current_value(secretsmanager, monkeypatch):
    arn = secretsmanager.create_secret(Name="provider-hmac-new", SecretString="only")["ARN"]
    monkeypatch.setenv("PROVIDER_SECRET_ARN", arn)
    reload_settings()
    from seamless.provider.settings import get_settings as provider_settings

    assert provider_settings().request_secrets() == ["only"]
    monkeypatch.delenv("PROVIDER_SECRET_ARN")
    reload_settings()


def test_the_previous_version_is_accepted_for_the_grace_after_the_current_ones_creation(
    database_url, secretsmanager, monkeypatch
):
    """docs/protocol.md §2: deployed, the grace runs from the CreatedDate of the AWSCURRENT
    version; after it AWSPREVIOUS is refused although Secrets Manager still holds it, so one
    rotation revokes a leaked secret. Senders keep signing with the current one."""
    from seamless.runtime import settings as runtime_settings

    arn = secretsmanager.create_secret(Name="casino-hmac-grace", SecretString="leaked")["ARN"]
    secretsmanager.put_secret_value(SecretId=arn, SecretString="fresh")  # the rotation: leaked is AWSPREVIOUS
    created = secretsmanager.get_secret_value(SecretId=arn)["CreatedDate"].timestamp()
    _use(monkeypatch, CASINO_SECRET_ARN=arn)
    assert casino_settings().callback_secrets() == ["fresh", "leaked"]
    assert casino_settings().secret("casino_secret") == "fresh"
    token = new_session(database_url)
    body = json.dumps({"sessionToken": token}).encode()

    def balance_with(secret: str) -> int:
        headers = [("X-Casino-Signature", sign(secret, body, "/casino/getBalance"))]
        return call("/casino/getBalance", body, sign_with=None, headers=headers).status

    assert (balance_with("fresh"), balance_with("leaked")) == (200, 200)
    later = created + 86_400 + 1
    monkeypatch.setattr(runtime_settings, "wall_clock", lambda: later)
    assert casino_settings().callback_secrets() == ["fresh"]
    monkeypatch.setattr("seamless.contract.signing.time.time", lambda: later)
    assert (balance_with("fresh"), balance_with("leaked")) == (200, 401)
    monkeypatch.delenv("CASINO_SECRET_ARN")
    reload_settings()
