"""The certification report: Markdown, JSON and an HTML page (Jinja2, autoescaped), each with a
pass/fail line per named check and the raw exchanges that showed each failure. Session tokens,
the secret and an API key are redacted everywhere (the signatures shown were computed over the
unredacted bodies)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2
from seamless.contract.money import format_money

from .http import Exchange
from .suite import RunResult

TEMPLATES = Path(__file__).parent / "templates"
MAX_SHOWN = 4096
MARK = {"pass": "PASS", "fail": "FAIL", "skip": "SKIP"}


class Redactor:
    def __init__(self, run: RunResult) -> None:
        self.replacements: dict[str, str] = dict(run.config.secrets_to_redact())
        for role, player in run.players.items():
            self.replacements[player.token] = f"<{role} session token>"
            for n, token in enumerate(player.alt_tokens, start=2):
                self.replacements[token] = f"<{role} session token {n}>"
        for n, token in enumerate(run.config.rich_tokens, start=1):
            self.replacements.setdefault(token, f"<rich session token {n}>")
        if run.config.poor_token:
            self.replacements.setdefault(run.config.poor_token, "<poor session token>")

    def __call__(self, text: str) -> str:
        for secret, label in sorted(self.replacements.items(), key=lambda kv: -len(kv[0])):
            if secret:
                text = text.replace(secret, label)
        return text


def _shown(raw: bytes, redact: Redactor) -> str:
    text = redact(raw.decode("utf-8", "replace"))
    if len(text) > MAX_SHOWN:
        return text[:MAX_SHOWN] + f"\n... ({len(raw):,} bytes; the first {MAX_SHOWN:,} characters shown)"
    return text


def exchange_json(ex: Exchange, redact: Redactor) -> dict[str, Any]:
    headers = {k: ("<api key>" if k.lower() == "x-api-key" else redact(v)) for k, v in ex.request_headers.items()}
    return {
        "label": ex.label,
        "startedAt": ex.started_at,
        "method": ex.method,
        "url": ex.url,
        "requestHeaders": headers,
        "requestBody": _shown(ex.request_body, redact),
        "requestBytes": len(ex.request_body),
        "status": ex.status,
        "responseHeaders": {k: redact(v) for k, v in ex.response_headers.items()},
        "responseBody": _shown(ex.response_body, redact),
        "latencyMs": round(ex.latency_ms, 2),
        "error": ex.error,
    }


def report_json(run: RunResult) -> dict[str, Any]:
    redact = Redactor(run)
    return {
        "target": run.config.casino_url,
        "startedAt": run.started_at,
        "finishedAt": run.finished_at,
        "passed": run.passed,
        "counts": run.counts(),
        "sessions": "launchGame" if run.config.launch else "tokens",
        "stake": run.config.stake,
        "currencyDecimals": run.config.currency_decimals,
        # money shown to a person goes through the currency's exponent (docs/currencies.md)
        "stakeShown": format_money(run.config.stake, run.config.currency, run.config.currency_decimals),
        "concurrency": run.config.concurrency,
        "players": {
            role: {"currency": p.currency, "startBalance": p.start, "endBalance": p.expected} for role, p in run.players.items()
        },
        "latencyMs": {k: {m: round(v, 2) for m, v in s.items()} for k, s in run.latency.items()},
        "checks": [
            {
                "name": r.name,
                "section": r.section,
                "title": r.title,
                "status": r.status,
                "durationMs": round(r.duration_ms, 1),
                "message": redact(r.message),
                "evidence": [i for i, e in enumerate(r.exchanges) if any(e is x for x in r.evidence)],
                "exchanges": [exchange_json(e, redact) for e in r.exchanges],
            }
            for r in run.results
        ],
    }


def _http_block(ex: dict[str, Any]) -> str:
    request = [f"{ex['method']} {ex['url']}"] + [f"{k}: {v}" for k, v in ex["requestHeaders"].items()]
    request += ["", ex["requestBody"]]
    if ex["status"] is None:
        response = [f"(no answer: {ex['error']})"]
    else:
        response = [f"HTTP {ex['status']}  ({ex['latencyMs']:.1f} ms)"] + [f"{k}: {v}" for k, v in ex["responseHeaders"].items()]
        response += ["", ex["responseBody"]]
    fence = "~~~~"
    return f"{fence}http\n" + "\n".join(request) + f"\n{fence}\n\n{fence}http\n" + "\n".join(response) + f"\n{fence}\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(data: dict[str, Any]) -> str:
    c = data["counts"]
    verdict = "PASSED" if data["passed"] else "FAILED"
    lines = [
        "# Wallet certification report",
        "",
        f"- Target: `{data['target']}` (sessions through {data['sessions']})",
        f"- Run: {data['startedAt']} to {data['finishedAt']}; stake {data['stakeShown']}, concurrency {data['concurrency']}",
        f"- Result: **{verdict}** - {c['pass']} passed, {c['fail']} failed, {c['skip']} skipped",
        "- Session tokens, the secret and API keys are redacted; each signature shown was computed over the unredacted body.",
        "",
        "| Result | Check | § | What it checks | Requests | ms | Note |",
        "|---|---|---|---|---:|---:|---|",
    ]
    for ch in data["checks"]:
        lines.append(
            f"| {MARK[ch['status']]} | `{ch['name']}` | {_cell(ch['section'])} | {_cell(ch['title'])} | "
            f"{len(ch['exchanges'])} | {ch['durationMs']:.0f} | {_cell(ch['message'])} |"
        )
    lines += [
        "",
        "## Latency (ms, client side)",
        "",
        "| Endpoint | n | p50 | p95 | p99 | max |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for endpoint, s in data["latencyMs"].items():
        lines.append(f"| `{endpoint}` | {s['count']:.0f} | {s['p50']:.1f} | {s['p95']:.1f} | {s['p99']:.1f} | {s['max']:.1f} |")
    lines += ["", "## Players", "", "| Player | Currency | Balance at start | Balance at end |", "|---|---|---:|---:|"]
    for role, p in data["players"].items():
        lines.append(f"| {role} | {p['currency']} | {p['startBalance']:,} | {p['endBalance']:,} |")
    failures = [ch for ch in data["checks"] if ch["status"] == "fail"]
    lines += ["", "## Failures", ""]
    if not failures:
        lines.append("None.")
    for ch in failures:
        lines += [f"### `{ch['name']}`", "", ch["message"], ""]
        for n in ch["evidence"]:
            ex = ch["exchanges"][n]
            lines += [f"**{ex['label']}** ({ex['startedAt']})", "", _http_block(ex)]
    return "\n".join(lines).rstrip() + "\n"


def render_html(data: dict[str, Any]) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined)
    return env.get_template("report.html.j2").render(data=data, mark=MARK)


def write(run: RunResult, directory: Path) -> dict[str, Path]:
    """Writes report.md, report.json and report.html; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    data = report_json(run)
    paths = {"markdown": directory / "report.md", "json": directory / "report.json", "html": directory / "report.html"}
    paths["markdown"].write_text(render_markdown(data))
    paths["json"].write_text(json.dumps(data, indent=2) + "\n")
    paths["html"].write_text(render_html(data))
    return paths
