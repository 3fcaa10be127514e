"""The embedded database's TCP opt-in (LOCALDB_TCP, for `sam local`'s containers), on a private
server of its own (LOCALDB_DIR) in a child process: off by default; when on, only the
application roles log in over TCP, with their passwords, to the application database; the
socket still serves local users."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from devtools import ROOT

CHILD = textwrap.dedent(
    """
    import json, os, sys
    import psycopg
    from devtools import admin, localdb

    url = localdb.app_database_url()
    before = localdb._listening(localdb.DATA_DIR)
    admin.migrate(url, quiet=True)
    host, port = localdb.enable_tcp("127.0.0.1").split(":")

    def attempt(user, password, dbname="casino"):
        try:
            psycopg.connect(host=host, port=port, user=user, password=password, dbname=dbname,
                            sslmode="disable", connect_timeout=5).close()
            return "accepted"
        except psycopg.OperationalError:
            return "refused"

    results = {
        "listening before": before,
        "casino_app, its password": attempt("casino_app", "casino_app_local"),
        "provider_app, its password": attempt("provider_app", "provider_app_local"),
        "casino_app, a wrong password": attempt("casino_app", "not-the-password"),
        "casino_app, no password": attempt("casino_app", ""),
        "postgres (superuser)": attempt("postgres", ""),
        "casino_app, another database": attempt("casino_app", "casino_app_local", "postgres"),
    }
    with psycopg.connect(url) as conn:  # the socket, as before
        results["socket"] = conn.execute("SELECT 'works'").fetchone()[0]
    print(json.dumps(results))
    """
)


def test_tcp_is_opt_in_and_only_the_app_roles_log_in_with_their_passwords(tmp_path):
    done = subprocess.run(  # noqa: S603 - this interpreter, the script above
        [sys.executable, "-c", CHILD],
        cwd=ROOT,
        env={"LOCALDB_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert results == {
        "listening before": None,
        "casino_app, its password": "accepted",
        "provider_app, its password": "accepted",
        "casino_app, a wrong password": "refused",
        "casino_app, no password": "refused",
        "postgres (superuser)": "refused",
        "casino_app, another database": "refused",
        "socket": "works",
    }
