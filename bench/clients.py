"""Client worker processes: each one imports the real Lambda handlers once (a warm
container) and, per job, sends debit callbacks - or whole rounds - until a deadline, as real
signed API Gateway REST proxy events to the handler in-process, or over HTTP to the local API.

One process per client so Python's GIL does not make the load generator the bottleneck.
Statements are counted at the driver (every psycopg Cursor.execute/executemany) during the
run; a separate calibration job counts real protocol round trips with libpq's trace.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from devtools.fixtures import CASINO_SECRET, PROVIDER_SECRET

ROOT = Path(__file__).resolve().parent.parent
SECRET = CASINO_SECRET
AMOUNT = 1
# The handlers' environment as deployed (template.yaml Globals: INFO logs, EMF metrics),
# except X-Ray: no daemon here. Their stdout (logs, EMF lines) goes to /dev/null.
HANDLER_ENV = {
    "CASINO_SECRET": SECRET,
    "PROVIDER_SECRET": PROVIDER_SECRET,
    "POWERTOOLS_SERVICE_NAME": "casino-wallet",
    "POWERTOOLS_METRICS_NAMESPACE": "CasinoWallet",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "POWERTOOLS_TRACE_DISABLED": "true",
}


def token(i: int) -> str:
    return f"bench-token-{i:04d}"


class Pool:
    """`size` worker processes, started once; jobs are dispatched to the first n of them."""

    def __init__(self, size: int, url: str, wallets: int) -> None:
        ctx = mp.get_context("spawn")
        self.results: Any = ctx.Queue()
        self.jobs = [ctx.Queue() for _ in range(size)]
        self.procs = [
            ctx.Process(target=worker_main, args=(i, url, wallets, self.jobs[i], self.results), daemon=True) for i in range(size)
        ]
        for p in self.procs:
            p.start()
        self.ready: list[dict[str, Any]] | None = None

    def wait_ready(self, timeout: float = 120) -> list[dict[str, Any]]:
        if self.ready is None:
            self.ready = sorted((self._get(timeout) for _ in self.procs), key=lambda r: r["index"])
        return self.ready

    def pids(self, n: int) -> list[int]:
        return [p.pid for p in self.procs[:n] if p.pid is not None]

    def dispatch(self, n: int, job: dict[str, Any], wallet_of) -> None:
        for i in range(n):
            self.jobs[i].put(dict(job, wallet=wallet_of(i)))

    def collect(self, n: int, timeout: float) -> list[dict[str, Any]]:
        return [self._get(timeout) for _ in range(n)]

    def _get(self, timeout: float) -> dict[str, Any]:
        result = self.results.get(timeout=timeout)
        if "error" in result:
            raise RuntimeError(f"bench worker {result.get('index')} failed:\n{result['error']}")
        return result

    def close(self) -> None:
        for q in self.jobs:
            q.put(None)
        for p in self.procs:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)


def worker_main(index: int, url: str, wallets: int, jobs: Any, results: Any) -> None:
    try:
        worker = Worker(index, url, wallets)
        results.put({"index": index, "pid": os.getpid(), **worker.startup})
        while True:
            job = jobs.get()
            if job is None:
                break
            results.put(worker.run(job))
    except BaseException:  # report it rather than leave the parent waiting
        import traceback

        results.put({"index": index, "error": traceback.format_exc()})


class Worker:
    def __init__(self, index: int, url: str, wallets: int) -> None:
        self.index = index
        self.http: Any = None
        self.base = ""  # the local API's URL during an HTTP job
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)  # the handlers' JSON logs and EMF metrics
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        for key in [k for k in os.environ if k.startswith("POWERTOOLS_")]:
            del os.environ[key]  # e.g. the test suite's; the handlers get HANDLER_ENV only
        os.environ.update(HANDLER_ENV, DATABASE_URL=url)
        for path in (str(ROOT / "layers" / "common"), str(ROOT)):
            if path not in sys.path:
                sys.path.insert(0, path)
        started = time.perf_counter()
        import psycopg
        from seamless.contract.signing import sign
        from seamless.runtime import db as wallet_db
        from seamless.runtime.settings import CASINO_ROLE, reload_settings

        from devtools.lambda_local import LambdaContext, api_event
        from devtools.template import Template

        reload_settings()
        self.statements = 0
        for name in ("execute", "executemany"):  # Connection.execute goes through Cursor.execute
            original = getattr(psycopg.Cursor, name)

            def counting(cur: Any, *a: Any, _original: Any = original, **k: Any) -> Any:
                self.statements += 1
                return _original(cur, *a, **k)

            setattr(psycopg.Cursor, name, counting)
        functions = Template().functions
        self.handlers = {
            name: functions[fn].load()
            for name, fn in (("debit", "DebitFunction"), ("credit", "CreditFunction"), ("rollback", "RollbackFunction"))
        }
        self.handlers["floor"] = floor_handler(wallet_db, CASINO_ROLE)
        self.handlers["floor-ledger"] = floor_handler(wallet_db, CASINO_ROLE, ledger_call=True)
        self.wallet_db, self.role = wallet_db, CASINO_ROLE
        self.sign, self.api_event, self.LambdaContext = sign, api_event, LambdaContext
        imported = time.perf_counter()
        # The first invocation of a fresh container: settings, the connection, the first statement.
        status = self.call(
            "debit",
            {
                "sessionToken": token(index % wallets),
                "transactionId": f"first-{index}-{os.getpid()}",
                "roundId": f"first-{index}-{os.getpid()}",
                "amount": AMOUNT,
                "currency": "USD",
            },
        )[0]
        self.startup = {
            "import_ms": (imported - started) * 1000,
            "first_call_ms": (time.perf_counter() - imported) * 1000,
            "first_status": status,
        }

    # ------------------------------------------------------------ one callback

    def call(self, endpoint: str, payload: dict[str, Any]) -> tuple[int, dict[str, str], str]:
        body = json.dumps(payload, separators=(",", ":")).encode()
        signature = self.sign(SECRET, body, f"/casino/{endpoint}")  # §2: t, method, path, body
        headers = [("Content-Type", "application/json"), ("X-Casino-Signature", signature)]
        if self.base:
            return self._http_call(endpoint, body, headers)
        event = self.api_event("POST", f"/casino/{endpoint}", f"/casino/{endpoint}", headers, body)
        result = self.handlers[endpoint](event, self.LambdaContext(endpoint, 30, 512))
        return result["statusCode"], result.get("headers") or {}, result.get("body") or ""

    def _http_call(self, endpoint: str, body: bytes, headers: list[tuple[str, str]]) -> tuple[int, dict[str, str], str]:
        import http.client

        for attempt in (1, 2):
            try:
                if self.http is None:
                    host, port = self.base.split("//")[1].split(":")
                    self.http = http.client.HTTPConnection(host, int(port), timeout=30)
                self.http.request("POST", f"/casino/{endpoint}", body, dict(headers))
                resp = self.http.getresponse()
                text = resp.read().decode()
                return resp.status, {k: v for k, v in resp.getheaders()}, text
            except (OSError, http.client.HTTPException):
                self.http = None
                if attempt == 2:
                    return -1, {}, ""
        return -1, {}, ""

    # ------------------------------------------------------------ one operation

    def debit_op(self, tok: str, txid: str, endpoint: str = "debit") -> tuple[int, int]:
        """(callbacks sent, unexpected answers)."""
        status = self.call(
            endpoint, {"sessionToken": tok, "transactionId": txid, "roundId": f"r{txid}", "amount": AMOUNT, "currency": "USD"}
        )[0]
        return 1, int(status != 200)

    def round_op(self, tok: str, txid: str, seq: int) -> tuple[int, int]:
        """A round: debit; every 10th debit sent again (must replay the stored answer byte for byte);
        then a credit closing the round, or - every 7th round - a rollback of the bet instead."""
        round_id = f"r{txid}"
        debit = {"sessionToken": tok, "transactionId": txid, "roundId": round_id, "amount": AMOUNT, "currency": "USD"}
        status, _, body = self.call("debit", debit)
        calls, bad = 1, int(status != 200)
        if seq % 10 == 0:
            again, headers, body2 = self.call("debit", debit)
            calls += 1
            replayed = {k.lower(): v for k, v in headers.items()}.get("idempotent-replayed") == "true"
            bad += int(again != 200 or not replayed or body2 != body)
        if seq % 7 == 0:
            status = self.call(
                "rollback", {"sessionToken": tok, "transactionId": f"rb{txid}", "betTransactionId": txid, "roundId": round_id}
            )[0]
        else:
            status = self.call(
                "credit",
                {
                    "sessionToken": tok,
                    "transactionId": f"w{txid}",
                    "roundId": round_id,
                    "amount": AMOUNT,
                    "currency": "USD",
                    "betTransactionId": txid,
                    "roundClosed": True,
                },
            )[0]
        return calls + 1, bad + int(status != 200)

    # ------------------------------------------------------------ a job

    def run(self, job: dict[str, Any]) -> dict[str, Any]:
        if job["kind"] == "calibrate":
            return self.calibrate(job)
        self.base = job.get("base") or ""
        tok = token(job["wallet"])
        warm_until, deadline = job["warm_until"], job["deadline"]
        endpoint = job["kind"] if job["kind"] in ("floor", "floor-ledger") else "debit"

        def op(t: str, x: str, s: int) -> tuple[int, int]:
            return self.round_op(t, x, s) if job["kind"] == "mixed" else self.debit_op(t, x, endpoint)

        latencies: list[float] = []
        ops = calls = statements = unexpected = seq = 0
        retries_before = self.wallet_db.retried_conflicts
        _sleep_until(job["start"])
        while time.monotonic() < deadline:
            seq += 1
            before = self.statements
            t0 = time.perf_counter()
            n_calls, bad = op(tok, f"{job['run']}-{self.index}-{seq}", seq)
            elapsed = time.perf_counter() - t0
            unexpected += bad
            if warm_until <= time.monotonic() < deadline:  # completed in the window
                ops += 1
                calls += n_calls
                latencies.append(elapsed * 1000)
                statements += self.statements - before
        self.base = ""
        return {
            "index": self.index,
            "ops": ops,
            "calls": calls,
            "statements": statements,
            "latencies": latencies,
            "unexpected": unexpected,
            "deadlock_retries": self.wallet_db.retried_conflicts - retries_before,
        }

    def calibrate(self, job: dict[str, Any]) -> dict[str, Any]:
        """Protocol round trips per operation, from libpq's trace of the handler's own connection:
        every round trip ends with the server's ReadyForQuery message."""
        from psycopg import pq

        tok = token(job["wallet"])
        conn = self.wallet_db.connection(self.role)
        with tempfile.TemporaryFile("w+") as trace:
            conn.pgconn.trace(trace.fileno())
            conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
            try:
                ops = job["ops"]
                for seq in range(1, ops + 1):
                    txid = f"{job['run']}-{self.index}-{seq}"
                    if job["of"] == "mixed":
                        self.round_op(tok, txid, seq)
                    else:
                        self.debit_op(tok, txid)
            finally:
                conn.pgconn.untrace()
            trace.seek(0)
            text = trace.read()
        return {
            "index": self.index,
            "ops": ops,
            "round_trips": len(re.findall(r"^B\t\d+\tReadyForQuery", text, re.M)),
            "queries": len(re.findall(r"^F\t\d+\t(?:Query|Parse)\b", text, re.M)),
        }


def floor_handler(wallet_db: Any, role: str, *, ledger_call: bool = False) -> Any:
    """The floor: the work no debit handler can skip, and nothing else - read the body from the
    API Gateway event, verify its HMAC, parse it with the same pydantic model, one `SELECT 1`
    round trip on the same kind of connection (autocommit, no prepared statements), a response.
    No logging, no metrics, no ledger. The debit handler's CPU per call is reported as a ratio
    to this one's, same run, same client work around it.

    ledger_call: the same floor with the ledger's own debit statement (seamless.casino.ledger)
    instead of `SELECT 1`. Waiting for a statement that runs a millisecond or two costs the
    waiting process CPU of its own (the wake-up), so this one separates what the handler's
    Python adds from what its statement's duration does."""
    import uuid

    from seamless.casino import ledger
    from seamless.contract import signing
    from seamless.contract.models import DebitRequest

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        body = event["body"].encode()
        headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
        if not signing.verify(SECRET, body, headers.get(signing.CASINO_SIGNATURE_HEADER.lower()), event["path"]):
            return {"statusCode": 401, "body": ""}
        req = DebitRequest.model_validate_json(body)
        if ledger_call:
            outcome = ledger.debit(wallet_db.connection(role), req, uuid.uuid4())
            return {"statusCode": outcome.status, "headers": {"Content-Type": "application/json"}, "body": outcome.body}
        row = wallet_db.connection(role).execute("SELECT 1").fetchone()
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": f"{req.transaction_id}{row[0]}"}

    return handler


def _sleep_until(t: float) -> None:
    delay = t - time.monotonic()
    if delay > 0:
        time.sleep(delay)
