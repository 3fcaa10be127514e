"""MigrateFunction: the CloudFormation custom resource that applies sql/ on deploy."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import psycopg
import pytest
from seamless.runtime.settings import reload_settings

from devtools import admin, localdb
from devtools.lambda_local import LambdaContext
from tests.support import function


def _handler():
    return function("MigrateFunction").load()


@pytest.fixture
def cloudformation():
    """A stand-in for the pre-signed S3 URL CloudFormation waits on."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/response", received
    server.shutdown()
    server.server_close()


@pytest.fixture
def empty_database(database_url, monkeypatch):
    server = localdb.with_dbname(database_url, "postgres")
    name = admin.new_test_database_name()
    url = localdb.create_database(server, name)
    monkeypatch.setenv("DATABASE_URL", url)
    reload_settings()
    yield url
    monkeypatch.setenv("DATABASE_URL", database_url)
    reload_settings()
    localdb.drop_database(server, name)


def _event(request_type: str, url: str) -> dict:
    return {
        "RequestType": request_type,
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:local:0:stack/s/1",
        "RequestId": "req-1",
        "LogicalResourceId": "DatabaseMigration",
        "ResourceType": "Custom::Migration",
    }


def test_create_applies_the_schema_and_reports_success(empty_database, cloudformation):
    url, received = cloudformation
    result = _handler()(_event("Create", url), LambdaContext("MigrateFunction", 60, 256))
    assert result["Status"] == "SUCCESS"
    assert received and received[0]["Status"] == "SUCCESS" and received[0]["RequestId"] == "req-1"
    with psycopg.connect(empty_database) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert {"casino_wallets", "casino_transactions", "provider_bets"} <= tables
        applied = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
    # an update (the next deploy) is idempotent
    again = _handler()(_event("Update", url), LambdaContext("MigrateFunction", 60, 256))
    assert again["Status"] == "SUCCESS"
    assert json.loads(again["Data"]["Result"]) == {"applied": []}
    assert applied


def test_delete_does_nothing_and_succeeds(empty_database, cloudformation):
    url, received = cloudformation
    result = _handler()(_event("Delete", url), LambdaContext("MigrateFunction", 60, 256))
    assert result["Status"] == "SUCCESS" and received[0]["Status"] == "SUCCESS"
    with psycopg.connect(empty_database) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE tablename = 'casino_wallets'").fetchone()[0] == 0


def test_failure_is_reported_to_cloudformation(cloudformation, monkeypatch):
    url, received = cloudformation
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1")
    reload_settings()
    try:
        result = _handler()(_event("Create", url), LambdaContext("MigrateFunction", 60, 256))
    finally:
        monkeypatch.undo()
        reload_settings()
    assert result["Status"] == "FAILED" and received[0]["Status"] == "FAILED"
    assert "nobody" not in received[0]["Reason"]


def test_direct_invoke_runs_the_migration(empty_database):
    result = _handler()({}, LambdaContext("MigrateFunction", 60, 256))
    assert result["result"]["applied"]
