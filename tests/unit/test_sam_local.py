"""`sam local` (README "Running with SAM"): the template's local-only settings exist only where
LocalRun says so, the [local] samconfig environment builds x86_64 into its own folder, the
callback routes have throttles of their own, production verifies the database, the embedded
database's TCP opt-in accepts only loopback or the Docker bridge, and `make sam-local`
compares answers by what matters."""

from __future__ import annotations

import ipaddress
import json
import tomllib

import pytest

from devtools import localdb, samlocal
from devtools.samenv import env_json_document
from devtools.security import SECRET_ENV, SECRETS_BY_FUNCTION
from devtools.template import SAMCONFIG, Template, samconfig_parameters

FUNCTION = "AWS::Serverless::Function"
LOCAL_SETTING = {"CasinoHmacSecret": "CASINO_SECRET", "ProviderHmacSecret": "PROVIDER_SECRET"}


def _variables(stack: dict, logical_id: str) -> dict:
    return (stack["Resources"][logical_id]["Properties"].get("Environment") or {}).get("Variables") or {}


@pytest.mark.parametrize("env", ["prod", "default"])
def test_a_deployed_stack_has_no_local_setting_and_no_secret_in_any_environment(env):
    stack = Template().deployed(samconfig_parameters(env))
    assert stack["Conditions"]["IsLocalRun"] is False
    for logical_id, res in stack["Resources"].items():
        if res["Type"] == FUNCTION:
            variables = _variables(stack, logical_id)
            assert not {"DATABASE_URL", "CASINO_SECRET", "PROVIDER_SECRET"} & set(variables), logical_id


def test_local_run_declares_exactly_the_local_settings_each_function_reads_empty():
    stack = Template().deployed({"LocalRun": "true", "EnableTestDriver": "true", "DatabaseAdminSecretArn": "arn:admin"})
    for logical_id, secrets in SECRETS_BY_FUNCTION.items():
        variables = _variables(stack, logical_id)
        local = {k for k in variables if k in ("DATABASE_URL", "CASINO_SECRET", "PROVIDER_SECRET")}
        assert local == {"DATABASE_URL", *(LOCAL_SETTING[s] for s in secrets if s in LOCAL_SETTING)}, logical_id
        assert all(variables[k] == "" for k in local), logical_id


def test_architecture_is_arm64_deployed_and_x86_64_in_the_local_environment():
    template = Template()
    assert template.defaults["Architecture"] == "arm64"
    assert template.doc["Globals"]["Function"]["Architectures"] == [{"Ref": "Architecture"}]
    layer = template.resources["CommonLayer"]
    assert layer["Metadata"]["BuildArchitecture"] == {"Ref": "Architecture"}
    config = tomllib.loads(SAMCONFIG.read_text())
    local = config["local"]
    assert "Architecture=x86_64" in local["global"]["parameters"]["parameter_overrides"]
    assert "LocalRun=true" in local["global"]["parameters"]["parameter_overrides"]
    assert local["build"]["parameters"]["build_dir"] != ".aws-sam/build"  # never mixed with a deploy's arm64 build
    for command in ("local_invoke", "local_start_api"):
        assert local[command]["parameters"]["template_file"].startswith(local["build"]["parameters"]["build_dir"])
    assert local["local_start_api"]["parameters"]["warm_containers"] == "LAZY"
    assert config["default"]["local_start_api"]["parameters"]["warm_containers"] == "LAZY"
    for env in ("prod", "default"):
        assert "Architecture" not in samconfig_parameters(env) and "LocalRun" not in samconfig_parameters(env)


def test_the_provider_callbacks_have_throttles_of_their_own():
    settings = Template().resources["WalletApi"]["Properties"]["MethodSettings"]
    own = {s["ResourcePath"] for s in settings if s["ResourcePath"] != "/*"}
    assert own == {f"/~1casino~1{name}" for name in ("getBalance", "debit", "credit", "rollback")}
    for s in settings:
        if s["ResourcePath"] in own:
            assert s["ThrottlingRateLimit"] == {"Ref": "CallbackThrottlingRateLimit"}
            assert s["HttpMethod"] == "POST"


def test_production_takes_verify_full_only():
    template = Template()
    assert "require" not in template.doc["Parameters"]["DatabaseSslMode"]["AllowedValues"]
    rule = template.doc["Rules"]["ProductionVerifiesTheDatabase"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "EnableTestDriver"}, "false"]}
    assert rule["Assertions"][0]["Assert"] == {"Fn::Equals": [{"Ref": "DatabaseSslMode"}, "verify-full"]}
    assert samconfig_parameters("prod")["EnableTestDriver"] == "false"  # so the rule applies to prod


def test_env_json_blanks_every_secret_arn_and_carries_only_dev_secrets():
    doc = env_json_document("postgresql://h:5432/casino", secrets={"CASINO_SECRET": "dev-casino-secret"})
    params = doc["Parameters"]
    assert params["DATABASE_URL"] == "postgresql://h:5432/casino"
    assert all(params[name] == "" for name in SECRET_ENV.values())
    assert "password" not in json.dumps(doc).lower()


@pytest.mark.parametrize("setting", ["0.0.0.0", "10.1.2.3", "192.168.0.10", "::1", "localhost", "docker0", ""])
def test_tcp_is_refused_anywhere_but_loopback_or_the_docker_bridge(setting, monkeypatch):
    monkeypatch.setattr(localdb, "docker_bridge", lambda: ipaddress.IPv4Interface("172.17.0.1/16"))
    with pytest.raises(ValueError, match="LOCALDB_TCP"):
        localdb.tcp_listen_address(setting)


def test_tcp_on_loopback_or_the_bridge_and_only_the_app_roles_with_passwords(monkeypatch):
    monkeypatch.setattr(localdb, "docker_bridge", lambda: ipaddress.IPv4Interface("172.17.0.1/16"))
    assert str(localdb.tcp_listen_address("127.0.0.1").network) == "127.0.0.1/32"
    assert str(localdb.tcp_listen_address("docker").network) == "172.17.0.0/16"
    assert str(localdb.tcp_listen_address("172.17.0.1").ip) == "172.17.0.1"
    lines = localdb.hba_lines(ipaddress.IPv4Network("172.17.0.0/16"))
    host = [line.split() for line in lines if line.startswith("host")]
    assert host == [["host", "casino", "casino_app,provider_app", "172.17.0.0/16", "scram-sha-256"]]
    assert not any("trust" in line for line in lines if line.startswith("host"))


def test_answers_are_compared_by_status_chosen_headers_and_body_with_random_ids_by_shape():
    base = {"statusCode": 200, "headers": {"Content-Type": "application/json", "X-Amzn-RequestId": "a"}}
    a = {**base, "body": json.dumps({"sessionToken": "t1", "id": "11111111-1111-4111-8111-111111111111", "balance": 5})}
    b = {
        **base,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"sessionToken": "t2", "id": "22222222-2222-4222-8222-222222222222", "balance": 5}),
    }
    assert samlocal.comparable(a) == samlocal.comparable(b)
    rounds = [{**base, "body": json.dumps({"roundId": f"rnd-{h * 32}:bet:0"})} for h in "ab"]
    assert samlocal.comparable(rounds[0]) == samlocal.comparable(rounds[1])
    assert samlocal.comparable(a) != samlocal.comparable({**a, "body": json.dumps({"balance": 6})})
    assert samlocal.comparable(a) != samlocal.comparable({**a, "statusCode": 201})
    assert samlocal.comparable(a) != samlocal.comparable({**a, "headers": {"Content-Type": "text/html"}})


def test_every_sample_event_has_a_function_and_a_place_in_the_order():
    plan = samlocal.event_plan()
    names = {name for name, _ in plan}
    # every sample event is run under SAM, but those that say why they cannot be
    assert names | set(samlocal.NOT_UNDER_SAM) == {p.stem for p in (samlocal.ROOT / "events").glob("*.json")}
    assert not names & set(samlocal.NOT_UNDER_SAM)
    assert set(dict.fromkeys(fn for _, fn in plan)) <= set(SECRETS_BY_FUNCTION)
    order = [name for name, _ in plan]
    for name, prereqs in samlocal.PREREQUISITES.items():
        assert all(order.index(p) < order.index(name) for p in prereqs)
