"""Schema migrations, runnable anywhere the layer is: `python -m devtools migrate` locally,
the MigrateFunction (a CloudFormation custom resource) when deployed.

Numbered files in sql/migrations/ are applied once each (recorded in schema_migrations with
a checksum); the files in sql/repeatable/ (ledger functions, grants) are re-applied every
time; then the error catalogue is copied from errors.py. Idempotent; one migrate at a time.
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import psycopg
from psycopg import sql

from . import errors
from .settings import CASINO_ROLE, PROVIDER_ROLE, get_settings

# The project's sql/ folder; inside the layer as wallet_common/sql (a link to it in the source
# tree, copied as files by `sam build`).
SQL_DIR = Path(__file__).resolve().parent / "sql"
MIGRATIONS = SQL_DIR / "migrations"
REPEATABLE = SQL_DIR / "repeatable"
CHECKS = SQL_DIR / "checks"
# Session settings live on the roles, not in SET statements (RDS Proxy pinning).
ROLE_SETTINGS = {"statement_timeout": "5s", "lock_timeout": "3s",
                 "idle_in_transaction_session_timeout": "10s"}


def ensure_roles(conn: psycopg.Connection) -> None:
    settings = get_settings()
    for role in (CASINO_ROLE, PROVIDER_ROLE):
        password = settings.role_password(role)
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        verb = "ALTER" if exists else "CREATE"
        conn.execute(sql.SQL("{} ROLE {} LOGIN PASSWORD {}").format(
            sql.SQL(verb), sql.Identifier(role), sql.Literal(password)))
        for name, value in ROLE_SETTINGS.items():
            conn.execute(sql.SQL("ALTER ROLE {} SET {} = {}").format(
                sql.Identifier(role), sql.Identifier(name), sql.Literal(value)))


def migrate(url: str, *, quiet: bool = False) -> list[str]:
    """Applies new numbered migrations once (recorded in schema_migrations), then the
    repeatable files (functions, grants) and the error catalogue. Idempotent."""
    say = (lambda *_: None) if quiet else (lambda msg: print(msg, file=sys.stderr))
    applied: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(727272)")  # admin only: one migrate at a time
            ensure_roles(conn)
            conn.execute("""CREATE TABLE IF NOT EXISTS schema_migrations (
                                version TEXT PRIMARY KEY, checksum TEXT NOT NULL,
                                applied_at TIMESTAMPTZ NOT NULL DEFAULT now())""")
            done = {row[0]: row[1] for row in conn.execute("SELECT version, checksum FROM schema_migrations")}
            for path in sorted(MIGRATIONS.glob("*.sql")):
                text = path.read_text()
                checksum = hashlib.sha256(text.encode()).hexdigest()
                if path.name in done:
                    if done[path.name] != checksum:
                        raise SystemExit(f"migration {path.name} changed after it was applied; "
                                         "add a new migration instead")
                    continue
                say(f"migrate: applying {path.name}")
                conn.execute(text)
                conn.execute("INSERT INTO schema_migrations (version, checksum) VALUES (%s, %s)",
                             (path.name, checksum))
                applied.append(path.name)
            for path in sorted(REPEATABLE.glob("*.sql")):
                conn.execute(path.read_text())
            for cls in errors.catalog():
                conn.execute("""INSERT INTO casino_error_catalog (code, http_status, message)
                                VALUES (%s, %s, %s)
                                ON CONFLICT (code) DO UPDATE
                                SET http_status = EXCLUDED.http_status, message = EXCLUDED.message""",
                             (cls.code, cls.status, cls.message))
    say(f"migrate: {len(applied)} new migration(s); functions, grants and error catalogue up to date")
    return applied
