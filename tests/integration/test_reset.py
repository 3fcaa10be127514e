"""`make reset` (devtools admin.reset): the public schema dropped and made anew, migrated and
seeded. A schema made anew grants no one USAGE, so the owner roles' own foreign-key checks
(run as the tables' owner) failed in the seed until sql/database.sql granted it to them."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from devtools import admin, localdb
from tests.support import fetch_one


@pytest.fixture
def scratch(database_url: str) -> Iterator[str]:
    server = localdb.with_dbname(database_url, "postgres")
    name = admin.new_test_database_name()
    url = localdb.create_database(server, name)
    try:
        yield url
    finally:
        localdb.drop_database(server, name)


def test_a_reset_database_is_migrated_and_seeded_again(scratch):
    admin.migrate(scratch, quiet=True)
    admin.seed(scratch, quiet=True)
    admin.reset(scratch, local_ok=True)  # drops public, migrates, seeds: raised before the fix
    with psycopg.connect(scratch, autocommit=True) as conn:
        assert fetch_one(conn, "SELECT count(*) FROM casino_wallets")[0] == 6  # the seed (§8)
        assert fetch_one(conn, "SELECT has_schema_privilege('casino_owner', 'public', 'USAGE')") == (True,)
        assert fetch_one(conn, "SELECT has_schema_privilege('casino_app', 'public', 'CREATE')") == (False,)
    assert admin.reconcile(scratch).ok
