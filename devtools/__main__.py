"""python -m devtools COMMAND: run | serve | stop | migrate | seed | reset | reconcile | purge | settle | sweep |
settlement | invoke | events | sam-env | openapi | simulate | certify | verify-ledger | anchor | export"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from . import ROOT, settlement_cli
from .fixtures import DEV_SECRETS

DEV_ENV = {
    # The documented local development secrets (docs/protocol.md §8); never used outside a local run.
    **DEV_SECRETS,
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    # No CloudWatch or X-Ray here: keep EMF lines and trace segments out of the terminal.
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_TRACE_DISABLED": "true",
}


def _local_env() -> None:
    for k, v in DEV_ENV.items():
        os.environ.setdefault(k, v)
    from seamless.runtime.settings import reload_settings

    reload_settings()


def _database() -> str:
    from seamless.runtime.settings import reload_settings

    from .localdb import app_database_url

    url = app_database_url()
    os.environ["DATABASE_URL"] = url
    reload_settings()
    return url


CURL_EXAMPLES = """
Try it (seed ids, local dev secret):

  curl -s -X POST {base}/casino/launchGame -H 'Content-Type: application/json' \\
       -d '{{"userId":"11111111-1111-4111-8111-111111111111","gameId":"99999999-9999-4999-8999-999999999991","currency":"USD"}}'

  sign() {{ t=$(date +%s); printf 't=%s,v1=%s' "$t" \\
    "$(printf '%s.POST.%s.%s' "$t" "$1" "$2" | openssl dgst -sha256 -hmac dev-casino-secret | sed 's/^.*= //')"; }}

  body='{{"sessionToken":"{token}"}}'
  curl -s -X POST {base}/casino/getBalance -H 'Content-Type: application/json' \\
       -H "X-Casino-Signature: $(sign /casino/getBalance "$body")" -d "$body"

  body='{{"sessionToken":"{token}","transactionId":"readme-bet-1","roundId":"readme-round-1","amount":100,"currency":"USD"}}'
  curl -s -X POST {base}/casino/debit -H 'Content-Type: application/json' \\
       -H "X-Casino-Signature: $(sign /casino/debit "$body")" -d "$body"
"""


def cmd_serve(args: argparse.Namespace, *, prepare: bool) -> int:
    from .devserver import apply_template_environment, make_server, print_routes
    from .template import Template

    template = Template()
    apply_template_environment(template)
    _local_env()
    if prepare:
        from . import admin

        url = _database()
        admin.migrate(url)
        admin.seed(url)
        if os.environ.get("LOCALDB_TCP"):  # opt-in: containers (`sam local`) reach the embedded database
            from .localdb import enable_tcp, is_embedded

            if is_embedded(url):
                print(f"Containers: DATABASE_URL host:port {enable_tcp(os.environ['LOCALDB_TCP'])}", file=sys.stderr)
    elif "DATABASE_URL" not in os.environ:
        _database()
    server = make_server(args.host, args.port, template)
    base = f"http://{args.host}:{server.server_address[1]}"
    print(
        f"Local API (template.yaml, no Docker) on {base}: up to {server.containers.size} containers per function "
        "(LOCAL_API_WORKERS)",
        file=sys.stderr,
    )
    print_routes(template, base)
    from . import scheduler
    from .admin import DEV_SESSION_TOKEN
    from .devserver import invoke

    print("Scheduled functions (the template's Schedule events):", file=sys.stderr)
    print("\n".join(scheduler.describe(template)), file=sys.stderr)
    print(CURL_EXAMPLES.format(base=base, token=DEV_SESSION_TOKEN), file=sys.stderr, flush=True)
    stop_schedules = scheduler.start(template, invoke)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop_schedules.set()
        server.server_close()
    return 0


def cmd_invoke(args: argparse.Namespace) -> int:
    from .devserver import apply_template_environment, invoke
    from .template import Template

    template = Template()
    fn = template.functions.get(args.function)
    if fn is None:
        print(f"unknown function {args.function!r}; one of: {', '.join(template.functions)}", file=sys.stderr)
        return 2
    apply_template_environment(template)
    _local_env()
    if "DATABASE_URL" not in os.environ:
        _database()
    from .events import resign

    # a sample event's signature holds for minutes only (docs/protocol.md §2): signed afresh
    event = resign(json.loads(Path(args.event).read_text())) if args.event else {}
    print(json.dumps(invoke(fn, event), indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    import warnings

    warnings.filterwarnings("ignore", message="No application metrics to publish")  # metrics are off locally
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    parser = argparse.ArgumentParser(prog="python -m devtools", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, helptext in (
        ("run", "start the database, migrate, seed and serve the local API"),
        ("serve", "serve the local API on an already prepared database"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    p = sub.add_parser("stop", help="stop the embedded PostgreSQL unless a project process still uses it")
    p.add_argument("--force", action="store_true", help="stop it even then")
    sub.add_parser("migrate", help="apply migrations, functions, grants (idempotent)")
    sub.add_parser("seed", help="insert the docs/protocol.md §8 fixtures (idempotent)")
    p = sub.add_parser("reset", help="drop and recreate the schema, then migrate and seed")
    p.add_argument("--local", action="store_true", help="confirm the database is a local one")
    sub.add_parser("reconcile", help="check §9 for every wallet and the provider's records (§7a); exit 1 on a mismatch")
    sub.add_parser("purge", help="run both sides' retention jobs once, as the deployed functions do (docs/retention.md)")
    p = sub.add_parser("invoke", help="invoke one function with an event file, like `sam local invoke`")
    p.add_argument("function", help="logical id in template.yaml, e.g. DebitFunction")
    p.add_argument("--event", "-e", help="event JSON file, e.g. events/debit.json")
    sub.add_parser("events", help="regenerate the sample events in events/, signed with the current time")
    from . import samenv

    samenv.add_arguments(sub.add_parser("sam-env", help="env.json and container base URLs for `sam local` (README)"))
    p = sub.add_parser("openapi", help="write docs/openapi.json from the models (--check: fail on drift)")
    p.add_argument("--check", action="store_true")
    settlement_cli.add_commands(sub)
    # the ledger's hash chains (docs/records.md)
    sub.add_parser(
        "verify-ledger", help="recompute every wallet's hash chain, compare heads with the newest anchor; exit 1 on a break"
    )
    sub.add_parser("anchor", help="publish every wallet's chain head (ANCHOR_BUCKET, else ANCHOR_DIR or .localdb/anchors/)")
    p = sub.add_parser("export", help="one wallet's ledger (or a time range) as NDJSON, with a manifest")
    p.add_argument("--user", help="userId (with --currency)")
    p.add_argument("--currency")
    p.add_argument("--from", dest="start", help="ISO 8601 UTC (with --to; at most 31 days)")
    p.add_argument("--to", dest="end")
    p.add_argument("--out", required=True, help="the NDJSON file; the manifest goes beside it (.manifest.json)")
    p = sub.add_parser("simulate", help="play demo rounds through the running local API, then reconcile")
    p.add_argument("--base-url", default=None, help="default: $API_BASE_URL or http://127.0.0.1:3000")
    p = sub.add_parser("certify", help="run the contract's scenario suite against a casino wallet (report: Markdown, JSON, HTML)")
    from .certify import cli as certify_cli

    certify_cli.add_arguments(p)
    args = parser.parse_args(argv)

    if args.command in ("run", "serve"):
        return cmd_serve(args, prepare=args.command == "run")
    if args.command == "stop":
        from .localdb import stop

        try:
            print(stop(force=args.force))
        except RuntimeError as exc:
            print(exc, file=sys.stderr)
            return 1
        return 0
    if args.command == "invoke":
        return cmd_invoke(args)
    if args.command == "openapi":
        from . import openapi

        if args.check:
            current = openapi.OUTPUT.read_text() if openapi.OUTPUT.exists() else ""
            if current != openapi.render():
                print("docs/openapi.json is out of date: run `python -m devtools openapi`", file=sys.stderr)
                return 1
            print("docs/openapi.json is up to date")
            return 0
        print("docs/openapi.json " + ("written" if openapi.write() else "unchanged"))
        return 0
    if args.command == "certify":
        if args.local:  # the seeded local API (docs/protocol.md §8): the dev secret, alice rich, bob poor
            from . import fixtures

            args.secret = args.secret or fixtures.CASINO_SECRET
            if not (args.rich_token or args.poor_token):
                args.launch_rich_user = args.launch_rich_user or fixtures.ALICE
                args.launch_poor_user = args.launch_poor_user or fixtures.BOB
                args.game_id = args.game_id or fixtures.GAME
            args.max_bet = args.max_bet or fixtures.GAME_MAX_BET
        return certify_cli.main(args)
    if args.command == "simulate":
        from .simulate import main as simulate_main

        return simulate_main(args.base_url)
    if args.command == "sam-env":
        _local_env()
        return samenv.main(args)
    if args.command == "events":
        from .events import write_events

        _local_env()
        for path in write_events():
            print(path.relative_to(ROOT))
        return 0

    from . import admin

    _local_env()
    url = _database()
    if args.command == "migrate":
        admin.migrate(url)
    elif args.command == "seed":
        admin.seed(url)
    elif args.command == "reset":
        admin.reset(url, local_ok=args.local)
    elif args.command == "purge":
        from seamless.runtime.retention import purge_casino, purge_provider

        print(json.dumps({"casino": purge_casino(), "provider": purge_provider()}))
    elif args.command == "reconcile":
        result = admin.reconcile(url)
        print(result.table())
        return 0 if result.ok else 1
    elif args.command in ("verify-ledger", "anchor", "export"):
        from . import chain

        return chain.run(args, url)
    elif args.command in ("settle", "sweep", "settlement"):
        return settlement_cli.run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
