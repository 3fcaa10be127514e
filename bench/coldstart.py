"""Cold start: each handler module imported in a fresh interpreter, median of several runs,
beside a bare interpreter and a minimal Powertools handler. Two numbers per row: the whole
process (`python -c ...`, start to exit, as the Lambda runtime pays it before the first
event) and the import alone (timed inside the process)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SNIPPET = """
import time
t = time.perf_counter()
{body}
print(time.perf_counter() - t)
"""
MINIMAL_POWERTOOLS = (
    "from aws_lambda_powertools import Logger\n"
    "logger = Logger(service='minimal')\n"
    "@logger.inject_lambda_context\n"
    "def handler(event, context):\n"
    "    return {'statusCode': 200}"
)


def _module_body(app: Path) -> str:
    return (
        "import importlib.util\n"
        f"spec = importlib.util.spec_from_file_location('app', r'{app}')\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)"
    )


def _measure(body: str | None, runs: int, tracing: bool, folder: str = "functions") -> tuple[float, float]:
    """(median process ms, median import ms), in the environment Lambda gives a function. That
    matters for X-Ray: outside Lambda (no LAMBDA_TASK_ROOT) its recorder builds a botocore client
    for centralised sampling at import, about a third of a second that Lambda never pays (its
    recorder samples locally and the segment comes from the service)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "AWS_", "LAMBDA_", "_X_AMZN"))}
    env.update(
        PYTHONPATH=str(ROOT / "layers" / "common"),
        POWERTOOLS_SERVICE_NAME="casino-wallet",
        POWERTOOLS_TRACE_DISABLED="false" if tracing else "true",
        LAMBDA_TASK_ROOT=str(ROOT / folder),
        AWS_LAMBDA_FUNCTION_NAME=Path(folder).name,
        AWS_EXECUTION_ENV="AWS_Lambda_python3.12",
        AWS_REGION="eu-west-1",
        AWS_DEFAULT_REGION="eu-west-1",
    )
    process, imports = [], []
    for _ in range(runs):
        cmd = [sys.executable, "-c", "pass" if body is None else SNIPPET.format(body=body)]
        t = time.perf_counter()
        out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True, env=env)
        process.append((time.perf_counter() - t) * 1000)
        imports.append(0.0 if body is None else float(out.stdout.strip().splitlines()[-1]) * 1000)
    return statistics.median(process), statistics.median(imports)


def cold_start(runs: int, modules: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    """modules: function folders such as 'functions/casino/debit' (None = every function)."""
    rows: list[dict[str, Any]] = []

    def add(label: str, body: str | None, tracing: bool = True, folder: str = "functions") -> None:
        process, imported = _measure(body, runs, tracing, folder)
        rows.append({"what": label, "process ms": round(process, 1), "import ms": round(imported, 1), "runs": runs})

    add("`python -c pass` (interpreter only)", None)
    add("minimal Powertools handler (Logger)", MINIMAL_POWERTOOLS)
    apps = sorted((ROOT / "functions").glob("*/*/app.py"))
    for app in apps:
        folder = str(app.parent.relative_to(ROOT))
        if modules is not None and folder not in modules:
            continue
        add(f"{folder} (X-Ray on, as deployed)", _module_body(app), folder=folder)
        add(f"{folder} (X-Ray off)", _module_body(app), tracing=False, folder=folder)
    return rows
