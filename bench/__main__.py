"""python -m bench [--quick] [--no-http] [--no-chart]: measure the wallet beside pgbench, write
bench/results.md and bench/throughput.png (raw numbers in bench/out/results.json); exit 1 if
reconcile failed or a request failed unexpectedly."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from .harness import QUICK, ROOT, Config, run
from .report import chart, markdown

RESULTS = "bench/results.md"
CHART = "bench/throughput.png"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short runs at concurrency 1 and 8 (under a minute)")
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP path")
    parser.add_argument("--no-chart", action="store_true", help="skip the PNG chart")
    parser.add_argument("--duration", type=float, help="seconds measured per figure")
    parser.add_argument("--concurrency", help="comma-separated client counts (default 1,4,8; quick 1,8)")
    parser.add_argument("--out", default=RESULTS, help=f"Markdown report (default {RESULTS})")
    parser.add_argument("--chart", default=CHART, help=f"PNG chart (default {CHART})")
    args = parser.parse_args(argv)
    config = QUICK if args.quick else Config()
    config = replace(config, http=not args.no_http, chart=not args.no_chart)
    if args.duration:
        config = replace(config, duration=args.duration)
    if args.concurrency:
        config = replace(config, concurrency=tuple(int(c) for c in args.concurrency.split(",")))
    started = time.perf_counter()
    print(
        f"bench: {'quick' if args.quick else 'full'} run, {config.warmup:g}+{config.duration:g} s per figure, "
        f"concurrency {list(config.concurrency)}",
        file=sys.stderr,
        flush=True,
    )
    results = run(config, progress=lambda msg: print(msg, file=sys.stderr, flush=True))
    png = chart(results, args.chart) if config.chart else None
    from . import chain_cost  # the ledger's hash chain: its cost per debit, same run (issue 27)

    chain = chain_cost.measure(500 if args.quick else 2_000)
    Path(args.out).write_text(markdown(results, png) + chain_cost.markdown(chain))
    raw = ROOT / "bench" / "out" / "results.json"
    raw.parent.mkdir(parents=True, exist_ok=True)
    raw.write_text(json.dumps({**results, "figures": [f.as_dict() for f in results["figures"]]}, indent=1, default=str))
    print(f"bench: wrote {args.out}{' and ' + png if png else ''} in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    unexpected = sum(f.unexpected for f in results["figures"])
    if not results["reconciled"] or unexpected:
        print(f"bench: FAILED (reconciled={results['reconciled']}, unexpected failures={unexpected})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
