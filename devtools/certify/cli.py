"""`python -m devtools certify`: the command line of the certification run.

Pointing it at a wallet takes: its base URL, the callback HMAC secret it shares with the
provider, the currency, and two players' sessions - a rich one (enough for a few dozen bets of
`--stake`) and a poor one (a small balance within the game's bet limits). Sessions come either
from the wallet's own launchGame (`--launch-rich-user/--launch-poor-user/--game-id`, with
`--api-key` when it sits behind an API Gateway key) or as session tokens (`--rich-token`,
given twice for the cross-session check, and `--poor-token`).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import report, suite

DEFAULT_URL = "http://127.0.0.1:3000"


def add_arguments(p: argparse.ArgumentParser) -> None:
    env = os.environ.get
    p.add_argument(
        "--casino-url", default=env("CERTIFY_CASINO_URL", DEFAULT_URL), help="the wallet's base URL (default %(default)s)"
    )
    p.add_argument(
        "--secret", default=env("CERTIFY_SECRET"), help="callback HMAC secret (better: CERTIFY_SECRET in the environment)"
    )
    p.add_argument("--currency", default=env("CERTIFY_CURRENCY", "USD"), help="both sessions' currency (default %(default)s)")
    p.add_argument(
        "--rich-token", action="append", default=[], help="session token of a well-funded player (twice: two sessions)"
    )
    p.add_argument("--poor-token", help="session token of a player with a small balance (within the game's bet limits)")
    p.add_argument("--launch-rich-user", help="userId for launchGame (rich player); sessions through the wallet's launchGame")
    p.add_argument("--launch-poor-user", help="userId for launchGame (poor player)")
    p.add_argument("--game-id", help="gameId for launchGame")
    p.add_argument("--api-key", default=env("CERTIFY_API_KEY"), help="x-api-key for launchGame (or CERTIFY_API_KEY)")
    p.add_argument("--max-bet", type=int, help="the game's max_bet: enables the BET_LIMIT_EXCEEDED order check")
    p.add_argument(
        "--currency-decimals", type=int, help="the currency's exponent, for the report (launchGame's currencyDecimals otherwise)"
    )
    p.add_argument("--stake", type=int, default=100, help="minor units per bet; within the game's limits (default %(default)s)")
    p.add_argument("--concurrency", type=int, default=8, help="parallel requests in the race checks (default %(default)s)")
    p.add_argument("--max-p99-ms", type=float, default=2000.0, help="latency budget per endpoint (default %(default)s)")
    p.add_argument("--timeout", type=float, default=30.0, help="read timeout per request, seconds (default %(default)s)")
    p.add_argument("--only", action="append", default=[], help="run only checks matching this pattern (e.g. 'idempotency.*')")
    p.add_argument("--report-dir", type=Path, default=Path("certify-report"), help="where report.{md,json,html} go")
    p.add_argument("--list", action="store_true", help="list the checks and exit")
    p.add_argument("--local", action="store_true", help="the seeded local API: dev secret, seed players and game")


def config_from(args: argparse.Namespace) -> suite.Config:
    launch = None
    if args.launch_rich_user or args.launch_poor_user or args.game_id:
        if not (args.launch_rich_user and args.launch_poor_user and args.game_id):
            raise SystemExit("launchGame sessions need --launch-rich-user, --launch-poor-user and --game-id")
        launch = suite.LaunchConfig(args.launch_rich_user, args.launch_poor_user, args.game_id, args.api_key)
    elif not (args.rich_token and args.poor_token):
        raise SystemExit("sessions: give --rich-token and --poor-token, or --launch-rich-user/--launch-poor-user/--game-id")
    if not args.secret:
        raise SystemExit("the callback HMAC secret is needed: CERTIFY_SECRET=... (or --secret)")
    if args.concurrency < 2:
        raise SystemExit("--concurrency must be at least 2")
    return suite.Config(
        casino_url=args.casino_url,
        secret=args.secret,
        currency=args.currency,
        rich_tokens=list(args.rich_token),
        poor_token=args.poor_token,
        launch=launch,
        max_bet=args.max_bet,
        stake=args.stake,
        concurrency=args.concurrency,
        max_p99_ms=args.max_p99_ms,
        timeout=args.timeout,
        only=list(args.only),
        currency_decimals=args.currency_decimals,
    )


def main(args: argparse.Namespace) -> int:
    if args.list:
        for spec in suite.CHECKS:
            print(f"{spec.name:<42} {spec.section:<14} {spec.title}")
        return 0
    config = config_from(args)
    print(f"Certifying {config.casino_url} ({len(suite.selected(config))} checks)", file=sys.stderr, flush=True)
    result = suite.run(config, progress=lambda line: print(line, file=sys.stderr, flush=True))
    paths = report.write(result, args.report_dir)
    c = result.counts()
    verdict = "PASSED" if result.passed else "FAILED"
    print(f"{verdict}: {c['pass']} passed, {c['fail']} failed, {c['skip']} skipped", file=sys.stderr)
    for kind, path in paths.items():
        print(f"  {kind:<8} {path}", file=sys.stderr)
    return 0 if result.passed else 1
