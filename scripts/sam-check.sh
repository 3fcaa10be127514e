#!/usr/bin/env bash
# sam validate --lint, cfn-lint, the rendered-template checks, checkov and `sam build` (no
# container). sam build needs the Lambda runtime's exact Python (3.12) on PATH: found on PATH
# or under pyenv, else a clear failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export SAM_CLI_TELEMETRY=0
TOOLS=.venv-tools/bin
py312=""
for c in python3.12 "$(pyenv root 2>/dev/null)/versions/3.12"*/bin/python3.12; do
  if "$c" -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1; then py312=$(command -v "$c" || echo "$c"); break; fi
done
if [ -z "$py312" ]; then
  echo "sam build needs Python 3.12 (the Lambda runtime) on PATH; install it (e.g. pyenv install 3.12) and retry." >&2
  exit 1
fi
export PATH="$(dirname "$py312"):$PWD/$TOOLS:$PATH"
echo "== sam validate --lint"
sam validate --lint --region us-east-1 --template template.yaml
echo "== cfn-lint"
cfn-lint template.yaml
echo "== rendered template (prod and dev parameters): test driver, secrets per function"
"$TOOLS/python" scripts/check_template.py
echo "== checkov (every skipped check is justified by its checkov:skip comment in template.yaml)"
.venv-scan/bin/checkov --file template.yaml --framework cloudformation --compact --quiet --skip-download
echo "== sam build (python $("$py312" -V 2>&1))"
sam build --template template.yaml --build-dir .aws-sam/build --no-cached 2>&1 | tail -n 15
echo "== built layer imports"
"$py312" - <<'PY'
import importlib, sys
sys.path.insert(0, ".aws-sam/build/CommonLayer/python")
from pathlib import Path
# pure modules only: the built layer's compiled wheels are for arm64 (the Lambda's architecture)
for mod in ("seamless.contract.signing", "seamless.contract.errors"):
    assert ".aws-sam" in importlib.import_module(mod).__file__
sql = Path(".aws-sam/build/CommonLayer/python/seamless/sql")
assert not sql.is_symlink() and sorted(p.name for p in (sql / "casino" / "migrations").glob("*.sql")), "sql/ missing from the layer"
assert any(p.name.startswith("psycopg_binary") for p in Path(".aws-sam/build/CommonLayer/python").iterdir())
assert Path(".aws-sam/build/CommonLayer/python/seamless/provider/templates/round.html.j2").is_file(), "the round page template"
assert (Path(".aws-sam/build/CommonLayer/python") / "jinja2").is_dir(), "jinja2 missing from the layer"
certs = Path(".aws-sam/build/CommonLayer/python/seamless/certs")
bundle = Path("layers/common/seamless/certs/database-ca-bundle.pem")
assert (certs / "README.md").is_file(), "seamless/certs missing from the layer"
assert not bundle.is_file() or (certs / bundle.name).read_bytes() == bundle.read_bytes()
print("layer package, its sql/ and its arm64 wheels are in the built artifact")
if not bundle.is_file():
    print("note: no RDS CA bundle in this build - a deploy runs `make rds-ca` first (docs/security.md)")
PY
