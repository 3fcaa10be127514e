"""scripts/fetch-rds-ca.sh's check of the CA bundle it puts into the layer (docs/security.md):
only CA certificates of Amazon RDS (direct connections) and Amazon's root CAs (RDS Proxy's ACM
certificates), and the pinned digest when one is given. Bundles are made here (no network)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from devtools import ROOT
from tests.aws.secured_pg import make_ca, server_cert

SCRIPT = ROOT / "scripts" / "fetch-rds-ca.sh"


def _check(bundle: Path, **env: str) -> subprocess.CompletedProcess[str]:
    bash = shutil.which("bash")
    assert bash is not None
    return subprocess.run(  # noqa: S603 - our own script
        [bash, str(SCRIPT), "--check", str(bundle)], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", **env}
    )


def _pem(*cas) -> bytes:
    return b"".join(ca.cert.public_bytes(serialization.Encoding.PEM) for ca in cas)


def test_a_bundle_of_rds_and_amazon_root_cas_passes_and_its_digest_can_be_pinned(tmp_path):
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(
        _pem(
            make_ca("Amazon RDS us-east-1 Root CA RSA2048 G1"),
            make_ca("Amazon RDS eu-west-1 Root CA"),
            make_ca("Amazon Root CA 1", organization="Amazon", country="US"),
        )
    )
    ok = _check(bundle)
    assert ok.returncode == 0, ok.stderr
    assert "3 CA certificates" in ok.stdout
    assert _check(bundle, RDS_CA_SHA256=hashlib.sha256(bundle.read_bytes()).hexdigest()).returncode == 0
    assert _check(bundle, RDS_CA_SHA256="0" * 64).returncode != 0


@pytest.mark.parametrize("what", ["foreign CA", "root lookalike", "leaf", "empty"])
def test_anything_else_in_the_bundle_is_refused(tmp_path, what):
    bundle = tmp_path / "bundle.pem"
    rds = make_ca("Amazon RDS us-east-1 Root CA")
    if what == "foreign CA":
        bundle.write_bytes(_pem(rds, make_ca("Somebody Else Root CA")))
    elif what == "root lookalike":
        bundle.write_bytes(_pem(rds, make_ca("Amazon Root CA 1", organization="Not Amazon", country="US")))
    elif what == "leaf":
        cert, _ = server_cert(rds, "Amazon RDS lookalike", tmp_path)
        bundle.write_bytes(_pem(rds) + cert.read_bytes())
    else:
        bundle.write_text("not a certificate\n")
    result = _check(bundle)
    assert result.returncode != 0 and "fetch-rds-ca:" in result.stderr
