"""bench/results.md and the throughput chart."""

from __future__ import annotations

import statistics
from typing import Any

from .harness import FLOOR, FLOOR_LEDGER, HANDLER, HANDLER_HOT, HTTP, MIXED, OWN, OWN_HOT, TPCB, Figure

ON_SUFFIX, OFF_SUFFIX = " (X-Ray on, as deployed)", " (X-Ray off)"
COLD_DEBIT_ON = "functions/casino/debit" + ON_SUFFIX
COLD_DEBIT_OFF = "functions/casino/debit" + OFF_SUFFIX


def _fmt(v: Any, digits: int = 1) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _table(cols: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_fmt(v) if not isinstance(v, str) else v for v in r) + " |" for r in rows]
    return "\n".join(lines)


def find(figures: list[Figure], name: str, c: int) -> Figure | None:
    return next((f for f in figures if f.name == name and f.concurrency == c), None)


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets at the highest concurrency of the run (reported, never asserted)."""
    figures: list[Figure] = results["figures"]
    c = max(f.concurrency for f in figures)
    tpcb, own, own_hot = find(figures, TPCB, c), find(figures, OWN, c), find(figures, OWN_HOT, c)
    handler, hot = find(figures, HANDLER, c), find(figures, HANDLER_HOT, c)
    rows: list[dict[str, Any]] = []

    def add(
        target: str, value: float | None, goal: str, met: bool | None, note: str = "", inputs: tuple[Figure | None, ...] = ()
    ) -> None:
        if any(f is not None and f.usage is not None and (f.usage.other_pct or 0) > NOISY_OTHER_PCT for f in inputs):
            note = "; ".join(x for x in (note, "† noisy: other processes used the machine") if x)
        rows.append(
            {
                "target": target,
                "measured": value,
                "goal": goal,
                "met": "" if met is None else ("yes" if met else "**no**"),
                "note": note,
            }
        )

    floor = find(figures, FLOOR, c)
    floor_ledger = find(figures, FLOOR_LEDGER, c)

    def per_op(f: Figure | None, key: str) -> float | None:
        return f.usage.per_op_ms(f.ops)[key] if f is not None and f.usage is not None else None

    def checkpoints(*figs: Figure | None) -> bool:
        return any(f is not None and f.usage is not None and f.usage.checkpoints for f in figs)

    def wal(f: Figure | None) -> float | None:
        return f.usage.wal_bytes / f.ops if f is not None and f.usage is not None and f.ops else None

    if own and tpcb:
        r = own.ops_per_s / tpcb.ops_per_s
        add(f"pgbench running our debit SQL ÷ pgbench TPC-B, c={c}", r, "≥ 1.0", r >= 1.0, inputs=(own, tpcb))
    own_cpu, tpcb_cpu = per_op(own, "pg"), per_op(tpcb, "pg")
    if own_cpu and tpcb_cpu:
        r = own_cpu / tpcb_cpu
        add(
            f"PostgreSQL CPU per debit ÷ per TPC-B transaction, c={c}",
            r,
            "≤ 1.0",
            r <= 1.0,
            f"{own_cpu:.3f} ms vs {tpcb_cpu:.3f} ms",
            inputs=(own, tpcb),
        )
    own_wal, tpcb_wal = wal(own), wal(tpcb)
    if own_wal and tpcb_wal:
        r = own_wal / tpcb_wal
        add(
            f"WAL per debit ÷ per TPC-B transaction, c={c}",
            r,
            "≤ 2.0",
            r <= 2.0,
            f"{own_wal:.0f} B vs {tpcb_wal:.0f} B" + ("; a checkpoint in a window" if checkpoints(own, tpcb) else ""),
            inputs=(own, tpcb),
        )
    if handler and own:
        r = handler.ops_per_s / own.ops_per_s
        add(f"handler debits/s ÷ pgbench running our debit SQL, c={c}", r, "≥ 0.6", r >= 0.6, inputs=(handler, own))
    h_cpu, f_cpu = per_op(handler, "client"), per_op(floor, "client")
    if h_cpu and f_cpu:
        r = h_cpu / f_cpu
        add(
            f"handler CPU per debit ÷ floor handler's, c={c}",
            r,
            "≤ 1.5",
            r <= 1.5,
            f"{h_cpu:.3f} ms vs {f_cpu:.3f} ms (worker processes: client + handler)",
            inputs=(handler, floor),
        )
    fl_cpu = per_op(floor_ledger, "client")
    if h_cpu and fl_cpu:
        r = h_cpu / fl_cpu
        add(
            f"(diagnostic) handler CPU per debit ÷ floor handler's with the ledger call, c={c}",
            r,
            "≤ 1.5",
            r <= 1.5,
            f"{h_cpu:.3f} ms vs {fl_cpu:.3f} ms: what the handler's own Python adds, the statement's wait set apart",
            inputs=(handler, floor_ledger),
        )
    if hot and handler:
        r = hot.ops_per_s / handler.ops_per_s
        fives = hot.unexpected
        add(
            f"hot wallet ÷ distinct wallets (handler), c={c}",
            r,
            "≥ 0.6, no deadlock, no 5xx",
            r >= 0.6 and hot.deadlock_retries == 0 and fives == 0,
            f"deadlock retries {hot.deadlock_retries}, failed {fives}"
            + (f"; pgbench's own ratio: {own_hot.ops_per_s / own.ops_per_s:.2f}" if own and own_hot else ""),
            inputs=(hot, handler),
        )
    cold = {r["what"]: r for r in results.get("cold", [])}
    on, off = cold.get(COLD_DEBIT_ON), cold.get(COLD_DEBIT_OFF)
    if on and off and off["import ms"]:
        r = float(on["import ms"]) / float(off["import ms"])
        add("debit cold import, tracing on ÷ off", r, "≤ 1.2", r <= 1.2, f"{on['import ms']} ms vs {off['import ms']} ms")
    if handler and handler.statements_per_op is not None:
        n = handler.statements_per_op
        rt = handler.round_trips_per_op
        add(
            "database round trips per debit (driver count; libpq trace)",
            n,
            "1",
            n <= 1 and (rt is None or rt <= 1),
            "" if rt is None else f"libpq trace: {rt:.2f}",
        )
    return rows


NOISY_OTHER_PCT = 15  # a figure during which others used this much of the machine is marked †

DESCRIPTIONS = [
    f"- **{TPCB}**: PostgreSQL's built-in TPC-B-like transaction (BEGIN, 3 UPDATE, SELECT, INSERT, END) "
    "in its own `pgbench -i` database (scale = highest concurrency).",
    f"- **{OWN}**: pgbench (C, `-M extended` as psycopg sends it) running exactly the statement the ledger "
    "sends per debit, `SELECT status, body, replayed FROM ledger.debit(…)`, client *i* on wallet *i*: "
    "the ceiling for our design. **(hot wallet)**: every client on wallet 0.",
    f"- **{HANDLER}**: the real debit Lambda handler, invoked in-process with genuine signed API Gateway "
    "REST proxy events, one worker process per client (a warm container each, with its own connection), "
    "client *i* on wallet *i*; **(hot wallet)**: every client on wallet 0. Handler environment as deployed "
    "(INFO JSON logs, EMF metrics, written to /dev/null) except X-Ray (no daemon here).",
    f"- **{MIXED}**: one op = one round: a debit, every 10th debit sent twice (the duplicate must replay "
    "the stored answer byte for byte, with `Idempotent-Replayed: true`), then a credit closing the round, "
    "or for every 7th round a rollback of the bet instead. Ratios compare rounds/s with transactions/s.",
    f"- **{FLOOR}**: the floor for a debit handler, in the same worker processes and with the same "
    "signed events: verify the HMAC, parse the body with the same pydantic model, one `SELECT 1` round "
    "trip, a response; no logging, metrics or ledger. The debit handler's CPU per call is a same-run "
    "ratio to it.",
    f"- **{FLOOR_LEDGER}**: the same floor with the ledger's own debit statement instead of `SELECT 1`: "
    "waiting for a statement that runs a millisecond or two costs the waiting process CPU of its own "
    "(the wake-up), so the debit handler's CPU beside this one is what its own Python adds.",
    f"- **{HTTP}**: the same debits over loopback HTTP through `python -m devtools serve` (one Python "
    "process, threads, one database connection per role: a development server, not Lambda's model).",
]

COLUMNS_NOTE = (
    "*× TPC-B*, *× own SQL*: throughput ÷ pgbench's at the same concurrency, same run. *calls/op*: "
    "callbacks per operation. *stmts/op*: statements the handlers sent per operation, counted at the "
    "driver (psycopg `Cursor.execute`); *round trips/op*: protocol round trips per operation from "
    "libpq's trace of the handler's connection (a calibration pass; every round trip ends in a "
    "ReadyForQuery). Autocommit, no BEGIN/COMMIT: one statement = one round trip = one transaction. "
    "*unexpected*: non-200 answers, failed replays, failed pgbench transactions (balances never run "
    "out, so no 402 is expected). *reconcile*: `devtools.admin.reconcile` on the bench database right "
    "after the figure. **†**: during this figure other processes used more than "
    f"{NOISY_OTHER_PCT}% of the machine's CPU (see *other %* below): a noisy figure."
)

CPU_NOTE = (
    "CPU milliseconds per operation in the measured window (from /proc): *client* = the load generator "
    "(pgbench, or the worker processes, which include the in-process handler: event building, HMAC, "
    "the handler itself and psycopg); *app* = the local API process; *PG* = the database's backends "
    "plus the server's WAL writer, checkpointer and background writer. *busy*: the whole machine's CPU "
    "use; *other*: CPU used outside these processes (other users of the machine, the harness). "
    "*WAL B/op*: WAL bytes written per operation (the server's WAL position, so other databases' writes "
    "count too); *ckpt*: checkpoints in the window (after one, every first change of a page "
    "writes a full-page image: more WAL, slower commits). "
    "*waits*: PostgreSQL wait events of the active backends, sampled every 40 ms (CPU = waiting on "
    "nothing); Lock:transactionid / Lock:tuple = queued behind another transaction's row lock, "
    "IO:WALSync / LWLock:WALWrite = the commit's WAL flush. *PG CPU outside the sessions*: "
    "PostgreSQL processes other than the figure's own sessions (autovacuum, WAL writer, checkpointer) "
    "that used over 10% of its PG CPU."
)


def _on_off(row: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """For an X-Ray-on row, its import time ÷ the same function's X-Ray-off row."""
    what = str(row["what"])
    if not what.endswith(ON_SUFFIX):
        return ""
    off = next((r for r in rows if r["what"] == what.removesuffix(ON_SUFFIX) + OFF_SUFFIX), None)
    return f"{float(row['import ms']) / float(off['import ms']):.2f}" if off and off["import ms"] else ""


def markdown(results: dict[str, Any], png: str | None) -> str:
    v, cfg = results["versions"], results["config"]
    figures: list[Figure] = results["figures"]
    rows = []
    for f in figures:
        noisy = f.usage is not None and (f.usage.other_pct or 0) > NOISY_OTHER_PCT
        rows.append(
            [
                f.name + (" †" if noisy else ""),
                f.concurrency,
                round(f.ops_per_s),
                _fmt(f.pct(50), 2),
                _fmt(f.pct(95), 2),
                _fmt(f.pct(99), 2),
                _fmt(f.ratio(f.tpcb_ops_per_s), 2),
                _fmt(f.ratio(f.own_ops_per_s), 2),
                _fmt(f.calls / f.ops if f.ops and f.name not in (TPCB,) else None, 2),
                _fmt(f.statements_per_op, 2) if f.name not in (TPCB, OWN, OWN_HOT) else "",
                _fmt(f.round_trips_per_op, 2),
                f.unexpected,
                "ok" if f.reconciled else "**FAILED**",
            ]
        )
    cpu_rows = []
    for f in figures:
        u = f.usage
        if u is None:
            continue
        per = u.per_op_ms(f.ops)
        cpu_rows.append(
            [
                f.name,
                f.concurrency,
                _fmt(per["client"], 3),
                _fmt(per["app"], 3),
                _fmt(per["pg"], 3),
                _fmt(u.busy_pct, 0),
                _fmt(u.other_pct, 0),
                _fmt(u.wal_bytes / f.ops if f.ops else None, 0),
                u.checkpoints or "",
                u.top_waits(),
                u.pg_breakdown(),
            ]
        )
    startup = results.get("startup") or []
    out = [
        "# Benchmarks",
        "",
        f"Generated by `make bench` on {v['date']} at commit {v['commit']}: {v['cores']} cores ({v['cpu']}), "
        f"{v['memory']} memory, {v['machine']}, Python {v['python']}, PostgreSQL {v['postgresql']} "
        f"({v['pg_settings']}), {v['pgbench']}, psycopg {v['psycopg']}, Powertools {v['powertools']}, "
        f"pydantic {v['pydantic']}. Load average before the run: {v['load_before']}.",
        "",
        f"Each figure: {cfg['warmup']:g} s of warm-up (not counted), then {cfg['duration']:g} s measured; "
        f"{cfg['wallets']} bench wallets. Absolute numbers on a shared 2-core machine are noise, so every "
        "figure is given as a ratio to pgbench on the same server, at the same concurrency, in the same run. "
        "Clients, handlers and PostgreSQL share the machine's cores.",
        "",
        *DESCRIPTIONS,
        "",
        _table(
            [
                "figure",
                "c",
                "ops/s",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "× TPC-B",
                "× own SQL",
                "calls/op",
                "stmts/op",
                "round trips/op",
                "unexpected",
                "reconcile",
            ],
            rows,
        ),
        "",
        COLUMNS_NOTE,
        "",
        "## Targets (issue 14; reported, not asserted)",
        "",
        _table(
            ["target", "measured", "goal", "met", "note"],
            [[t["target"], _fmt(t["measured"], 2), t["goal"], t["met"], t["note"]] for t in targets(results)],
        ),
        "",
        "## Where the time goes",
        "",
        _table(
            [
                "figure",
                "c",
                "client CPU ms/op",
                "app CPU ms/op",
                "PG CPU ms/op",
                "busy %",
                "other %",
                "WAL B/op",
                "ckpt",
                "waits (share of samples)",
                "PG CPU outside the sessions",
            ],
            cpu_rows,
        ),
        "",
        CPU_NOTE,
        "",
        "Where a debit's CPU goes inside the worker (py-spy) and inside PostgreSQL (per function, rows and WAL "
        "written): [profile.md](profile.md), from `python -m bench.profile`.",
        "",
        "## Cold start",
        "",
        "Each handler module imported in a fresh interpreter, median of "
        f"{cfg['cold_start_runs']} runs: *process* = `python -c …` from start to exit, *import* = the import "
        "alone, timed inside it; in the environment Lambda gives a function (LAMBDA_TASK_ROOT and the "
        "function's name set: the X-Ray SDK behaves differently outside Lambda). *on ÷ off*: the import "
        "with X-Ray tracing on ÷ the same import with it off (issue 14's goal: ≤ 1.2).",
        "",
        _table(
            ["what", "process ms", "import ms", "on ÷ off", "runs"],
            [[r["what"], r["process ms"], r["import ms"], _on_off(r, results["cold"]), r["runs"]] for r in results["cold"]],
        ),
        "",
    ]
    if startup:
        out += [
            f"First invocation in a fresh worker (settings, database connection, first debit): median "
            f"{statistics.median(s['first_call_ms'] for s in startup):.1f} ms; importing the three "
            f"callback handlers there: median {statistics.median(s['import_ms'] for s in startup):.0f} ms.",
            "",
        ]
    out.append(
        f"Reconcile after every figure: {'clean' if results['reconciled'] else '**FAILED**'}; "
        f"unexpected failures: {sum(f.unexpected for f in figures)}."
    )
    if png:
        out += ["", f"![throughput vs concurrency]({png.split('/')[-1]})"]
    return "\n".join(out) + "\n"


STYLE = {
    TPCB: ("black", "--", "s"),
    OWN: ("tab:gray", "--", "s"),
    OWN_HOT: ("tab:gray", ":", "v"),
    HANDLER: ("tab:blue", "-", "o"),
    HANDLER_HOT: ("tab:blue", ":", "v"),
    MIXED: ("tab:green", "-", "^"),
    HTTP: ("tab:orange", "-", "D"),
}


def chart(results: dict[str, Any], path: str) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("bench: matplotlib not installed (pip install -r requirements-bench.txt); no chart")
        return None
    figures: list[Figure] = results["figures"]
    levels = sorted({f.concurrency for f in figures})
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 5), gridspec_kw={"width_ratios": [3, 2]})
    for name, (color, style, marker) in STYLE.items():
        points = sorted((f.concurrency, f.ops_per_s) for f in figures if f.name == name)
        if points:
            ax.plot(
                [p[0] for p in points],
                [p[1] for p in points],
                color=color,
                linestyle=style,
                marker=marker,
                label=name + (" (rounds/s)" if name == MIXED else ""),
            )
    ax.set_xlabel("concurrency (clients)")
    ax.set_ylabel("operations per second")
    ax.set_title("Throughput vs concurrency, same server, same run")
    ax.set_xticks(levels)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    # CPU per operation at the highest concurrency: where the two cores go
    c = levels[-1]
    names = [n for n in (TPCB, OWN, HANDLER, HANDLER_HOT, HTTP) if find(figures, n, c)]
    parts: dict[str, list[float]] = {"client": [], "app": [], "pg": []}
    for n in names:
        f = find(figures, n, c)
        per = f.usage.per_op_ms(f.ops) if f and f.usage else {}
        for k in parts:
            parts[k].append(per.get(k) or 0.0)
    bottom = [0.0] * len(names)
    for k, color in (("pg", "tab:purple"), ("client", "tab:blue"), ("app", "tab:orange")):
        ax2.bar(
            range(len(names)),
            parts[k],
            bottom=bottom,
            color=color,
            label={"pg": "PostgreSQL", "client": "client / in-process handler", "app": "local API"}[k],
        )
        bottom = [b + x for b, x in zip(bottom, parts[k], strict=True)]
    ax2.set_xticks(range(len(names)))
    ax2.set_xticklabels([n.replace(" (", "\n(").replace("pgbench ", "pgbench\n") for n in names], fontsize=7)
    ax2.set_ylabel("CPU ms per operation")
    ax2.set_title(f"CPU per operation, c={c}")
    ax2.legend(fontsize=8)
    ax2.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
