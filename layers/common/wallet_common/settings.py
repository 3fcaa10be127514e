"""Settings as one validated object, read from the environment once per container."""
from __future__ import annotations

import json
import os
from functools import lru_cache
from typing import Any

from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pydantic import BaseModel, Field, SecretStr

CASINO_ROLE = "casino_app"
PROVIDER_ROLE = "provider_app"


class Settings(BaseModel):
    database_url: SecretStr | None = None
    casino_database_url: SecretStr | None = None
    provider_database_url: SecretStr | None = None
    casino_db_password: SecretStr = SecretStr("casino_app_local")
    provider_db_password: SecretStr = SecretStr("provider_app_local")
    casino_secret: SecretStr | None = None
    provider_secret: SecretStr | None = None
    # Deployed: secrets live in AWS Secrets Manager, named by ARN, read through Powertools
    # Parameters and cached for secrets_cache_seconds (a rotation is picked up after that).
    casino_secret_arn: str | None = None
    provider_secret_arn: str | None = None
    #: admin (master) credentials, RDS secret format; used by the MigrateFunction
    database_secret_arn: str | None = None
    casino_database_secret_arn: str | None = None
    provider_database_secret_arn: str | None = None
    #: RDS Proxy (or any) endpoint overriding the host in the database secrets
    database_host: str | None = None
    database_sslmode: str = "prefer"
    secrets_cache_seconds: int = Field(default=300, ge=0)
    session_ttl_seconds: int = Field(default=1800, ge=1)
    provider_code: str = "jaqpot"
    casino_code: str = "demo-casino"
    provider_base_url: str = "http://127.0.0.1:3000"
    #: where players' browsers load the provider's games (the launchUrl's base)
    provider_public_url: str = "http://127.0.0.1:3000"
    casino_base_url: str = "http://127.0.0.1:3000"
    db_connect_timeout_seconds: int = Field(default=5, ge=1)
    http_connect_timeout_seconds: float = Field(default=2.0, gt=0)
    http_read_timeout_seconds: float = Field(default=5.0, gt=0)
    #: SQS queue for settlements the casino did not answer (deployed); unset locally
    settlement_queue_url: str | None = None
    #: POWERTOOLS_TRACE_DISABLED: no X-Ray (local runs and tests)
    powertools_trace_disabled: bool = False
    settlement_backoff_base_seconds: float = Field(default=30, ge=0)
    http_read_timeout_simulate_seconds: float = Field(default=25.0, gt=0)
    http_max_attempts: int = Field(default=3, ge=1, le=10)
    http_backoff_base_seconds: float = Field(default=0.1, ge=0)
    http_backoff_max_seconds: float = Field(default=1.0, ge=0)

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
        return make_conninfo("", host=self.database_host or creds["host"], port=creds.get("port", 5432),
                             dbname=creds.get("dbname", "postgres"), user=creds["username"],
                             password=creds["password"], sslmode=self.database_sslmode)

    def secret_by_ref(self, ref: str) -> str:
        """A secret named by a database row's secret_ref (an env var name, never the value)."""
        if ref not in ("CASINO_SECRET", "PROVIDER_SECRET"):
            raise RuntimeError(f"unsupported secret reference {ref!r}")
        return self.secret(ref.lower())

    def secret(self, name: str) -> str:
        arn: str | None = getattr(self, f"{name}_arn", None)
        if arn:
            return fetch_secret(arn, self.secrets_cache_seconds)
        value: SecretStr | None = getattr(self, name)
        if value is None or not value.get_secret_value():
            raise RuntimeError(f"{name.upper()} is not set")
        return value.get_secret_value()


def fetch_secret(arn: str, max_age: int) -> str:
    """A Secrets Manager secret string, cached by Powertools for max_age seconds."""
    from aws_lambda_powertools.utilities import parameters  # boto3 only where secrets are used

    value: Any = parameters.get_secret(arn, max_age=max_age)
    return value if isinstance(value, str) else bytes(value).decode("utf-8")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    fields = Settings.model_fields
    values = {name: os.environ[name.upper()] for name in fields if os.environ.get(name.upper())}
    return Settings.model_validate(values)


def reload_settings() -> Settings:
    """Forget the cached settings (tests and the local API change the environment)."""
    get_settings.cache_clear()
    return get_settings()
