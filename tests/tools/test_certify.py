"""`python -m devtools certify`: green against our casino (sessions through launchGame, over real
HTTP), and able to fail - each deliberately broken wallet (tests/tools/broken_wallets.py) is
caught by named checks. Also its report (Markdown, JSON, HTML: redacted, escaped), its exit code
and its import boundary (a client of the contract only)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from devtools.certify import CHECKS, Config, LaunchConfig, run
from devtools.certify import report as certify_report
from devtools.certify.suite import RunResult, percentiles
from devtools.fixtures import CASINO_SECRET, GAME, GAME_MAX_BET
from tests.support import live_api, make_player, new_session
from tests.tools import broken_wallets as bw

ROOT = Path(__file__).resolve().parents[2]

#: Checks our casino fails on this branch (each a real bug, found by certify). Strict: when one
#: passes, this test fails - remove the entry then.
KNOWN_CASINO_DEFECTS: dict[str, str] = {}  # name -> the casino defect a check still finds (none today)

#: defect -> the named checks that must catch it (each must fail; others may too)
DEFECTS: dict[str, tuple[type[bw.Proxy], set[str]]] = {
    "applies a duplicate twice": (
        bw.AppliesDuplicatesTwice,
        {"idempotency.replay-debit", "idempotency.conflict-payload", "concurrency.duplicate-debits"},
    ),
    "accepts a late bet after a tombstone": (bw.AcceptsLateBets, {"tombstone.late-bet", "order.debit-rules"}),
    "refunds a bet twice": (bw.RefundsTwice, {"rollback.refund-once"}),
    "pays a credit beyond a grant's rounds": (bw.PaysBeyondGrantRounds, {"freeRound.grant-guard"}),
    "pays a promotion payout that names a bet": (bw.AcceptsPromotionNamingABet, {"payout.promotion-names-no-bet"}),
    "verifies a re-serialised body": (bw.VerifiesReserialisedBody, {"signature.raw-bytes", "signature.altered-body"}),
    "accepts stale and future signatures": (bw.IgnoresSignatureTime, {"signature.time-window"}),
    "accepts a signature on another endpoint": (bw.IgnoresSignatureEndpoint, {"signature.endpoint-binding"}),
    "accepts the seed scheme with the mode off": (bw.AcceptsSeedSignatures, {"signature.seed-mode"}),
    "applies the stake without the win": (bw.AppliesStakeWithoutWin, {"debitCredit.both-legs"}),
    "pays a bonus-funded win as cash": (bw.PaysBonusWinAsCash, {"funding.proportional-split"}),
    "answers 500 to bad input": (
        bw.FailsOnBadInput,
        {"validation.debit", "validation.credit", "validation.rollback", "validation.getBalance", "order.size-signature-schema"},
    ),
}


def failed(result: RunResult) -> set[str]:
    return {r.name for r in result.results if r.status == "fail"}


def token_config(database_url: str, url: str, **overrides) -> Config:
    """Fresh players (a rich one with two sessions, a poor one) given as session tokens."""
    rich = make_player(database_url, 1_000_000, 900_000)
    poor = make_player(database_url, 1_000)
    config = Config(
        casino_url=url,
        secret=CASINO_SECRET,
        rich_tokens=[new_session(database_url, rich), new_session(database_url, rich)],
        poor_token=new_session(database_url, poor),
        max_bet=GAME_MAX_BET,
        concurrency=6,
    )
    for key, value in overrides.items():
        setattr(config, key, value)
    return config


@pytest.fixture(scope="module")
def api(database_url):
    with live_api(database_url) as base:
        yield base


@pytest.fixture(scope="module")
def green(api, database_url) -> RunResult:
    """The whole suite against our casino over HTTP, sessions through its launchGame."""
    rich, poor = make_player(database_url, 1_000_000, 900_000), make_player(database_url, 1_000)
    config = Config(casino_url=api, secret=CASINO_SECRET, launch=LaunchConfig(rich, poor, GAME), max_bet=GAME_MAX_BET)
    lines: list[str] = []
    result = run(config, progress=lines.append)
    assert len(lines) == len(CHECKS) and all(line.startswith("[") for line in lines)
    return result


def test_green_against_our_casino(green):
    results = {r.name: r for r in green.results}
    assert set(results) == {c.name for c in CHECKS}
    unexpected = {n: r.message for n, r in results.items() if r.status == "fail" and n not in KNOWN_CASINO_DEFECTS}
    assert not unexpected, unexpected
    fixed = [n for n in KNOWN_CASINO_DEFECTS if results[n].status == "pass"]
    assert not fixed, f"fixed now - remove from KNOWN_CASINO_DEFECTS: {fixed}"
    assert not [n for n, r in results.items() if r.status == "skip"], "every check runs against the local API"
    # every check leaves the players where it found them
    assert all(p.expected == p.start for p in green.players.values()), green.players
    assert sum(len(r.exchanges) for r in green.results) > 300


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_each_broken_wallet_is_caught_by_named_checks(api, database_url, defect, tmp_path):
    proxy_class, catchers = DEFECTS[defect]
    with bw.serve(proxy_class(api, CASINO_SECRET)) as url:
        if proxy_class is bw.PaysBeyondGrantRounds:  # grants need the operator endpoints: sessions by launchGame
            rich, poor = make_player(database_url, 1_000_000, 900_000), make_player(database_url, 1_000)
            config = Config(casino_url=url, secret=CASINO_SECRET, launch=LaunchConfig(rich, poor, GAME), max_bet=GAME_MAX_BET)
        else:
            config = token_config(database_url, url)
        result = run(config)
    caught = failed(result) - set(KNOWN_CASINO_DEFECTS)
    assert "setup.sessions" not in caught
    missed = catchers - caught
    assert not missed, f"{defect}: {sorted(missed)} passed; caught by {sorted(caught)}"
    for r in result.results:
        if r.name in catchers:
            assert r.message and r.evidence, r.name  # the report shows why, with the exchanges
    if proxy_class is bw.FailsOnBadInput:  # a hostile body in the HTML report stays text
        html = certify_report.render_html(certify_report.report_json(result))
        assert bw.HOSTILE not in html and "&lt;script&gt;alert(" in html


def test_the_honest_proxy_is_the_control(api, database_url):
    """Without a defect, the proxy in front of our casino fails nothing but the known defects."""
    with bw.serve(bw.Proxy(api, CASINO_SECRET)) as url:
        result = run(token_config(database_url, url))
    assert failed(result) == set(KNOWN_CASINO_DEFECTS), {r.name: r.message for r in result.results if r.status == "fail"}


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)


def test_report_files(green, tmp_path):
    paths = certify_report.write(green, tmp_path)
    texts = {kind: path.read_text() for kind, path in paths.items()}
    data = json.loads(texts["json"])
    assert [c["name"] for c in data["checks"]] == [c.name for c in CHECKS]
    assert data["passed"] is (not KNOWN_CASINO_DEFECTS) and data["counts"]["fail"] == len(KNOWN_CASINO_DEFECTS)
    one = data["checks"][1]["exchanges"][0]
    assert {"method", "url", "requestHeaders", "requestBody", "status", "responseHeaders", "responseBody", "latencyMs"} <= set(
        one
    )
    assert set(data["latencyMs"]["all"]) == {"count", "p50", "p95", "p99", "max"}
    # money shown through the exponent launchGame gave (currencyDecimals), never divided by 100
    assert data["currencyDecimals"] == 2 and data["stakeShown"] == "1.00 USD" and "stake 1.00 USD" in texts["markdown"]
    for name in KNOWN_CASINO_DEFECTS:
        failure = next(c for c in data["checks"] if c["name"] == name)
        assert failure["evidence"] and failure["message"]
        assert f"### `{name}`" in texts["markdown"] and f'id="fail-{name}"' in texts["html"]
    for c in CHECKS:
        assert f"`{c.name}`" in texts["markdown"]
    tokens = [t for p in green.players.values() for t in [p.token, *p.alt_tokens]]
    for text in texts.values():
        assert CASINO_SECRET not in text
        assert not any(t in text for t in tokens)
    assert "<rich session token>" in texts["json"]
    page = _Html()
    page.feed(texts["html"])
    assert "script" not in page.tags and "table" in page.tags


def test_percentiles_are_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentiles(values) == {"count": 100, "p50": 50.0, "p95": 95.0, "p99": 99.0, "max": 100.0}
    assert percentiles([7.0])["p99"] == 7.0 and percentiles([])["count"] == 0


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
        [sys.executable, "-m", "devtools", "certify", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_cli_exit_codes_and_progress(api, database_url, tmp_path):
    config = token_config(database_url, api)
    # --opt=value: a session token may start with "-", which argparse would read as an option
    common = [f"--rich-token={config.rich_tokens[0]}", f"--poor-token={config.poor_token or ''}", "--max-bet", str(GAME_MAX_BET)]
    env = {"CERTIFY_SECRET": CASINO_SECRET}
    ok = _cli("--casino-url", api, *common, "--only", "signature.*", "--report-dir", str(tmp_path / "ok"), env=env)
    assert ok.returncode == 0, ok.stderr
    assert "PASS  signature.raw-bytes" in ok.stderr and "PASSED: 11 passed, 0 failed" in ok.stderr
    assert (tmp_path / "ok" / "report.html").is_file()
    with bw.serve(bw.FailsOnBadInput(api, CASINO_SECRET)) as url:
        bad = _cli("--casino-url", url, *common, "--only", "validation.*", "--report-dir", str(tmp_path / "bad"), env=env)
    assert bad.returncode == 1 and "FAIL  validation.debit" in bad.stderr, bad.stderr
    missing = _cli("--casino-url", api, *common, env={"CERTIFY_SECRET": ""})
    assert missing.returncode != 0 and "secret" in missing.stderr
    listed = _cli("--list")
    assert listed.returncode == 0 and all(c.name in listed.stdout for c in CHECKS)


def test_certify_is_a_client_of_the_contract_only():
    """devtools/certify imports seamless.contract and nothing else of the layer (no casino,
    provider or runtime code), and nothing of devtools outside itself."""
    for path in sorted((ROOT / "devtools" / "certify").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    assert node.level == 1, (path.name, node.module)  # within devtools/certify
                    continue
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                assert not name.startswith("devtools"), (path.name, name)
                if name.startswith("seamless"):
                    assert name == "seamless.contract" or name.startswith("seamless.contract."), (path.name, name)
