"""docs/protocol.md is the contract of record: every section the code cites exists, and the
rules index (its section 11) cites only tests, functions and files that exist."""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL = ROOT / "docs" / "protocol.md"
LAYER = ROOT / "layers" / "common" / "seamless"  # where the index's Python paths start
LEDGER_SQL = ROOT / "sql" / "casino" / "functions"
#: where citations of the protocol live: the code, and the documents beside the protocol
CITING = ("layers", "functions", "sql", "devtools", "tests", "bench", "docs", "README.md")
TEXT = {".py", ".sql", ".md", ".yaml", ".yml", ".toml", ".sh", ".txt"}
SKIP_DIRS = {"__pycache__", ".localdb", "out", ".hypothesis", ".pytest_cache"}

HEADING = re.compile(r"^#{2,4}\s+(\d+(?:\.\d+)?[a-z]?)\.?\s", re.M)
# "§5", "§7a", "§10.3", and ranges "§3-5", "§1–§9"
SECTION = re.compile(r"\u00a7(\d+(?:\.\d+)?[a-z]?)(?:\s*[-\u2013]\s*\u00a7?(\d+)\b)?")
SYMBOL = re.compile(r"`([\w./-]+\.py)::([\w.]+)`")
LEDGER = re.compile(r"`(ledger\.\w+)`")
PATH = re.compile(r"`((?:sql|tests|layers|functions|devtools|bench|docs)/[\w./-]+\.\w+)`")
ERROR_ROW = re.compile(r"^\| \d{3} \| (.+?) \|", re.M)


def headings(protocol: str) -> set[str]:
    return set(HEADING.findall(protocol))


def section(protocol: str, number: str) -> str:
    """The text of `## <number>.` up to the next section of the same level."""
    match = re.search(rf"^## {re.escape(number)}\.\s.*?(?=^## |\Z)", protocol, re.M | re.S)
    assert match, f"docs/protocol.md has no section {number}"
    return match.group(0)


def sections_cited(text: str) -> list[str]:
    cited: list[str] = []
    for first, last in SECTION.findall(text):
        if last and first.isdigit():
            cited.extend(str(n) for n in range(int(first), int(last) + 1))
        else:
            cited.append(first)
    return cited


def citing_files(root: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for name in CITING:
        top = root / name
        paths = [top] if top.is_file() else []
        for folder, dirs, files in os.walk(top):  # symlinked folders (the layer's sql/) not followed
            dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
            paths.extend(Path(folder) / f for f in files)
        for path in paths:
            if path.suffix in TEXT and path.resolve() != PROTOCOL.resolve():
                found[str(path.relative_to(root))] = path.read_text(encoding="utf-8", errors="replace")
    return found


def unresolved_sections(files: dict[str, str], known: set[str]) -> list[str]:
    return [f"{name}: \u00a7{ref}" for name, text in files.items() for ref in sections_cited(text) if ref not in known]


def _defines(path: Path, dotted: str) -> bool:
    text = path.read_text(encoding="utf-8")
    return all(re.search(rf"^\s*(?:async\s+)?(?:def|class)\s+{re.escape(part)}\b", text, re.M) for part in dotted.split("."))


def _source(root: Path, path: str) -> Path:
    """A path of the index: from the repository root, or else from the shared layer's package."""
    if path.startswith("tests/") or (root / path).exists():
        return root / path
    return root / LAYER.relative_to(ROOT) / path


def broken_index_citations(index: str, root: Path = ROOT) -> list[str]:
    """Every `file.py::name`, `ledger.function` and `path` the index cites, that does not exist."""
    broken = []
    for path, name in SYMBOL.findall(index):
        file = _source(root, path)
        if not file.is_file():
            broken.append(f"{path}::{name}: no such file")
        elif not _defines(file, name):
            broken.append(f"{path}::{name}: not defined there")
    ledger_sql = "\n".join(p.read_text(encoding="utf-8") for p in sorted((root / LEDGER_SQL.relative_to(ROOT)).glob("*.sql")))
    for function in LEDGER.findall(index):
        if not re.search(rf"CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+{re.escape(function)}\s*\(", ledger_sql):
            broken.append(f"{function}: no such function in sql/casino/functions/")
    for path in PATH.findall(index):
        if not (root / path).exists():
            broken.append(f"{path}: no such file")
    return broken


def error_codes(protocol: str) -> set[str]:
    return {code for cell in ERROR_ROW.findall(section(protocol, "3")) for code in re.findall(r"`([A-Z_]+)`", cell)}


# ------------------------------------------------------------------ the real tree


def test_every_section_cited_in_the_code_exists():
    files = citing_files(ROOT)
    cited = sum(len(sections_cited(text)) for text in files.values())
    assert cited >= 40, f"found only {cited} citations: is the checker still looking in the right places?"
    assert unresolved_sections(files, headings(PROTOCOL.read_text(encoding="utf-8"))) == []


def test_everything_the_rules_index_cites_exists():
    index = section(PROTOCOL.read_text(encoding="utf-8"), "11")
    tests = [p for p, _ in SYMBOL.findall(index) if p.startswith("tests/")]
    assert len(tests) >= 50 and len(LEDGER.findall(index)) >= 10, "the rules index lost its citations"
    assert broken_index_citations(index) == []


def test_the_rules_index_covers_every_error_code():
    protocol = PROTOCOL.read_text(encoding="utf-8")
    codes = error_codes(protocol)
    assert len(codes) >= 20
    index = section(protocol, "11")
    assert sorted(code for code in codes if f"`{code}`" not in index) == []


# ------------------------------------------------------------------ the checker catches drift


def test_the_checker_catches_a_missing_test_function_or_file(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text("def test_here():\n    pass\n")
    index = (
        "| rule | `tests/test_x.py::test_here`, `tests/test_x.py::test_gone`, `tests/test_y.py::test_here` |\n"
        "| rule | `ledger.debit`, `ledger.no_such_function`, `sql/casino/migrations/0001_schema.sql`, `sql/nowhere.sql` |\n"
        "| rule | `contract/models.py::DebitRequest`, `contract/models.py::NoSuchModel` |\n"
    )
    for real in ("sql/casino/functions", "sql/casino/migrations", "layers/common/seamless/contract"):
        (tmp_path / real).mkdir(parents=True)
    for real in (
        "sql/casino/functions/20_debit.sql",
        "sql/casino/migrations/0001_schema.sql",
        "layers/common/seamless/contract/models.py",
    ):
        (tmp_path / real).write_text((ROOT / real).read_text())
    assert broken_index_citations(index, tmp_path) == [
        "tests/test_x.py::test_gone: not defined there",
        "tests/test_y.py::test_here: no such file",
        "contract/models.py::NoSuchModel: not defined there",
        "ledger.no_such_function: no such function in sql/casino/functions/",
        "sql/nowhere.sql: no such file",
    ]


def test_the_checker_catches_a_section_that_does_not_exist():
    known = headings("## 4. Callbacks\n\n### 7a. Settlement\n\n### 10.3 Rounds\n")
    assert known == {"4", "7a", "10.3"}
    good = "see docs/protocol.md \u00a74, \u00a77a and \u00a710.3"
    bad = "see docs/protocol.md \u00a742, \u00a77b, \u00a710.9 and \u00a73-5"
    assert unresolved_sections({"good.py": good}, known) == []
    assert unresolved_sections({"bad.py": bad}, known) == [f"bad.py: \u00a7{ref}" for ref in ("42", "7b", "10.9", "3", "5")]
