"""Outbox integrity (docs/protocol.md §7a, last bullet; docs/settlement.md): the settlement
worker sends only what the round player recorded.

Every provider_bets row carries a tag: HMAC-SHA256 over its canonical identity and payload,
made with a key derived from the provider's signing secret (HMAC(secret,
"outbox-integrity-v1")), which the database does not hold. Whoever has only the provider
role's password can insert or change rows but cannot make a tag that verifies, so the worker
parks such a row instead of signing it. `key_id` names a key (a digest of it, never the key)
so that rows tagged under the previous secret during a rotation can be found and re-tagged
with the current one while the previous one is still known.

Hand-written on the standard library's hmac: a keyed digest over a canonical JSON document is
all it takes, and no library does less.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

LABEL = b"outbox-integrity-v1"


@dataclass(frozen=True)
class Key:
    secret_key: bytes

    @classmethod
    def from_secret(cls, secret: str) -> Key:
        return cls(hmac.new(secret.encode(), LABEL, hashlib.sha256).digest())

    @property
    def id(self) -> str:
        return hmac.new(self.secret_key, b"key-id", hashlib.sha256).hexdigest()[:16]

    def tag(self, document: bytes) -> str:
        return hmac.new(self.secret_key, document, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Keys:
    """The current key (tags are made with it) and the previous one during a rotation."""

    current: Key
    previous: Key | None = None

    @classmethod
    def from_secrets(cls, secrets: list[str]) -> Keys:
        keys = [Key.from_secret(s) for s in secrets]
        return cls(keys[0], keys[1] if len(keys) > 1 else None)


def document(
    *,
    round_id: str,
    session_id: str,
    index: int,
    type: str,
    endpoint: str,
    transaction_id: str,
    amount: int,
    payload: dict[str, Any],
    rescue: bool,
    needs_standing_bet: bool,
) -> bytes:
    """The canonical bytes a tag covers: the row's identity and everything that is sent."""
    return json.dumps(
        {
            "v": 1,
            "round": round_id,
            "session": session_id,
            "index": index,
            "type": type,
            "endpoint": endpoint,
            "transactionId": transaction_id,
            "amount": amount,
            "payload": payload,
            "rescue": rescue,
            "needsStandingBet": needs_standing_bet,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    ).encode()


def verify(keys: Keys, doc: bytes, tag: str | None) -> Key | None:
    """The key the tag verifies under (current first), or None."""
    if not tag:
        return None
    for key in (keys.current, keys.previous):
        if key is not None and hmac.compare_digest(key.tag(doc), tag):
            return key
    return None
