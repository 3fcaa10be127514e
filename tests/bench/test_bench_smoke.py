"""The benchmark harness runs end to end in a reduced form (tiny durations, concurrency 1
and 2, one cold-start module, no chart) and leaves every figure reconciled. No speed is
asserted here: speed is what `make bench` reports, as ratios to pgbench."""

from __future__ import annotations

import os
import re
from dataclasses import replace

from bench.harness import ALL_FIGURES, HANDLER, MIXED, QUICK, run
from bench.report import markdown, targets
from devtools import localdb


def test_harness_produces_every_figure_and_reconciles():
    config = replace(
        QUICK,
        duration=0.5,
        warmup=0.2,
        concurrency=(1, 2),
        wallets=4,
        cold_start_runs=1,
        cold_modules=("functions/casino/debit",),
        chart=False,
    )
    server = os.environ.get("TEST_DATABASE_URL") or localdb.server_url()
    results = run(config, progress=lambda *_: None, server=server)

    figures = {(f.name, f.concurrency): f for f in results["figures"]}
    assert set(figures) == {(name, c) for name in ALL_FIGURES for c in (1, 2)}
    for fig in figures.values():
        assert fig.ops > 0, fig.name
        assert fig.reconciled is True, fig.name
        assert fig.unexpected == 0, fig.name
        assert fig.usage is not None and fig.pct(50) is not None, fig.name
        assert fig.tpcb_ops_per_s and fig.own_ops_per_s, fig.name
    assert results["reconciled"] is True
    # one database round trip per debit, at the driver and on the wire
    assert figures[(HANDLER, 1)].statements_per_op == 1.0
    assert figures[(HANDLER, 1)].round_trips_per_op == 1.0
    assert figures[(MIXED, 1)].statements_per_op is not None
    assert [r["what"] for r in results["cold"]][:2] == [
        "`python -c pass` (interpreter only)",
        "minimal Powertools handler (Logger)",
    ]
    assert any(r["what"].startswith("functions/casino/debit") for r in results["cold"])

    report = markdown(results, None)
    names = [t["target"].split(",")[0] for t in targets(results)]
    assert "## Targets" in report and len(names) == 9, names
    assert "**FAILED**" not in report
    # every function's import with X-Ray on is set beside the same import with it off
    assert re.search(r"\| functions/casino/debit \(X-Ray on, as deployed\) \| [\d.]+ \| [\d.]+ \| \d+\.\d\d \|", report), report
