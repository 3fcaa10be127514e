"""The reference provider's client of the casino's wallet API: signed with the casino
callback secret, budgets from the settings (docs/protocol.md §7)."""

from __future__ import annotations

from ..contract.client import CallResult, SignedClient
from ..contract.signing import CASINO_SIGNATURE_HEADER
from .settings import ProviderSettings


def casino_client(settings: ProviderSettings, secret_ref: str) -> SignedClient:
    return SignedClient(settings.secret_by_ref(secret_ref), CASINO_SIGNATURE_HEADER, settings.retry_policy())


def result_code(result: CallResult) -> str:
    """OK, the contract error code of the answer, or what stood instead of one."""
    if result.status == 200:
        return "OK"
    body = result.json()
    if isinstance(body, dict) and isinstance(body.get("error"), dict) and body["error"].get("code"):
        return str(body["error"]["code"])
    return "NO_RESPONSE" if result.status is None else f"HTTP_{result.status}"
