"""GET /provider/rounds/{roundId} (docs/protocol.md §7): the provider's record of one round for
a casino's support agent - as JSON, or as an HTML page (Jinja2, autoescaped, no script): the
round's status, its timeline (every callback, each attempt and answer, its state) and the
player's balance after each step as a small inline SVG chart.

Provider role, provider_* tables only; it reads what the round player and settlement recorded
and never computes a balance of its own: the chart draws the balances the casino answered.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from psycopg.rows import dict_row

from ..contract import errors
from ..contract.models import RoundHistory, RoundHistoryAction
from ..contract.money import format_minor
from ..runtime import db
from ..runtime.settings import PROVIDER_ROLE
from . import queries
from .outbox import wire_state  # one definition for the round report and this page

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class AttemptView:
    number: int
    http_status: int | None
    error: str | None
    body: str | None
    at: str | None = None


@dataclass
class ActionView:
    step: int
    type: str
    endpoint: str
    transaction_id: str
    amount: int
    http_status: int | None
    code: str | None
    state: str
    row_state: str
    attempts: list[AttemptView]
    balance: int | None
    rescue: bool
    note: str | None
    casino_url: str | None

    def wire(self) -> RoundHistoryAction:
        return RoundHistoryAction(
            type=self.type,  # type: ignore[arg-type]  # a CHECK constraint keeps it one of four
            transaction_id=self.transaction_id,
            amount=self.amount,
            http_status=self.http_status,
            code=self.code,
            state=self.state,  # type: ignore[arg-type]
            attempts=len(self.attempts),
            balance=self.balance,
            rescue=self.rescue,
        )


@dataclass(frozen=True)
class ChartPoint:
    x: float
    y: float
    label: str
    balance: int
    known: bool  # False: the step's answer carried no balance; the previous one is drawn


@dataclass
class Chart:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    points: list[ChartPoint]
    low: int
    high: int

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)

    def y_of(self, balance: int) -> float:
        span = self.high - self.low
        return self.top + (self.height - self.top - self.bottom) * (self.high - balance) / span


@dataclass
class RoundView:
    round_id: str
    status: str
    currency: str | None
    starting_balance: int | None
    final_balance: int | None
    runs: int
    created_at: str
    updated_at: str
    player: str
    casino_code: str
    game_code: str
    casino_round_url: str | None
    actions: list[ActionView] = field(default_factory=list)
    #: the currency's exponent the casino's launch gave (None: shown as bare minor units)
    currency_decimals: int | None = None

    def as_json(self) -> dict[str, Any]:
        return RoundHistory(
            round_id=self.round_id,
            status=self.status,  # type: ignore[arg-type]  # a CHECK constraint keeps it one of four
            currency=self.currency,
            starting_balance=self.starting_balance,
            final_balance=self.final_balance,
            actions=[a.wire() for a in self.actions],
        ).model_dump(by_alias=True)

    def counts(self) -> dict[str, int]:
        out = {"delivered": 0, "queued": 0, "cancelled": 0}
        for action in self.actions:
            out[action.state] += 1
        return out

    def chart(self) -> Chart | None:
        """The balance after each step: the round's starting balance, then each answer's."""
        steps: list[tuple[str, int, bool]] = []
        if self.starting_balance is not None:
            steps.append(("start", self.starting_balance, True))
        for action in self.actions:
            if action.balance is not None:
                steps.append((str(action.step), action.balance, True))
            elif steps:
                steps.append((str(action.step), steps[-1][1], False))
        if not steps:
            return None
        chart = Chart(width=760, height=200, left=96, right=48, top=24, bottom=44, points=[], low=0, high=0)
        balances = [b for _, b, _ in steps]
        chart.low, chart.high = min(balances), max(balances)
        if chart.low == chart.high:
            chart.low, chart.high = chart.low - 1, chart.high + 1
        inner = chart.width - chart.left - chart.right
        gap = inner / max(1, len(steps) - 1)
        for i, (label, balance, known) in enumerate(steps):
            x = chart.left + (gap * i if len(steps) > 1 else inner / 2)
            chart.points.append(ChartPoint(x, chart.y_of(balance), label, balance, known))
        return chart


def _iso(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _lookup_url(base: str | None, **query: str) -> str | None:
    """The casino's transaction lookup (GET /casino/transactions) for this round or callback."""
    return f"{base.rstrip('/')}/casino/transactions?{urllib.parse.urlencode(query)}" if base else None


def _attempts(raw: Any) -> list[AttemptView]:
    if isinstance(raw, str):
        raw = json.loads(raw)
    out = []
    for n, a in enumerate(raw if isinstance(raw, list) else [], start=1):
        if not isinstance(a, dict):
            continue
        body = a.get("body")
        out.append(
            AttemptView(
                number=int(a.get("attempt") or n),
                http_status=a.get("httpStatus"),
                error=a.get("error"),
                body=body if isinstance(body, str) or body is None else json.dumps(body, separators=(",", ":")),
                at=a.get("at") if isinstance(a.get("at"), str) else None,
            )
        )
    return out


def load(round_id: str) -> RoundView:
    """The round and its actions in id order; ROUND_NOT_FOUND when the provider has no such round."""

    def read(conn: Any) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        cur = conn.cursor(row_factory=dict_row)
        found = cur.execute(queries.PROVIDER_ROUND_HISTORY, (round_id,)).fetchone()
        if found is None:
            return None, []
        return found, cur.execute(queries.PROVIDER_ROUND_ACTIONS, (found["id"],)).fetchall()

    found, rows = db.run_idempotent(PROVIDER_ROLE, read)
    if found is None:
        raise errors.RoundNotFound()
    casino = found["callback_base_url"]
    view = RoundView(
        round_id=found["round_id"],
        status=found["status"],
        currency=found["currency"],
        starting_balance=found["starting_balance"],
        final_balance=found["final_balance"],
        runs=found["runs"],
        created_at=_iso(found["created_at"]),
        updated_at=_iso(found["updated_at"]),
        player=found["casino_player_id"],
        casino_code=found["casino_code"],
        game_code=found["game_code"],
        casino_round_url=_lookup_url(casino, roundId=found["round_id"]),
        currency_decimals=found["currency_decimals"],
    )
    for step, row in enumerate(rows, start=1):
        view.actions.append(
            ActionView(
                step=step,
                type=row["action_type"],
                endpoint=row["endpoint"],
                transaction_id=row["transaction_id"],
                amount=row["amount"],
                http_status=row["final_status"],
                code=row["final_code"],
                state=wire_state(row["state"], row["final_status"]),
                row_state=row["state"],
                attempts=_attempts(row["attempts"]),
                balance=row["casino_balance"],
                rescue=bool(row["rescue"]),
                note=row["note"],
                casino_url=_lookup_url(casino, transactionId=row["transaction_id"]),
            )
        )
    return view


@jinja2.pass_context
def _minor(context: Any, value: int | None) -> str:
    """Money through the round's currency exponent (seamless.contract.money): 1234 is 12.34 in USD,
    1,234 in JPY; bare minor units when the exponent is unknown."""
    return "–" if value is None else format_minor(value, context["round"].currency_decimals)


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["minor"] = _minor
    return env


def render_html(view: RoundView) -> str:
    return _environment().get_template("round.html.j2").render(round=view, chart=view.chart(), counts=view.counts())
