"""The benchmark harness runs end to end and leaves a reconciled database. No speed is
asserted here (speed is reported by `make bench`, as ratios to pgbench)."""
from __future__ import annotations

from dataclasses import replace

from bench.harness import QUICK, run
from bench.report import markdown, targets


def test_harness_produces_every_figure_and_reconciles():
    config = replace(QUICK, duration=0.5, warmup=0.2, concurrency=(1, 2), wallets=4, cold_start_runs=1, chart=False)
    results = run(config, progress=lambda *_: None)
    names = {(f.name, f.concurrency) for f in results["figures"]}
    for c in (1, 2):
        for name in ("pgbench TPC-B", "pgbench own debit SQL", "handler debit", "handler debit (hot wallet)",
                     "mixed round", "HTTP debit"):
            assert (name, c) in names
    assert results["reconciled"] is True
    assert sum(f.unexpected for f in results["figures"]) == 0
    handler = next(f for f in results["figures"] if f.name == "handler debit")
    assert handler.ops > 0 and handler.statements_per_op == 1.0  # one round trip per debit
    assert any(row["module"].startswith("functions/casino/debit") for row in results["cold"])
    report = markdown(results, None)
    assert "## Targets" in report and targets(results)
