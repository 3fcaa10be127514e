"""`make simulate`: plays demo rounds through the running local API and reconciles.

Each round is one POST /casino/simulateRound: the casino launches a session through the
provider, the provider plays the round back against the casino's wallet API over signed
HTTP, and the report comes back. Exit 1 if a round is inconsistent or reconcile fails.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any

from seamless.contract.money import format_money

from .admin import ALICE, GAME

ROUNDS: list[tuple[str, dict[str, Any]]] = [
    (
        "Seed example: bets 1000 + 500, rollback of bet 1, win 2500 on bet 0",
        {
            "bets": [{"amount": 1000}, {"amount": 500}],
            "wins": [{"amount": 2500, "relatedBetIndex": 0}],
            "rollbacks": [{"betIndex": 1}],
        },
    ),
    ("Losing round: one bet of 200, closed by a zero credit", {"bets": [{"amount": 200}]}),
    (
        "Rollback after a win must be refused (BET_ALREADY_SETTLED)",
        {
            "actions": [
                {"type": "bet", "amount": 300},
                {"type": "win", "amount": 600, "betIndex": 0, "close": True},
                {"type": "rollback", "betIndex": 0},
            ]
        },
    ),
    (
        "Duplicated callbacks: every callback sent twice, answers must match",
        {"bets": [{"amount": 100}], "wins": [{"amount": 250, "relatedBetIndex": 0}], "duplicateCallbacks": True},
    ),
    (
        "A whole round in one call (debitCredit) in yen: stake 500, win 1200",
        {"currency": "JPY", "actions": [{"type": "betWin", "amount": 500, "winAmount": 1200}]},
    ),
    (
        "Bitcoin (exponent 8): bet 0.00010000 BTC, win 0.00025000 BTC",
        {"currency": "BTC", "bets": [{"amount": 10_000}], "wins": [{"amount": 25_000, "relatedBetIndex": 0}]},
    ),
]


def post(base: str, path: str, payload: dict[str, Any]) -> tuple[int, Any]:
    request = urllib.request.Request(
        base + path, data=json.dumps(payload).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=60) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def table(actions: list[dict[str, Any]], money: Any = str) -> str:
    cols = ("#", "action", "amount", "status", "code", "balance", "attempts", "state", "note")
    rows = [cols]
    for a in actions:
        note = []
        if a.get("replayed"):
            note.append("replayed")
        if "duplicate" in a:
            d = a["duplicate"]
            note.append(f"duplicate {d['httpStatus']} {'matched' if d['matched'] else 'MISMATCH'}")
        if a.get("rescue"):
            note.append("rescue rollback")
        rows.append(
            (
                str(a["index"]),
                a["type"],
                money(a["amount"]),
                str(a["httpStatus"]),
                str(a["code"]),
                "None" if a["balance"] is None else money(a["balance"]),
                str(a["attempts"]),
                str(a.get("state", "")),
                ", ".join(note),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(cols))]
    return "\n".join("  " + "  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in rows)


def main(base: str | None = None) -> int:
    base = (base or os.environ.get("API_BASE_URL", "http://127.0.0.1:3000")).rstrip("/")
    failures = 0
    from .__main__ import _database, _local_env
    from .admin import currency_exponents, reconcile

    _local_env()
    exponents = currency_exponents(_database())
    for title, spec in ROUNDS:
        currency = spec.get("currency", "USD")
        status, report = post(base, "/casino/simulateRound", {"userId": ALICE, "gameId": GAME, "currency": currency, **spec})
        print(f"\n== {title}")
        if status != 200:
            print(f"  simulateRound answered {status}: {report}")
            failures += 1
            continue
        exponent = exponents.get(currency)

        def money(amount: Any, exponent: int | None = exponent, currency: str = currency) -> str:
            return "None" if amount is None else format_money(amount, currency, exponent)

        print(table(report["actions"], money))
        verdict = "consistent" if report["consistent"] else "INCONSISTENT"
        print(
            f"  start {money(report['startingBalance'])} -> final {money(report['finalBalance'])} "
            f"(expected {money(report['expectedFinalBalance'])}): {verdict}; settlement {report.get('settlement')}, "
            f"round {report.get('status')}"
        )
        failures += 0 if report["consistent"] else 1
    print("\n== reconcile")
    result = reconcile(_database())
    print(result.table())
    return 1 if failures or not result.ok else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else None))
