"""python -m bench.experiments [--seconds S] [--rounds N]: the ledger's write path before (v1) and
after (v2, issue 14) in the same run, each step apart, beside pgbench's TPC-B on the same server.
Every variant is applied to a throwaway bench database of its own (the project's sql/ is not
touched). Writes bench/experiments.md.

- **v1 (before)**: the ledger functions as of commit 9f645a3 (bench/ledger_v1.sql) and the schema
  with every foreign key and default fillfactor: the ledger row inserted pending and updated with
  its outcome, bet claim and round inserted before the wallet is locked, the round locked FOR
  UPDATE by every callback.
- **v1, no provider/user/session FKs**: v1 with only migration 0003's schema change (those keys
  dropped, fillfactor set).
- **v2, all FKs kept**: this branch's functions (wallet locked first, checks before any write, the
  ledger row written once with its final outcome, no round lock) on the schema with every key.
- **v2 (after)**: this branch as migrated: functions and migration 0003.

Two measurements per variant:

1. *Writes per callback*, exact and free of noise: 200 debits in one transaction of one
   connection (then 200 closing credits of their rounds, then 200 debits each rolled back),
   counted from pg_stat_xact_user_tables (rows inserted / updated / deleted, and HOT updates)
   and the WAL insert position, then rolled back. One wallet, one session; WAL in one transaction
   has no per-commit records, so these bytes are the rows' and locks' own.
2. *pgbench* running the debit statement for S seconds after 1 s of warm-up at c=1, c=8 on
   distinct wallets and c=8 on one hot wallet: debits/s, PostgreSQL CPU ms per debit (backends
   and WAL writer from /proc), WAL bytes per debit (server-wide position) and MultiXacts created
   per debit (mxid_age). TPC-B in the same rounds gives the same-run yardstick: rate ratio, CPU
   ratio and WAL ratio of each variant's c=8 distinct-wallet debit to TPC-B's c=8 transaction.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from dataclasses import dataclass

import psycopg

from . import pgb
from .clients import token
from .harness import ROOT, Config, drop, new_database, prepare
from .probe import Probe

V1_FUNCTIONS = ROOT / "bench" / "ledger_v1.sql"
RESTORE_SCHEMA = """
ALTER TABLE casino_transactions
    ADD FOREIGN KEY (provider_id) REFERENCES casino_game_providers (id),
    ADD FOREIGN KEY (user_id) REFERENCES casino_users (id),
    ADD FOREIGN KEY (session_id) REFERENCES casino_game_sessions (id);
ALTER TABLE casino_rounds
    ADD FOREIGN KEY (provider_id) REFERENCES casino_game_providers (id),
    ADD FOREIGN KEY (session_id) REFERENCES casino_game_sessions (id);
ALTER TABLE casino_bet_claims ADD FOREIGN KEY (provider_id) REFERENCES casino_game_providers (id);
ALTER TABLE casino_rounds RESET (fillfactor);
ALTER TABLE casino_wallets RESET (fillfactor);
"""
REPACK = "VACUUM FULL casino_wallets"  # its rows were written under the migrated fillfactor


def v1_functions() -> str:
    return "DROP SCHEMA ledger CASCADE;\n" + V1_FUNCTIONS.read_text()


VARIANTS: dict[str, list[str]] = {
    "v1 (before)": [RESTORE_SCHEMA, REPACK, v1_functions()],
    "v1, no provider/user/session FKs": [v1_functions()],
    "v2, all FKs kept": [RESTORE_SCHEMA, REPACK],
    "v2 (after)": [],
}
TABLES = ("casino_transactions", "casino_bet_claims", "casino_rounds", "casino_wallets")
CELLS = ((1, False), (8, False), (8, True))


@dataclass
class Cell:
    rate: float
    pg_ms: float
    wal: float
    mx: float
    failed: int

    def text(self) -> str:
        return f"{self.rate:.0f}/s, {self.pg_ms:.3f} ms, {self.wal:.0f} B, {self.mx:.2f} mx" + (
            f", {self.failed} failed" if self.failed else ""
        )


def writes_per_callback(url: str, n: int = 200) -> dict[str, tuple[float, float, float, float, float]]:
    """kind -> (rows inserted, updated, of which HOT, deleted, WAL bytes) per callback, from one
    transaction that is rolled back."""
    out: dict[str, tuple[float, float, float, float, float]] = {}
    tok = ledger_token_hash(token(0))
    tag = uuid.uuid4().hex[:8]
    with psycopg.connect(url) as conn:

        def counters() -> tuple[list[int], str]:
            rows = conn.execute(
                "SELECT coalesce(sum(n_tup_ins), 0), coalesce(sum(n_tup_upd), 0), coalesce(sum(n_tup_hot_upd), 0), "
                "coalesce(sum(n_tup_del), 0) FROM pg_stat_xact_user_tables WHERE relname = ANY(%s)",
                (list(TABLES),),
            ).fetchone()
            lsn = conn.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()
            return [int(v) for v in rows], lsn[0]  # type: ignore[index, union-attr]

        def step(kind: str, statements: list[tuple[str, tuple]]) -> None:
            c0, l0 = counters()
            for sql, params in statements:
                status = conn.execute(sql, params).fetchone()[0]  # type: ignore[index]
                assert status == 200, (kind, status)
            c1, l1 = counters()
            wal = conn.execute("SELECT pg_wal_lsn_diff(%s::pg_lsn, %s::pg_lsn)", (l1, l0)).fetchone()[0]  # type: ignore[index]
            d = [(b - a) / len(statements) for a, b in zip(c0, c1, strict=True)]
            out[kind] = (d[0], d[1], d[2], d[3], float(wal) / len(statements))

        debit = "SELECT status FROM ledger.debit(%s, %s, %s, 1, 'USD')"
        credit = "SELECT status FROM ledger.credit(%s, %s, %s, 2, 'USD', %s, true)"
        rollback = "SELECT status FROM ledger.rollback(%s, %s, %s, %s)"
        step("debit", [(debit, (tok, f"x-{tag}-d{i}", f"x-{tag}-r{i}")) for i in range(n)])
        step("closing credit", [(credit, (tok, f"x-{tag}-c{i}", f"x-{tag}-r{i}", f"x-{tag}-d{i}")) for i in range(n)])
        step("debit (to roll back)", [(debit, (tok, f"x-{tag}-e{i}", f"x-{tag}-s{i}")) for i in range(n)])
        step("rollback (refund)", [(rollback, (tok, f"x-{tag}-b{i}", f"x-{tag}-e{i}", f"x-{tag}-s{i}")) for i in range(n)])
        step("rollback (tombstone)", [(rollback, (tok, f"x-{tag}-t{i}", f"x-{tag}-u{i}", None)) for i in range(n)])
        step("debit (replay)", [(debit, (tok, f"x-{tag}-d{i}", f"x-{tag}-r{i}")) for i in range(n)])
        conn.rollback()
    return out


def ledger_token_hash(tok: str) -> bytes:
    import hashlib

    return hashlib.sha256(tok.encode()).digest()


def pgbench_cell(url: str, c: int, seconds: float, script: str | None, defines: dict | None, probe: Probe) -> Cell:
    m0 = probe.conn.execute("SELECT mxid_age('1'::xid)").fetchone()[0]  # type: ignore[index]
    run = pgb.PgbenchRun(url, c, 1, seconds, script, defines)
    usage = probe.observe(run.started + 1, run.started + 1 + seconds, [run.proc.pid])
    ops, window, _, failed = run.finish()
    m1 = probe.conn.execute("SELECT mxid_age('1'::xid)").fetchone()[0]  # type: ignore[index]
    # completions in the probe's window: ops/window is the rate, rate x usage.seconds the count
    done = max(ops / window * usage.seconds, 1.0)
    total = max(ops / window * (seconds + 1), 1.0)
    return Cell(ops / window, 1000 * usage.pg / done, usage.wal_bytes / done, (m1 - m0) / total, failed)


def measure(seconds: float, rounds: int) -> tuple[list[tuple[str, list[Cell]]], dict[str, dict], list[Cell]]:
    rows: list[tuple[str, list[Cell]]] = []
    writes: dict[str, dict] = {}
    tpcb: list[Cell] = []
    server, _ = "", ""
    for _ in range(rounds):
        for label, statements in VARIANTS.items():
            server, url = prepare(Config(wallets=8))
            probe = Probe(url)
            try:
                with psycopg.connect(url, autocommit=True) as conn:
                    for s in statements:
                        conn.execute(s)
                    conn.execute("ANALYZE")
                writes.setdefault(label, writes_per_callback(url))
                cells = [pgbench_cell(url, c, seconds, pgb.debit_script(hot), {"wallets": 8}, probe) for c, hot in CELLS]
                rows.append((label, cells))
                print(label, " | ".join(c.text() for c in cells), file=sys.stderr, flush=True)
            finally:
                probe.close()
                drop(server, url)
        tpcb_url = new_database(server, "bench_tpcb")
        probe = Probe(tpcb_url)
        try:
            pgb.init_tpcb(tpcb_url, 8)
            tpcb.append(pgbench_cell(tpcb_url, 8, seconds, None, None, probe))
            print("TPC-B c=8", tpcb[-1].text(), file=sys.stderr, flush=True)
        finally:
            probe.close()
            drop(server, tpcb_url)
    return rows, writes, tpcb


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.experiments", description=__doc__)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rounds", type=int, default=2, help="every variant this many times, interleaved")
    args = parser.parse_args(argv)
    rows, writes, tpcb = measure(args.seconds, args.rounds)
    doc = (__doc__ or "").split("\n\n", 1)[1]
    lines = [
        "# Experiments: the ledger's write path, v1 beside v2",
        "",
        f"Generated by `python -m bench.experiments` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} "
        f"({os.cpu_count()} cores, shared with other users: throughput is noisy, the write and WAL counts "
        f"much less; {args.rounds} rounds, variants interleaved, pgbench {args.seconds:g} s per cell).",
        "",
        doc.strip(),
        "",
        "## Writes per callback (one transaction of 200 of each, rolled back)",
        "",
        "| variant | callback | rows inserted | rows updated (HOT) | rows deleted | WAL B |",
        "|---|---|---|---|---|---|",
    ]
    for label, per in writes.items():
        for kind, (ins, upd, hot, dele, wal) in per.items():
            lines.append(f"| {label} | {kind} | {ins:.2f} | {upd:.2f} ({hot:.2f}) | {dele:.2f} | {wal:.0f} |")
    lines += [
        "",
        "## pgbench running the debit statement",
        "",
        "Per cell: debits/s, PostgreSQL CPU ms per debit, WAL bytes per debit, MultiXacts per debit.",
        "",
        "| variant | c=1 | c=8 distinct wallets | c=8 one hot wallet |",
        "|---|---|---|---|",
    ]
    lines += [f"| {label} | " + " | ".join(c.text() for c in cells) + " |" for label, cells in rows]
    lines += [f"| pgbench TPC-B (c=8) | | {c.text()} | |" for c in tpcb]
    t_rate, t_cpu, t_wal = mean([c.rate for c in tpcb]), mean([c.pg_ms for c in tpcb]), mean([c.wal for c in tpcb])
    lines += [
        "",
        "## Same-run ratios to TPC-B at c=8 (means over the rounds)",
        "",
        "| variant | debits/s ÷ TPC-B tps | PG CPU per debit ÷ per TPC-B txn | WAL per debit ÷ per TPC-B txn | hot ÷ distinct |",
        "|---|---|---|---|---|",
    ]
    for label in VARIANTS:
        cells = [cs for lab, cs in rows if lab == label]
        rate = mean([cs[1].rate for cs in cells])
        cpu = mean([cs[1].pg_ms for cs in cells])
        wal = mean([cs[1].wal for cs in cells])
        hot = mean([cs[2].rate for cs in cells])
        lines.append(
            f"| {label} | {rate / t_rate:.2f} | {cpu / t_cpu:.2f} | {wal / t_wal:.2f} | {hot / rate if rate else 0:.2f} |"
        )
    (ROOT / "bench" / "experiments.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
