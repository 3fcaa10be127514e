"""Test harness: a throwaway database on a real PostgreSQL for the whole session.

DATABASE_URL (or TEST_DATABASE_URL) names a server to use; without it the embedded
PostgreSQL under .localdb/ is started. Either way a fresh database `test_<random>` is
created, migrated and seeded, and dropped at the end, after `reconcile` and `verify-ledger`
have checked it.
"""

from __future__ import annotations

import os

import pytest

from devtools import admin, localdb
from devtools.fixtures import DEV_SECRETS
from tests.support import restore_env

# No CloudWatch/X-Ray in tests (a test that checks metrics turns them on for itself).
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")


@pytest.fixture(scope="session")
def database_url():
    server = os.environ.get("TEST_DATABASE_URL") or localdb.server_url()
    name = admin.new_test_database_name()
    url = localdb.create_database(server, name)
    saved = {k: os.environ.get(k) for k in ("DATABASE_URL", *DEV_SECRETS, "POWERTOOLS_LOG_LEVEL")}
    os.environ["DATABASE_URL"] = url
    os.environ.update(DEV_SECRETS)
    os.environ["POWERTOOLS_LOG_LEVEL"] = "CRITICAL"
    from seamless.runtime import db
    from seamless.runtime.settings import reload_settings

    reload_settings()
    admin.migrate(url, quiet=True)
    admin.seed(url, quiet=True)
    try:
        yield url
        result = admin.reconcile(url)
        assert result.ok, "reconcile failed after the test session:\n" + result.table()
        from devtools import chain  # every wallet's hash chain, recomputed (docs/records.md)

        verified = chain.verify(url)
        assert verified.ok, "verify-ledger failed after the test session:\n" + verified.report()
    finally:
        db.close_all()
        localdb.drop_database(server, name)
        restore_env(saved)
