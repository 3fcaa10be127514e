"""The casino's settings (on top of the plumbing's `CommonSettings`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, SecretStr

from ..runtime.settings import CommonSettings, load


class CasinoSettings(CommonSettings):
    #: verifies provider -> casino callbacks (x-casino-signature)
    casino_secret: SecretStr | None = None
    casino_secret_arn: str | None = None
    #: the value before a rotation, accepted beside the current one (docs/protocol.md §2)
    casino_secret_previous: SecretStr | None = None
    #: when the current value replaced the previous one (ISO 8601 or unix seconds): the
    #: previous value is accepted for SECRET_ROTATION_GRACE_SECONDS after it, then refused
    casino_secret_rotated_at: datetime | None = None
    #: signs casino -> provider calls (x-provider-signature)
    provider_secret: SecretStr | None = None
    provider_secret_arn: str | None = None
    #: the provider whose callbacks CASINO_SECRET verifies: its casino_game_providers row says
    #: whether the seed-compatible signature is still accepted (docs/protocol.md §10.4)
    callback_provider_code: str = "jaqpot"
    #: at most the ledger's session_ttl_max_seconds (86,400; the database computes the expiry
    #: and refuses a longer one: sql/casino/functions/50_sessions.sql)
    session_ttl_seconds: int = Field(default=1800, ge=1, le=86_400)
    casino_code: str = "demo-casino"
    http_read_timeout_simulate_seconds: float = Field(default=25.0, gt=0)
    #: simulateRound leaves itself this much of its Lambda time to answer after the provider
    simulate_margin_seconds: float = Field(default=2.0, ge=0)

    def secret_by_ref(self, ref: str) -> str:
        """A secret named by a database row's secret_ref (an env var name, never the value)."""
        if ref != "PROVIDER_SECRET":
            raise RuntimeError(f"unsupported secret reference {ref!r}")
        return self.secret("provider_secret")

    def callback_secrets(self) -> list[str]:
        """Secrets a provider callback may be signed with."""
        return self.secrets("casino_secret")


def get_settings() -> CasinoSettings:
    return load(CasinoSettings)
