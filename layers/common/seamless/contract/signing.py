"""HMAC-SHA256 request signatures over the raw body bytes (docs/protocol.md §2).

The standard library's hmac does the cryptography; this module only fixes the rules:
sign exactly the bytes sent, verify the bytes as received (never re-serialised JSON),
accept upper-case hex, compare in constant time, and never raise on hostile input.
"""

from __future__ import annotations

import hashlib
import hmac

CASINO_SIGNATURE_HEADER = "x-casino-signature"
PROVIDER_SIGNATURE_HEADER = "x-provider-signature"
_HEX_LENGTH = hashlib.sha256().digest_size * 2


def sign(secret: str, body: bytes) -> str:
    """Lower-case hex HMAC-SHA256 of body."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str | None) -> bool:
    """True only for a well-formed signature of exactly these bytes. Never raises."""
    if not secret or not isinstance(signature, str):
        return False
    candidate = signature.strip().lower()
    if len(candidate) != _HEX_LENGTH:
        return False
    try:
        bytes.fromhex(candidate)
    except ValueError:
        return False
    return hmac.compare_digest(candidate, sign(secret, body))
