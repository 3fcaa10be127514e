"""The reference provider's endpoints as Lambda handlers: casino -> provider calls are signed
with the provider secret (docs/protocol.md §2, §7)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..contract.signing import PROVIDER_SIGNATURE_HEADER
from ..runtime.apigw import Handler, M, api_handler, health_response, json_endpoint
from . import launch
from .settings import get_settings


def request_secrets() -> list[str]:
    return get_settings().request_secrets()


def signed_endpoint(model: type[M], operation: Callable[[M], dict[str, Any]]) -> Handler:
    """A casino -> provider call: signature (x-provider-signature) verified before parsing."""
    return json_endpoint(model, operation, signature_header=PROVIDER_SIGNATURE_HEADER, secrets=request_secrets)


def health_handler() -> Handler:
    """GET /provider/health: open, no secret read."""
    return api_handler(lambda request: health_response(launch.health))
