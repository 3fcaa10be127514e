"""The round page in a real browser: Debian's headless chromium loads GET /provider/rounds/{roundId}
from the local API (it sends a browser's Accept header, so it gets the HTML page), and the DOM
it renders shows the roundId, every action and the balance chart. A screenshot goes to the
test's tmp dir (look at it: `pytest --basetemp=shots tests/tools/test_round_page_browser.py`).

chromium is installed by .ci/run (and `make browser`) when missing. Without it the test fails
in CI (CI=true) and is skipped elsewhere.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
import uuid
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.support import ALICE, GAME, live_api
from tests.tools.helpers import OPENER

ACTIONS = [
    {"type": "bet", "amount": 1000},
    {"type": "bet", "amount": 500},
    {"type": "bet", "amount": 5_000_000},  # refused: above the game's max_bet
    {"type": "rollback", "betIndex": 1},
    {"type": "win", "amount": 2500, "betIndex": 0},
    {"type": "rollback", "betIndex": 0},  # refused: the round has a credit
    {"type": "close"},
]


def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        message = "chromium is not installed: `make browser` (or apt-get install chromium) - .ci/run installs it"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


def run_chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    flags = [
        "--headless",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-proxy-server",
        f"--user-data-dir={profile}",
        "--window-size=1200,900",
    ]
    if os.geteuid() == 0:
        flags.append("--no-sandbox")  # chromium's sandbox refuses to run as root
    return subprocess.run([binary, *flags, *args], capture_output=True, text=True, timeout=120, check=False)  # noqa: S603


class Dom(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def ids(self) -> set[str]:
        return {str(a["id"]) for _, a in self.tags if a.get("id")}


def test_round_page_renders_in_a_headless_browser(database_url, tmp_path):
    binary = chromium()
    with live_api(database_url) as base:
        round_id = f"browser-{uuid.uuid4().hex[:12]}"
        body = json.dumps({"userId": ALICE, "gameId": GAME, "currency": "USD", "roundId": round_id, "actions": ACTIONS}).encode()
        req = urllib.request.Request(base + "/casino/simulateRound", data=body, headers={"Content-Type": "application/json"})
        with OPENER.open(req, timeout=60) as resp:
            report = json.loads(resp.read())
        url = f"{base}/provider/rounds/{round_id}"

        dumped = run_chromium(binary, tmp_path / "profile-dom", "--dump-dom", url)
        assert dumped.returncode == 0, dumped.stderr[-2000:]
        dom = Dom()
        dom.feed(dumped.stdout)
        text = "".join(dom.text)
        assert round_id in text
        assert len(report["actions"]) == len(ACTIONS)
        for action in report["actions"]:
            assert action["transactionId"] in text, action
        assert {"round-id", "round-status", "balance-chart", "timeline"} <= dom.ids()
        tags = [t for t, _ in dom.tags]
        assert "svg" in tags and "polyline" in tags and tags.count("circle") == len(ACTIONS) + 1
        assert tags.count("tr") >= 2 * len(ACTIONS)
        assert "script" not in tags
        for code in ("BET_LIMIT_EXCEEDED", "BET_ALREADY_SETTLED"):
            assert code in text

        shot = tmp_path / "round.png"
        taken = run_chromium(binary, tmp_path / "profile-shot", f"--screenshot={shot}", url)
        assert taken.returncode == 0, taken.stderr[-2000:]
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
