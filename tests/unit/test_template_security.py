"""The deployed shape of template.yaml (docs/security.md): no test driver in production,
each function reads only the secrets it uses, environment per function.

The template is rendered as a stack with samconfig.toml's parameters would hold it
(devtools.template.render: Conditions evaluated, Fn::If resolved). `make sam-check` runs the
same checks on SAM's own transformed output (scripts/check_template.py)."""

from __future__ import annotations

from typing import Any

import pytest

from devtools.security import SECRET_ENV, SECRETS_BY_FUNCTION
from devtools.template import Template, render, samconfig_parameters

FUNCTION = "AWS::Serverless::Function"


def _routes(resources: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (event["Properties"]["Method"].upper(), event["Properties"]["Path"])
        for res in resources.values()
        if res["Type"] == FUNCTION
        for event in (res["Properties"].get("Events") or {}).values()
        if event["Type"] == "Api"
    }


@pytest.mark.parametrize("env", ["prod", None])
def test_production_and_an_unset_parameter_deploy_no_test_driver(env):
    params = samconfig_parameters(env) if env else {}
    assert params.get("EnableTestDriver", "false") == "false"
    stack = Template().deployed(params)
    assert stack["Conditions"]["TestDriverEnabled"] is False
    assert "SimulateRoundFunction" not in stack["Resources"]
    assert "ProviderSimulateFunction" not in stack["Resources"]
    assert not any("simulate" in path.lower() for _, path in _routes(stack["Resources"]))
    # the rest of the API is all there
    assert ("POST", "/casino/launchGame") in _routes(stack["Resources"])
    assert ("POST", "/casino/debit") in _routes(stack["Resources"])


def test_a_development_stack_deploys_the_test_driver_behind_the_api_key():
    stack = Template().deployed(samconfig_parameters("default"))
    fn = stack["Resources"]["SimulateRoundFunction"]
    assert {("POST", "/casino/simulateRound"), ("POST", "/provider/simulate")} <= _routes(stack["Resources"])
    assert fn["Properties"]["Events"]["Api"]["Properties"]["Auth"] == {"ApiKeyRequired": True}


def test_the_local_api_always_serves_the_test_driver():
    routes = {route for fn in Template().functions.values() for route in fn.routes}
    assert {("POST", "/casino/simulateRound"), ("POST", "/provider/simulate")} <= routes


def test_render_resolves_conditions_and_if():
    doc = {
        "Conditions": {"On": {"Fn::Equals": [{"Ref": "P"}, "yes"]}, "Off": {"Fn::Not": [{"Condition": "On"}]}},
        "Resources": {
            "A": {"Type": "X", "Condition": "On", "Properties": {}},
            "B": {"Type": "X", "Condition": "Off", "Properties": {"V": {"Fn::If": ["On", 1, {"Ref": "AWS::NoValue"}]}}},
        },
    }
    assert set(render(doc, {"P": "yes"})["Resources"]) == {"A"}
    assert render(doc, {"P": "no"})["Resources"] == {"B": {"Type": "X", "Condition": "Off", "Properties": {}}}


def _secret_refs(props: dict[str, Any]) -> set[str]:
    refs = set()
    for policy in props.get("Policies") or []:
        if isinstance(policy, dict) and "AWSSecretsManagerGetSecretValuePolicy" in policy:
            refs.add(policy["AWSSecretsManagerGetSecretValuePolicy"]["SecretArn"]["Ref"])
    return refs


def test_every_function_reads_only_the_secrets_it_uses_and_names_only_those():
    template = Template()
    functions = {k: v for k, v in template.resources.items() if v["Type"] == FUNCTION}
    assert set(functions) == set(SECRETS_BY_FUNCTION), "a function without a row in devtools/security.py"
    for logical_id, res in functions.items():
        props = res["Properties"]
        expected = SECRETS_BY_FUNCTION[logical_id]
        assert _secret_refs(props) == expected, logical_id
        variables = (props.get("Environment") or {}).get("Variables") or {}
        named = {k for k in variables if k.endswith("SECRET_ARN")}
        assert named == {SECRET_ENV[s] for s in expected}, logical_id
        for name in named:
            assert variables[name] == {"Ref": next(s for s, v in SECRET_ENV.items() if v == name)}


STACK_SECRETS = {"CasinoHmacSecret", "ProviderHmacSecret", "CasinoDatabaseSecret", "ProviderDatabaseSecret"}


def test_the_stack_secrets_and_environments_are_encrypted_with_its_own_key():
    """Lambda decrypts a function's environment with the function's role, so every function may
    decrypt with SecretsKey; which secret it reads is still decided by GetSecretValue alone."""
    template = Template()
    assert template.resources["SecretsKey"]["Properties"]["EnableKeyRotation"] is True
    for name in STACK_SECRETS:
        assert template.resources[name]["Properties"]["KmsKeyId"] == {"Ref": "SecretsKey"}, name
    for logical_id, res in template.resources.items():
        if res["Type"] != FUNCTION:
            continue
        assert {"KMSDecryptPolicy": {"KeyId": {"Ref": "SecretsKey"}}} in res["Properties"]["Policies"], logical_id
    assert template.doc["Globals"]["Function"]["KmsKeyArn"] == {"Fn::GetAtt": "SecretsKey.Arn"}


def test_the_open_health_endpoint_reads_no_signing_secret():
    props = Template().resources["ProviderHealthFunction"]["Properties"]
    assert _secret_refs(props) == {"ProviderDatabaseSecret"}


def test_globals_carry_no_secret_and_no_side_specific_setting():
    variables = Template().doc["Globals"]["Function"]["Environment"]["Variables"]
    assert not [k for k in variables if "SECRET" in k]
    assert set(variables) == {
        "DATABASE_HOST",
        "DATABASE_SSLMODE",
        "DATABASE_SSLROOTCERT",
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE",
        "POWERTOOLS_LOG_LEVEL",
    }


def test_deployed_database_connections_verify_the_server():
    template = Template()
    assert template.defaults["DatabaseSslMode"] == "verify-full"
    assert template.defaults["DatabaseSslRootCert"].startswith("/opt/python/seamless/certs/")
    assert template.doc["Globals"]["Function"]["Environment"]["Variables"]["DATABASE_SSLMODE"] == {"Ref": "DatabaseSslMode"}
    for env in ("prod", "default"):
        assert "DatabaseSslMode" not in samconfig_parameters(env)  # nobody turns it down
