"""What only the native plugin has: plugin info, a complete schema, configuration both ways,
Cancel, its three ways to start, and the YAML example checked against the schema. (Everything
CampaignState does is tested against both providers by the shared suites.)"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from google.protobuf import empty_pb2
from hypothesis import given
from hypothesis import strategies as st
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2

from harness.engine import NativePlugin, PluginError
from harness.programs import ROOT
from harness.sandbox import Sandbox
from harness.structs import to_struct
from pulumi_leadterra import __version__
from pulumi_leadterra.schema import TYPE_TOKEN
from tests.conftest import TEST_KEY


@pytest.fixture
def native(sandbox: Sandbox) -> Any:
    plug = NativePlugin()
    try:
        yield plug
    finally:
        plug.close()


def _schema(plug: NativePlugin) -> dict[str, Any]:
    response = plug._call("GetSchema", provider_pb2.GetSchemaRequest(version=0))
    return dict(json.loads(response.schema))


def test_plugin_info_and_cancel(native: NativePlugin) -> None:
    assert native._call("GetPluginInfo", empty_pb2.Empty()).version == __version__
    assert isinstance(native._call("Cancel", empty_pb2.Empty()), empty_pb2.Empty)


def test_schema_is_complete(native: NativePlugin) -> None:
    schema = _schema(native)
    assert schema["name"] == "leadterra" and schema["version"] == __version__
    resource = schema["resources"][TYPE_TOKEN]
    assert resource["requiredInputs"] == ["campaignId"]
    assert set(resource["inputProperties"]) == {
        "campaignId",
        "status",
        "reconcile",
        "pauseOnDelete",
        "baseUrl",
        "apiKey",
        "startAt",
        "stopAt",
    }
    assert {"window", "nextChangeAt"} <= set(resource["properties"])
    groups = [
        schema["config"]["variables"],
        schema["provider"]["inputProperties"],
        resource["inputProperties"],
        resource["properties"],
    ]
    for group in groups:
        for name, spec in group.items():
            assert spec.get("description", "").strip(), f"{name} has no description"
            assert spec["type"] in ("string", "boolean", "integer", "number", "object"), name
    for group in (schema["config"]["variables"], resource["inputProperties"], resource["properties"]):
        assert group["apiKey"]["secret"] is True
    assert set(schema["config"]["variables"]) >= {
        "apiKey",
        "baseUrl",
        "heal",
        "healAll",
        "pauseAll",
        "preflight",
        "maxAttempts",
    }


def test_every_output_is_in_the_schema(native: NativePlugin, sandbox: Sandbox) -> None:
    native.configure({"leadterra:apiKey": TEST_KEY, "leadterra:baseUrl": sandbox.url})
    declared = set(_schema(native)["resources"][TYPE_TOKEN]["properties"])
    state = native.up(
        None, {"campaign_id": "camp_1", "reconcile": True, "pause_on_delete": True, "base_url": sandbox.url}
    )
    refreshed = native.refresh(state)
    assert refreshed is not None
    sandbox.put("camp_1", status="paused")
    refreshed = native.refresh(refreshed)
    assert refreshed is not None
    wire = {native.python_name(k) for k in declared}
    assert set(state.outputs) | set(refreshed.outputs) <= wire


@pytest.mark.parametrize("how", ["args", "variables"])
def test_configure_takes_args_or_variables(sandbox: Sandbox, how: str) -> None:
    plug = NativePlugin()
    try:
        config = {"apiKey": rpc.wrap_rpc_secret(TEST_KEY), "baseUrl": sandbox.url}
        variables = {"leadterra:config:apiKey": TEST_KEY, "leadterra:config:baseUrl": sandbox.url}
        request = (
            provider_pb2.ConfigureRequest(args=to_struct(config), acceptSecrets=True)
            if how == "args"
            else provider_pb2.ConfigureRequest(variables=variables, acceptSecrets=True)
        )
        response = plug._call("Configure", request)
        assert response.acceptSecrets and response.supportsPreview
        state = plug.up(None, {"campaign_id": "camp_1"})
        assert state.outputs["status"] == "running" and state.outputs["api_key_source"] == "config"
        assert sandbox.drain_counts() == {"POST start": 1}
    finally:
        plug.close()


@pytest.mark.parametrize("provider_name", ["default", "prod-account"])
def test_check_config_returns_the_key_secret(native: NativePlugin, provider_name: str) -> None:
    """The engine sends CheckConfig the configuration with its secrets stripped (a key from plain
    stack config, or a plain string on an explicit provider, was never marked) and stores what
    comes back as the provider's inputs and outputs: the key must come back secret, the rest as
    it was, an unknown key as a plain unknown."""
    urn = f"urn:pulumi:s::p::pulumi:providers:leadterra::{provider_name}"
    news = to_struct({"apiKey": TEST_KEY, "baseUrl": "http://127.0.0.1:1", "heal": "true"})
    response = native._call("CheckConfig", provider_pb2.CheckRequest(urn=urn, news=news))
    inputs = rpc.deserialize_properties(response.inputs, keep_unknowns=True)
    assert list(response.failures) == []
    assert rpc.is_rpc_secret(inputs["apiKey"]) and rpc.unwrap_rpc_secret(inputs["apiKey"]) == TEST_KEY
    assert inputs["baseUrl"] == "http://127.0.0.1:1" and inputs["heal"] == "true"

    unknown = to_struct({"apiKey": rpc.UNKNOWN})
    response = native._call("CheckConfig", provider_pb2.CheckRequest(urn=urn, news=unknown))
    assert response.inputs.fields["apiKey"].string_value == rpc.UNKNOWN  # not wrapped as a secret


def test_errors_are_one_clean_sentence(native: NativePlugin, sandbox: Sandbox) -> None:
    native.configure({"leadterra:apiKey": TEST_KEY, "leadterra:baseUrl": sandbox.url})
    with pytest.raises(PluginError) as info:
        native.up(None, {"campaign_id": "camp_missing"})
    assert info.value.details.startswith("CampaignNotFoundError: campaign camp_missing: ")
    assert "Traceback" not in info.value.details and "Unexpected" not in info.value.details
    assert "\n" not in info.value.details


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "pulumi_leadterra.plugin"],
        [str(Path(sys.executable).parent / "pulumi-resource-leadterra")],
        [sys.executable, str(ROOT / "provider" / "__main__.py")],
    ],
    ids=["python -m", "console script", "PulumiPlugin folder"],
)
def test_every_way_to_start_prints_a_port(command: list[str]) -> None:
    proc = subprocess.Popen(
        [*command, "127.0.0.1:1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert re.fullmatch(r"[0-9]+", proc.stdout.readline().strip())
    finally:
        proc.kill()
        proc.communicate(timeout=10)
    plugin_yaml = yaml.safe_load((ROOT / "provider" / "PulumiPlugin.yaml").read_text())
    assert plugin_yaml["runtime"]["name"] == "python"


def test_help_prints_usage_and_exits_0() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pulumi_leadterra.plugin", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ,
    )
    assert result.returncode == 0 and "PULUMI_DEBUG_PROVIDERS" in result.stdout


def test_the_yaml_example_matches_the_schema(native: NativePlugin) -> None:
    schema = _schema(native)
    program = yaml.safe_load((ROOT / "examples" / "yaml" / "Pulumi.yaml").read_text())
    (provider,) = program["plugins"]["providers"]
    assert provider["name"] == "leadterra"
    assert (ROOT / "examples" / "yaml" / provider["path"] / "PulumiPlugin.yaml").exists()
    for name, resource in program["resources"].items():
        spec = schema["resources"][resource["type"]]
        assert set(spec["requiredInputs"]) <= set(resource["properties"]), name
        assert set(resource["properties"]) <= set(spec["inputProperties"]), name
        assert resource["properties"].get("status", "running") in ("running", "paused")
    for expression in program["outputs"].values():
        resource, prop = re.fullmatch(r"\$\{(\w+)\.(\w+)\}", expression).groups()  # type: ignore[union-attr]
        assert prop in schema["resources"][program["resources"][resource]["type"]]["properties"]


def test_parameterize_is_unimplemented_not_an_error(native: NativePlugin) -> None:
    """The engine reads UNIMPLEMENTED as "no parameters"; UNKNOWN (the SDK's answer) is printed
    as an error by the CLI."""
    with pytest.raises(PluginError) as info:
        args = provider_pb2.ParameterizeRequest.ParametersArgs(args=["x"])
        native._call("Parameterize", provider_pb2.ParameterizeRequest(args=args))
    assert info.value.code == grpc.StatusCode.UNIMPLEMENTED and "Traceback" not in info.value.details


@pytest.mark.parametrize(
    ("provider_name", "source"),
    [("default", "config"), ("default_0_1_0", "config"), ("prod-account", "provider")],
)
def test_an_explicit_providers_key_is_named_as_its_own_source(
    sandbox: Sandbox, provider_name: str, source: str
) -> None:
    """CheckConfig's URN tells the default provider (the stack's config) from an explicit provider
    resource (its own apiKey); either way the key stays out of the resource's inputs."""
    native = NativePlugin()
    try:
        urn = f"urn:pulumi:dev::p::pulumi:providers:leadterra::{provider_name}"
        news = to_struct({"apiKey": rpc.wrap_rpc_secret(TEST_KEY), "baseUrl": sandbox.url})
        native._call("CheckConfig", provider_pb2.CheckRequest(urn=urn, news=news))
        native.configure({"leadterra:apiKey": TEST_KEY, "leadterra:baseUrl": sandbox.url})
        inputs, failures = native.check({}, {"campaign_id": "camp_1"})
        assert failures == [] and inputs["api_key_source"] == source and "api_key" not in inputs
    finally:
        native.close()


def test_diff_config_names_each_changed_setting_and_never_replaces(native: NativePlugin) -> None:
    olds = to_struct({"apiKey": rpc.wrap_rpc_secret(TEST_KEY), "baseUrl": "http://127.0.0.1:1"})
    key = rpc.wrap_rpc_secret(TEST_KEY)
    news = to_struct({"apiKey": key, "baseUrl": "http://127.0.0.1:2", "heal": "true"})
    urn = "urn:pulumi:dev::p::pulumi:providers:leadterra::default"
    diff = native._call("DiffConfig", provider_pb2.DiffRequest(urn=urn, olds=olds, news=news))
    assert diff.changes == provider_pb2.DiffResponse.DIFF_SOME and list(diff.replaces) == []
    assert dict(diff.detailedDiff) == {
        "baseUrl": provider_pb2.PropertyDiff(kind=provider_pb2.PropertyDiff.UPDATE, inputDiff=True),
        "heal": provider_pb2.PropertyDiff(kind=provider_pb2.PropertyDiff.ADD, inputDiff=True),
    }
    same = native._call("DiffConfig", provider_pb2.DiffRequest(urn=urn, olds=olds, news=olds))
    assert same.changes == provider_pb2.DiffResponse.DIFF_NONE and not same.detailedDiff


#: What the plugin imports of ours before it prints its port, as docs/figures.md says (issue 24):
#: the engine waits for that port twice per native command.
BEFORE_THE_PORT = ("_unknown", "_version", "errors", "lifeline", "schema")


def test_the_plugin_imports_only_small_modules_before_its_port() -> None:
    script = (
        "import json, sys, pulumi\n"
        "before = set(sys.modules)\n"
        "import pulumi_leadterra.plugin\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    added = json.loads(done.stdout)
    ours = {name for name in added if name.startswith("pulumi_leadterra.")}
    assert ours == {f"pulumi_leadterra.{name}" for name in BEFORE_THE_PORT} | {"pulumi_leadterra.plugin"}
    assert [name for name in added if not name.startswith("pulumi_leadterra")] == []  # urllib3 at Configure
    figures = (ROOT / "docs" / "figures.md").read_text()
    listed = re.search(r"small modules of ours \(([^)]*)\)", figures)
    assert listed, "docs/figures.md no longer says what the plugin imports before its port"
    assert sorted(re.findall(r"`(\w+)`", listed.group(1))) == sorted(BEFORE_THE_PORT)


_WIRE_NAMES = st.sampled_from(["campaignId", "status", "heldStatus", "apiKey", "endpoint", "stats", "x"])
_WIRE_LEAVES = st.one_of(
    st.none(), st.booleans(), st.floats(allow_nan=False), st.text(max_size=8), st.just(rpc.UNKNOWN)
)
_WIRE_VALUES = st.recursive(
    _WIRE_LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(max_size=4), inner, max_size=3),
        inner.map(rpc.wrap_rpc_secret),
    ),
    max_leaves=6,
)


@given(st.dictionaries(_WIRE_NAMES, _WIRE_VALUES, max_size=6))
def test_stored_inputs_read_one_at_a_time_read_as_a_whole(props: dict[str, Any]) -> None:
    # Check converts each stored input only when the core reads it (`_Stored`): every way of
    # reading one must give what converting them all gives.
    from pulumi_leadterra.plugin import _read, _Stored

    struct = to_struct(props)
    whole, _ = _read(struct)
    lazy = _Stored(struct)
    assert dict(lazy) == whole and len(lazy) == len(whole)
    for name in ("campaign_id", "status", "held_status", "api_key", "endpoint", "stats", "x", "absent"):
        assert (name in lazy) == (name in whole)
        assert lazy.get(name, "default") == whole.get(name, "default")
        if name in whole:
            assert lazy[name] == whole[name]
        else:
            with pytest.raises(KeyError):
                lazy[name]
