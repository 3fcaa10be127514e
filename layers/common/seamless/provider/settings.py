"""The reference provider's settings (on top of the plumbing's `CommonSettings`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, SecretStr, model_validator

from ..runtime.settings import CommonSettings, load


class ProviderSettings(CommonSettings):
    #: verifies casino -> provider calls (x-provider-signature)
    provider_secret: SecretStr | None = None
    provider_secret_arn: str | None = None
    #: the value before a rotation, accepted beside the current one (docs/protocol.md §2)
    provider_secret_previous: SecretStr | None = None
    #: when the current value replaced the previous one (ISO 8601 or unix seconds): the
    #: previous value is accepted for SECRET_ROTATION_GRACE_SECONDS after it, then refused
    provider_secret_rotated_at: datetime | None = None
    #: signs provider -> casino callbacks (x-casino-signature)
    casino_secret: SecretStr | None = None
    casino_secret_arn: str | None = None
    #: the value before a rotation: callbacks are always signed with the current one, but
    #: outbox rows tagged under the previous one still verify (and are tagged again) during
    #: the grace (seamless.provider.integrity)
    casino_secret_previous: SecretStr | None = None
    #: when CASINO_SECRET replaced the previous value: rows tagged under the previous one
    #: verify (and are tagged again) only within SECRET_ROTATION_GRACE_SECONDS after it, as
    #: the casino accepts it (docs/protocol.md §2; without it the previous value is unknown)
    casino_secret_rotated_at: datetime | None = None
    provider_code: str = "jaqpot"
    #: the casino a launch without casinoCode belongs to
    casino_code: str = "demo-casino"
    #: where players' browsers load the provider's games (the launchUrl's base)
    provider_public_url: str = "http://127.0.0.1:3000"
    # Settlement (docs/protocol.md §7a; budgets in docs/settlement.md)
    #: the round player plays inline for at most this long, then hands the rest to settlement
    round_inline_budget_seconds: float = Field(default=20.0, gt=0)
    #: a Lambda keeps this much of its time to record and answer after its last call
    invocation_margin_seconds: float = Field(default=2.0, ge=0)
    #: durable delivery keeps trying this long after a round started, then parks what is left
    settlement_horizon_seconds: int = Field(default=86_400, gt=0)
    #: how often the settlement drainer runs (the template's schedule, rate(1 minute))
    settlement_schedule_seconds: int = Field(default=60, gt=0)
    #: backoff between durable deliveries of one round: base * 2^(n-1), capped, with jitter
    settlement_backoff_base_seconds: float = Field(default=30, ge=0)
    settlement_backoff_max_seconds: float = Field(default=900, ge=0)
    #: rounds one settlement run takes on at most
    settlement_batch_rounds: int = Field(default=25, ge=1)
    #: the sweeper finishes a round left open (no lease, no activity) longer than this
    round_timeout_seconds: int = Field(default=900, gt=0)

    @model_validator(mode="after")
    def _settlement_can_work(self) -> ProviderSettings:
        """Settings that cannot work are refused at start-up (docs/protocol.md §7a): a round
        the sweeper hands to settlement must still have a horizon to be delivered in."""
        least = self.round_timeout_seconds + self.settlement_schedule_seconds
        if self.settlement_horizon_seconds < least:
            raise ValueError(
                f"SETTLEMENT_HORIZON_SECONDS ({self.settlement_horizon_seconds}) must be at least ROUND_TIMEOUT_SECONDS "
                f"plus the drainer's schedule ({self.round_timeout_seconds} + {self.settlement_schedule_seconds} = {least})"
            )
        return self

    def secret_by_ref(self, ref: str) -> str:
        """A secret named by a database row's secret_ref (an env var name, never the value)."""
        if ref != "CASINO_SECRET":
            raise RuntimeError(f"unsupported secret reference {ref!r}")
        return self.secret("casino_secret")

    def secrets_by_ref(self, ref: str) -> list[str]:
        """The current secret a row's secret_ref names, then the previous one during a rotation."""
        if ref != "CASINO_SECRET":
            raise RuntimeError(f"unsupported secret reference {ref!r}")
        return self.secrets("casino_secret")

    def request_secrets(self) -> list[str]:
        """Secrets a casino -> provider call may be signed with."""
        return self.secrets("provider_secret")


def get_settings() -> ProviderSettings:
    return load(ProviderSettings)
