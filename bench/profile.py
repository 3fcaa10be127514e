"""python -m bench.profile [--seconds S] [--clients N]: where a debit's time goes.

1. The handler path under load (N clients on distinct wallets), one worker sampled with
   py-spy (only samples holding the GIL: Python's CPU, not the waits on the database):
   the share of the worker's Python CPU per stage.
2. Inside PostgreSQL: per ledger function (track_functions, this session only), rows
   written per table, and WAL bytes per debit beside a TPC-B transaction (pgbench -c 1;
   the WAL position is server-wide, so other users of the server add a little).

Writes bench/profile.md (the raw py-spy stacks go to bench/out/). Needs py-spy
(requirements-bench.txt) and ptrace rights over its own child processes.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import psycopg

from . import pgb
from .clients import Pool, token
from .harness import ROOT, Config, drop, new_database, prepare

OUT = ROOT / "bench" / "out"
# Stages of one handler-path debit. A py-spy sample is charged to the first frame, from the
# leaf up, of a known package; standard-library frames are charged to their caller
# (json.dumps inside the Logger is the Logger's, hmac inside signing.py is the signature's).
STAGES = [
    ("psycopg (Python side of sending the statement, reading the row)", ("(psycopg/", "(psycopg_binary/")),
    ("pydantic (parse and validate the body)", ("(pydantic/", "(pydantic_core/")),
    ("HMAC-SHA256 (client signs, handler verifies)", ("(seamless/contract/signing.py",)),
    ("request line (audit fields and EMF metrics, one JSON line)", ("(seamless/runtime/observability.py",)),
    ("Powertools Logger (JSON log lines, Lambda context)", ("(aws_lambda_powertools/logging",)),
    ("Powertools Metrics (EMF: add, serialise, flush)", ("(aws_lambda_powertools/metrics",)),
    ("Powertools other (event data class, shared)", ("(aws_lambda_powertools",)),
    ("handler glue (seamless runtime, ledger, settings)", ("(seamless/",)),
    ("bench client: build the API Gateway event", ("(devtools/lambda_local.py",)),
    ("bench client: payload, loop, statement counter", ("(bench/clients.py",)),
]


def stage_of(stack: str) -> str:
    for frame in reversed(stack.split(";")):  # leaf first
        for label, needles in STAGES:
            if any(n in frame for n in needles):
                return label
    return "other (interpreter, standard library)"


def profile_handler(url: str, clients: int, seconds: float, wallets: int) -> tuple[Counter, int, Path]:
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    pool = Pool(clients, url, wallets)
    try:
        pool.wait_ready()
        start = time.monotonic() + 0.5
        job = {
            "kind": "debit",
            "run": uuid.uuid4().hex[:8],
            "start": start,
            "warm_until": start + 1,
            "deadline": start + 1 + seconds + 1,
            "base": "",
        }
        pool.dispatch(clients, job, lambda i: i % wallets)
        time.sleep(1.5)
        raw = OUT / "profile-worker0.txt"
        subprocess.run(
            [
                pyspy,
                "record",
                "--pid",
                str(pool.pids(1)[0]),
                "--duration",
                str(int(seconds)),
                "--rate",
                "250",
                "--gil",
                "--format",
                "raw",
                "--output",
                str(raw),
                "--nonblocking",
            ],
            check=True,
            capture_output=True,
        )
        results = pool.collect(clients, timeout=seconds + 60)
    finally:
        pool.close()
    ops = sum(r["ops"] for r in results)
    stages: Counter = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stages[stage_of(stack)] += int(count)
    return stages, ops, raw


def sql_breakdown(url: str, n: int) -> tuple[list[tuple], list[tuple]]:
    """Per-function times and per-table row writes for n debits in one session."""
    tables = ("casino_transactions", "casino_rounds", "casino_wallets")
    with psycopg.connect(url, autocommit=True) as conn:

        def table_stats() -> dict[str, tuple[int, int, int]]:
            conn.execute("SELECT pg_stat_clear_snapshot()")
            return {
                r[0]: (r[1], r[2], r[3])
                for r in conn.execute(
                    "SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = ANY(%s)",
                    (list(tables),),
                )
            }

        before = table_stats()
        conn.execute("SET track_functions = 'all'")
        tag = uuid.uuid4().hex[:8]
        import hashlib

        th = hashlib.sha256(token(0).encode()).digest()
        for i in range(n):
            conn.execute(pgb.DEBIT_SQL, (th, f"prof-{tag}-{i}", f"prof-r-{tag}-{i}", 1, "USD")).fetchone()
        conn.execute("SELECT pg_stat_force_next_flush()")
        conn.execute("SELECT 1")
        time.sleep(0.5)
        funcs = conn.execute(
            "SELECT funcname, calls, round((total_time / %s)::numeric, 4), round((self_time / %s)::numeric, 4) "
            "FROM pg_stat_user_functions ORDER BY total_time DESC",
            (n, n),
        ).fetchall()
        after = table_stats()
    rows = [(t, *(round((after[t][k] - before.get(t, (0, 0, 0))[k]) / n, 2) for k in range(3))) for t in tables]
    return funcs, rows


def wal_per_txn(url: str, pg_url: str, n: int) -> dict[str, float]:
    out = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for name, target, script in (("our debit", url, pgb.debit_script(False)), ("TPC-B", pg_url, None)):
            lsn0 = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]  # type: ignore[index]
            args, env = pgb.conn_args(target)
            cmd = [pgb.binary(), "-n", "-c", "1", "-t", str(n)]
            if script:
                path = OUT / "profile-debit.sql"
                path.write_text(script)
                cmd += ["-M", "extended", "-f", str(path), "-D", f"run={uuid.uuid4().hex[:8]}", "-D", "wallets=1"]
            subprocess.run(cmd + args, check=True, capture_output=True, env=env)
            out[name] = conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", (lsn0,)).fetchone()[0] / n  # type: ignore[index]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    config = Config(wallets=max(8, args.clients))
    server, url = prepare(config)
    pg_url = new_database(server, "benchpg")
    try:
        pgb.init_tpcb(pg_url, 1)
        print("profiling the handler path ...", file=sys.stderr)
        stages, ops, raw = profile_handler(url, args.clients, args.seconds, config.wallets)
        print("inside PostgreSQL ...", file=sys.stderr)
        funcs, tables = sql_breakdown(url, 3000)
        wal = wal_per_txn(url, pg_url, 3000)
    finally:
        drop(server, url)
        drop(server, pg_url)
    total = sum(stages.values())
    lines = [
        "# Profile of a debit",
        "",
        f"Generated by `python -m bench.profile` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        f"Handler path, {args.clients} clients on distinct wallets, {args.seconds:g} s; worker 0 sampled by "
        "py-spy at 250 Hz, samples holding the GIL only (Python CPU, not waits): "
        f"{total} samples; all workers together: {ops} debits.",
        "",
        "| stage | share of the worker's CPU |",
        "|---|---|",
    ]
    lines += [f"| {k} | {100 * v / total:.1f}% |" for k, v in stages.most_common()]
    lines += [
        "",
        f"Raw stacks: {raw.relative_to(ROOT)}",
        "",
        "## Inside PostgreSQL: per debit (3000 debits, one session, one wallet)",
        "",
        "| function | calls | total ms/debit | self ms/debit |",
        "|---|---|---|---|",
    ]
    lines += [f"| {f[0]} | {f[1]} | {f[2]} | {f[3]} |" for f in funcs]
    lines += ["", "| table | rows inserted/debit | rows updated/debit | of which HOT |", "|---|---|---|---|"]
    lines += [f"| {t[0]} | {t[1]} | {t[2]} | {t[3]} |" for t in tables]
    lines += [
        "",
        "WAL bytes per transaction (pgbench -c 1 -t 3000; server-wide position): "
        + ", ".join(f"{k} {v:.0f}" for k, v in wal.items()),
        "",
    ]
    (ROOT / "bench" / "profile.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
