"""Settings as validated objects, read from the environment once per container.

`CommonSettings` is what the plumbing of either deployable needs (database, secrets, HTTP
client budgets). Each side extends it with its own settings (`seamless.casino.settings`,
`seamless.provider.settings`), so neither reads the other's configuration.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any, TypeVar

from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pydantic import BaseModel, Field, SecretStr

from ..contract import errors
from ..contract.client import RetryPolicy

CASINO_ROLE = "casino_app"
PROVIDER_ROLE = "provider_app"
S = TypeVar("S", bound="CommonSettings")
log = logging.getLogger(__name__)


class CommonSettings(BaseModel):
    database_url: SecretStr | None = None
    casino_database_url: SecretStr | None = None
    provider_database_url: SecretStr | None = None
    casino_db_password: SecretStr = SecretStr("casino_app_local")
    provider_db_password: SecretStr = SecretStr("provider_app_local")
    #: admin (master) credentials, RDS secret format; used by the MigrateFunction
    database_secret_arn: str | None = None
    casino_database_secret_arn: str | None = None
    provider_database_secret_arn: str | None = None
    #: RDS Proxy (or any) endpoint overriding the host in the database secrets
    database_host: str | None = None
    #: libpq sslmode of connections built from a database secret (deployed): the template
    #: sets verify-full; DATABASE_URL (local) carries its own
    database_sslmode: str = "prefer"
    #: CA bundle the server's certificate must chain to (RDS and Amazon root CAs, inside the layer)
    database_sslrootcert: str | None = None
    # Deployed: secrets live in AWS Secrets Manager, named by ARN, read through Powertools
    # Parameters and cached for secrets_cache_seconds (a rotation is picked up after that).
    secrets_cache_seconds: int = Field(default=300, ge=0)
    #: how far a signature's `t` may be from the receiver's clock, either way (docs/protocol.md §2)
    signature_tolerance_seconds: int = Field(default=300, ge=1, le=3600)
    #: how long after a rotation the previous signing secret is still accepted (docs/protocol.md §2)
    secret_rotation_grace_seconds: int = Field(default=86_400, ge=0)
    db_connect_timeout_seconds: int = Field(default=5, ge=1)
    http_connect_timeout_seconds: float = Field(default=2.0, gt=0)
    http_read_timeout_seconds: float = Field(default=5.0, gt=0)
    http_max_attempts: int = Field(default=3, ge=1, le=10)
    http_backoff_base_seconds: float = Field(default=0.1, ge=0)
    http_backoff_max_seconds: float = Field(default=1.0, ge=0)
    #: POWERTOOLS_TRACE_DISABLED: no X-Ray (local runs and tests)
    powertools_trace_disabled: bool = False
    #: the request line's service, metric namespace and whether it carries metrics, read once
    #: per container (Powertools' own variables, with its rule: POWERTOOLS_DEV turns metrics off
    #: unless POWERTOOLS_METRICS_DISABLED says otherwise)
    powertools_service_name: str = "service_undefined"
    powertools_metrics_namespace: str = "CasinoWallet"
    powertools_metrics_disabled: bool | None = None
    powertools_dev: bool = False

    def metrics_disabled(self) -> bool:
        if self.powertools_metrics_disabled is not None:
            return self.powertools_metrics_disabled
        return self.powertools_dev

    def retry_policy(self, *, read_timeout: float | None = None) -> RetryPolicy:
        """The one builder of the signed client's budget, used by both sides."""
        return RetryPolicy(
            max_attempts=self.http_max_attempts,
            connect_timeout=self.http_connect_timeout_seconds,
            read_timeout=read_timeout or self.http_read_timeout_seconds,
            backoff_base=self.http_backoff_base_seconds,
            backoff_max=self.http_backoff_max_seconds,
        )

    def dsn_for(self, role: str) -> str:
        """Connection string for a side's role: its own URL, its own Secrets Manager secret
        (RDS format: username, password, host, port, dbname), or DATABASE_URL with that role."""
        explicit = self.casino_database_url if role == CASINO_ROLE else self.provider_database_url
        if explicit is not None:
            return explicit.get_secret_value()
        secret_arn = self._role_secret_arn(role)
        if secret_arn:
            return self._dsn_from_secret(secret_arn)
        if self.database_url is None:
            raise RuntimeError("DATABASE_URL (or CASINO_DATABASE_URL/PROVIDER_DATABASE_URL) is not set")
        params = conninfo_to_dict(self.database_url.get_secret_value())
        params.update(user=role, password=self.role_password(role))
        return make_conninfo("", **params)

    def admin_dsn(self) -> str:
        """The schema owner's connection (migrations): DATABASE_URL or DATABASE_SECRET_ARN."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        if self.database_secret_arn:
            return self._dsn_from_secret(self.database_secret_arn)
        raise RuntimeError("DATABASE_URL or DATABASE_SECRET_ARN is not set")

    def role_password(self, role: str) -> str:
        """A side's database password: from its Secrets Manager secret when deployed."""
        secret_arn = self._role_secret_arn(role)
        if secret_arn:
            return str(json.loads(fetch_secret(secret_arn, self.secrets_cache_seconds))["password"])
        password = self.casino_db_password if role == CASINO_ROLE else self.provider_db_password
        return password.get_secret_value()

    def _role_secret_arn(self, role: str) -> str | None:
        return self.casino_database_secret_arn if role == CASINO_ROLE else self.provider_database_secret_arn

    def _dsn_from_secret(self, arn: str) -> str:
        creds = json.loads(fetch_secret(arn, self.secrets_cache_seconds))
        tls: dict[str, str] = {"sslmode": self.database_sslmode}
        if self.database_sslrootcert:
            if not os.path.isfile(self.database_sslrootcert):
                # a deploy without the bundle (docs/security.md: `make rds-ca` before `sam build`)
                raise RuntimeError(f"DATABASE_SSLROOTCERT {self.database_sslrootcert} does not exist")
            tls["sslrootcert"] = self.database_sslrootcert
        return make_conninfo(
            "",
            host=self.database_host or creds["host"],
            port=creds.get("port", 5432),
            dbname=creds.get("dbname", "postgres"),
            user=creds["username"],
            password=creds["password"],
            **tls,
        )

    def secrets(self, name: str, *, now: float | None = None) -> list[str]:
        """What a receiver accepts for secret `name` (docs/protocol.md §2, rotation): the
        current value, then the previous one for at most SECRET_ROTATION_GRACE_SECONDS after
        the rotation. Deployed: Secrets Manager's AWSPREVIOUS stage, while the AWSCURRENT
        version is younger than the grace (its CreatedDate is the rotation). Locally:
        `<NAME>_PREVIOUS` while `<NAME>_ROTATED_AT` is less than the grace ago (a previous
        value without a rotation time is never accepted: its grace could not end)."""
        values = [self.secret(name)]
        clock = wall_clock() if now is None else now
        arn: str | None = getattr(self, f"{name}_arn", None)
        previous: str | None = None
        if arn:
            if self.in_rotation_grace(current_version_created(arn, self.secrets_cache_seconds), clock):
                previous = fetch_secret(arn, self.secrets_cache_seconds, stage="AWSPREVIOUS", missing_ok=True)
        else:
            value: SecretStr | None = getattr(self, f"{name}_previous", None)
            rotated_at: datetime | None = getattr(self, f"{name}_rotated_at", None)
            if rotated_at is not None and rotated_at.tzinfo is None:
                rotated_at = rotated_at.replace(tzinfo=UTC)  # a time without a zone is UTC
            if value is not None and rotated_at is not None and self.in_rotation_grace(rotated_at.timestamp(), clock):
                previous = value.get_secret_value()
        if previous and previous not in values:
            values.append(previous)
        return values

    def in_rotation_grace(self, rotated: float | None, now: float) -> bool:
        """Whether `now` lies within the grace that a rotation at `rotated` opened (a rotation
        time up to the signature tolerance ahead of this clock counts as now: clock skew)."""
        if rotated is None:
            return False
        return -self.signature_tolerance_seconds <= now - rotated <= self.secret_rotation_grace_seconds

    def secret(self, name: str) -> str:
        """A secret by field name: from Secrets Manager when `<name>_arn` is set, else its value."""
        arn: str | None = getattr(self, f"{name}_arn", None)
        if arn:
            return fetch_secret(arn, self.secrets_cache_seconds)
        value: SecretStr | None = getattr(self, name, None)
        if value is None or not value.get_secret_value():
            raise RuntimeError(f"{name.upper()} is not set")
        return value.get_secret_value()


_previous_stage: Any = None
#: arn -> (monotonic time fetched, CreatedDate of its AWSCURRENT version as unix seconds)
_current_created: dict[str, tuple[float, float]] = {}
_current_created_lock = threading.Lock()


def wall_clock() -> float:
    """Unix seconds now (one place, so tests can move the clock)."""
    return time.time()


#: run once, before the container's first AWS SDK call (observability adds X-Ray's patch of
#: botocore here: botocore's client module, a sixth of a second, is imported when a function first
#: needs it, whether tracing is on or off, instead of at init for tracing alone)
before_first_aws_call: list[Callable[[], None]] = []
_aws_ready = False


def _aws_sdk_ready() -> None:
    global _aws_ready
    if not _aws_ready:
        for hook in before_first_aws_call:
            hook()  # idempotent: threads of the local API may race here
        _aws_ready = True


def fetch_secret(arn: str, max_age: int, *, stage: str | None = None, missing_ok: bool = False) -> str:
    """A Secrets Manager secret string (its AWSCURRENT version, or `stage`), cached by
    Powertools for max_age seconds.

    A failed fetch (Secrets Manager unreachable, throttled, denied) is 503 SERVICE_UNAVAILABLE:
    the request cannot be checked or served now and a retry may succeed; nothing was done.
    With missing_ok, a stage that cannot be read (a secret never rotated has no AWSPREVIOUS)
    is the empty string: the current secret alone is accepted then."""
    # boto3 only where secrets are used
    from aws_lambda_powertools.utilities import parameters
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    global _previous_stage
    _aws_sdk_ready()
    try:
        if stage is None:
            value: Any = parameters.get_secret(arn, max_age=max_age)
        else:
            # Powertools caches by name only, so another stage needs a provider (cache) of its own.
            if _previous_stage is None:
                _previous_stage = parameters.SecretsProvider()
            value = _previous_stage.get(arn, max_age=max_age, VersionStage=stage)
    except GetParameterError as exc:
        if missing_ok:
            return ""
        # Powertools wraps whatever went wrong (its __context__); only its type is logged
        log.warning("secret fetch failed: %s", type(exc.__context__ or exc).__name__)
        raise errors.ServiceUnavailable("A secret could not be read from the secret store. It is safe to retry.") from None
    return value if isinstance(value, str) else bytes(value).decode("utf-8")


def current_version_created(arn: str, max_age: int) -> float:
    """When the AWSCURRENT version of a secret was created (unix seconds): the rotation that
    opened the previous secret's grace. Cached for max_age seconds like the secret itself; a
    failed read is 503, as for the secret (fetch_secret)."""
    with _current_created_lock:
        cached = _current_created.get(arn)
    if cached is not None and time.monotonic() - cached[0] < max_age:
        return cached[1]
    from botocore.exceptions import BotoCoreError, ClientError

    _aws_sdk_ready()
    try:
        # GetSecretValue names the version's CreatedDate: no permission beyond the one that
        # reads the secret is needed (hand-written: Powertools returns the value alone)
        version = _secrets_client().get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")
        created = float(version["CreatedDate"].timestamp())
    except (BotoCoreError, ClientError, KeyError, AttributeError) as exc:
        log.warning("secret version read failed: %s", type(exc).__name__)
        raise errors.ServiceUnavailable("A secret could not be read from the secret store. It is safe to retry.") from None
    with _current_created_lock:
        _current_created[arn] = (time.monotonic(), created)
    return created


_sm_client: Any = None


def _secrets_client() -> Any:
    global _sm_client
    if _sm_client is None:
        import boto3

        _sm_client = boto3.client("secretsmanager")
    return _sm_client


def clear_secret_caches() -> None:
    """Forget cached secrets (tests that rotate a secret)."""
    from aws_lambda_powertools.utilities import parameters

    global _sm_client
    _sm_client = None
    with _current_created_lock:
        _current_created.clear()
    parameters.clear_caches()
    if _previous_stage is not None:
        _previous_stage.clear_cache()


@cache
def load(cls: type[S]) -> S:
    """One validated settings object per class and container, from the environment."""
    values = {name: os.environ[name.upper()] for name in cls.model_fields if os.environ.get(name.upper())}
    return cls.model_validate(values)


def common() -> CommonSettings:
    return load(CommonSettings)


def reload_settings() -> None:
    """Forget every cached settings object (tests and the local API change the environment)."""
    load.cache_clear()
