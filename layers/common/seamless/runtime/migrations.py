"""Schema migrations, runnable anywhere the layer is: `python -m devtools migrate` locally,
the MigrateFunction (a CloudFormation custom resource) when deployed.

SQL by owner: sql/casino/ and sql/provider/. Numbered files in each side's migrations/ are
applied once each (recorded in schema_migrations as "<side>/<file>", with a checksum). The
casino's ledger functions live in their own schema, `ledger`, which every migrate drops and
creates again from sql/casino/functions/ (so a changed signature needs no DROP FUNCTION of
its own), and so do each side's retention functions (sql/<side>/retention.sql); then the
database's hardening (sql/database.sql) and each side's grants.sql are
re-applied and the error catalogue is copied from contract/errors.py. Idempotent; one
migrate at a time.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import psycopg
from psycopg import sql

from ..contract import errors
from .settings import CASINO_ROLE, PROVIDER_ROLE, common

# The project's sql/ folder; inside the layer as seamless/sql (a link to it in the source
# tree, copied as files by `sam build`).
SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
SIDES = ("casino", "provider")
FUNCTIONS = SQL_DIR / "casino" / "functions"
CHECKS = SQL_DIR / "checks"
#: a database migrated before the SQL was split by owner recorded one file for both sides
LEGACY_VERSIONS = {"0001_schema.sql": ("casino/0001_schema.sql", "provider/0001_schema.sql")}
# Session settings live on the roles, not in SET statements (RDS Proxy pinning).
ROLE_SETTINGS = {"statement_timeout": "5s", "lock_timeout": "3s", "idle_in_transaction_session_timeout": "10s"}


def scram_verifier(conn: psycopg.Connection, role: str, password: str) -> str:
    """The SCRAM-SHA-256 verifier of a role's password (RFC 5802/7677, as PostgreSQL stores it:
    `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`), computed here by libpq
    (PQencryptPasswordConn, a fresh random salt each time). Only the verifier is sent: the
    password never appears in SQL, so not in the server's statement log or pgaudit either."""
    return conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256").decode()


def ensure_roles(conn: psycopg.Connection) -> None:
    settings = common()
    for role in (CASINO_ROLE, PROVIDER_ROLE):
        verifier = scram_verifier(conn, role, settings.role_password(role))
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        verb = "ALTER" if exists else "CREATE"
        conn.execute(sql.SQL("{} ROLE {} LOGIN PASSWORD {}").format(sql.SQL(verb), sql.Identifier(role), sql.Literal(verifier)))
        for name, value in ROLE_SETTINGS.items():
            conn.execute(
                sql.SQL("ALTER ROLE {} SET {} = {}").format(sql.Identifier(role), sql.Identifier(name), sql.Literal(value))
            )


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
            _adopt_legacy(conn, done)
            for side in SIDES:
                for path in sorted((SQL_DIR / side / "migrations").glob("*.sql")):
                    version = f"{side}/{path.name}"
                    text = path.read_text()
                    checksum = hashlib.sha256(text.encode()).hexdigest()
                    if version in done:
                        if done[version] != checksum:
                            raise SystemExit(f"migration {version} changed after it was applied; add a new migration instead")
                        continue
                    say(f"migrate: applying {version}")
                    conn.execute(text)
                    conn.execute("INSERT INTO schema_migrations (version, checksum) VALUES (%s, %s)", (version, checksum))
                    applied.append(version)
            conn.execute("DROP SCHEMA IF EXISTS ledger CASCADE")
            for path in sorted(FUNCTIONS.glob("*.sql")):
                conn.execute(path.read_text())
            for side in SIDES:  # each side's retention purge, in its own schema (docs/retention.md)
                conn.execute((SQL_DIR / side / "retention.sql").read_text())
            conn.execute((SQL_DIR / "database.sql").read_text())
            for side in SIDES:
                conn.execute((SQL_DIR / side / "grants.sql").read_text())
            for cls in errors.catalog():
                conn.execute(
                    """INSERT INTO casino_error_catalog (code, http_status, message)
                                VALUES (%s, %s, %s)
                                ON CONFLICT (code) DO UPDATE
                                SET http_status = EXCLUDED.http_status, message = EXCLUDED.message""",
                    (cls.code, cls.status, cls.message),
                )
    say(f"migrate: {len(applied)} new migration(s); functions, grants and error catalogue up to date")
    return applied


def _adopt_legacy(conn: psycopg.Connection, done: dict[str, str]) -> None:
    """Records the per-side versions of a migration applied before the split (same SQL)."""
    for legacy, versions in LEGACY_VERSIONS.items():
        if legacy not in done:
            continue
        for version in versions:
            checksum = hashlib.sha256((SQL_DIR / version.replace("/", "/migrations/", 1)).read_bytes()).hexdigest()
            conn.execute(
                "INSERT INTO schema_migrations (version, checksum) VALUES (%s, %s) ON CONFLICT (version) DO NOTHING",
                (version, checksum),
            )
            done[version] = checksum
        conn.execute("DELETE FROM schema_migrations WHERE version = %s", (legacy,))
        # the functions of the old layout lived in public
        for row in conn.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n "
            "ON n.oid = p.pronamespace WHERE n.nspname = 'public' "
            "AND p.proname LIKE 'casino\\_%'"
        ).fetchall():
            conn.execute(sql.SQL("DROP FUNCTION {}").format(sql.SQL(row[0])))
