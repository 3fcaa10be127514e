"""GET /casino/ledger/export (docs/protocol.md §6): the ledger rows of one wallet (userId +
currency) or of every wallet in a time range (from, to), as NDJSON - one line per row with its
chain link (seq, prevHash, rowHash), oldest first, then {"nextCursor": ...}. Pages of `limit`
rows (at most 1,000: well under Lambda's 6 MB response) follow each other through `after`.
Reads only, as the casino role. docs/records.md tells an auditor how to check a file."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg.rows import dict_row

from ..contract import chain, errors
from ..contract.models import LedgerExportQuery
from ..runtime import db
from ..runtime.apigw import PARAMS_INVALID, ProxyEvent, api_handler, parse_params
from ..runtime.settings import CASINO_ROLE
from . import queries

DEFAULT_LIMIT, MAX_LIMIT = 500, 1000
MAX_RANGE = timedelta(days=31)
CONTENT_TYPE = "application/x-ndjson"


def _bad(*details: tuple[str, str]) -> errors.ValidationError:
    return errors.ValidationError(PARAMS_INVALID, details=[{"field": f, "message": m} for f, m in details])


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _encode(cursor: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(cursor, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode(text: str) -> dict[str, Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError):
        raise _bad(("after", "Not a cursor of this endpoint: pass the previous page's nextCursor.")) from None
    if not isinstance(value, dict):
        raise _bad(("after", "Not a cursor of this endpoint: pass the previous page's nextCursor."))
    return value


class Plan:
    """The validated query: which rows, from where, how many."""

    def __init__(self, query: LedgerExportQuery) -> None:
        wallet = query.user_id is not None or query.currency is not None
        span = query.from_ is not None or query.to is not None
        problems: list[tuple[str, str]] = []
        if wallet and span:
            problems += [(f, "Give userId and currency, or from and to, not both.") for f in ("userId", "from")]
        elif not wallet and not span:
            problems += [(f, "Give userId and currency, or from and to.") for f in ("userId", "currency", "from", "to")]
        else:
            pair = ("userId", "currency") if wallet else ("from", "to")
            values = (query.user_id, query.currency) if wallet else (query.from_, query.to)
            problems += [(f, "Field required with the other one.") for f, v in zip(pair, values, strict=True) if v is None]
        self.limit = DEFAULT_LIMIT if query.limit is None else int(query.limit)
        if not 1 <= self.limit <= MAX_LIMIT:
            problems.append(("limit", f"Must be 1 to {MAX_LIMIT}."))
        self.wallet_mode = wallet
        self.start = self.end = None
        if span and not wallet and query.from_ is not None and query.to is not None:
            try:
                self.start, self.end = _instant(query.from_), _instant(query.to)
            except ValueError:  # a pattern-valid but impossible date, e.g. 2026-02-30
                problems.append(("from", "Not a valid instant."))
            else:
                if self.start >= self.end:
                    problems.append(("to", "Must be after from."))
                elif self.end - self.start > MAX_RANGE:
                    problems.append(("to", "At most 31 days after from."))
        if problems:
            raise _bad(*problems)
        self.query = query
        self.cursor = _decode(query.after) if query.after is not None else None
        if self.cursor is not None:
            expected = "w" if wallet else "r"
            if self.cursor.get("m") != expected or not all(
                isinstance(self.cursor.get(k), int) for k in (("w", "s") if wallet else ("a", "l"))
            ):
                raise _bad(("after", "Not a cursor of this query: pass the previous page's nextCursor."))
            if not wallet and (self.cursor.get("f"), self.cursor.get("t")) != (query.from_, query.to):
                raise _bad(("after", "This cursor belongs to another range: pass the same from and to."))


def _page(plan: Plan, conn: Any) -> tuple[list[dict[str, Any]], str | None]:
    cur = conn.cursor(row_factory=dict_row)
    q = plan.query
    if plan.wallet_mode:
        found = cur.execute(queries.EXPORT_WALLET, {"user_id": q.user_id, "currency": q.currency}).fetchone()
        if plan.cursor is not None and (found is None or found["id"] != plan.cursor["w"]):
            raise _bad(("after", "This cursor belongs to another wallet: pass the same userId and currency."))
        if found is None:
            return [], None  # no such wallet: no rows (docs/protocol.md §10)
        wallet_id, after = found["id"], 0 if plan.cursor is None else plan.cursor["s"]
        rows = cur.execute(queries.EXPORT_BY_WALLET, {"wallet_id": wallet_id, "after": after, "limit": plan.limit + 1}).fetchall()
        more = len(rows) > plan.limit
        rows = rows[: plan.limit]
        cursor = {"m": "w", "w": wallet_id, "s": rows[-1]["seq"]} if more else None
    else:
        if plan.cursor is None:
            bounds = cur.execute(queries.EXPORT_RANGE_BOUNDS, {"from": plan.start, "to": plan.end}).fetchone()
            first, last = bounds["min"], bounds["max"]
            if first is None:
                return [], None
            after = first - 1
        else:
            after, last = plan.cursor["a"], plan.cursor["l"]
        params = {"after": after, "last": last, "from": plan.start, "to": plan.end, "limit": plan.limit + 1}
        rows = cur.execute(queries.EXPORT_BY_RANGE, params).fetchall()
        more = len(rows) > plan.limit
        rows = rows[: plan.limit]
        cursor = {"m": "r", "a": rows[-1]["id"], "l": last, "f": q.from_, "t": q.to} if more else None
    return [chain.line_of(row) for row in rows], None if cursor is None else _encode(cursor)


def page(query: LedgerExportQuery) -> tuple[list[dict[str, Any]], str | None]:
    """One page: its lines and the next page's cursor (None on the last page)."""
    plan = Plan(query)
    return db.run_idempotent(CASINO_ROLE, lambda conn: _page(plan, conn))


def ndjson(lines: list[dict[str, Any]], next_cursor: str | None) -> str:
    out = [json.dumps(line, separators=(",", ":")) for line in lines]
    out.append(json.dumps({"nextCursor": next_cursor}, separators=(",", ":")))
    return "\n".join(out) + "\n"


def _work(request: ProxyEvent) -> dict[str, Any]:
    lines, next_cursor = page(parse_params(LedgerExportQuery, request.query_string_parameters))
    return {
        "statusCode": 200,
        "headers": {"Content-Type": CONTENT_TYPE, "Cache-Control": "no-store"},
        "body": ndjson(lines, next_cursor),
        "isBase64Encoded": False,
    }


handler = api_handler(_work)
