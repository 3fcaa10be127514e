"""Signatures v2 (docs/protocol.md §2), no database: the header, endpoint and time binding,
the seed-compatible scheme, a fresh `t` per attempt, and rotation's bounded grace."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import random
from datetime import UTC, datetime

import pytest
from seamless.casino.settings import CasinoSettings
from seamless.contract import signing
from seamless.contract.client import RetryPolicy, SignedClient
from seamless.contract.signing import contract_path, parse, sign, sign_seed, verify
from seamless.provider.settings import ProviderSettings

BODY = b'{"sessionToken":"tok","transactionId":"tx-1","roundId":"r-1","amount":5000,"currency":"USD"}'
NOW = 1_800_000_000
SECRET = "s3cret"


def _hex(message: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def test_the_header_is_t_and_v1_over_t_method_path_body():
    """An independent computation of §2's formula, byte for byte."""
    header = sign(SECRET, BODY, "/casino/debit", timestamp=NOW)
    assert header == f"t={NOW},v1={_hex(f'{NOW}.POST./casino/debit.'.encode() + BODY)}"
    assert verify(SECRET, BODY, header, "/casino/debit", now=NOW)


def test_a_signature_is_valid_on_its_endpoint_only():
    """A debit's body and signature posted to /casino/credit (or rollback) is refused."""
    header = sign(SECRET, BODY, "/casino/debit", timestamp=NOW)
    for other in ("/casino/credit", "/casino/rollback", "/casino/getBalance", "/provider/launch", "/Prod/casino/debit"):
        assert not verify(SECRET, BODY, header, other, now=NOW), other
    assert not verify(SECRET, BODY, header, "/casino/debit", method="GET", now=NOW)


@pytest.mark.parametrize(("skew", "ok"), [(-300, True), (300, True), (-301, False), (301, False), (-86_400 * 30, False)])
def test_the_time_window_both_ways(skew, ok):
    header = sign(SECRET, BODY, "/casino/debit", timestamp=NOW + skew)
    assert verify(SECRET, BODY, header, "/casino/debit", now=NOW) is ok
    assert verify(SECRET, BODY, header, "/casino/debit", now=NOW, tolerance=abs(skew)) is True


def test_upper_case_hex_is_accepted():
    header = sign(SECRET, BODY, "/casino/debit", timestamp=NOW)
    head, _, digits = header.rpartition("=")
    assert verify(SECRET, BODY, f"{head}={digits.upper()}", "/casino/debit", now=NOW)


GOOD_HEX = _hex(f"{NOW}.POST./casino/debit.".encode() + BODY)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        42,
        GOOD_HEX,  # the seed scheme's shape, here the right hex but no t: refused when the mode is off
        f"v1={GOOD_HEX}",
        f"t={NOW}",
        f"t={NOW},v1={GOOD_HEX[:-1]}",
        f"t={NOW},v1={GOOD_HEX}0",
        f"t={NOW},v1={'g' * 64}",
        f"t={NOW},v1={'zz' * 32}",
        f"t=-{NOW},v1={GOOD_HEX}",
        f"t={NOW}.0,v1={GOOD_HEX}",
        f"t=1e9,v1={GOOD_HEX}",
        f"t={'9' * 40},v1={GOOD_HEX}",
        f"t={NOW},t={NOW},v1={GOOD_HEX}",
        f"t={NOW},v1={GOOD_HEX},v1={GOOD_HEX}",
        f"t={NOW};v1={GOOD_HEX}",
        f"T={NOW},V1={GOOD_HEX}",
        f"t={NOW},v1={GOOD_HEX},junk",
        "t=,v1=",
        "\u0000" * 70,
    ],
)
def test_malformed_headers_are_refused_without_raising(header):
    assert verify(SECRET, BODY, header, "/casino/debit", now=NOW) is False


def test_the_well_formed_header_verifies_with_extra_members_ignored():
    assert verify(SECRET, BODY, f"t={NOW},v1={GOOD_HEX}", "/casino/debit", now=NOW)
    assert verify(SECRET, BODY, f"t={NOW}, v1={GOOD_HEX}, v9=later", "/casino/debit", now=NOW)
    assert parse(f"t={NOW},v1={GOOD_HEX.upper()}") == (NOW, GOOD_HEX)


def test_no_secret_verifies_nothing():
    assert not verify("", BODY, sign("", BODY, "/casino/debit", timestamp=NOW), "/casino/debit", now=NOW)


def test_the_seed_scheme_only_where_enabled():
    bare = sign_seed(SECRET, BODY)
    assert bare == _hex(BODY)
    assert not verify(SECRET, BODY, bare, "/casino/debit", now=NOW)
    assert verify(SECRET, BODY, bare, "/casino/debit", now=NOW, seed_compatible=True)
    assert verify(SECRET, BODY, bare.upper(), "/casino/debit", now=NOW, seed_compatible=True)
    assert not verify(SECRET, BODY + b" ", bare, "/casino/debit", now=NOW, seed_compatible=True)
    assert not verify("other", BODY, bare, "/casino/debit", now=NOW, seed_compatible=True)
    # v2 still verifies (and still checks its window) where the seed scheme is on
    assert verify(
        SECRET, BODY, sign(SECRET, BODY, "/casino/debit", timestamp=NOW), "/casino/debit", now=NOW, seed_compatible=True
    )
    stale = sign(SECRET, BODY, "/casino/debit", timestamp=NOW - 301)
    assert not verify(SECRET, BODY, stale, "/casino/debit", now=NOW, seed_compatible=True)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/casino/debit", "/casino/debit"),
        ("/Prod/casino/debit", "/casino/debit"),
        ("/v1/wallet/casino/debitCredit", "/casino/debitCredit"),
        ("/stage/provider/freeRounds/g-1:2/cancel", "/provider/freeRounds/g-1:2/cancel"),
        ("/provider/freeRounds", "/provider/freeRounds"),
        ("/casino/transactions", "/casino/transactions"),
        ("/casino/xdebit", "/casino/xdebit"),
    ],
)
def test_contract_path_strips_stage_and_base_path(path, expected):
    assert contract_path(path) == expected


class _Answer:
    def __init__(self, status: int) -> None:
        self.status, self.data = status, b'{"error":{"code":"SERVICE_UNAVAILABLE","message":"m"}}'
        self.headers: dict[str, str] = {}


class _Recorder:
    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.seen: list[tuple[bytes, dict[str, str]]] = []

    def request(self, method, url, *, body, headers, timeout, retries):
        self.seen.append((body, dict(headers)))
        return _Answer(self.statuses.pop(0))


def test_the_client_signs_every_attempt_afresh_over_the_same_bytes(monkeypatch):
    clock = itertools.count(NOW, 7)
    monkeypatch.setattr(signing.time, "time", lambda: next(clock))
    transport = _Recorder(503, 503, 200)
    policy = RetryPolicy(max_attempts=3)
    client = SignedClient(SECRET, "x-casino-signature", policy, transport=transport, sleep=lambda s: None, rng=random.Random(1))
    result = client.post("https://api.example.test/Prod/casino/credit", {"transactionId": "t1"})
    assert result.status == 200
    body = transport.seen[0][0]
    assert all(sent == body for sent, _ in transport.seen)
    headers = [h["x-casino-signature"] for _, h in transport.seen]
    stamps = [parsed[0] for parsed in map(parse, headers) if parsed]
    assert len(stamps) == 3 and stamps == sorted(set(stamps))  # a fresh t on every attempt
    for header, stamp in zip(headers, stamps, strict=True):
        # over the contract path, not the stage-prefixed one
        assert verify(SECRET, body, header, "/casino/credit", now=stamp)


# ------------------------------------------------------------------ rotation (bounded grace)

ROTATED = datetime.fromtimestamp(NOW, UTC)


@pytest.mark.parametrize(
    ("seconds_after", "accepted"),
    [(0, True), (3600, True), (86_400, True), (86_401, False), (86_400 * 30, False), (-10, True), (-3600, False)],
)
def test_the_previous_secret_is_accepted_for_the_grace_only(seconds_after, accepted):
    settings = CasinoSettings(casino_secret="new", casino_secret_previous="old", casino_secret_rotated_at=ROTATED)
    assert settings.secrets("casino_secret", now=NOW + seconds_after) == (["new", "old"] if accepted else ["new"])


def test_the_grace_is_a_setting_and_naive_times_are_utc():
    settings = ProviderSettings(
        provider_secret="new",
        provider_secret_previous="old",
        provider_secret_rotated_at=ROTATED.replace(tzinfo=None),
        secret_rotation_grace_seconds=60,
    )
    assert settings.secrets("provider_secret", now=NOW + 60) == ["new", "old"]
    assert settings.secrets("provider_secret", now=NOW + 61) == ["new"]


def test_a_previous_secret_without_a_rotation_time_is_never_accepted():
    settings = CasinoSettings(casino_secret="new", casino_secret_previous="old")
    assert settings.secrets("casino_secret", now=NOW) == ["new"]


def test_senders_sign_with_the_current_secret_only():
    settings = CasinoSettings(provider_secret="current", casino_secret="x")
    assert settings.secret_by_ref("PROVIDER_SECRET") == "current"
