"""`python -m bench.debit_credit`: what a whole round in one call costs beside a debit and its
credit (issue 24), in the same run, against the same database: the real Lambda handlers in
process (signed API Gateway events, the casino role, the embedded PostgreSQL), one player per
round so no wallet lock is shared. Rounds alternate between the two shapes so both see the
same cache and the same machine load; the figure is debitCredit / (debit + credit) per round,
by median and by total. A quick, single-client measurement - not the throughput bench.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

N = int(os.environ.get("BENCH_ROUNDS", "1000"))


def main() -> int:
    from devtools import admin, fixtures, localdb  # first: puts the layer on the path

    from seamless.contract.signing import sign  # isort: skip
    from seamless.runtime import db  # isort: skip
    from seamless.runtime.settings import reload_settings  # isort: skip
    from devtools.devserver import invoke
    from devtools.lambda_local import api_event
    from devtools.template import Template

    server = os.environ.get("TEST_DATABASE_URL") or localdb.server_url()
    name = admin.new_test_database_name()
    url = localdb.create_database(server, name)
    os.environ.update(DATABASE_URL=url, POWERTOOLS_LOG_LEVEL="CRITICAL", **fixtures.DEV_SECRETS)
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    reload_settings()
    try:
        admin.migrate(url, quiet=True)
        admin.seed(url, quiet=True)
        by_path = {p: fn for fn in Template().functions.values() for _, p in fn.routes}

        def call(path: str, payload: dict) -> int:
            body = json.dumps(payload, separators=(",", ":")).encode()
            headers = [("Content-Type", "application/json"), ("X-Casino-Signature", sign(fixtures.CASINO_SECRET, body, path))]
            return invoke(by_path[path], api_event("POST", path, path, headers, body))["statusCode"]

        import psycopg

        tokens = []
        with psycopg.connect(url, autocommit=True) as conn:
            for i in range(2 * N + 20):
                user = f"00000000-0000-4000-8000-{i:012d}"
                fixtures.create_player(conn, user, f"bench-{i}", "active", [("USD", 10_000_000, 5_000_000)])
                token = f"bench-token-{i:08d}-0000000000000000000000000000"
                fixtures.create_session(conn, token, user, "USD")
                tokens.append(token)
        two: list[float] = []
        one: list[float] = []
        for i in range(2 * N + 20):
            tok, rnd = tokens[i], f"bench-round-{i}"
            start = time.perf_counter()
            if i % 2 == 0:
                bet = {"sessionToken": tok, "transactionId": f"b{i}", "roundId": rnd, "amount": 100, "currency": "USD"}
                ok = call("/casino/debit", bet) == 200
                ok &= call("/casino/credit", {**bet, "transactionId": f"w{i}", "amount": 250, "betTransactionId": f"b{i}"}) == 200
            else:
                payload = {
                    "sessionToken": tok,
                    "transactionId": f"b{i}",
                    "winTransactionId": f"w{i}",
                    "roundId": rnd,
                    "amount": 100,
                    "winAmount": 250,
                    "currency": "USD",
                }
                ok = call("/casino/debitCredit", payload) == 200
            elapsed = (time.perf_counter() - start) * 1000
            if not ok:
                raise SystemExit(f"round {i} was refused")
            if i >= 20:  # the first rounds warm the containers and caches
                (two if i % 2 == 0 else one).append(elapsed)
        m2, m1 = statistics.median(two), statistics.median(one)
        print(f"rounds per shape: {len(one)}")
        print(f"debit + credit: median {m2:.3f} ms per round, total {sum(two):.0f} ms")
        print(f"debitCredit:    median {m1:.3f} ms per round, total {sum(one):.0f} ms")
        print(f"debitCredit / (debit + credit): {m1 / m2:.2f} by median, {sum(one) / sum(two):.2f} by total")
        result = admin.reconcile(url)
        if not result.ok:
            print(result.table(), file=sys.stderr)
            return 1
        return 0
    finally:
        db.close_all()
        localdb.drop_database(server, name)


if __name__ == "__main__":
    sys.exit(main())
