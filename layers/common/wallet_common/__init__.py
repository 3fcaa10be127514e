"""Shared layer of the casino wallet and the game provider: signing, models, errors,
HTTP shaping, database access and the ledger. Plain functions, testable without Lambda."""
