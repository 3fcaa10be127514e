"""Cold start: each handler module imported in a fresh interpreter, median of several runs,
beside a bare interpreter and a minimal Powertools handler. Two numbers per row: the whole
process (`python -c ...`, start to exit, as the Lambda runtime pays it before the first
event) and the import alone (timed inside the process)."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from devtools.lambda_local import function_environment

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
    """(median process ms, median import ms), in the environment Lambda gives a function
    (devtools.lambda_local.function_environment)."""
    env = function_environment(folder, tracing=tracing)
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
