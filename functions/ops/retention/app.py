"""CasinoRetentionFunction and ProviderRetentionFunction: the daily retention jobs
(docs/retention.md), one per side, each with its own database role and secret only. A run
stops a minute before its timeout; the next one carries on."""

from __future__ import annotations

import time
from typing import Any

from seamless.runtime.observability import logger
from seamless.runtime.retention import purge_casino, purge_provider

MARGIN_SECONDS = 60


def _deadline(context: Any) -> float | None:
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    return None if remaining_ms is None else time.monotonic() + max(0.0, remaining_ms() / 1000 - MARGIN_SECONDS)


def casino_handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    purged = purge_casino(deadline=_deadline(context))
    logger.info("casino retention", extra={"purged": purged})
    return purged


def provider_handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    purged = purge_provider(deadline=_deadline(context))
    logger.info("provider retention", extra={"purged": purged})
    return purged
