"""`make sam-check`: checks SAM's own transformed template (what CloudFormation receives), as
a stack with samconfig.toml's parameters would hold it (devtools.template.render):

- production has no simulateRound or /provider/simulate function, role, permission or API path;
  development has both;
- every function's IAM role may read exactly the secrets devtools/security.py lists for it,
  and decrypt them with the stack's SecretsKey.

Runs in the tools virtualenv (aws-sam-translator); tests/unit/test_template_security.py checks
the source template the same way in `make test`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from samtranslator.translator.transform import transform  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402

from devtools.security import SECRETS_BY_FUNCTION  # noqa: E402
from devtools.template import render, samconfig_parameters  # noqa: E402


class _NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


def transformed(params: dict[str, str]) -> dict[str, Any]:
    doc = yaml_parse((ROOT / "template.yaml").read_text())
    for res in doc["Resources"].values():
        props = res.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if key in props:  # as `sam validate` does: the artifacts are not uploaded here
                props[key] = "s3://bucket/key"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    out = transform(doc, params, _NoManagedPolicies())
    defaults = {k: v.get("Default") for k, v in (out.get("Parameters") or {}).items()}
    return render(out, {**defaults, **params})


def _decrypts_with_secrets_key(role: dict[str, Any]) -> bool:
    for policy in role["Properties"].get("Policies") or []:
        for statement in policy["PolicyDocument"]["Statement"]:
            if "kms:Decrypt" in json.dumps(statement["Action"]) and '"SecretsKey"' in json.dumps(statement["Resource"]):
                return True
    return False


def _secret_refs(role: dict[str, Any]) -> set[str]:
    refs = set()
    for policy in role["Properties"].get("Policies") or []:
        for statement in policy["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if any(a.startswith("secretsmanager:") for a in actions):
                resource = statement["Resource"]
                refs.add(resource["Fn::Sub"][1]["secretArn"]["Ref"])
    return refs


def check(env: str, *, test_driver: bool) -> list[str]:
    params = samconfig_parameters(env)
    # the conditional functions are rendered too, so that their policies are checked
    stack = transformed({**params, "DatabaseAdminSecretArn": "arn:aws:secretsmanager:us-east-1:0:secret:admin"})
    problems = []
    text = json.dumps(stack["Resources"])
    for fn, path in (("SimulateRoundFunction", "/casino/simulateRound"), ("ProviderSimulateFunction", "/provider/simulate")):
        deployed = fn in stack["Resources"] or f'"{path}"' in text
        if deployed != test_driver:
            problems.append(f"{env}: {path} {'missing' if test_driver else 'deployed'}")
    for logical_id, res in stack["Resources"].items():
        if res["Type"] != "AWS::Lambda::Function":
            continue
        role_id = res["Properties"]["Role"]["Fn::GetAtt"][0]
        got = _secret_refs(stack["Resources"][role_id])
        want = set(SECRETS_BY_FUNCTION[logical_id])
        if got != want:
            problems.append(f"{env}: {logical_id} may read {sorted(got)}, should read {sorted(want)}")
        if not _decrypts_with_secrets_key(stack["Resources"][role_id]):
            problems.append(f"{env}: {logical_id} cannot decrypt the secrets it reads (SecretsKey)")
    return problems


def main() -> int:
    problems = check("prod", test_driver=False) + check("default", test_driver=True)
    for p in problems:
        print(f"check_template: {p}", file=sys.stderr)
    if not problems:
        print("rendered template: no test driver in prod, one in dev; every role reads only its own secrets")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
