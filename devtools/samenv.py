"""`python -m devtools sam-env`: what `sam local` needs to run against the local database.

SAM passes a function only the environment variables the template declares; with
LocalRun=true (samconfig.toml's [local] environment) every function declares, empty, the local
settings it reads (DATABASE_URL and the dev signing secrets it uses). This command writes the
env.json that fills them (and blanks the secret ARNs, so nothing goes to Secrets Manager), and
seeds the casino's and the provider's base URLs with the address containers reach the host by,
so that the functions call each other through `sam local start-api`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from . import ROOT
from .security import SECRET_ENV

#: how containers reach the host (`--add-host host.docker.internal:host-gateway` in samconfig.toml)
CONTAINER_HOST = "host.docker.internal"


def env_json_document(database_url: str, *, secrets: dict[str, str]) -> dict[str, Any]:
    """env.json for `sam local --env-vars`: the same values for every function ("Parameters").
    The secrets are the documented local development ones (never a deployed secret); the base
    URLs live in the database (seeded), not in the environment."""
    return {
        "Parameters": {
            "DATABASE_URL": database_url,
            **secrets,
            **{name: "" for name in SECRET_ENV.values()},  # no Secrets Manager locally
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
    }


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db-port", type=int, default=5432, help="the database's port (default 5432)")
    p.add_argument("--api-port", type=int, default=3000, help="the port `sam local start-api` listens on (default 3000)")
    p.add_argument("--output", default=str(ROOT / "env.json"), help="where to write env.json (default: ./env.json)")


def main(args: argparse.Namespace) -> int:
    import os

    from . import admin
    from .fixtures import DEV_SECRETS
    from .localdb import app_database_url, docker_bridge

    db_port = args.db_port
    api = f"http://{CONTAINER_HOST}:{args.api_port}"
    doc = env_json_document(f"postgresql://{CONTAINER_HOST}:{db_port}/casino?sslmode=disable", secrets=dict(DEV_SECRETS))
    Path(args.output).write_text(json.dumps(doc, indent=2) + "\n")
    os.environ["PROVIDER_BASE_URL"] = os.environ["CASINO_BASE_URL"] = api
    admin.seed(app_database_url(), quiet=True)
    bridge = docker_bridge()
    print(f"wrote {args.output}; seeded the base URLs {api} (casino and provider)")
    print("next: sam build --config-env local")
    host = bridge.ip if bridge else "<docker bridge address>"
    print(f"      sam local start-api --config-env local --host {host} --port {args.api_port}")
    print("      sam local invoke DebitFunction --config-env local -e events/debit.json")
    return 0
