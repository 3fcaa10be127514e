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
#: the roles that own each side's tables and (the casino's) ledger functions: they never log in,
#: so no password of theirs exists to leak (docs/security.md)
CASINO_OWNER, PROVIDER_OWNER = "casino_owner", "provider_owner"


def scram_verifier(conn: psycopg.Connection, role: str, password: str) -> str:
    """The SCRAM-SHA-256 verifier of a role's password (RFC 5802/7677, as PostgreSQL stores it:
    `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`), computed here by libpq
    (PQencryptPasswordConn, a fresh random salt each time). Only the verifier is sent: the
    password never appears in SQL, so not in the server's statement log or pgaudit either."""
    return conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256").decode()


def ensure_roles(conn: psycopg.Connection) -> None:
    """The owner roles (NOLOGIN) and the two login roles, with SCRAM verifiers of their
    secrets' passwords and their session settings.

    The settings are set per role and also per role in this database (ALTER ROLE ... IN
    DATABASE, which takes precedence over a role's own ALTER ROLE ... SET): a login role may
    change its own defaults, PostgreSQL allows every role that, and the login event trigger
    (harden_roles) puts these values back at the start of each of its sessions."""
    settings = common()
    superuser = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
    for owner in (CASINO_OWNER, PROVIDER_OWNER):
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (owner,)).fetchone()
        verb = "ALTER" if exists else "CREATE"
        # NOLOGIN only: the other attributes default to off, and a non-superuser admin may not
        # even restate NOSUPERUSER
        conn.execute(sql.SQL("{} ROLE {} NOLOGIN").format(sql.SQL(verb), sql.Identifier(owner)))
        if not (superuser and superuser[0]):
            # a managed service's admin is no superuser: it changes an object's owner and runs
            # later migrations on the owner's tables as a member of the owner role
            conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(owner)))
    for role in (CASINO_ROLE, PROVIDER_ROLE):
        verifier = scram_verifier(conn, role, settings.role_password(role))
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        verb = "ALTER" if exists else "CREATE"
        conn.execute(sql.SQL("{} ROLE {} LOGIN PASSWORD {}").format(sql.SQL(verb), sql.Identifier(role), sql.Literal(verifier)))
        for name, value in ROLE_SETTINGS.items():
            for scope in (sql.SQL(""), sql.SQL("IN DATABASE {} ").format(sql.Identifier(conn.info.dbname))):
                conn.execute(
                    sql.SQL("ALTER ROLE {} {}SET {} = {}").format(
                        sql.Identifier(role), scope, sql.Identifier(name), sql.Literal(value)
                    )
                )


#: built-in functions no login role may call (sql/database.sql revokes them from PUBLIC)
REVOKED_BUILTINS = ("pg_advisory_xact_lock(bigint)", "pg_try_advisory_lock(bigint)", "lo_create(oid)", "lo_from_bytea(oid,bytea)")


def harden_roles(conn: psycopg.Connection) -> list[str]:
    """What PostgreSQL lets every role do to itself and only a superuser can take away
    (docs/security.md): returns what could not be done here, so `migrate` says it.

    - A login role may `ALTER ROLE` itself: its password (nothing prevents that) and its session
      defaults, e.g. `statement_timeout = 0` for every later session of the application. A login
      event trigger (PostgreSQL 17+) sets ROLE_SETTINGS again at the start of each session of a
      login role, so such a default never reaches the application's sessions.
    - Built-in functions' privileges (advisory locks, large objects; sql/database.sql)."""
    warnings: list[str] = []
    for role in (CASINO_ROLE, PROVIDER_ROLE):
        for fn in REVOKED_BUILTINS:
            allowed = conn.execute("SELECT has_function_privilege(%s, %s, 'EXECUTE')", (role, fn)).fetchone()
            if allowed and allowed[0]:
                warnings.append(f"{role} may still execute {fn} (only a superuser can revoke it)")
    if conn.info.server_version < 170000:
        warnings.append("no login event trigger before PostgreSQL 17: a login role's own ALTER ROLE ... SET is not undone")
        return warnings
    statements = sql.SQL(" ").join(
        sql.SQL("PERFORM pg_catalog.set_config({}, {}, false);").format(sql.Literal(name), sql.Literal(value))
        for name, value in ROLE_SETTINGS.items()
    )
    try:
        with conn.transaction():
            conn.execute("DROP EVENT TRIGGER IF EXISTS app_roles_login_settings")
            conn.execute(
                sql.SQL(
                    "CREATE OR REPLACE FUNCTION public.app_roles_login_settings() RETURNS event_trigger "
                    "LANGUAGE plpgsql AS $fn$ BEGIN IF session_user IN ({}, {}) THEN {} END IF; END $fn$"
                ).format(sql.Literal(CASINO_ROLE), sql.Literal(PROVIDER_ROLE), statements)
            )
            conn.execute("REVOKE ALL ON FUNCTION public.app_roles_login_settings() FROM public")
            conn.execute(
                "CREATE EVENT TRIGGER app_roles_login_settings ON login EXECUTE FUNCTION public.app_roles_login_settings()"
            )
    except psycopg.errors.InsufficientPrivilege:
        warnings.append("no login event trigger (it needs a superuser): a login role's own ALTER ROLE ... SET is not undone")
    return warnings


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
            for warning in harden_roles(conn):
                say(f"migrate: WARNING: {warning}")
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
