"""What a run cost and what it waited on: CPU time per process group (from /proc) and
PostgreSQL wait events (sampled from pg_stat_activity) over a figure's measured window.

These are the evidence for "what limits it": on a 2-core machine the load generator, the
Python handler and PostgreSQL share the same cores, so CPU milliseconds per operation say
where the time goes, and the wait events say whether backends queue on a lock.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

TICK = os.sysconf("SC_CLK_TCK")
# PostgreSQL's shared background processes that do work for our transactions (WAL flushes,
# dirty buffers); shared with any other database on the server.
PG_BACKGROUND = ("walwriter", "checkpointer", "background writer")


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def machine_cpu() -> tuple[float, float]:
    """(busy, total) seconds of all cores since boot, from /proc/stat."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return 0.0, 0.0
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])  # guest time is already inside user
    return (total - idle) / TICK, total / TICK


@dataclass
class Usage:
    """CPU seconds spent in a window, per group, and the wait-event samples taken in it."""

    seconds: float = 0.0
    client: float = 0.0  # load generator: pgbench, or the worker processes (client + in-process handler)
    app: float = 0.0  # a separate application server (the local API), if any
    pg: float = 0.0  # our database's backends + the server's WAL writer / checkpointer / bgwriter
    machine_busy: float = 0.0
    machine_total: float = 0.0
    waits: Counter = field(default_factory=Counter)
    wal_bytes: float = 0.0  # server-wide WAL written in the window
    checkpoints: int = 0  # checkpoints started in the window (full-page images follow one)
    pg_by_process: Counter = field(default_factory=Counter)  # PG CPU seconds by process kind

    def per_op_ms(self, ops: int) -> dict[str, float | None]:
        if not ops:
            return {"client": None, "app": None, "pg": None}
        return {
            "client": self.client * 1000 / ops,
            "app": (self.app * 1000 / ops) if self.app else None,
            "pg": self.pg * 1000 / ops,
        }

    @property
    def busy_pct(self) -> float | None:
        return 100 * self.machine_busy / self.machine_total if self.machine_total else None

    @property
    def other_pct(self) -> float | None:
        """Share of the machine's CPU spent outside this figure's processes (other users, the harness)."""
        if not self.machine_total:
            return None
        return max(0.0, 100 * (self.machine_busy - self.client - self.app - self.pg) / self.machine_total)

    def top_waits(self, n: int = 3) -> str:
        total = sum(self.waits.values())
        if not total:
            return ""
        return ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in self.waits.most_common(n))

    def as_dict(self) -> dict[str, Any]:
        return {
            "seconds": self.seconds,
            "client": self.client,
            "app": self.app,
            "pg": self.pg,
            "machine_busy": self.machine_busy,
            "machine_total": self.machine_total,
            "waits": dict(self.waits),
            "wal_bytes": self.wal_bytes,
            "checkpoints": self.checkpoints,
            "pg_by_process": dict(self.pg_by_process),
        }

    def pg_breakdown(self, n: int = 3) -> str:
        """PostgreSQL processes other than the figure's own sessions that used over 10% of its PG CPU."""
        if not self.pg:
            return ""
        return ", ".join(
            f"{k} {100 * v / self.pg:.0f}%"
            for k, v in self.pg_by_process.most_common(n)
            if not k.startswith("client") and v / self.pg > 0.1
        )


class Probe:
    """One admin connection to the figure's database, for sampling pg_stat_activity."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn = psycopg.connect(url, autocommit=True)
        self.dbname = self.conn.info.dbname

    def close(self) -> None:
        self.conn.close()

    def pg_pids(self) -> dict[int, str]:
        """pid -> kind (backend type) of our database's backends and the shared background writers."""
        rows = self.conn.execute(
            "SELECT pid, backend_type FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
            "AND (datname = current_database() OR backend_type = ANY(%s))",
            (list(PG_BACKGROUND),),
        ).fetchall()
        return {r[0]: r[1] for r in rows}

    def wal_and_checkpoints(self) -> tuple[str, int]:
        lsn = self.conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
        try:
            row = self.conn.execute("SELECT num_timed + num_requested FROM pg_stat_checkpointer").fetchone()  # 17+
        except psycopg.Error:
            row = self.conn.execute("SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter").fetchone()
        return (lsn[0] if lsn else "0/0"), int(row[0]) if row else 0

    def sample_waits(self) -> list[str]:
        """Wait event of every active client backend of this database ('CPU' when it waits on nothing)."""
        rows = self.conn.execute(
            "SELECT COALESCE(wait_event_type || ':' || wait_event, 'CPU') FROM pg_stat_activity "
            "WHERE datname = current_database() AND state = 'active' AND backend_type = 'client backend' "
            "AND pid <> pg_backend_pid()"
        ).fetchall()
        return [r[0] for r in rows]

    def observe(
        self,
        warm_until: float,
        deadline: float,
        client_pids: list[int],
        app_pids: list[int] | None = None,
        interval: float = 0.04,
    ) -> Usage:
        """Sleeps until warm_until (time.monotonic()), then measures until deadline."""
        _sleep_until(warm_until)
        app_pids = app_pids or []
        pg_pids = self.pg_pids()

        def snap() -> tuple[float, float, float, dict[int, float], float, float]:
            busy, total = machine_cpu()
            return (
                time.monotonic(),
                sum(map(proc_cpu_seconds, client_pids)),
                sum(map(proc_cpu_seconds, app_pids)),
                {pid: proc_cpu_seconds(pid) for pid in pg_pids},
                busy,
                total,
            )

        first = snap()
        wal0, ckpt0 = self.wal_and_checkpoints()
        waits: Counter = Counter()
        while time.monotonic() < deadline - interval:
            waits.update(self.sample_waits())
            time.sleep(interval)
        _sleep_until(deadline)
        last = snap()
        wal1, ckpt1 = self.wal_and_checkpoints()
        row = self.conn.execute("SELECT pg_wal_lsn_diff(%s::pg_lsn, %s::pg_lsn)", (wal1, wal0)).fetchone()
        by_process: dict[str, float] = {}
        for pid, kind in pg_pids.items():
            if last[3].get(pid, 0.0) >= first[3].get(pid, 0.0):  # a pid gone (0.0) counts nothing
                by_process[kind] = by_process.get(kind, 0.0) + last[3][pid] - first[3][pid]
        return Usage(
            wal_bytes=float(row[0]) if row else 0.0,
            checkpoints=ckpt1 - ckpt0,
            seconds=last[0] - first[0],
            client=last[1] - first[1],
            app=last[2] - first[2],
            pg=sum(by_process.values()),
            machine_busy=last[4] - first[4],
            machine_total=last[5] - first[5],
            waits=waits,
            pg_by_process=Counter(by_process),
        )


def _sleep_until(t: float) -> None:
    delay = t - time.monotonic()
    if delay > 0:
        time.sleep(delay)
