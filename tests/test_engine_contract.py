"""The engine's contract as Pulumi's source defines it (provider.proto, step.go,
provider_plugin.go, detailedDiff.go), point by point, against both providers where both apply.

Each of these was broken once while our stand-in for the engine passed: previews that listed no
changed property, Cancel that waited out the retry budget, secrets returned in plain text, flags
the engine passes that the plugin refused, messages in the other front end's names.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2
from pulumi.output import Unknown
from pulumi.runtime import rpc
from pulumi.runtime.proto import plugin_pb2, provider_pb2, provider_pb2_grpc

from harness.engine import NativePlugin, Plugin, PluginError
from harness.sandbox import Sandbox
from tests.conftest import TEST_KEY

DIFF_SOME = provider_pb2.DiffResponse.DIFF_SOME
DIFF_NONE = provider_pb2.DiffResponse.DIFF_NONE
KINDS = provider_pb2.PropertyDiff


def _plan(plugin: Plugin, state: Any, news: dict[str, Any]) -> provider_pb2.DiffResponse:
    inputs, failures = plugin.check(state.inputs, news)
    assert failures == []
    return plugin.diff(state.id, plugin.engine_view(state.outputs), inputs)


def _detail(plugin: Plugin, diff: provider_pb2.DiffResponse) -> dict[str, int]:
    return {plugin.python_name(name): d.kind for name, d in diff.detailedDiff.items()}


# --- 1. detailed diffs ------------------------------------------------------------------------


def test_a_diff_names_each_changed_property_and_its_kind(plugin: Plugin, sandbox: Sandbox) -> None:
    state = plugin.up(None, {"campaign_id": "camp_1", "status": "running"})
    sandbox.clear_requests()

    unchanged = _plan(plugin, state, {"campaign_id": "camp_1", "status": "running"})
    flip = _plan(plugin, state, {"campaign_id": "camp_1", "status": "paused"})
    rotation = _plan(plugin, state, {"campaign_id": "camp_1", "api_key": "sk_test_rotated_0000000001"})
    moved = _plan(plugin, state, {"campaign_id": "camp_2"})
    # The same decisions in both providers about *whether* something changes.
    assert unchanged.changes == DIFF_NONE
    assert flip.changes == rotation.changes == moved.changes == DIFF_SOME
    assert [plugin.python_name(n) for n in moved.replaces] == ["campaign_id"]
    assert sandbox.drain_counts() == {}
    if plugin.kind == "dynamic":
        # The dynamic server gives no detail: the engine then diffs old and new inputs itself.
        assert not flip.hasDetailedDiff
        return
    assert all(d.hasDetailedDiff for d in (unchanged, flip, rotation, moved))
    assert _detail(plugin, unchanged) == {} and list(unchanged.diffs) == []
    # `~ status: "running" => "paused"`, compared with the stored outputs (inputDiff false).
    assert _detail(plugin, flip) == {"status": KINDS.UPDATE} and list(flip.diffs) == ["status"]
    assert not flip.detailedDiff["status"].inputDiff
    # `+ apiKey: [secret]` (an input key, where there was none in state: the config key never
    # is), where it now comes from, and the fingerprint that changed with it.
    assert _detail(plugin, rotation) == {
        "api_key": KINDS.ADD,
        "api_key_source": KINDS.UPDATE,
        "api_key_fingerprint": KINDS.UPDATE,
    }
    assert _detail(plugin, moved) == {"campaign_id": KINDS.UPDATE_REPLACE}


def test_a_heal_run_shows_the_status_it_re_asserts(sandbox: Sandbox) -> None:
    plug = NativePlugin()
    try:
        config = {"leadterra:apiKey": TEST_KEY, "leadterra:baseUrl": sandbox.url, "leadterra:heal": "true"}
        plug.configure(config)
        state = plug.up(None, {"campaign_id": "camp_1", "reconcile": True})
        diff = _plan(plug, state, {"campaign_id": "camp_1", "reconcile": True})
        assert diff.changes == DIFF_SOME and _detail(plug, diff) == {"status": KINDS.UPDATE}
    finally:
        plug.close()


# --- 3. the engine's flags --------------------------------------------------------------------


class _Debugging(NativePlugin):
    """The plugin as `pulumi up --logflow -v=9 --tracing URL` starts it: flags before the address."""

    command = [*NativePlugin.command, "--logtostderr", "-v=9", "--logflow", "--tracing", "http://127.0.0.1:9"]


def test_the_engines_flags_are_accepted_and_v_logs_each_request(sandbox: Sandbox) -> None:
    plug = _Debugging()
    plug.configure({"leadterra:apiKey": TEST_KEY, "leadterra:baseUrl": sandbox.url})
    plug.up(None, {"campaign_id": "camp_1"})
    printed = plug.close()
    assert "POST start camp_1: HTTP 200 (attempt 1)" in printed
    assert TEST_KEY not in printed and "Bearer" not in printed


# --- 4. secrets in, secrets out ---------------------------------------------------------------


def test_an_input_that_arrives_secret_leaves_secret(sandbox: Sandbox) -> None:
    plug = NativePlugin()
    try:
        plug.configure({"leadterra:apiKey": TEST_KEY})
        news = {"campaign_id": "camp_1", "base_url": rpc.wrap_rpc_secret(sandbox.url)}
        inputs, failures = plug.check({}, news)
        assert failures == [] and rpc.is_rpc_secret(inputs["base_url"])
        assert "api_key" not in inputs  # the config key is the run's: never in state
        _, created = plug.create(inputs)
        assert rpc.is_rpc_secret(created["base_url"]) and "api_key" not in created
        # A key given as input stays a secret input, and a secret output.
        keyed, _ = plug.check({}, {**news, "api_key": TEST_KEY})
        assert rpc.is_rpc_secret(keyed["api_key"])
        paused = plug.update("camp_1", created, {**inputs, "status": "paused"})
        assert rpc.is_rpc_secret(paused["base_url"])
        _, read = plug.read("camp_1", paused)
        assert rpc.is_rpc_secret(read["base_url"]) and not rpc.is_rpc_secret(read["campaign_id"])
    finally:
        plug.close()
    assert sandbox.drain_counts() == {"POST start": 1, "POST pause": 1, "GET stats": 1}


# --- 5. Cancel and Attach ---------------------------------------------------------------------


def test_cancel_ends_calls_in_flight_at_once_and_every_later_call(sandbox: Sandbox) -> None:
    plug = NativePlugin()
    try:
        plug.configure({"leadterra:apiKey": TEST_KEY, "leadterra:baseUrl": sandbox.url})
        inputs, _ = plug.check({}, {"campaign_id": "camp_1"})
        sandbox.faults({"delay_ms": 20_000, "times": 100})  # a hung API; the budget is 60 s
        outcome: dict[str, Any] = {}

        def create() -> None:
            began = time.monotonic()
            try:
                plug.create(inputs)
            except PluginError as exc:
                outcome["error"] = exc.details
            outcome["seconds"] = time.monotonic() - began

        worker = threading.Thread(target=create)
        worker.start()
        time.sleep(0.5)  # the start is in flight
        plug._call("Cancel", empty_pb2.Empty())
        worker.join(timeout=10)
        assert outcome["seconds"] < 2.5, outcome
        assert "CancelledError" in outcome["error"] and "Traceback" not in outcome["error"]
        began = time.monotonic()
        with pytest.raises(PluginError, match="cancelled before the request was sent"):
            plug.create(plug.check({}, {"campaign_id": "camp_2"})[0])
        assert time.monotonic() - began < 1
    finally:
        plug.close()
    # The sandbox logs a request as it answers it: at most the delayed one in flight shows, never
    # a retry or camp_2's.
    assert sandbox.drain_counts() in ({}, {"POST start": 1})


def test_attach_serves_a_plugin_the_engine_did_not_start(sandbox: Sandbox) -> None:
    """PULUMI_DEBUG_PROVIDERS: started by hand (under a debugger) with no address, then attached."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pulumi_leadterra.plugin"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = provider_pb2_grpc.ResourceProviderStub(channel)
            stub.Attach(plugin_pb2.PluginAttach(address="127.0.0.1:1"), timeout=30)
            assert stub.GetPluginInfo(empty_pb2.Empty(), timeout=30).version
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# --- 8. base URLs ----------------------------------------------------------------------------


def test_a_base_url_with_a_path_fails_check_saying_what_to_use(plugin: Plugin, sandbox: Sandbox) -> None:
    _, failures = plugin.check({}, {"campaign_id": "camp_1", "base_url": sandbox.url + "/v1"})
    assert [p for p, _ in failures] == ["base_url"]
    assert "has a path" in failures[0][1] and f"like {sandbox.url} " in failures[0][1]
    assert sandbox.drain_counts() == {}


def test_a_bare_404_is_about_the_endpoint_not_the_campaign(plugin: Plugin, sandbox: Sandbox) -> None:
    sandbox.faults({"status": 404, "match": "/start", "body": '{"message": "no route"}'})
    with pytest.raises(PluginError) as info:
        plugin.up(None, {"campaign_id": "camp_1"})
    assert "EndpointNotFoundError" in info.value.details and "leadterra:baseUrl" in info.value.details
    assert "CampaignNotFoundError" not in info.value.details


# --- 9. each user's own names -----------------------------------------------------------------


def test_messages_name_properties_as_each_user_wrote_them(plugin: Plugin, sandbox: Sandbox) -> None:
    _, failures = plugin.check({}, {"campaign_id": "a/b", "pause_on_delete": "yes"})
    words = " ".join(reason for _, reason in failures)
    sandbox.faults({"status": 404, "code": "campaign_not_found", "match": "/start"})
    with pytest.raises(PluginError) as info:
        plugin.up(None, {"campaign_id": "camp_9"})
    said = words + " " + info.value.details
    if plugin.kind == "native":  # YAML, TypeScript, Go, C#
        assert "campaignId must" in said and "pauseOnDelete must be true or false" in said
        assert "check the campaignId" in said
        assert "campaign_id" not in said and "pause_on_delete" not in said
    else:  # Python
        assert "campaign_id must" in said and "pause_on_delete must be True or False" in said
        assert "check the campaign_id" in said and "campaignId" not in said


# --- 10. unknowns -----------------------------------------------------------------------------


def test_an_unknown_key_stays_unknown_through_check(plugin: Plugin, sandbox: Sandbox) -> None:
    inputs, failures = plugin.check({}, {"campaign_id": "camp_1", "api_key": rpc.UNKNOWN})
    assert failures == []
    key = inputs["api_key"]
    assert isinstance(key, Unknown), f"an unknown key came back as {key!r}"
    assert sandbox.drain_counts() == {}
