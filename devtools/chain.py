"""verify-ledger, anchor and export: the ledger's hash chains seen from outside the database
(docs/records.md). verify-ledger recomputes every chain in Python (seamless.contract.chain,
never the database's own function), names the first broken row of each broken wallet and how
it broke, and compares every head with the newest anchor."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row
from seamless.casino import anchor
from seamless.contract import chain

from . import ROOT

#: where `python -m devtools anchor` writes locally (ANCHOR_DIR overrides it)
LOCAL_ANCHORS = ROOT / ".localdb" / "anchors"

ROWS = """SELECT t.id, t.wallet_id, t.seq, t.transaction_id, t.kind, t.status, t.amount, t.redeemable_delta,
                 t.balance_after, w.currency::text AS currency, t.user_id, t.round_id, t.error_code, t.created_at,
                 t.prev_hash, t.row_hash, t.reason
            FROM casino_transactions t JOIN casino_wallets w ON w.id = t.wallet_id
           ORDER BY t.wallet_id, t.seq, t.id"""
WALLETS = "SELECT id, chain_seq, chain_head FROM casino_wallets ORDER BY id"
UNCHAINED = "SELECT id, transaction_id, playable_delta, redeemable_delta FROM casino_transactions WHERE wallet_id IS NULL"


@dataclass
class Break:
    wallet_id: int
    kind: str  # changed | removed | inserted | reordered
    row_id: int | None
    seq: int | None
    detail: str

    def __str__(self) -> str:
        where = f"row id {self.row_id} (seq {self.seq})" if self.row_id is not None else f"seq {self.seq}"
        return f"wallet {self.wallet_id}: {self.kind} at {where}: {self.detail}"


@dataclass
class Verification:
    wallets: int = 0
    rows: int = 0
    breaks: list[Break] = field(default_factory=list)
    anchor: str | None = None
    anchored_at: str | None = None
    #: rows written after the anchor, per wallet (not a failure: the next anchor covers them)
    after_anchor: dict[int, int] = field(default_factory=dict)
    unchained: int = 0

    @property
    def ok(self) -> bool:
        return not self.breaks

    def report(self) -> str:
        out = [f"verify-ledger: {self.rows} row(s) in {self.wallets} wallet chain(s) recomputed"]
        if self.unchained:
            out.append(f"{self.unchained} row(s) without a wallet (no money moved; in no chain)")
        if self.anchor:
            newer = sum(self.after_anchor.values())
            out.append(
                f"checked against the anchor {self.anchor} ({self.anchored_at}); "
                f"{newer} row(s) in {len(self.after_anchor)} wallet(s) written after it"
            )
        else:
            out.append("no anchor published yet: heads checked against the database only")
        out += [f"BROKEN: {b}" for b in self.breaks]
        out.append("verify-ledger: OK" if self.ok else f"verify-ledger: {len(self.breaks)} broken chain(s)")
        return "\n".join(out)


def _hash_with(line: dict[str, Any], seq: int) -> str:
    return chain.row_hash({**line, "seq": seq})


def diagnose(wallet_id: int, lines: list[dict[str, Any]], ids: list[int], head: tuple[int, str]) -> Break | None:
    """The first break of one wallet's chain, or None. lines are in (seq, id) order.

    Each row's hash covers its own seq, so a row still tells the place it was written at (its
    "original" seq, found by trying the places) even after its seq was changed. From those:
    a row whose hash fits no place was changed; two rows written for one place mean one was
    inserted (the one no row links to); a place nobody holds means a row was removed; rows out
    of their written order were reordered. Then the links (prevHash) and the wallet's head."""
    n = len(lines)
    fast = all(
        line["seq"] == i + 1
        and line["prevHash"] == (lines[i - 1]["rowHash"] if i else chain.GENESIS)
        and chain.row_hash(line) == line["rowHash"]
        for i, line in enumerate(lines)
    )
    if fast and head == ((n, lines[-1]["rowHash"]) if n else (0, chain.GENESIS)):
        return None

    places = range(1, max([n, head[0], *(line["seq"] or 0 for line in lines)]) + 2)
    original: list[int | None] = []
    for line in lines:
        if line["seq"] is not None and chain.row_hash(line) == line["rowHash"]:
            original.append(line["seq"])
        else:
            original.append(next((s for s in places if _hash_with(line, s) == line["rowHash"]), None))

    def brk(kind: str, i: int, detail: str) -> Break:
        return Break(wallet_id, kind, ids[i], lines[i]["seq"], detail)

    for i, o in enumerate(original):
        if o is None:
            return brk("changed", i, "its content no longer gives its rowHash")
    placed = [o for o in original if o is not None]  # every row's, by now
    counts = Counter(placed)
    linked = {line["prevHash"] for line in lines}
    for o in placed:
        if counts[o] > 1:
            twins = [j for j in range(n) if placed[j] == o]
            unlinked = [j for j in twins if lines[j]["rowHash"] not in linked] or twins[1:]
            j = unlinked[-1]
            return brk("inserted", j, f"a second row written for seq {o}, linked to by no row")
    expected = sorted(placed)
    for i, o in enumerate(placed):
        if o != expected[i]:
            return brk("reordered", i, f"it was written as seq {o}, now stands at place {i + 1}")
    for i, o in enumerate(placed):
        if o != i + 1:
            return brk("removed", i, f"seq {i + 1}{'' if o == i + 2 else f' to {o - 1}'} missing before it")
    by_hash = {line["rowHash"]: k for k, line in enumerate(lines)}
    for i, line in enumerate(lines):
        want = lines[i - 1]["rowHash"] if i else chain.GENESIS
        if line["prevHash"] != want:
            if line["prevHash"] not in by_hash and line["prevHash"] != chain.GENESIS:
                return brk("removed", i, "its prevHash names a row that is gone")
            return brk("reordered", i, "its prevHash names another row than the one before it")
    if head[0] > n:
        return Break(wallet_id, "removed", None, n + 1, f"the wallet's head names seq {head[0]}, the last row is seq {n}")
    if head[0] < n:
        return brk("inserted", head[0], f"after the wallet's head (seq {head[0]})")
    if n and head[1] != lines[-1]["rowHash"]:
        return brk("changed", n - 1, "the wallet's head holds another hash than its last row")
    return None


def verify(url: str, target: anchor.Target | None = None) -> Verification:
    """Every chain in the database (read as the admin), then the newest anchor, if any."""
    result = Verification()
    newest = anchor.newest(target) if target is not None else None
    anchored: dict[int, tuple[int, str]] = {}
    if newest is not None:
        result.anchor, doc = newest
        result.anchored_at = doc.get("anchoredAt")
        anchored = {int(w["walletId"]): (int(w["seq"]), str(w["rowHash"])) for w in doc["wallets"]}
    with psycopg.connect(url) as conn:
        heads = {int(w): (int(s), str(h)) for w, s, h in conn.execute(WALLETS).fetchall()}
        for _, _, pd, rd in conn.execute(UNCHAINED).fetchall():
            result.unchained += 1
            if pd or rd:
                result.breaks.append(Break(0, "inserted", None, None, "a row without a wallet moves money"))
        hashes_at: dict[int, dict[int, str]] = {}
        with conn.cursor(name="verify_ledger", row_factory=dict_row) as cur:
            cur.itersize = 5000
            current: int | None = None
            lines: list[dict[str, Any]] = []
            ids: list[int] = []

            def finish() -> None:
                if current is None:
                    return
                result.wallets += 1
                found = diagnose(current, lines, ids, heads.get(current, (0, chain.GENESIS)))
                if found:
                    result.breaks.append(found)
                if current in anchored:
                    hashes_at[current] = {line["seq"]: line["rowHash"] for line in lines if line["seq"] == anchored[current][0]}
                    result_after = sum(1 for line in lines if (line["seq"] or 0) > anchored[current][0])
                    if result_after:
                        result.after_anchor[current] = result_after
                elif lines and anchored:
                    result.after_anchor[current] = len(lines)

            for row in cur.execute(ROWS):
                if row["wallet_id"] != current:
                    finish()
                    current, lines, ids = row["wallet_id"], [], []
                lines.append(chain.line_of(row))
                ids.append(row["id"])
                result.rows += 1
            finish()
    broken = {b.wallet_id for b in result.breaks}
    for wallet_id, (seq, row_hash) in sorted(anchored.items()):
        if wallet_id in broken:
            continue
        held = hashes_at.get(wallet_id, {}).get(seq)
        if held is None:
            result.breaks.append(
                Break(wallet_id, "removed", None, seq, f"the anchor of {result.anchored_at} names seq {seq}; no such row")
            )
        elif held != row_hash:
            result.breaks.append(
                Break(
                    wallet_id,
                    "changed",
                    None,
                    seq,
                    f"the chain was rewritten: its seq {seq} differs from the anchor of {result.anchored_at}",
                )
            )
    return result


def anchor_target() -> anchor.Target:
    return anchor.Target.from_env(default_directory=LOCAL_ANCHORS)


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    path.write_text(json.dumps(manifest, indent=2) + "\n")


def export(url: str, out: Path, *, user: str | None, currency: str | None, start: str | None, end: str | None) -> dict[str, Any]:
    """Every page of the export (the endpoint's own code, as the casino role) into `out`, each
    line's chain recomputed as it is written, and the manifest beside it: row count, first and
    last hash, and the anchor the wallets' rows were checked against."""
    from seamless.casino import ledger_export
    from seamless.contract.models import LedgerExportQuery
    from seamless.runtime.apigw import parse_params

    params: dict[str, str] = {}
    for key, value in (("userId", user), ("currency", currency), ("from", start), ("to", end)):
        if value is not None:
            params[key] = value
    params["limit"] = str(ledger_export.MAX_LIMIT)
    rows = 0
    first = last = None
    last_of: dict[int, dict[str, Any]] = {}
    problems: list[str] = []
    ledger_export.Plan(parse_params(LedgerExportQuery, params))  # bad parameters: no file
    with out.open("w") as f:
        cursor: str | None = None
        while True:
            query = parse_params(LedgerExportQuery, {**params, **({"after": cursor} if cursor else {})})
            lines, cursor = ledger_export.page(query)
            for line in lines:
                if chain.row_hash(line) != line["rowHash"]:
                    problems.append(f"wallet {line['walletId']} seq {line['seq']}: rowHash does not match the row")
                previous = last_of.get(line["walletId"])
                if previous is not None and line["prevHash"] != previous["rowHash"]:
                    problems.append(f"wallet {line['walletId']} seq {line['seq']}: prevHash does not link")
                if previous is None and line["seq"] == 1 and line["prevHash"] != chain.GENESIS:
                    problems.append(f"wallet {line['walletId']} seq 1: prevHash is not the genesis")
                last_of[line["walletId"]] = line
                first = first or line["rowHash"]
                last = line["rowHash"]
                rows += 1
                f.write(json.dumps(line, separators=(",", ":")) + "\n")
            if cursor is None:
                break
        f.write(json.dumps({"nextCursor": None}) + "\n")
    newest = anchor.newest(anchor_target())
    checked: dict[str, Any] | None = None
    if newest is not None:
        where, doc = newest
        anchored = {int(w["walletId"]): w for w in doc["wallets"]}
        matches, after = 0, 0
        with out.open() as f:
            for text in f:
                line = json.loads(text)
                head = anchored.get(line.get("walletId", -1))
                if head is None:
                    continue
                if line["seq"] == head["seq"]:
                    if line["rowHash"] == head["rowHash"]:
                        matches += 1
                    else:
                        problems.append(f"wallet {line['walletId']} seq {line['seq']}: differs from the anchor")
                elif line["seq"] > head["seq"]:
                    after += 1
        checked = {
            "location": where,
            "anchoredAt": doc["anchoredAt"],
            "digest": doc["digest"],
            "headsMatched": matches,
            "rowsAfterAnchor": after,
        }
    manifest = {
        "file": out.name,
        "query": {k: v for k, v in params.items() if k != "limit"},
        "rows": rows,
        "firstHash": first,
        "lastHash": last,
        "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
        "anchor": checked,
        "verified": not problems,
        "problems": problems,
    }
    write_manifest(out.with_name(out.name + ".manifest.json"), manifest)
    return manifest


def run(args: Any, url: str) -> int:
    """The CLI's verify-ledger, anchor and export."""
    target = anchor_target()
    if args.command == "verify-ledger":
        result = verify(url, target)
        print(result.report())
        return 0 if result.ok else 1
    if args.command == "anchor":
        with psycopg.connect(url) as conn:
            print(json.dumps(anchor.publish(target, conn)))
        return 0
    from seamless.contract import errors

    try:
        manifest = export(url, Path(args.out), user=args.user, currency=args.currency, start=args.start, end=args.end)
    except errors.ValidationError as exc:
        print(exc.body_text())
        return 2
    print(json.dumps(manifest, indent=2))
    return 0 if manifest["verified"] else 1
