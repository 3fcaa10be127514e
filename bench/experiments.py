"""python -m bench.experiments [--seconds S] [--rounds N]: the ledger's debit as it is beside two changes
suggested by the benchmark, measured with pgbench in throwaway databases (the project's
sql/ is not touched: each variant is applied to its own bench database only). Writes
bench/experiments.md.

- **wallet first**: casino_debit locks the wallet row (FOR NO KEY UPDATE) right after the
  session lookup instead of after the idempotency row, bet claim and round inserts. Those
  inserts' foreign-key checks take FOR KEY SHARE on the wallet row; on a hot wallet several
  transactions hold it at once, so PostgreSQL records the lockers in MultiXacts (several per
  debit) and the waiters do their inserts before queueing on the row.
- **no provider/user/session FKs**: the ledger tables' foreign keys to casino_game_providers,
  casino_users and casino_game_sessions dropped (the session row already ties the three).
  Every concurrent debit takes FOR KEY SHARE on the one provider row: a MultiXact per debit.

Per variant: debits/s, MultiXacts created per debit (the server's counter, mxid_age('1')),
WAL bytes per debit (server-wide position), at c=1, c=8 on distinct wallets and c=8 on one.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time

import psycopg

from . import pgb
from .harness import ROOT, Config, drop, prepare

ANCHOR = "        RETURN;\n    END IF;\n\n    SELECT * INTO v_claim FROM ledger.claim_transaction("
DROP_FKS = """
DO $$ DECLARE r record; BEGIN
  FOR r IN SELECT conrelid::regclass AS t, conname FROM pg_constraint
            WHERE contype = 'f'
              AND conrelid IN ('casino_transactions'::regclass, 'casino_rounds'::regclass,
                               'casino_bet_claims'::regclass)
              AND confrelid IN ('casino_game_providers'::regclass, 'casino_users'::regclass,
                                'casino_game_sessions'::regclass)
  LOOP EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', r.t, r.conname); END LOOP;
END $$;"""


def debit_function() -> str:
    text = (ROOT / "sql" / "casino" / "functions" / "20_debit.sql").read_text()
    m = re.search(r"CREATE FUNCTION ledger\.debit\(.*?END \$\$;", text, re.S)
    if not m or ANCHOR not in m.group(0):
        raise SystemExit("ledger.debit changed shape: update bench/experiments.py")
    return m.group(0).replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def wallet_first() -> str:
    return debit_function().replace(
        ANCHOR,
        "        RETURN;\n    END IF;\n    PERFORM 1 FROM casino_wallets WHERE id = v_session.wallet_id FOR NO KEY UPDATE;"
        "\n\n    SELECT * INTO v_claim FROM ledger.claim_transaction(",
        1,
    )


VARIANTS = {
    "as is": [],
    "wallet first": [wallet_first()],
    "no provider/user/session FKs": [DROP_FKS],
    "both": [DROP_FKS, wallet_first()],
}


def measure(seconds: float, rounds: int) -> list[list[str]]:
    rows = []
    for _ in range(rounds):
        for label, statements in VARIANTS.items():
            server, url = prepare(Config(wallets=8))
            try:
                with psycopg.connect(url, autocommit=True) as conn:
                    for s in statements:
                        conn.execute(s)
                    row = [label]
                    for c, hot in ((1, False), (8, False), (8, True)):
                        m0, w0 = conn.execute("SELECT mxid_age('1'::xid), pg_current_wal_lsn()").fetchone()  # type: ignore[misc]
                        run = pgb.PgbenchRun(url, c, 1, seconds, pgb.debit_script(hot), {"wallets": 8})
                        ops, window, _, failed = run.finish()
                        # counters cover the warm-up too: divide by every accepted debit of the run
                        m1, wal, n = conn.execute(
                            "SELECT mxid_age('1'::xid), pg_wal_lsn_diff(pg_current_wal_lsn(), %s), "
                            "count(*) FROM casino_transactions WHERE transaction_id LIKE %s",
                            (w0, f"pgb-{run.run_tag}-%"),
                        ).fetchone()  # type: ignore[misc]
                        row.append(
                            f"{ops / window:.0f}/s, {(m1 - m0) / max(n, 1):.2f} mx, "
                            f"{float(wal) / max(n, 1):.0f} B" + (f", {failed} failed" if failed else "")
                        )
                    rows.append(row)
                    print(" | ".join(row), file=sys.stderr, flush=True)
            finally:
                drop(server, url)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.experiments", description=__doc__)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rounds", type=int, default=2, help="every variant this many times, interleaved")
    args = parser.parse_args(argv)
    rows = measure(args.seconds, args.rounds)
    doc = (__doc__ or "").split("\n\n", 1)[1]
    lines = [
        "# Experiments: the debit as is beside two suggested changes",
        "",
        f"Generated by `python -m bench.experiments` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} "
        f"({os.cpu_count()} cores; pgbench, {args.seconds:g} s after 1 s of warm-up per cell; variants "
        "interleaved). Per cell: debits/s, MultiXacts created per debit, WAL bytes per debit. The "
        "MultiXact and WAL counters are server-wide: other databases' work on the server counts too; "
        "throughput on a shared machine is noisy, the counters much less.",
        "",
        doc.strip(),
        "",
        "| variant | c=1 | c=8 distinct wallets | c=8 one hot wallet |",
        "|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    (ROOT / "bench" / "experiments.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
