"""The benchmark harness: the wallet measured side by side with pgbench on the same server in
the same run, reported as ratios (absolute numbers on a shared machine are noise).

Every figure: operations/s, latency percentiles, ratio to pgbench at the same concurrency,
statements per callback (counted at the driver), CPU per operation by process group, the
database's wait events, and a reconcile of the bench database afterwards.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import pgb
from .clients import HANDLER_ENV, Pool, token
from .coldstart import cold_start
from .probe import Probe, Usage

ROOT = Path(__file__).resolve().parent.parent
WALLET_BALANCE = 10**12  # never runs out: no 402 in a run
CALLBACK_MODULES = (
    "functions/casino/debit",
    "functions/casino/credit",
    "functions/casino/rollback",
    "functions/casino/getBalance",
)


@dataclass(frozen=True)
class Config:
    duration: float = 10.0
    warmup: float = 2.0
    concurrency: tuple[int, ...] = (1, 4, 8)
    wallets: int = 64
    http: bool = True
    cold_start_runs: int = 5
    cold_modules: tuple[str, ...] | None = None  # None: every function
    chart: bool = True


QUICK = Config(duration=1.5, warmup=0.5, concurrency=(1, 8), wallets=16, cold_start_runs=3, cold_modules=CALLBACK_MODULES)

# figure names (the report and the smoke test use them)
TPCB = "pgbench TPC-B"
OWN = "pgbench own debit SQL"
OWN_HOT = "pgbench own debit SQL (hot wallet)"
HANDLER = "handler debit"
HANDLER_HOT = "handler debit (hot wallet)"
MIXED = "mixed round"
HTTP = "HTTP debit (local API)"
FLOOR = "floor handler"
FLOOR_LEDGER = "floor handler + ledger call"
ALL_FIGURES = (TPCB, OWN, OWN_HOT, HANDLER, HANDLER_HOT, MIXED, HTTP, FLOOR, FLOOR_LEDGER)


@dataclass
class Figure:
    name: str
    concurrency: int
    ops: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    calls: int = 0  # callbacks (HTTP requests / handler invocations); pgbench: transactions
    statements: int | None = None  # counted at the driver, over the measured operations
    round_trips_per_op: float | None = None  # libpq trace calibration (handler figures)
    unexpected: int = 0
    deadlock_retries: int = 0
    usage: Usage | None = None
    reconciled: bool | None = None
    tpcb_ops_per_s: float | None = None
    own_ops_per_s: float | None = None

    @property
    def ops_per_s(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float | None:
        if not self.latencies_ms:
            return None
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(round(p / 100 * (len(data) - 1))))]

    @property
    def statements_per_op(self) -> float | None:
        return self.statements / self.ops if self.statements is not None and self.ops else None

    def ratio(self, base: float | None) -> float | None:
        return self.ops_per_s / base if base else None

    def as_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k not in ("latencies_ms", "usage")}
        d.update(
            ops_per_s=self.ops_per_s,
            p50=self.pct(50),
            p95=self.pct(95),
            p99=self.pct(99),
            usage=self.usage.as_dict() if self.usage else None,
        )
        return d


# ------------------------------------------------------------------ database


def prepare(config: Config, server: str | None = None) -> tuple[str, str]:
    """A fresh bench database: migrated, the seed fixtures (provider, game), and `wallets` bench
    players, each with a large USD wallet, its opening deposit as first ledger row (so
    reconcile holds) and an active session whose token_hash = sha256(token). Returns (server, url)."""
    import psycopg

    from devtools import admin, fixtures, localdb

    server = server or localdb.server_url()
    url = localdb.create_database(localdb.with_dbname(server, "postgres"), f"bench_{uuid.uuid4().hex[:10]}")
    admin.migrate(url, quiet=True)
    admin.seed(url, quiet=True)
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        for i in range(config.wallets):
            user = str(uuid.UUID(int=0xBE9C4 << 64 | i + 1))
            fixtures.create_player(conn, user, f"bench-{i}", "active", [("USD", WALLET_BALANCE, WALLET_BALANCE)])
            fixtures.create_session(conn, token(i), user, "USD", expires_in_seconds=86_400)
    return server, url


def prime(url: str, wallets: int, seconds: int = 2) -> None:
    """A few thousand debits, then ANALYZE: the figures then run on tables with rows and
    statistics, as a database in service has them. Without this the first figure measures a
    fresh database's transient: the planner's statistics say the ledger tables are (nearly)
    empty until autovacuum analyzes them (up to autovacuum_naptime later), and the cached
    plans of the ledger functions seq-scan casino_rounds / casino_transactions as they grow,
    doubling the first figure's CPU per debit."""
    import psycopg

    pgb.PgbenchRun(url, 2, 0, seconds, pgb.debit_script(False), {"wallets": wallets}).finish()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")


def new_database(server: str, prefix: str) -> str:
    from devtools import localdb

    return localdb.create_database(localdb.with_dbname(server, "postgres"), f"{prefix}_{uuid.uuid4().hex[:10]}")


def drop(server: str, url: str) -> None:
    from psycopg.conninfo import conninfo_to_dict

    from devtools import localdb

    localdb.drop_database(localdb.with_dbname(server, "postgres"), str(conninfo_to_dict(url)["dbname"]))


def reconcile_ok(url: str) -> bool:
    from devtools import admin

    return admin.reconcile(url).ok


# ------------------------------------------------------------------ the local API


def start_local_api(url: str) -> tuple[subprocess.Popen, str]:
    """`python -m devtools serve` on a free loopback port, on the bench database."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("POWERTOOLS_")}
    env.update(HANDLER_ENV, DATABASE_URL=url)
    proc = subprocess.Popen(
        [sys.executable, "-m", "devtools", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return proc, f"http://127.0.0.1:{port}"


def wait_for_port(proc: subprocess.Popen, base: str, timeout: float = 60) -> None:
    host, port = base.split("//")[1].split(":")
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        if proc.poll() is not None:
            raise RuntimeError(f"the local API exited with {proc.returncode}")
        try:
            with socket.create_connection((host, int(port)), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the local API did not start listening")


# ------------------------------------------------------------------ the run


class Bench:
    def __init__(self, config: Config, progress: Callable[[str], None], server: str | None = None) -> None:
        self.config = config
        self.server = server
        self.progress = progress
        self.figures: list[Figure] = []
        self.url = ""

    def run(self) -> dict[str, Any]:
        cfg = self.config
        if cfg.wallets < max(cfg.concurrency):
            raise SystemExit("need at least as many wallets as clients")
        load_before = os.getloadavg()
        self.progress("bench: preparing the databases and starting the client workers")
        server, url = prepare(cfg, self.server)
        self.url = url
        pg_url = new_database(server, "benchpg")
        pool: Pool | None = None
        api: tuple[subprocess.Popen, str] | None = None
        probes: list[Probe] = []
        try:
            pool = Pool(max(cfg.concurrency), url, cfg.wallets)
            init = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "import sys; from bench import pgb; pgb.init_tpcb(sys.argv[1], int(sys.argv[2]))",
                    pg_url,
                    str(max(cfg.concurrency)),
                ],
                cwd=ROOT,
            )
            if cfg.http:
                api = start_local_api(url)
            startup = pool.wait_ready()
            if init.wait() != 0:
                raise RuntimeError("pgbench -i failed")
            if api is not None:
                wait_for_port(*api)
            probe, tpcb_probe = Probe(url), Probe(pg_url)
            probes += [probe, tpcb_probe]
            calibration = self.calibrate(pool)
            prime(url, cfg.wallets)
            for c in cfg.concurrency:
                level: list[Figure] = []
                self.progress(f"  c={c}: {TPCB}")
                tpcb = self.pgbench(TPCB, pg_url, c, tpcb_probe)
                level.append(tpcb)
                for name, hot in ((OWN, False), (OWN_HOT, True)):
                    self.progress(f"  c={c}: {name}")
                    level.append(self.pgbench(name, url, c, probe, pgb.debit_script(hot), {"wallets": cfg.wallets}))
                own = level[1]
                for name, kind, hot in ((HANDLER, "debit", False), (HANDLER_HOT, "debit", True), (MIXED, "mixed", False)):
                    self.progress(f"  c={c}: {name}")
                    fig = self.clients(pool, probe, name, kind, c, hot)
                    fig.round_trips_per_op = calibration[kind]
                    level.append(fig)
                for name, kind in ((FLOOR, "floor"), (FLOOR_LEDGER, "floor-ledger")):
                    self.progress(f"  c={c}: {name}")
                    level.append(self.clients(pool, probe, name, kind, c, False))
                if api is not None:
                    self.progress(f"  c={c}: {HTTP}")
                    level.append(self.clients(pool, probe, HTTP, "debit", c, False, api))
                for fig in level:
                    fig.tpcb_ops_per_s, fig.own_ops_per_s = tpcb.ops_per_s, own.ops_per_s
                    self.figures.append(fig)
        finally:
            for p in probes:
                p.close()
            if pool is not None:
                pool.close()
            if api is not None:
                api[0].terminate()
                api[0].wait(timeout=30)
            drop(server, url)
            drop(server, pg_url)
        self.progress("  cold start")
        cold = cold_start(cfg.cold_start_runs, cfg.cold_modules)
        return {
            "figures": self.figures,
            "cold": cold,
            "startup": startup,
            "calibration": calibration,
            "reconciled": bool(self.figures) and all(f.reconciled for f in self.figures),
            "config": asdict(cfg),
            "versions": versions(server, load_before),
        }

    # -------------------------------------------------------------- figures

    def pgbench(
        self, name: str, url: str, c: int, probe: Probe, script: str | None = None, defines: dict[str, Any] | None = None
    ) -> Figure:
        cfg = self.config
        run = pgb.PgbenchRun(url, c, cfg.warmup, cfg.duration, script, defines)
        usage = probe.observe(run.started + cfg.warmup, run.started + cfg.warmup + cfg.duration, [run.proc.pid])
        ops, seconds, latencies, failed = run.finish()
        fig = Figure(name, c, ops, seconds, latencies, calls=ops, unexpected=failed, usage=usage)
        if script is not None:  # every debit it sent must have been accepted
            fig.statements = ops
            row = probe.conn.execute(
                "SELECT count(*) FILTER (WHERE status <> 'accepted') FROM casino_transactions WHERE transaction_id LIKE %s",
                (f"pgb-{run.run_tag}-%",),
            ).fetchone()
            fig.unexpected += row[0] if row else 0
        fig.reconciled = reconcile_ok(self.url)  # the wallets' database, whichever database pgbench ran on
        return fig

    def clients(
        self, pool: Pool, probe: Probe, name: str, kind: str, c: int, hot: bool, api: tuple[subprocess.Popen, str] | None = None
    ) -> Figure:
        cfg = self.config
        start = time.monotonic() + 0.2
        warm_until = start + cfg.warmup
        deadline = warm_until + cfg.duration
        job = {
            "kind": kind,
            "run": uuid.uuid4().hex[:8],
            "start": start,
            "warm_until": warm_until,
            "deadline": deadline,
            "base": api[1] if api else "",
        }
        pool.dispatch(c, job, (lambda i: 0) if hot else (lambda i: i % cfg.wallets))
        usage = probe.observe(warm_until, deadline, pool.pids(c), [api[0].pid] if api else None)
        results = pool.collect(c, timeout=cfg.warmup + cfg.duration + 120)
        ops = sum(r["ops"] for r in results)
        fig = Figure(
            name,
            c,
            ops,
            cfg.duration,
            [x for r in results for x in r["latencies"]],
            calls=sum(r["calls"] for r in results),
            unexpected=sum(r["unexpected"] for r in results),
            deadlock_retries=sum(r["deadlock_retries"] for r in results),
            usage=usage,
        )
        if api is None:  # the local API's handlers run in its own process: not counted there
            fig.statements = sum(r["statements"] for r in results)
        fig.reconciled = reconcile_ok(self.url)
        return fig

    def calibrate(self, pool: Pool) -> dict[str, float]:
        """Round trips per operation from libpq's protocol trace (worker 0, its own wallet)."""
        out = {}
        for kind, ops in (("debit", 50), ("mixed", 70)):
            pool.dispatch(1, {"kind": "calibrate", "of": kind, "ops": ops, "run": uuid.uuid4().hex[:8]}, lambda i: 0)
            r = pool.collect(1, timeout=120)[0]
            out[kind] = r["round_trips"] / r["ops"]
        return out


def run(config: Config, progress: Callable[[str], None] = print, server: str | None = None) -> dict[str, Any]:
    """Measures everything `config` asks for on `server` (admin URL; default DATABASE_URL's
    server or the embedded one), in databases of its own that it drops at the end."""
    return Bench(config, progress, server).run()


def versions(server: str, load_before: tuple[float, float, float]) -> dict[str, str]:
    import psycopg

    with psycopg.connect(server, autocommit=True) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        settings: dict[str, str] = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN ('synchronous_commit', 'shared_buffers', 'fsync')"
            ).fetchall()
        )
    mem = cpu = ""
    try:
        mem = f"{int(Path('/proc/meminfo').read_text().split()[1]) / 1024 / 1024:.0f} GiB"
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, ValueError, IndexError, StopIteration):
        pass
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from PATH
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout
    pgbench_version = subprocess.run([pgb.binary(), "--version"], capture_output=True, text=True).stdout
    from importlib.metadata import version

    return {
        "python": platform.python_version(),
        "postgresql": row[0] if row else "?",
        "pgbench": pgbench_version.strip(),
        "psycopg": version("psycopg"),
        "powertools": version("aws-lambda-powertools"),
        "pydantic": version("pydantic"),
        "cores": str(os.cpu_count()),
        "memory": mem,
        "cpu": cpu,
        "machine": platform.machine(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": commit.strip(),
        "load_before": " ".join(f"{x:.2f}" for x in load_before),
        "pg_settings": ", ".join(f"{k}={v}" for k, v in sorted(settings.items())),
    }
