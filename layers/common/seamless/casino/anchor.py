"""Anchors of the ledger's hash chains (docs/protocol.md §9, docs/records.md): every wallet's
head - (walletId, seq, rowHash) - published outside the database, where its owner cannot
rewrite it. Deployed: an object in an S3 bucket with Object Lock in compliance mode
(AnchorBucket in template.yaml; nobody, the account's root included, can delete or overwrite
it before its retention ends). Locally: a JSON file in a directory.

One document per run lists every wallet's head, nothing else: a wallet's whole history up to
its anchored seq is fixed by that one hash (each row's hash covers the previous one), so an
auditor needs only the document and an export to check a wallet - no Merkle proof to follow.
The document's own `digest` (SHA-256 of its canonical wallets list) is what a report quotes.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ..runtime import db
from ..runtime.settings import CASINO_ROLE

PREFIX = "anchors/"
HEADS = "SELECT id, chain_seq, chain_head FROM casino_wallets WHERE chain_seq > 0 ORDER BY id"


@dataclass(frozen=True)
class Target:
    """Where anchors go: an S3 bucket (ANCHOR_BUCKET) or else a directory (ANCHOR_DIR)."""

    bucket: str | None = None
    directory: Path | None = None
    #: Object Lock retention of each anchor (ANCHOR_RETENTION_DAYS)
    retention_days: int = 3653

    @classmethod
    def from_env(cls, default_directory: Path | None = None) -> Target:
        bucket = os.environ.get("ANCHOR_BUCKET") or None
        directory = os.environ.get("ANCHOR_DIR")
        return cls(
            bucket=bucket,
            directory=Path(directory) if directory else default_directory,
            retention_days=int(os.environ.get("ANCHOR_RETENTION_DAYS") or 3653),
        )

    def describe(self) -> str:
        return f"s3://{self.bucket}/{PREFIX}" if self.bucket else str(self.directory)


def digest(wallets: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(wallets, separators=(",", ":"), sort_keys=True).encode()).hexdigest()


def document(heads: list[tuple[int, int, str]], anchored_at: datetime) -> dict[str, Any]:
    wallets = [{"walletId": w, "seq": s, "rowHash": h} for w, s, h in heads]
    return {
        "anchoredAt": anchored_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "wallets": wallets,
        "digest": digest(wallets),
    }


def read_heads(conn: Any) -> list[tuple[int, int, str]]:
    return [(int(w), int(s), str(h)) for w, s, h in conn.execute(HEADS).fetchall()]


def key_of(doc: dict[str, Any]) -> str:
    """Names sort by time: the newest anchor is the greatest name."""
    stamp = doc["anchoredAt"].replace(":", "").replace("-", "")
    return f"{PREFIX}{stamp}.json"


def _s3() -> Any:
    import boto3

    return boto3.client("s3")


def put(doc: dict[str, Any], target: Target) -> str:
    """Writes one anchor; returns where. S3: with Object Lock (compliance) until now + retention."""
    body = json.dumps(doc, indent=1).encode()
    key = key_of(doc)
    if target.bucket:
        until = datetime.now(UTC) + timedelta(days=target.retention_days)
        _s3().put_object(
            Bucket=target.bucket,
            Key=key,
            Body=body,
            ContentType="application/json",
            ObjectLockMode="COMPLIANCE",
            ObjectLockRetainUntilDate=until,
            ChecksumAlgorithm="SHA256",
        )
        return f"s3://{target.bucket}/{key}"
    if target.directory is None:
        raise RuntimeError("no anchor target: set ANCHOR_BUCKET or ANCHOR_DIR")
    path = target.directory / key.removeprefix(PREFIX)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("xb") as out:  # never overwrite an anchor
        out.write(body)
    return str(path)


def publish(target: Target, conn: Any | None = None) -> dict[str, Any]:
    """Reads every wallet's head (as the casino role, or on the given connection) and writes
    the anchor. Returns {"location", "wallets", "digest", "anchoredAt"}."""
    heads = read_heads(conn) if conn is not None else db.run_idempotent(CASINO_ROLE, read_heads)
    doc = document(heads, datetime.now(UTC))
    location = put(doc, target)
    return {"location": location, "wallets": len(heads), "digest": doc["digest"], "anchoredAt": doc["anchoredAt"]}


def newest(target: Target) -> tuple[str, dict[str, Any]] | None:
    """The newest anchor (where, document), or None when none was published yet."""
    if target.bucket:
        s3 = _s3()
        keys: list[str] = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=target.bucket, Prefix=PREFIX):
            keys += [item["Key"] for item in page.get("Contents", [])]
        if not keys:
            return None
        key = max(keys)
        body = s3.get_object(Bucket=target.bucket, Key=key)["Body"].read()
        return f"s3://{target.bucket}/{key}", json.loads(body)
    if target.directory is None or not target.directory.is_dir():
        return None
    files = sorted(target.directory.glob("*.json"))
    if not files:
        return None
    return str(files[-1]), json.loads(files[-1].read_text())
