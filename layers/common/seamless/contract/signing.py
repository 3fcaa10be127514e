"""HMAC-SHA256 request signatures bound to endpoint and time (docs/protocol.md §2).

The standard library's hmac does the cryptography; this module only fixes the rules, for
both sides (the signed client signs with them, the receivers verify with them):

- the header is `t=<unix seconds>,v1=<hex>`, `v1` the HMAC-SHA256 of
  `<t>.<METHOD>.<path>.` followed by the raw body bytes; `path` is the contract's endpoint
  path (`/casino/debit`, `/provider/freeRounds/<grantId>/cancel`), never a stage or base path;
- sign exactly the bytes sent, with a fresh `t` on every attempt; verify the bytes as
  received (never re-serialised JSON); accept upper-case hex; compare in constant time;
  refuse a `t` more than the tolerance away from the receiver's clock, either way;
- the seed-compatible scheme (the bare hex HMAC of the body alone) verifies only where the
  receiver says its counterparty enables it (`seed_compatible=True`);
- never raise on hostile input: every malformed header is simply "does not verify".
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

CASINO_SIGNATURE_HEADER = "x-casino-signature"
PROVIDER_SIGNATURE_HEADER = "x-provider-signature"
#: SIGNATURE_TOLERANCE_SECONDS' default: how far `t` may be from the receiver's clock
DEFAULT_TOLERANCE_SECONDS = 300
_HEX_LENGTH = hashlib.sha256().digest_size * 2
_HEX = re.compile(rf"[0-9a-fA-F]{{{_HEX_LENGTH}}}")
#: a unix time in seconds: digits only, at most 12 of them (no sign, no fraction, no exponent)
_SECONDS = re.compile(r"[0-9]{1,12}")


#: the signed endpoints of the contract (§2), as path templates
SIGNED_PATHS = (
    "/casino/getBalance",
    "/casino/debit",
    "/casino/credit",
    "/casino/rollback",
    "/casino/debitCredit",
    "/provider/launch",
    "/provider/simulate",
    "/provider/freeRounds",
    "/provider/freeRounds/{grantId}/cancel",
)
_TEMPLATE_PARAM = re.compile(r"\{[^/{}]+\}")


def _suffix_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^/{}]+\})", template)
    return re.compile("(" + "".join("[^/]+" if _TEMPLATE_PARAM.fullmatch(p) else re.escape(p) for p in parts if p) + ")$")


_SIGNED_SUFFIX = [_suffix_pattern(template) for template in SIGNED_PATHS]


def contract_path(path: str) -> str:
    """The contract's endpoint path at the end of a URL path (`/Prod/casino/debit` ->
    `/casino/debit`): what a signature covers, whatever stage or base path is in front. A path
    ending in no signed endpoint is returned as it is."""
    for pattern in _SIGNED_SUFFIX:
        match = pattern.search(path)
        if match:
            return match.group(1)
    return path


def _mac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signed_bytes(timestamp: int, method: str, path: str, body: bytes) -> bytes:
    """What `v1` is the HMAC of: `<t>.<METHOD>.<path>.` + the raw body."""
    return f"{timestamp}.{method.upper()}.{path}.".encode() + body


def sign(secret: str, body: bytes, path: str, *, method: str = "POST", timestamp: int | None = None) -> str:
    """The signature header's value for one attempt: `t=<now>,v1=<lower-case hex>`."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={_mac(secret, signed_bytes(t, method, path, body))}"


def sign_seed(secret: str, body: bytes) -> str:
    """The seed-compatible scheme: the bare lower-case hex HMAC-SHA256 of the body alone.
    Binds neither endpoint nor time; accepted only where a counterparty's row enables it."""
    return _mac(secret, body)


def parse(header: str | None) -> tuple[int, str] | None:
    """(t, v1 in lower case) of a well-formed `t=…,v1=…` value; None for anything else.
    Other `key=value` members are ignored (room for later schemes); t and v1 appear once."""
    if not isinstance(header, str):
        return None
    members: dict[str, str] = {}
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            return None
        if key in members:
            return None
        members[key] = value.strip()
    t, v1 = members.get("t"), members.get("v1")
    if t is None or v1 is None or not _SECONDS.fullmatch(t) or not _HEX.fullmatch(v1):
        return None
    return int(t), v1.lower()


def is_seed_format(header: str | None) -> bool:
    """Whether a header has the seed scheme's shape (64 hex digits, nothing else)."""
    return isinstance(header, str) and _HEX.fullmatch(header.strip()) is not None


def verify(
    secret: str,
    body: bytes,
    header: str | None,
    path: str,
    *,
    method: str = "POST",
    now: float | None = None,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    seed_compatible: bool = False,
) -> bool:
    """True only for a header that signs exactly these bytes for this method and path, at a
    `t` within `tolerance` seconds of `now` (or, with seed_compatible, the seed scheme's bare
    hex over the body). Never raises."""
    if not secret or not isinstance(header, str):
        return False
    if seed_compatible and is_seed_format(header):
        return hmac.compare_digest(header.strip().lower(), sign_seed(secret, body))
    parsed = parse(header)
    if parsed is None:
        return False
    t, v1 = parsed
    clock = time.time() if now is None else now
    if abs(clock - t) > tolerance:
        return False
    return hmac.compare_digest(v1, _mac(secret, signed_bytes(t, method, path, body)))
