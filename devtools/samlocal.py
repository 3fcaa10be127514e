"""`make sam-local`: the real SAM CLI on template.yaml, proven against our own local server.

1. Docker: `docker.io` installed when missing (apt-get), `dockerd` started when none answers
   (and stopped at the end, by its pid, only if started here).
2. The stand-in Lambda image (scripts/sam-standin-image.sh, cached) and `sam build --config-env
   local` (x86_64, LocalRun=true: samconfig.toml's [local] environment).
3. A private embedded PostgreSQL (under .aws-sam/sam-local-db/) listening on the Docker bridge
   (devtools.localdb.enable_tcp), migrated and seeded; an env.json for it.
4. The sample events re-signed (`python -m devtools events`), then every one of them through
   `sam local invoke` on a fresh database, in one fixed order, and the same sequence through
   `python -m devtools invoke` on a fresh database again: status, body and the headers that
   matter must be equal (ids and times that are random by design compared by shape only).
5. `sam local start-api` (LAZY warm containers) on the bridge, base URLs seeded to it so that
   the functions reach each other through the host: the public conformance sample
   (`../shared/conformance/run.sh`), a full simulateRound run (`python -m devtools simulate`,
   which reconciles), then `python -m devtools reconcile`.
6. Per function: cold and warm latency of the same request under `sam local start-api` and
   under our server (`python -m devtools serve`), and each `sam local invoke`'s wall time.

Bounded (SAM_LOCAL_TIMEOUT seconds, default 1140); everything started here is stopped by its pid.
Hand-written orchestration: no tool runs SAM CLI against a reference server and compares.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from . import ROOT

WORK = ROOT / ".aws-sam" / "sam-local-run"
DB_DIR = ROOT / ".aws-sam" / "sam-local-db"
TOOLS_BIN = ROOT / ".venv-tools" / "bin"
VENV_PY = Path(sys.executable)
#: events/ file -> the functions it is the sample of (scheduled and direct events included)
EXTRA_EVENTS = {
    "settlement": ["SettlementFunction"],
    "sweeper": ["RoundSweeperFunction"],
    "retention": ["CasinoRetentionFunction", "ProviderRetentionFunction"],
    "migrate": ["MigrateFunction"],
}
#: the order both runs follow: a round's debit before its credit and its transactions, the
#: provider's round played before it is looked up
ORDER = [
    "getBalance",
    "debit",
    "credit",
    "rollback",
    "debitCredit",
    "transactions",
    "ledgerExport",
    "launchGame",
    "providerLaunch",
    "providerSimulate",
    "providerRounds",
    "providerHealth",
    "providerFreeRounds",
    "providerFreeRoundsCancel",
    "freeRounds",
    "freeRoundsList",
    "freeRoundsCancel",
    "simulateRound",
    "settlement",
    "sweeper",
    "retention",
    "migrate",
]
#: response headers compared (the rest - dates, request ids, lengths - are per request)
HEADERS = ("content-type", "x-content-type-options", "cache-control", "allow", "retry-after", "location")
#: values random or time-dependent by design, compared by shape
UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}")  # or its hex (round ids)
ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")
VOLATILE_KEYS = {"sessionToken", "launchUrl", "url", "providerSessionId", "requestId", "correlationId", "token"}


#: events not run under SAM, and why: each is still run by the tests
NOT_UNDER_SAM = {
    # publishes to the object-locked S3 bucket, which exists only in a deployed stack (under sam
    # local the bucket's name is its logical id); its local form, the file `python -m devtools
    # anchor` writes, is tested in tests/integration/test_ledger_chain.py
    "anchor": "publishes to the stack's object-locked bucket, which only a deployed stack has",
}
#: events that need others before them (run on the same copy first, not compared)
PREREQUISITES = {
    "credit": ["debit"],
    "transactions": ["debit", "credit"],
    "providerFreeRoundsCancel": ["providerFreeRounds"],
}
#: events whose function calls another over HTTP (through a running API): one database, in order
THROUGH_THE_API = ("launchGame", "providerSimulate", "providerRounds", "simulateRound")
SEED_COPY = "sl_seeded"
#: SAM processes at once in the invoke step and first requests at once to start-api
PARALLEL = max(1, int(os.environ.get("SAM_LOCAL_PARALLEL", "1")))


class Failed(Exception):
    pass


class Run:
    def __init__(self, timeout: float) -> None:
        self.deadline = time.monotonic() + timeout
        self.started: list[tuple[str, subprocess.Popen]] = []  # stopped in reverse, by pid

    def left(self) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise Failed("out of time (SAM_LOCAL_TIMEOUT)")
        return remaining

    def sh(
        self, args: list[str], *, env: dict[str, str] | None = None, capture: bool = False, check: bool = True
    ) -> subprocess.CompletedProcess:
        """Run a command to its end (within the time left); tracked meanwhile, so that an
        interrupted run stops it too (some run in worker threads)."""
        pipe = subprocess.PIPE if capture else None
        proc = subprocess.Popen(args, cwd=ROOT, env=env, text=True, stdout=pipe, stderr=pipe, start_new_session=True)  # noqa: S603
        self.started.append((args[0] if len(args) < 4 else " ".join(args[:4]), proc))
        try:
            out, err = proc.communicate(timeout=self.left())
        except subprocess.TimeoutExpired:
            raise Failed(f"{' '.join(args[:4])} ... did not finish in time (SAM_LOCAL_TIMEOUT)") from None
        finally:
            if proc.poll() is None:
                self.stop(proc)
            else:
                self.started = [(n, p) for n, p in self.started if p is not proc]
        done = subprocess.CompletedProcess(args, proc.returncode, out, err)
        if check and done.returncode != 0:
            detail = (done.stderr or "")[-3000:] if capture else ""
            raise Failed(f"{' '.join(args[:4])} ... exited {done.returncode}\n{detail}")
        return done

    def start(self, name: str, args: list[str], *, env: dict[str, str] | None = None, log: Path) -> subprocess.Popen:
        out = log.open("w")
        # its own session, so that stopping it stops its children (SAM's) too
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)  # noqa: S603
        self.started.append((name, proc))
        return proc

    def stop(self, proc: subprocess.Popen) -> None:
        """Stop one process this run started (and its children)."""
        name = next((n for n, p in self.started if p is proc), str(proc.args))
        self.started = [(n, p) for n, p in self.started if p is not proc]
        self._terminate(name, proc)

    def stop_all(self) -> None:
        while self.started:
            self._terminate(*self.started.pop())

    @staticmethod
    def _terminate(name: str, proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # its own session: it and its children
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        print(f"stopped {name} (pid {proc.pid})", flush=True)


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


# ------------------------------------------------------------------ docker


def docker_answers() -> bool:
    docker = shutil.which("docker")
    return docker is not None and subprocess.run([docker, "info"], capture_output=True, timeout=30, check=False).returncode == 0  # noqa: S603


def ensure_docker(run: Run) -> None:
    if docker_answers():
        print("a Docker engine answers: using it")
        return
    if shutil.which("dockerd") is None:
        print("installing docker.io (apt-get)")
        run.sh(["apt-get", "update", "-q"])
        run.sh(["apt-get", "install", "-y", "-q", "docker.io"], env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    proc = run.start("dockerd", ["dockerd"], log=WORK / "dockerd.log")
    until = time.monotonic() + 60
    while not docker_answers():
        if proc.poll() is not None or time.monotonic() > until:
            raise Failed(f"dockerd did not start: see {WORK / 'dockerd.log'}")
        time.sleep(0.5)
    print(f"started dockerd (pid {proc.pid}); it is stopped at the end")


# ------------------------------------------------------------------ helpers


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_listening(run: Run, proc: subprocess.Popen, host: str, port: int, log: Path, limit: float = 180) -> float:
    started = time.monotonic()
    while True:
        try:
            with socket.create_connection((host, port), timeout=1):
                return time.monotonic() - started
        except OSError:
            pass
        if proc.poll() is not None:
            raise Failed(f"{proc.args!r} exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        if time.monotonic() - started > min(limit, run.left()):
            raise Failed(f"nothing listens on {host}:{port}:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def normalized(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: normalized(v, k) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [normalized(v) for v in value]
    if isinstance(value, str):
        if key in VOLATILE_KEYS:
            return "<volatile>"
        return ISO_TIME.sub("<time>", UUID.sub("<uuid>", value))
    return value


def comparable(result: Any) -> dict[str, Any]:
    """What must be equal in a function's answer: API responses by status, chosen headers and
    body; any other result as a whole."""
    if isinstance(result, dict) and "statusCode" in result:
        headers = {k.lower(): v for k, v in (result.get("headers") or {}).items() if k.lower() in HEADERS}
        body = result.get("body") or ""
        try:
            parsed: Any = json.loads(body)
        except ValueError:
            parsed = body
        return {"status": result["statusCode"], "headers": headers, "body": normalized(parsed)}
    return {"result": normalized(result)}


def last_json(text: str) -> Any:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith(("{", "[")):
            return json.loads(line)
    raise Failed(f"no JSON answer in:\n{text[-2000:]}")


def event_function(name: str) -> str:
    from .events import API_EVENTS

    return API_EVENTS[name][0]


def event_plan() -> list[tuple[str, str]]:
    from .events import API_EVENTS

    files = sorted(p.stem for p in (ROOT / "events").glob("*.json") if p.stem not in NOT_UNDER_SAM)
    mapping = {name: [spec[0]] for name, spec in API_EVENTS.items()} | EXTRA_EVENTS
    missing = [f for f in files if f not in mapping or f not in ORDER]
    if missing:
        raise Failed(f"events without a function or a place in the order: {missing}")
    return [(name, fn) for name in ORDER if name in files for fn in mapping[name]]


def fresh_event(name: str) -> Path:
    """events/<name>.json with its signature made again for now (§2's time window), in the run's
    folder: the file SAM is given."""
    from .events import resign

    path = WORK / "events" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(resign(json.loads((ROOT / "events" / f"{name}.json").read_text())), indent=2))
    return path


def http_request(event: dict[str, Any], base: str) -> tuple[urllib.request.Request, str]:
    from .events import resign

    event = resign(event)  # a fresh `t` for each request (§2)
    query = event.get("queryStringParameters") or {}
    url = base + event["path"] + ("?" + urllib.parse.urlencode(query) if query else "")
    body = (event.get("body") or "").encode()
    headers = {k: v for k, v in (event.get("headers") or {}).items() if k.lower() not in ("host", "content-length")}
    return urllib.request.Request(
        url, data=body if event["httpMethod"] != "GET" else None, headers=headers, method=event["httpMethod"]
    ), url


def timed(event: dict[str, Any], base: str, timeout: float) -> tuple[int, float]:
    request, _ = http_request(event, base)
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - our own local URL
            response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        exc.read()
        status = exc.code
    return status, (time.perf_counter() - started) * 1000


def latencies(run: Run, base: str, plan: list[tuple[str, str]], warm_runs: int = 3) -> dict[str, tuple[int, float, float]]:
    """function -> (status of the first call, cold ms, median warm ms) of its sample request,
    first calls one function after another (SAM_LOCAL_PARALLEL at once), then the warm ones."""
    # callees first: a first call that waits for another function's cold start (an image build
    # under SAM) could pass its own 30 s timeout
    plan = sorted(plan, key=lambda nf: nf[0] in ("launchGame", "simulateRound"))
    events = {fn: json.loads((ROOT / "events" / f"{name}.json").read_text()) for name, fn in plan}
    events = {fn: e for fn, e in events.items() if "httpMethod" in e}
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        cold = dict(zip(events, pool.map(lambda e: timed(e, base, min(600, run.left())), events.values()), strict=True))
    out = {}
    for fn, event in events.items():
        warm = [timed(event, base, min(60, run.left()))[1] for _ in range(warm_runs)]
        out[fn] = (cold[fn][0], cold[fn][1], statistics.median(warm))
    return out


# ------------------------------------------------------------------ the run


def main() -> int:  # noqa: C901, PLR0915 - one linear script, read top to bottom
    run = Run(float(os.environ.get("SAM_LOCAL_TIMEOUT", "1140")))
    # a private embedded server, apart from `make run`'s and the tests' (set before localdb is imported)
    os.environ["LOCALDB_DIR"] = str(DB_DIR)
    from .localdb import _exit_normally_on_signals

    _exit_normally_on_signals()  # SIGTERM/SIGHUP unwind like Ctrl-C: what was started is stopped
    t0 = time.monotonic()
    WORK.mkdir(parents=True, exist_ok=True)
    os.environ.pop("DATABASE_URL", None)
    shared = Path(os.environ.get("SHARED_DIR") or ROOT.parent / "shared")
    tools_env = {
        **os.environ,
        "SAM_CLI_TELEMETRY": "0",
        # no AWS account here: placeholder credentials, so that neither SAM nor the functions
        # look for real ones (the instance metadata endpoint can hang for minutes)
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "PATH": os.pathsep.join([str(TOOLS_BIN), str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    # sam build needs the runtime's Python (3.12) on PATH, as scripts/sam-check.sh finds it
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    found = [shutil.which("python3.12"), *map(str, sorted(pyenv.glob("versions/3.12*/bin/python3.12")))]
    py312 = next((c for c in found if c), "")
    if py312:
        tools_env["PATH"] = str(Path(py312).parent) + os.pathsep + tools_env["PATH"]
    table: dict[str, dict[str, Any]] = {}
    equal = 0
    try:
        step("Docker")
        ensure_docker(run)
        step("stand-in Lambda image (packages only; cached)")
        run.sh(["scripts/sam-standin-image.sh"], env=tools_env)
        step("sam build --config-env local (x86_64)")
        t = time.monotonic()
        run.sh(["sam", "build", "--config-env", "local"], env=tools_env, capture=True)
        print(f"built in {time.monotonic() - t:.0f} s")

        step("private embedded PostgreSQL on the Docker bridge")
        from seamless.runtime.settings import reload_settings

        from . import admin
        from .__main__ import DEV_ENV
        from .fixtures import DEV_SECRETS
        from .localdb import app_database_url, docker_bridge, enable_tcp, set_admin_password, with_dbname

        for k, v in DEV_ENV.items():
            os.environ.setdefault(k, v)
        url = app_database_url()
        os.environ["DATABASE_URL"] = url
        reload_settings()
        admin.migrate(url)
        bridge = docker_bridge()
        if bridge is None:
            raise Failed("no Docker bridge (docker0)")
        host = str(bridge.ip)
        admin_password = set_admin_password(url)
        db_hostport = enable_tcp(host, admin=True, databases="all")  # this run's copies of the database too
        dev_env = {k: v for k, v in os.environ.items() if k in DEV_SECRETS}

        def write_env_json(file: str, database: str) -> Path:
            from .samenv import env_json_document

            doc = env_json_document(f"postgresql://{db_hostport}/{database}?sslmode=disable", secrets=dev_env)
            admin_url = f"postgresql://postgres:{admin_password}@{db_hostport}/{database}?sslmode=disable"
            doc["MigrateFunction"] = {"DATABASE_URL": admin_url}
            (WORK / file).write_text(json.dumps(doc, indent=2))
            return WORK / file

        def clone(name: str) -> str:
            with psycopg.connect(with_dbname(url, "postgres"), autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
                conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(SEED_COPY)))
            return name

        def fresh_database(api: str) -> None:
            os.environ["PROVIDER_BASE_URL"] = os.environ["CASINO_BASE_URL"] = api
            admin.reset(url, local_ok=True)

        step("sample events re-signed (python -m devtools events)")
        run.sh([str(VENV_PY), "-m", "devtools", "events"], env={**os.environ}, capture=True)
        plan = event_plan()
        print(f"{len(plan)} invocations of {len({n for n, _ in plan})} sample events")

        admin.seed(url, quiet=True)
        with psycopg.connect(with_dbname(url, "postgres"), autocommit=True) as conn:  # nobody uses `casino` yet
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(SEED_COPY)))
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE casino").format(sql.Identifier(SEED_COPY)))

        # our server, on the bridge too: the functions' calls to each other go through it in the
        # invoke runs (launchGame calls the provider), and its latencies are measured on it
        ours_port = free_port(host)
        ours_base = f"http://{host}:{ours_port}"
        fresh_database(ours_base)
        ours_log = WORK / "devserver.log"
        ours = run.start(
            "our local API",
            [str(VENV_PY), "-m", "devtools", "serve", "--host", host, "--port", str(ours_port)],
            env={**os.environ},
            log=ours_log,
        )
        wait_listening(run, ours, host, ours_port, ours_log)

        isolated = [(n, f) for n, f in plan if n not in THROUGH_THE_API]
        chained = [(n, f) for n, f in plan if n in THROUGH_THE_API]

        def sam_invoke(name: str, fn: str, env_file: Path) -> tuple[Any, float]:
            for attempt in (1, 2):
                t = time.monotonic()
                # signed afresh for each attempt: a signature holds SIGNATURE_TOLERANCE_SECONDS
                # (§2), and a run reaches its last events many minutes after `make events`
                event_file = fresh_event(name)
                done = run.sh(
                    [
                        *("sam", "local", "invoke", fn, "--config-env", "local", "--event", str(event_file)),
                        *("--env-vars", str(env_file), "--skip-pull-image"),
                    ],
                    env=tools_env,
                    capture=True,
                    check=False,
                )
                if done.returncode != 0:
                    raise Failed(f"sam local invoke {fn} exited {done.returncode}:\n{done.stderr[-3000:]}")
                try:
                    return last_json(done.stdout), time.monotonic() - t
                except Failed:
                    # no answer: the function ran past its timeout (a loaded machine). A retry
                    # is what Lambda's callers do; the callbacks are idempotent by contract.
                    if attempt == 2:
                        raise Failed(f"sam local invoke {fn}: no answer twice\n{done.stderr[-3000:]}") from None
                    print(f"  {fn}: no answer (timed out?), once more", flush=True)
            raise AssertionError("unreachable")

        def ours_invoke(name: str, fn: str, database: str) -> Any:
            env = {**os.environ, "DATABASE_URL": database}
            done = run.sh([str(VENV_PY), "-m", "devtools", "invoke", fn, "--event", f"events/{name}.json"], env=env, capture=True)
            return json.loads(done.stdout)

        def compare(name: str, fn: str, sam_answer: Any, ours_answer: Any, wall: float | None = None) -> None:
            nonlocal equal
            a, b = comparable(sam_answer), comparable(ours_answer)
            equal += a == b
            took = f" sam local invoke {wall:.1f} s" if wall else ""
            print(f"  {fn:26} {name:17} {'equal' if a == b else 'DIFFERENT'} ({a.get('status', 'result')}){took}", flush=True)
            if a != b:
                mismatches.append(f"{fn} ({name}):\n  sam:  {json.dumps(a)[:1500]}\n  ours: {json.dumps(b)[:1500]}")

        mismatches: list[str] = []
        step(f"sam local invoke, {len(isolated)} sample events, each on its own copy of the seeded database")
        # One at a time: started together (SAM_LOCAL_PARALLEL > 1) one process builds the image
        # the others wait for, but some of them then lost their invocation (no answer) here.
        copies = {}
        for name, fn in isolated:
            for side in ("sam", "ours"):
                db = clone(f"sl_{side}_{fn.lower()}")
                for prereq in PREREQUISITES.get(name, []):
                    ours_invoke(prereq, event_function(prereq), with_dbname(url, db))
                copies[(side, fn)] = db
        env_files = {}
        for _, fn in isolated:
            env_files[fn] = write_env_json(f"env-{fn}.json", copies[("sam", fn)])

        def invoke_and_compare(name: str, fn: str) -> None:
            answer, wall = sam_invoke(name, fn, env_files[fn])
            table.setdefault(fn, {})["invoke_s"] = wall
            compare(name, fn, answer, ours_invoke(name, fn, with_dbname(url, copies[("ours", fn)])), wall)

        t = time.monotonic()
        with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
            list(pool.map(lambda nf: invoke_and_compare(*nf), isolated))
        print(f"  {len(isolated)} invocations in {time.monotonic() - t:.0f} s")

        step(f"sam local invoke, then python -m devtools invoke: {len(chained)} events that call another function over HTTP")
        fresh_database(ours_base)
        env_main = write_env_json("env.json", "casino")
        chained_answers = []
        for name, fn in chained:
            answer, wall = sam_invoke(name, fn, env_main)
            table.setdefault(fn, {})["invoke_s"] = wall
            chained_answers.append(answer)
            print(f"  {fn:26} {name:17} {wall:5.1f} s", flush=True)
        fresh_database(ours_base)
        for (name, fn), answer in zip(chained, chained_answers, strict=True):
            compare(name, fn, answer, ours_invoke(name, fn, url))
        if mismatches:
            raise Failed("sam local invoke and python -m devtools invoke differ:\n" + "\n".join(mismatches))

        step("our server: cold and warm latency of each function's sample request")
        fresh_database(ours_base)
        for fn, (status, cold, warm) in latencies(run, ours_base, plan).items():
            table.setdefault(fn, {}).update(ours=(status, cold, warm))

        step(f"public conformance sample against our server ({ours_base}), the yardstick for SAM's run")
        conformance = shared / "conformance" / "run.sh"
        if not conformance.is_file():
            raise Failed(f"the public conformance sample is not at {conformance} (SHARED_DIR)")
        venv_path = {"PATH": str(VENV_PY.parent) + os.pathsep + os.environ.get("PATH", "")}
        fresh_database(ours_base)
        ours_failed = conformance_failures(run, conformance, ours_base, {**os.environ, **venv_path}, "ours")
        run.stop(ours)

        step("sam local start-api (LAZY warm containers), base URLs seeded to it")
        api_port = free_port(host)
        api = f"http://{host}:{api_port}"
        fresh_database(api)
        env_main = write_env_json("env.json", "casino")
        sam_log = WORK / "start-api.log"
        started = time.monotonic()
        sam_api = run.start(
            "sam local start-api",
            [
                "sam",
                "local",
                "start-api",
                "--config-env",
                "local",
                "--host",
                host,
                "--port",
                str(api_port),
                "--env-vars",
                str(env_main),
                "--skip-pull-image",
            ],
            env=tools_env,
            log=sam_log,
        )
        listening = wait_listening(run, sam_api, host, api_port, sam_log)
        print(f"listening after {listening:.1f} s ({time.monotonic() - started:.1f} s since start)")
        for fn, (status, cold, warm) in latencies(run, api, plan).items():
            table.setdefault(fn, {}).update(sam=(status, cold, warm))
        # every function's container warm and answering before the conformance sample (a
        # first call that timed out on a cold callee is tried again)
        for name, _ in sorted(plan, key=lambda nf: nf[0] in ("launchGame", "simulateRound")):
            event = json.loads((ROOT / "events" / f"{name}.json").read_text())
            if "httpMethod" in event:
                for _ in range(3):
                    if timed(event, api, min(300, run.left()))[0] < 500:
                        break

        step(f"public conformance sample against sam local start-api ({api})")
        fresh_database(api)
        sam_failed = conformance_failures(run, conformance, api, {**os.environ, **venv_path}, "sam")
        # SAM must serve what our server serves: a check failing under SAM only is a failure of
        # this step; one failing on both is the application's (listed, not this step's verdict),
        # and one failing under SAM only for a documented reason of SAM's own emulator is allowed.
        sam_only = sorted(sam_failed - ours_failed - SAM_EMULATOR_DIFFERENCES)
        both = sorted(sam_failed & ours_failed)
        allowed = sorted((sam_failed - ours_failed) & SAM_EMULATOR_DIFFERENCES)
        print(f"conformance: {len(ours_failed)} failed on our server, {len(sam_failed)} under sam local start-api")
        for name in both:
            print(f"  fails on both (the application's, not SAM's): {name}")
        for name in allowed:
            print(f"  fails under SAM only, allowed ({SAM_EMULATOR_DIFFERENCES_WHY}): {name}")
        if sam_only:
            raise Failed(
                "conformance checks that fail under sam local start-api but pass on our server:\n  " + "\n  ".join(sam_only)
            )

        step("simulateRound across functions (casino -> provider -> casino through the host), then reconcile")
        fresh_database(api)
        run.sh([str(VENV_PY), "-m", "devtools", "simulate", "--base-url", api], env={**os.environ})
        run.sh([str(VENV_PY), "-m", "devtools", "reconcile"], env={**os.environ})
    except Failed as exc:
        print(f"\nmake sam-local FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        step("stopping what this run started")
        run.stop_all()
        print_table(table, equal, time.monotonic() - t0)
    return 0


#: conformance checks whose difference comes from `sam local start-api`'s own emulation of API
#: Gateway, not from the functions: SAM's local gateway decodes a non-base64 body as UTF-8
#: before it builds the event, and answers a body that is not UTF-8 with its own 502.
SAM_EMULATOR_DIFFERENCES = frozenset({"test_debit_rejects_non_json_object_body[bad-utf8]"})
SAM_EMULATOR_DIFFERENCES_WHY = "SAM's local gateway cannot pass a body that is not UTF-8"


def conformance_failures(run: Any, script: Path, base: str, env: dict[str, str], tag: str) -> set[str]:
    """Runs the public conformance sample against base and returns the names of the checks that
    failed or errored (from its JUnit report); its own output is shown as it runs."""
    report = WORK / f"conformance-{tag}.xml"
    report.unlink(missing_ok=True)
    run.sh(["bash", str(script), base, f"--junitxml={report}"], env=env, check=False)
    if not report.is_file():
        raise Failed(f"the conformance sample wrote no report against {base}")
    import xml.etree.ElementTree as ET  # noqa: S405 - our own pytest's report

    failed = set()
    for case in ET.parse(report).getroot().iter("testcase"):  # noqa: S314
        if case.find("failure") is not None or case.find("error") is not None:
            failed.add(case.get("name", "?"))
    return failed


def print_table(table: dict[str, dict[str, Any]], equal: int, elapsed: float) -> None:
    if not table:
        return
    print("\n| Function | `sam local invoke` (s) | start-api cold (ms) | start-api warm (ms) ", end="")
    print("| our server cold (ms) | our server warm (ms) | status (sam/ours) |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for fn, row in table.items():
        sam = row.get("sam")
        ours = row.get("ours")
        invoke = f"{row['invoke_s']:.1f}" if "invoke_s" in row else "-"
        print(
            f"| {fn} | {invoke} | {sam[1]:.0f} | {sam[2]:.0f} | {ours[1]:.0f} | {ours[2]:.0f} | {sam[0]}/{ours[0]} |"
            if sam and ours
            else f"| {fn} | {invoke} | - | - | {ours[1]:.0f} | {ours[2]:.0f} | -/{ours[0]} |"
            if ours
            else f"| {fn} | {invoke} | - | - | - | - | - |"
        )
    print(f"\n{equal} sample-event answers equal under sam local invoke and python -m devtools invoke; {elapsed:.0f} s in all")


if __name__ == "__main__":
    sys.exit(main())
