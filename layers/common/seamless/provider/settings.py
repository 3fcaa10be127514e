"""The reference provider's settings (on top of the plumbing's `CommonSettings`)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from ..runtime.settings import CommonSettings, load


class ProviderSettings(CommonSettings):
    #: verifies casino -> provider calls (x-provider-signature)
    provider_secret: SecretStr | None = None
    provider_secret_arn: str | None = None
    #: signs provider -> casino callbacks (x-casino-signature)
    casino_secret: SecretStr | None = None
    casino_secret_arn: str | None = None
    provider_code: str = "jaqpot"
    #: the casino a launch without casinoCode belongs to
    casino_code: str = "demo-casino"
    #: where players' browsers load the provider's games (the launchUrl's base)
    provider_public_url: str = "http://127.0.0.1:3000"
    #: SQS queue for settlements the casino did not answer (deployed); unset locally
    settlement_queue_url: str | None = None
    settlement_backoff_base_seconds: float = Field(default=30, ge=0)

    def secret_by_ref(self, ref: str) -> str:
        """A secret named by a database row's secret_ref (an env var name, never the value)."""
        if ref != "CASINO_SECRET":
            raise RuntimeError(f"unsupported secret reference {ref!r}")
        return self.secret("casino_secret")

    def request_secrets(self) -> list[str]:
        """Secrets a casino -> provider call may be signed with."""
        return [self.secret("provider_secret")]


def get_settings() -> ProviderSettings:
    return load(ProviderSettings)
