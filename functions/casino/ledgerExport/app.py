"""GET /casino/ledger/export: the ledger's rows with their hash chain, as NDJSON pages, for an
auditor or regulator (docs/protocol.md §6, docs/records.md); behind IAM authorization when
deployed."""

from seamless.casino.ledger_export import handler as lambda_handler

__all__ = ["lambda_handler"]
