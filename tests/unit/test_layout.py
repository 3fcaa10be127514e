"""The two companies share only the contract: the import contract (import-linter, in
`make lint`) holds on the real tree, fails on a tree with a planted cross-import, and no
Lambda handler of one side imports the other side."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(layer: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(layer)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


needs_tool = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is installed by `make venv`")


@needs_tool
def test_the_import_contract_holds_on_the_real_tree():
    result = lint_imports(ROOT / "layers" / "common")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@needs_tool
@pytest.mark.parametrize(
    ("module", "planted"),
    [
        ("casino/ledger.py", "from ..provider import rounds  # noqa"),  # casino -> provider
        ("provider/launch.py", "from ..casino import ledger  # noqa"),  # provider -> casino
        ("contract/signing.py", "from ..runtime import db  # noqa"),  # contract -> runtime
        ("runtime/db.py", "from ..casino import queries  # noqa"),  # runtime -> a side
        ("contract/errors.py", "from . import round_plan  # noqa"),  # a cycle inside contract
    ],
)
def test_the_import_contract_catches_a_planted_violation(tmp_path, module, planted):
    layer = tmp_path / "layer"
    shutil.copytree(ROOT / "layers" / "common" / "seamless", layer / "seamless", symlinks=True)
    target = layer / "seamless" / module
    target.write_text(target.read_text() + f"\n{planted}\n")
    result = lint_imports(layer)
    assert result.returncode != 0, result.stdout
    assert "BROKEN" in result.stdout or "broken" in result.stdout


def imported_packages(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("side,other", [("casino", "provider"), ("provider", "casino")])
def test_no_handler_imports_the_other_side(side, other):
    handlers = sorted((ROOT / "functions" / side).glob("*/app.py"))
    assert handlers
    for handler in handlers:
        crossing = {m for m in imported_packages(handler) if m.startswith(f"seamless.{other}")}
        assert not crossing, f"{handler.relative_to(ROOT)} imports {crossing}"
