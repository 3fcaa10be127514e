"""The operator's settlement commands (docs/settlement.md), run locally like the scheduled
functions run when deployed:

  python -m devtools settle                      one durable-delivery run (SettlementFunction)
  python -m devtools sweep [--timeout S]         finish rounds left open (RoundSweeperFunction)
  python -m devtools settlement list             parked callbacks that need an operator: round, player,
                                                 amount, why it parked, what must be final before it
  python -m devtools settlement retry ID         put the round's parked callbacks back into settlement,
                                                 in order, and try at once (or say why not)
  python -m devtools settlement resolve ID --note TEXT
                                                 close a parked callback (settled by other means)
"""

from __future__ import annotations

import argparse
import json
import sys


def add_commands(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("settle", help="deliver due owed callbacks, in each round's order (one run)")
    p = sub.add_parser("sweep", help="complete or cancel rounds left open longer than ROUND_TIMEOUT_SECONDS")
    p.add_argument("--timeout", type=int, default=None, help="seconds (default: ROUND_TIMEOUT_SECONDS)")
    p = sub.add_parser("settlement", help="parked settlements: list, retry ID, resolve ID --note TEXT")
    p.add_argument("action", choices=("list", "retry", "resolve"))
    p.add_argument("id", nargs="?", type=int, help="the parked callback's id (from `list`)")
    p.add_argument("--note", default=None, help="resolve: how it was settled (kept with the record)")


def run(args: argparse.Namespace) -> int:
    from seamless.provider import outbox, settlement

    if args.command == "settle":
        print(json.dumps(settlement.drain().as_json()))
        return 0
    if args.command == "sweep":
        print(json.dumps(settlement.sweep(timeout_seconds=args.timeout).as_json()))
        return 0
    if args.action == "list":
        rows = outbox.parked()
        for r in rows:
            print(describe(r))
        print(f"{len(rows)} parked settlement(s)", file=sys.stderr)
        return 0
    if args.id is None:
        print(f"settlement {args.action} needs the parked callback's id (see `settlement list`)", file=sys.stderr)
        return 2
    if args.action == "retry":
        try:
            outcome = settlement.retry(args.id)
        except settlement.RetryRefused as refused:
            print(f"retry refused: {refused}", file=sys.stderr)
            return 1
        print(
            f"retry: {outcome.requeued} parked callback(s) of the round re-queued in order with a fresh horizon; "
            f"after one attempt the round is {outcome.status}",
            file=sys.stderr,
        )
        return 0
    else:
        if not args.note:
            print("settlement resolve needs --note: how the money was settled", file=sys.stderr)
            return 2
        done = settlement.resolve(args.id, args.note)
    print(f"{args.action}: {'done' if done else 'no parked callback has this id'}", file=sys.stderr)
    return 0 if done else 1


def describe(r: dict) -> str:
    """One parked item for an operator: what, whose, how much, why, and what it waits for."""
    kind = "rescue rollback" if r["rescue"] else r["action_type"]
    answer = f"final answer {r['final_status']} {r['final_code']}" if r["final_status"] is not None else "no final answer"
    waits = f"waits for: {r['waits_for']}" if r["waits_for"] else "nothing earlier is undelivered"
    return (
        f"#{r['id']}  round {r['round_id']}  player {r['player']}  {kind} {r['transaction_id']}  "
        f"amount {r['amount']} {r['currency']} (minor units)  {answer}, {r['attempts']} attempt(s)  "
        f"why: {r['note'] or '-'}  {waits}"
    )
