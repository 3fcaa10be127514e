"""What the ledger's hash chain (migration 0007) costs per debit: the same debits through
ledger.debit (as the admin: no role settings in the way), on two databases of one server in the same run - one as
migrated, one taken back to the schema before 0007 (UNDO_0007) - in alternating batches, so
both see the same load on the machine. `python -m bench.chain_cost [N]` (default 2,000 per side).

Latency of one debit at a time (its own round), one connection per side, without waiting for
the commit's WAL flush (synchronous_commit off, both sides): the chain adds two
row triggers (a wallet read and an update of its head), a SHA-256 and one unique-index entry."""

from __future__ import annotations

import hashlib
import secrets
import statistics
import sys
import time
import uuid

import psycopg

from bench.experiments import backend_cpu_ns
from devtools import admin, fixtures, localdb

#: the schema before migration 0007 (also used by the backfill test)
UNDO_0007 = """
DROP TRIGGER casino_transactions_chain_link ON casino_transactions;
DROP TRIGGER casino_transactions_chain_advance ON casino_transactions;
DROP TRIGGER casino_transactions_chain_is_final ON casino_transactions;
DROP FUNCTION casino_chain_link(), casino_chain_advance();
DROP FUNCTION casino_chain_hash_of(casino_transactions, TEXT);
DROP FUNCTION casino_chain_row_hash(TEXT, BIGINT, BIGINT, TEXT, TEXT, TEXT, BIGINT, BIGINT, BIGINT, TEXT, UUID, TEXT, TEXT,
                                    TEXT, TIMESTAMPTZ);
DROP INDEX casino_transactions_chain, casino_transactions_created_brin;
ALTER TABLE casino_transactions DROP COLUMN seq, DROP COLUMN prev_hash, DROP COLUMN row_hash;
ALTER TABLE casino_wallets DROP COLUMN chain_seq, DROP COLUMN chain_head;
DELETE FROM schema_migrations WHERE version = 'casino/0007_ledger_chain.sql';
"""
DEBIT = "SELECT status FROM ledger.debit(%s, %s, %s, %s, 'USD')"
BATCH = 250


def _prepare(url: str, *, chained: bool) -> bytes:
    admin.migrate(url, quiet=True)
    admin.seed(url, quiet=True)
    token = secrets.token_urlsafe(32)
    user = str(uuid.uuid4())
    with psycopg.connect(url, autocommit=True) as conn:
        if not chained:
            conn.execute(UNDO_0007)
        fixtures.create_player(conn, user, f"bench-{user[:8]}", "active", [("USD", 10**12, 10**12)])
        fixtures.create_session(conn, token, user, "USD", expires_in_seconds=86_400)
    return hashlib.sha256(token.encode()).digest()


def measure(n: int = 2_000) -> dict[str, dict[str, float]]:
    server = localdb.server_url()
    names = {"chain": admin.new_test_database_name(), "before": admin.new_test_database_name()}
    urls = {k: localdb.create_database(server, v) for k, v in names.items()}
    try:
        tokens = {k: _prepare(u, chained=k == "chain") for k, u in urls.items()}
        conns = {k: psycopg.connect(u, autocommit=True) for k, u in urls.items()}
        for conn in conns.values():
            # no wait for the WAL flush: the commit's fsync (the same on both sides, and most of
            # a debit's time on a small machine) would drown the difference in its noise
            conn.execute("SET synchronous_commit = off")
        times: dict[str, list[float]] = {k: [] for k in urls}
        cpu_ns: dict[str, int] = dict.fromkeys(urls, 0)
        for k, conn in conns.items():  # warm-up: plans cached, pages in memory
            for _ in range(50):
                conn.execute(DEBIT, (tokens[k], f"w-{uuid.uuid4().hex}", f"r-{uuid.uuid4().hex}", 1))
        done = 0
        while done < n:
            for k, conn in conns.items():
                cpu_before = backend_cpu_ns(conn.info.backend_pid) or 0
                for _ in range(min(BATCH, n - done)):
                    start = time.perf_counter()
                    status = conn.execute(DEBIT, (tokens[k], f"b-{uuid.uuid4().hex}", f"r-{uuid.uuid4().hex}", 1)).fetchone()
                    times[k].append(time.perf_counter() - start)
                    assert status is not None and status[0] == 200
                cpu_ns[k] += (backend_cpu_ns(conn.info.backend_pid) or 0) - cpu_before
            done += BATCH
        for conn in conns.values():
            conn.close()
        return {
            k: {
                "debits": len(v),
                "mean_ms": statistics.fmean(v) * 1000,
                "median_ms": statistics.median(v) * 1000,
                "p95_ms": sorted(v)[int(len(v) * 0.95)] * 1000,
                # on-CPU time of the server process per debit: what the machine's load does not inflate
                "backend_cpu_us": cpu_ns[k] / len(v) / 1000,
            }
            for k, v in times.items()
        }
    finally:
        for name in names.values():
            localdb.drop_database(server, name)


def markdown(result: dict[str, dict[str, float]]) -> str:
    """The figures as the Markdown section `make bench` appends to bench/results.md."""
    before, chain = result["before"], result["chain"]
    lines = [
        "",
        "## The hash chain's cost per debit (bench/chain_cost.py)",
        "",
        "One debit at a time through ledger.debit, one connection per database (synchronous_commit off on both), "
        "alternating batches of the same run:",
        "",
        "| schema | debits | backend CPU µs per debit | mean ms | median ms | p95 ms |",
        "|---|---|---|---|---|---|",
    ]
    for label, r in (("before migration 0007 (no chain)", before), ("with the chain", chain)):
        lines.append(
            f"| {label} | {r['debits']:.0f} | {r['backend_cpu_us']:.0f} | {r['mean_ms']:.3f} | {r['median_ms']:.3f} "
            f"| {r['p95_ms']:.3f} |"
        )
    lines += [
        "",
        f"Chain cost per debit: {chain['backend_cpu_us'] - before['backend_cpu_us']:+.0f} µs of backend CPU "
        f"({(chain['backend_cpu_us'] / before['backend_cpu_us'] - 1) * 100:+.1f} %); latency "
        f"{chain['median_ms'] - before['median_ms']:+.3f} ms median "
        f"({(chain['median_ms'] / before['median_ms'] - 1) * 100:+.1f} %), "
        f"{chain['mean_ms'] - before['mean_ms']:+.3f} ms mean.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    print(markdown(measure(int(args[0]) if args else 2_000)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
