"""GET /casino/ledger/export (docs/protocol.md §6) through the handler the template routes: NDJSON
pages of one wallet or of a time range, each line's chain recomputed here with hashlib alone,
paging through the cursor, 400 VALIDATION_ERROR naming every bad parameter; `python -m devtools
export` and its manifest; and docs/records.md's script, run as an auditor would run it."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from seamless.casino import anchor

from devtools import admin, chain
from tests.support import admin_conn, call, fetch_one, live_api, make_player, new_id, new_session
from tests.tools.helpers import get, http_get

PATH = "/casino/ledger/export"
MEMBERS = (
    "prevHash walletId seq transactionId kind status amount redeemableAmount balanceAfter currency userId roundId "
    "reason errorCode createdAt"
).split()
KEYS = MEMBERS[1:] + ["rowHash"]
ORDER = [
    "walletId",
    "seq",
    "transactionId",
    "kind",
    "status",
    "amount",
    "redeemableAmount",
    "balanceAfter",
    "currency",
    "userId",
    "roundId",
    "reason",
    "errorCode",
    "createdAt",
    "prevHash",
    "rowHash",
]


def own_hash(line: dict) -> str:
    """The §6 recipe written out again here, independent of the project's code."""
    return hashlib.sha256("|".join("" if line[m] is None else str(line[m]) for m in MEMBERS).encode("utf-8")).hexdigest()


def played(url: str, bets: int = 6) -> str:
    user = make_player(url, 10_000, 5_000)
    token = new_session(url, user)
    for k in range(bets):
        amount = 100 + k if k % 4 else 999_999  # some refused (over the bet limit)
        call(
            "/casino/debit",
            {"sessionToken": token, "transactionId": new_id("x"), "roundId": new_id("r"), "amount": amount, "currency": "USD"},
        )
    return user


def pages(query: dict[str, str]) -> tuple[list[list[dict]], list[str | None]]:
    out, cursors = [], []
    after = None
    while True:
        r = get(PATH, {**query, **({"after": after} if after else {})})
        assert r.status == 200, r.raw
        assert r.headers["Content-Type"] == "application/x-ndjson"
        assert r.raw.endswith("\n")
        lines = [json.loads(t) for t in r.raw.splitlines()]
        assert list(lines[-1]) == ["nextCursor"]
        after = lines[-1]["nextCursor"]
        out.append(lines[:-1])
        cursors.append(after)
        if after is None:
            return out, cursors


def test_one_wallets_export_is_its_whole_chain_page_by_page(database_url):
    user = played(database_url)
    got, cursors = pages({"userId": user, "currency": "USD", "limit": "3"})
    assert [len(p) for p in got] == [3, 3, 1] and cursors[-1] is None
    lines = [line for page in got for line in page]
    for line in lines:
        assert list(line) == ORDER  # the §6 members, in order
        assert own_hash(line) == line["rowHash"]
    assert [x["seq"] for x in lines] == list(range(1, 8))
    assert lines[0]["prevHash"] == "0" * 64
    assert all(b["prevHash"] == a["rowHash"] for a, b in zip(lines, lines[1:], strict=False))
    assert {x["status"] for x in lines} == {"accepted", "rejected"}
    with admin_conn(database_url) as conn:
        head = fetch_one(conn, "SELECT chain_seq, chain_head FROM casino_wallets WHERE user_id = %s", (user,))
    assert head == (7, lines[-1]["rowHash"])
    # the default page holds them all
    assert [len(p) for p in pages({"userId": user, "currency": "USD"})[0]] == [7]


def test_a_time_range_exports_every_wallets_rows_in_it(database_url):
    start = datetime.now(UTC) - timedelta(seconds=1)
    first, second = played(database_url, 2), played(database_url, 3)
    end = datetime.now(UTC) + timedelta(seconds=1)
    query = {"from": start.isoformat().replace("+00:00", "Z"), "to": end.isoformat().replace("+00:00", "Z"), "limit": "2"}
    got, _ = pages(query)
    lines = [line for page in got for line in page]
    assert all(len(p) <= 2 for p in got)
    assert all(own_hash(x) == x["rowHash"] for x in lines)
    with admin_conn(database_url) as conn:
        expected = conn.execute(
            "SELECT wallet_id, seq FROM casino_transactions WHERE created_at >= %s AND created_at < %s AND wallet_id IS NOT NULL "
            "ORDER BY id",
            (start, end),
        ).fetchall()
    assert [(x["walletId"], x["seq"]) for x in lines] == [tuple(e) for e in expected]
    assert {first, second} <= {x["userId"] for x in lines}
    # per wallet the lines link up
    last: dict[int, str] = {}
    for x in lines:
        if x["walletId"] in last:
            assert x["prevHash"] == last[x["walletId"]]
        last[x["walletId"]] = x["rowHash"]


def test_the_local_api_serves_the_export_from_the_template(database_url):
    user = played(database_url, 1)
    with live_api(database_url) as base:
        r = http_get(base, PATH, {"userId": user, "currency": "USD"})
        bad = http_get(base, PATH, {"userId": user})
    assert r.status == 200 and r.headers["Content-Type"] == "application/x-ndjson"
    lines = [json.loads(t) for t in r.raw.splitlines()]
    assert lines[-1] == {"nextCursor": None} and [x["seq"] for x in lines[:-1]] == [1, 2]
    assert all(own_hash(x) == x["rowHash"] for x in lines[:-1])
    assert bad.status == 400 and bad.code == "VALIDATION_ERROR"


def test_an_unknown_wallet_has_no_rows(database_url):
    r = get(PATH, {"userId": "00000000-0000-4000-8000-000000000000", "currency": "USD"})
    assert (r.status, r.raw) == (200, '{"nextCursor":null}\n')


NOW = "2026-12-02T00:00:00Z"
BAD = [
    ({}, {"userId", "currency", "from", "to"}),
    ({"userId": "11111111-1111-4111-8111-111111111111"}, {"currency"}),
    ({"to": NOW}, {"from"}),
    ({"userId": "11111111-1111-4111-8111-111111111111", "currency": "USD", "from": NOW, "to": NOW}, {"userId", "from"}),
    ({"userId": "not-a-uuid", "currency": "USD"}, {"userId"}),
    ({"userId": "11111111-1111-4111-8111-111111111111", "currency": "usd"}, {"currency"}),
    ({"from": NOW, "to": NOW}, {"to"}),
    ({"from": "2026-12-02T00:00:00Z", "to": "2026-11-01T00:00:00Z"}, {"to"}),
    ({"from": "2026-10-01T00:00:00Z", "to": "2026-11-01T00:00:01Z"}, {"to"}),
    ({"from": "2026-12-01T00:00:00+01:00", "to": NOW}, {"from"}),
    ({"from": "2026-12-01", "to": NOW}, {"from"}),
    ({"from": "2026-02-30T00:00:00Z", "to": NOW}, {"from"}),
    ({"userId": "11111111-1111-4111-8111-111111111111", "currency": "USD", "limit": "0"}, {"limit"}),
    ({"userId": "11111111-1111-4111-8111-111111111111", "currency": "USD", "limit": "1001"}, {"limit"}),
    ({"userId": "11111111-1111-4111-8111-111111111111", "currency": "USD", "limit": "ten"}, {"limit"}),
    ({"userId": "11111111-1111-4111-8111-111111111111", "currency": "USD", "after": "%%%"}, {"after"}),
    ({"userId": "11111111-1111-4111-8111-111111111111", "currency": "USD", "after": "e30"}, {"after"}),  # {}
]


@pytest.mark.parametrize(("query", "fields"), BAD, ids=[json.dumps(q) for q, _ in BAD])
def test_bad_or_missing_parameters_are_a_400_naming_them(database_url, query, fields):
    r = get(PATH, query)
    assert r.status == 400 and r.code == "VALIDATION_ERROR", r.raw
    assert {d["field"] for d in r.json["error"]["details"]} == fields, r.raw


def test_a_cursor_only_serves_the_query_it_came_from(database_url):
    user = played(database_url, 3)
    first = get(PATH, {"userId": user, "currency": "USD", "limit": "1"})
    cursor = json.loads(first.raw.splitlines()[-1])["nextCursor"]
    r = get(PATH, {"from": "2026-12-01T00:00:00Z", "to": NOW, "after": cursor})
    assert r.status == 400 and [d["field"] for d in r.json["error"]["details"]] == ["after"]
    other = played(database_url, 1)
    r = get(PATH, {"userId": other, "currency": "USD", "after": cursor})
    assert r.status == 400 and "another wallet" in r.raw
    assert get(PATH, {"userId": user, "currency": "USD", "after": cursor}).status == 200
    start, end = "2026-11-01T00:00:00Z", "2026-11-20T00:00:00Z"
    ranged = {"from": (datetime.now(UTC) - timedelta(days=1)).isoformat(), "to": datetime.now(UTC).isoformat(), "limit": "1"}
    page = get(PATH, ranged)
    cursor = json.loads(page.raw.splitlines()[-1])["nextCursor"]
    assert cursor is not None
    r = get(PATH, {"from": start, "to": end, "after": cursor})
    assert r.status == 400 and "another range" in r.raw


# ------------------------------------------------------------------ the CLI and the auditor's script


def records_script() -> str:
    text = (admin.ROOT / "docs" / "records.md").read_text()
    found = re.search(r"<!-- verify-export -->\s*```python\n(.*?)```", text, re.S)
    assert found, "docs/records.md has the auditor's script"
    return found.group(1)


def run_script(script, data) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(script), str(data)], capture_output=True, text=True, check=False)  # noqa: S603 - the doc's script


def test_the_records_script_is_short(database_url):
    assert len(records_script().strip().splitlines()) <= 12


def test_devtools_export_writes_the_ndjson_and_a_manifest_the_auditors_script_accepts(database_url, tmp_path, monkeypatch):
    user = played(database_url, 5)
    anchors = tmp_path / "anchors"
    monkeypatch.setenv("ANCHOR_DIR", str(anchors))
    with admin_conn(database_url) as conn:
        published = anchor.publish(anchor.Target(directory=anchors), conn)
    played_more = new_session(database_url, user)
    call(
        "/casino/debit",
        {"sessionToken": played_more, "transactionId": new_id("late"), "roundId": new_id("r"), "amount": 5, "currency": "USD"},
    )
    out = tmp_path / "alice.ndjson"
    manifest = chain.export(database_url, out, user=user, currency="USD", start=None, end=None)
    lines = [json.loads(t) for t in out.read_text().splitlines()]
    assert lines[-1] == {"nextCursor": None}
    rows = lines[:-1]
    assert manifest["rows"] == len(rows) == 7 and manifest["verified"] is True
    assert (manifest["firstHash"], manifest["lastHash"]) == (rows[0]["rowHash"], rows[-1]["rowHash"])
    assert manifest["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert manifest["anchor"]["location"] == published["location"]
    assert (manifest["anchor"]["headsMatched"], manifest["anchor"]["rowsAfterAnchor"]) == (1, 1)
    assert json.loads((tmp_path / "alice.ndjson.manifest.json").read_text()) == manifest

    script = tmp_path / "verify_export.py"
    script.write_text(records_script())
    ok = run_script(script, out)
    assert ok.returncode == 0 and ok.stdout.startswith("OK"), ok.stdout + ok.stderr
    assert rows[-1]["rowHash"] in ok.stdout  # the head it prints, to compare with the anchor

    for field, value in (("amount", 1), ("seq", 99), ("prevHash", "f" * 64)):
        tampered = [dict(r) for r in rows]
        tampered[3][field] = value
        out.write_text("".join(json.dumps(r) + "\n" for r in tampered) + '{"nextCursor": null}\n')
        bad = run_script(script, out)
        assert bad.returncode != 0 and "line 4" in (bad.stdout + bad.stderr), (field, bad.stdout + bad.stderr)
    # a removed line breaks the link of the next one
    out.write_text("".join(json.dumps(r) + "\n" for i, r in enumerate(rows) if i != 2))
    bad = run_script(script, out)
    assert bad.returncode != 0 and "line 3" in (bad.stdout + bad.stderr)
