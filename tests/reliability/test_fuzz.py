"""Hostile input for every endpoint of template.yaml, with hypothesis: raw bytes, JSON of any shape,
near-valid bodies (a real request with a few fields replaced by hostile values, so the fuzz gets
past the schema into the ledger and the provider), with valid signatures (arbitrary bytes signed
with the real secret get past the signature check into parsing), invalid, upper-case or missing
ones, header names in any case, duplicate and junk headers, base64 bodies (valid or not) and
events without headers or body.

Never a 5xx, never a traceback, secret or SQL in a response, every error in the contract's shape,
and never money moving (any wallet's balance, any accepted ledger row) without a 2xx. The
launchGame/simulateRound endpoints call the provider over loopback HTTP (the local API), which
calls the casino back. Reconcile after each endpoint's run (autouse fixture).
"""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from seamless.contract.signing import sign

from tests.reliability.conftest import ci_settings
from tests.support import (
    ALICE,
    BOB,
    CAROL,
    CASINO_SECRET,
    DEV_SESSION,
    GAME,
    INACTIVE_GAME,
    PROVIDER_SECRET,
    admin_conn,
    call,
    fetch_one,
    live_api,
    make_player,
    new_id,
    new_session,
    provider_session_for,
    template,
    upper_hex,
)

ROUTES = sorted({(method, path) for fn in template().functions.values() for method, path in fn.routes})
SIGNERS = {
    "/casino/getBalance": ("x-casino-signature", CASINO_SECRET),
    "/casino/debit": ("x-casino-signature", CASINO_SECRET),
    "/casino/credit": ("x-casino-signature", CASINO_SECRET),
    "/casino/rollback": ("x-casino-signature", CASINO_SECRET),
    "/provider/launch": ("x-provider-signature", PROVIDER_SECRET),
    "/provider/simulate": ("x-provider-signature", PROVIDER_SECRET),
    "/casino/debitCredit": ("x-casino-signature", CASINO_SECRET),
    "/provider/freeRounds": ("x-provider-signature", PROVIDER_SECRET),
}

# ------------------------------------------------------------------ strategies

hostile_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=20),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "a\x00b",
            "USD\n",
            "usd",
            "\u202eUSD",
            "ＵＳＤ",
            "' OR 1=1 --",
            "%s",
            "{}",
            "null",
            "NaN",
            "1e3",
            "-0",
            "\ud7ff",
            "\ud800",
            "a\udc00b",
            "x" * 129,
            "x" * 513,
            "../../etc/passwd",
            "${jndi:x}",
        ]
    ),
)
hostile_numbers = st.one_of(
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, -1, 1, 10**12, 10**12 + 1, 2**63, -(2**63), 2**64]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1.0, 0.5, 1e300]),
)
scalars = st.one_of(st.none(), st.booleans(), hostile_numbers, hostile_text)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_text, inner, max_size=4), max_leaves=10
)


def round_spec() -> st.SearchStrategy[dict]:
    bets = st.lists(st.fixed_dictionaries({"amount": st.one_of(st.integers(1, 2_000), hostile_numbers)}), max_size=3)
    wins = st.lists(st.fixed_dictionaries({"amount": st.integers(0, 3_000), "relatedBetIndex": st.integers(0, 3)}), max_size=2)
    rollbacks = st.lists(st.fixed_dictionaries({"betIndex": st.integers(0, 3)}), max_size=2)
    actions = st.lists(
        st.one_of(
            st.fixed_dictionaries({"type": st.just("bet"), "amount": st.integers(1, 2_000)}),
            st.fixed_dictionaries(
                {"type": st.just("win"), "amount": st.integers(0, 2_000)},
                optional={"betIndex": st.integers(0, 3), "close": st.booleans()},
            ),
            st.fixed_dictionaries({"type": st.just("rollback"), "betIndex": st.integers(0, 3)}),
            st.fixed_dictionaries({"type": st.just("close")}),
            st.fixed_dictionaries(
                {"type": st.just("betWin"), "amount": st.integers(1, 2_000), "winAmount": st.integers(0, 2_000)}
            ),
            st.fixed_dictionaries({"type": hostile_text}),
        ),
        min_size=1,
        max_size=4,
    )
    return st.one_of(
        st.fixed_dictionaries({"bets": bets}, optional={"wins": wins, "rollbacks": rollbacks}),
        st.fixed_dictionaries({"actions": actions}),
    ).flatmap(
        lambda spec: st.fixed_dictionaries(
            {k: st.just(v) for k, v in spec.items()},
            optional={
                "roundId": st.one_of(st.builds(lambda: new_id("fz")), hostile_text),
                "duplicateCallbacks": st.one_of(st.booleans(), json_values),
            },
        )
    )


def valid_bodies(path: str, ctx: dict) -> st.SearchStrategy[dict]:
    """Requests that pass the schema as they are (before mutation)."""
    tokens = st.sampled_from([ctx["token"], ctx["carol_token"], DEV_SESSION, "no-such-token"])
    fresh = st.builds(lambda: new_id("fz"))
    rounds = st.one_of(fresh, st.just(ctx["round"]))
    bets = st.one_of(fresh, st.just(ctx["bet"]))
    currency = st.sampled_from(["USD", "USD", "EUR"])
    return {
        "/casino/getBalance": st.fixed_dictionaries({"sessionToken": tokens}),
        "/casino/debit": st.fixed_dictionaries(
            {
                "sessionToken": tokens,
                "transactionId": fresh,
                "roundId": rounds,
                "amount": st.integers(1, 3_000),
                "currency": currency,
            }
        ),
        "/casino/credit": st.fixed_dictionaries(
            {
                "sessionToken": tokens,
                "transactionId": fresh,
                "roundId": rounds,
                "amount": st.integers(0, 3_000),
                "currency": currency,
            },
            optional={"betTransactionId": bets, "roundClosed": st.booleans()},
        ),
        "/casino/rollback": st.fixed_dictionaries(
            {"sessionToken": tokens, "transactionId": fresh, "betTransactionId": bets}, optional={"roundId": rounds}
        ),
        "/casino/debitCredit": st.fixed_dictionaries(
            {
                "sessionToken": tokens,
                "transactionId": bets,
                "winTransactionId": st.one_of(fresh, bets),
                "roundId": rounds,
                "amount": st.integers(1, 2_000),
                "winAmount": st.integers(0, 3_000),
                "currency": currency,
            },
            optional={"roundClosed": st.booleans()},
        ),
        "/casino/launchGame": st.fixed_dictionaries(
            {
                "userId": st.sampled_from([ALICE, BOB, CAROL, ctx["user"]]),
                "gameId": st.sampled_from([GAME, INACTIVE_GAME]),
                "currency": currency,
            }
        ),
        "/casino/simulateRound": round_spec().flatmap(
            lambda spec: st.fixed_dictionaries(
                {
                    "userId": st.sampled_from([ctx["user"], BOB]),
                    "gameId": st.just(GAME),
                    **{k: st.just(v) for k, v in spec.items()},
                },
                optional={"currency": currency},
            )
        ),
        "/provider/launch": st.fixed_dictionaries(
            {
                "sessionToken": st.one_of(tokens, hostile_text),
                "playerId": st.sampled_from([ALICE, ctx["user"], "p-1"]),
                "gameId": st.sampled_from(["book-of-jaqpot", "classic-fruits", "nope"]),
                "currency": currency,
            },
            optional={"casinoCode": st.sampled_from(["demo-casino", "other"])},
        ),
        "/provider/simulate": round_spec().flatmap(
            lambda spec: st.fixed_dictionaries(
                {
                    "providerSessionId": st.sampled_from([ctx["provider_session"], "dev-provider-session", "ps-none"]),
                    **{k: st.just(v) for k, v in spec.items()},
                }
            )
        ),
        "/provider/health": st.just({}),
        # GET: the body is ignored (their query strings and path parameters: tests/tools)
        "/casino/transactions": st.just({}),
        "/casino/ledger/export": st.just({}),
        # free rounds (§4b, §7): a grant (GET lists: its body is ignored), and the cancels
        "/casino/freeRounds": st.fixed_dictionaries(
            {
                "userId": st.sampled_from([ALICE, BOB, CAROL, ctx["user"]]),
                "gameId": st.sampled_from([GAME, INACTIVE_GAME]),
                "currency": currency,
                "rounds": st.integers(-1, 5),
                "betAmount": st.integers(0, 2_000),
                "expiresAt": st.sampled_from(["2030-01-01T00:00:00Z", "2020-01-01T00:00:00Z", "soon"]),
            }
        ),
        "/casino/freeRounds/{grantId}/cancel": st.just({}),
        "/provider/freeRounds": st.fixed_dictionaries(
            {
                "grantId": fresh,
                "playerId": st.sampled_from([ALICE, ctx["user"], "p-1"]),
                "gameId": st.sampled_from(["book-of-jaqpot", "nope"]),
                "currency": currency,
                "currencyDecimals": st.integers(-1, 9),
                "rounds": st.integers(-1, 5),
                "betAmount": st.integers(0, 2_000),
                "expiresAt": st.sampled_from(["2030-01-01T00:00:00Z", "2020-01-01T00:00:00Z"]),
            }
        ),
        "/provider/freeRounds/{grantId}/cancel": st.just({}),
        "/provider/rounds/{roundId}": st.just({}),
    }[path]


def mutated(path: str, ctx: dict) -> st.SearchStrategy[dict]:
    """A valid request as it is (a third of the time), or with 1-3 fields deleted, replaced by
    hostile values, or added."""

    def mutate(body: dict) -> st.SearchStrategy[dict]:
        keys = sorted(body) + ["amount", "transactionId", "roundClosed", "betTransactionId", "unknownField"]
        edit = st.tuples(st.sampled_from(keys), st.sampled_from(["delete", "replace", "replace"]), json_values)

        def apply(edits):
            out = dict(body)
            for key, how, value in edits:
                if how == "delete":
                    out.pop(key, None)
                else:
                    out[key] = value
            return out

        return st.one_of(st.just([]), st.lists(edit, min_size=1, max_size=1), st.lists(edit, min_size=1, max_size=3)).map(apply)

    return valid_bodies(path, ctx).flatmap(mutate)


def encode(path: str, pretty: bool = False):
    def to_bytes(value) -> bytes:
        if pretty:  # non-ASCII as UTF-8, newlines and indentation
            # a lone surrogate goes out as the (invalid) UTF-8 bytes a careless encoder writes
            raw = json.dumps(value, indent=1, ensure_ascii=False).encode("utf-8", "surrogatepass")
        else:
            raw = json.dumps(value).encode()
        return raw

    return to_bytes


def bodies(path: str, ctx: dict) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=300),
        json_values.map(encode(path)),
        mutated(path, ctx).map(encode(path)),
        mutated(path, ctx).map(encode(path)),
        mutated(path, ctx).map(encode(path, pretty=True)),
        st.sampled_from(
            [
                b"",
                b"null",
                b"[]",
                b"{}",
                b"\xef\xbb\xbf{}",
                b'{"a":1,"a":2}',
                b"{" * 5000,
                b'{"sessionToken":' + b'"x"' * 3 + b"}",
                b"x" * 65_537,
            ]
        ),
    )


junk_headers = st.lists(
    st.tuples(st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=20), st.text(max_size=40)),
    max_size=3,
)


# ------------------------------------------------------------------ the harness


def money(url: str) -> tuple:
    with admin_conn(url) as conn:
        return fetch_one(
            conn,
            "SELECT (SELECT sum(playable_balance) FROM casino_wallets), "
            "(SELECT sum(redeemable_balance) FROM casino_wallets), "
            "(SELECT count(*) FROM casino_transactions WHERE status = 'accepted')",
        )


@pytest.fixture(scope="module")
def ctx(database_url):
    """Both services reachable over HTTP (launchGame/simulateRound call the provider, which calls
    the casino back) on this test database, and a fuzz player with live sessions."""
    with live_api(database_url):
        user = make_player(database_url, 500_000, 100_000)
        token = new_session(database_url, user)
        bet, round_id = new_id("fzbet"), new_id("fzr")
        r = call(
            "/casino/debit", {"sessionToken": token, "transactionId": bet, "roundId": round_id, "amount": 10, "currency": "USD"}
        )
        assert r.status == 200
        yield {
            "url": database_url,
            "user": user,
            "token": token,
            "bet": bet,
            "round": round_id,
            "carol_token": new_session(database_url, CAROL),
            "provider_session": provider_session_for(database_url, user, token),
        }


FORBIDDEN = ("Traceback", CASINO_SECRET, PROVIDER_SECRET, "psycopg", "SELECT ", "casino_transactions", 'File "')


def check(ctx: dict, method: str, path: str, body: bytes, headers: list, overrides: dict) -> None:
    before = money(ctx["url"])
    r = call(path, body, sign_with=None, headers=headers, method=method, event_overrides=overrides)
    assert r.status < 500, (path, body[:300], headers, overrides, r)
    assert not any(bad in r.raw for bad in FORBIDDEN), (path, r.raw)
    if r.status >= 300:
        assert money(ctx["url"]) == before, ("money moved without a 2xx", path, body[:300], r)
        error = r.json["error"]
        assert isinstance(error["code"], str) and error["message"], r
        if error["code"] == "VALIDATION_ERROR":
            assert error["details"] and all(d["field"] and d["message"] for d in error["details"]), r


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[p for _, p in ROUTES])
def test_fuzzed_requests_never_fail_the_server(ctx, method, path):
    @ci_settings(max_examples=250)
    @given(
        body=bodies(path, ctx),
        signed=st.sampled_from(["valid"] * 6 + ["upper", "missing", "garbage", "duplicate", "wrong-secret"]),
        case=st.sampled_from(["lower", "title", "upper"]),
        b64=st.sampled_from(["no", "no", "valid", "broken"]),
        extra=junk_headers,
        no_headers=st.booleans(),
    )
    def run(body, signed, case, b64, extra, no_headers):
        headers: list[tuple[str, str]] = list(extra)
        if path in SIGNERS and signed != "missing":
            name, secret = SIGNERS[path]
            good = sign(secret, body, path)
            value = {
                "valid": good,
                "upper": upper_hex(good),
                "garbage": "zz" * 32,
                "duplicate": good,
                "wrong-secret": sign("not-the-secret", body, path),
            }[signed]
            named = {"lower": name, "title": name.title(), "upper": name.upper()}[case]
            headers.append((named, value))
            if signed == "duplicate":  # a second copy in another case, wrong
                headers.append((name.upper() if case != "upper" else name, "0" * 64))
        overrides: dict = {}
        if b64 == "valid":
            overrides = {"body": base64.b64encode(body).decode(), "isBase64Encoded": True}
        elif b64 == "broken":
            overrides = {"body": "%%not base64%%", "isBase64Encoded": True}
        if no_headers and not headers:
            overrides.update(headers=None, multiValueHeaders=None)
        check(ctx, method, path, body, headers, overrides)

    run()


@pytest.mark.parametrize(
    "body",
    [
        {"sessionToken": "a\x00b", "playerId": "p", "gameId": "book-of-jaqpot", "currency": "USD"},
        {"sessionToken": "ab", "playerId": "p\x00", "gameId": "book-of-jaqpot", "currency": "USD"},
        {"sessionToken": "ab", "playerId": "p", "gameId": "book\x00", "currency": "USD"},
        {"sessionToken": "ab", "playerId": "p", "gameId": "book-of-jaqpot", "currency": "USD", "casinoCode": "\x00"},
        {"providerSessionId": "\x00", "bets": [{"amount": 1}]},
    ],
    ids=["launch-sessionToken", "launch-playerId", "launch-gameId", "launch-casinoCode", "simulate-providerSessionId"],
)
def test_nul_characters_in_provider_fields_are_a_validation_error(database_url, body):
    path = "/provider/simulate" if "providerSessionId" in body else "/provider/launch"
    r = call(path, body, sign_with=PROVIDER_SECRET, header_name="X-Provider-Signature")
    assert (r.status, r.code) == (400, "VALIDATION_ERROR"), r
