"""CampaignState through the engine's own plugin protocol: ``python -m pulumi.dynamic`` over gRPC.

Each test asserts the exact requests the sandbox received for each lifecycle step.
"""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dill
import grpc
import pytest
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2

from harness.engine import PROVIDER_BLOB, Plugin, PluginError, Resource, StepLog, make_plugin
from harness.sandbox import Sandbox
from pulumi_leadterra import CampaignStateProvider
from tests.conftest import TEST_KEY

DIFF_SOME = provider_pb2.DiffResponse.DIFF_SOME
DIFF_NONE = provider_pb2.DiffResponse.DIFF_NONE


def test_create_noop_flip_and_destroy(plugin: Plugin, sandbox: Sandbox) -> None:
    log = StepLog()
    state = plugin.up(None, {"campaign_id": "camp_1"}, log)
    assert sandbox.drain_counts() == {"POST start": 1}
    assert state.id == "camp_1" and sandbox.status("camp_1") == "running"
    assert state.outputs["status"] == "running" and state.outputs["started_at"]
    assert "paused_at" not in state.outputs  # None is not stored

    state = plugin.up(state, {"campaign_id": "camp_1"}, log)  # second up: nothing to do
    assert sandbox.drain_counts() == {}

    state = plugin.up(state, {"campaign_id": "camp_1", "status": "paused"}, log)
    assert sandbox.drain_counts() == {"POST pause": 1}
    assert sandbox.status("camp_1") == "paused"
    assert state.outputs["status"] == "paused" and state.outputs["paused_at"]
    assert state.outputs["started_at"]  # kept from the create

    state = plugin.up(state, {"campaign_id": "camp_1", "status": "paused"}, log)
    assert sandbox.drain_counts() == {}

    plugin.destroy(state)
    assert sandbox.drain_counts() == {} and sandbox.status("camp_1") == "paused"
    assert log.ops == ["create", "same", "update", "same"]


def test_update_returns_full_outputs(plugin: Plugin, sandbox: Sandbox) -> None:
    state = plugin.up(None, {"campaign_id": "camp_1", "pause_on_delete": True})
    state = plugin.up(state, {"campaign_id": "camp_1", "pause_on_delete": True, "status": "paused"})
    assert set(state.outputs) >= {
        "campaign_id",
        "status",
        "started_at",
        "paused_at",
        "reconcile",
        "pause_on_delete",
    }
    assert state.outputs["pause_on_delete"] is True


def test_adopting_a_running_campaign_changes_nothing(plugin: Plugin, sandbox: Sandbox) -> None:
    sandbox.put("camp_2", status="running", leads=3, startedAt="2025-01-15T11:00:00Z")
    state = plugin.up(None, {"campaign_id": "camp_2"})
    assert sandbox.drain_counts() == {"POST start": 1}
    assert state.outputs["started_at"] == "2025-01-15T11:00:00Z"


def test_desired_paused_on_a_draft_is_satisfied(plugin: Plugin, sandbox: Sandbox) -> None:
    log = StepLog()
    state = plugin.up(None, {"campaign_id": "camp_3", "status": "paused"}, log)
    assert state.outputs["status"] == "draft"
    assert sandbox.drain_counts() == {"POST pause": 1}
    plugin.up(state, {"campaign_id": "camp_3", "status": "paused"}, log)
    assert log.ops == ["create", "same"] and sandbox.drain_counts() == {}


def test_reconcile_without_heal_is_quiet(plugin: Plugin, sandbox: Sandbox) -> None:
    """reconcile=True alone no longer re-sends start on every up: heal is a property of the run."""
    log = StepLog()
    news = {"campaign_id": "camp_1", "reconcile": True}
    state = plugin.up(None, news, log)
    sandbox.put("camp_1", status="paused")  # someone pressed pause in the dashboard
    sandbox.clear_requests()
    assert plugin.preview(state, news) == "same"
    plugin.up(state, news, log)
    assert sandbox.drain_counts() == {} and sandbox.status("camp_1") == "paused"
    assert log.ops == ["create", "same"]


def test_without_reconcile_a_dashboard_pause_is_not_seen(plugin: Plugin, sandbox: Sandbox) -> None:
    """The documented API has no status endpoint: this is the limitation reconcile exists for."""
    state = plugin.up(None, {"campaign_id": "camp_1"})
    sandbox.put("camp_1", status="paused")
    sandbox.clear_requests()
    assert plugin.preview(state, {"campaign_id": "camp_1"}) == "same"
    assert sandbox.drain_counts() == {}


def test_preview_makes_no_request(plugin: Plugin, sandbox: Sandbox) -> None:
    state = plugin.up(None, {"campaign_id": "camp_1"})
    sandbox.clear_requests()
    assert plugin.preview(None, {"campaign_id": "camp_2"}) == "create"
    assert plugin.preview(state, {"campaign_id": "camp_1", "status": "paused"}) == "update"
    assert plugin.preview(state, {"campaign_id": "camp_4"}) == "replace"
    assert plugin.preview(state, {"campaign_id": "camp_1", "base_url": sandbox.url}) == "update"
    assert sandbox.drain_counts() == {}


def test_changing_campaign_id_replaces(plugin: Plugin, sandbox: Sandbox) -> None:
    state = plugin.up(None, {"campaign_id": "camp_1", "pause_on_delete": True})
    sandbox.clear_requests()
    with plugin.next_run() as later:
        state = later.up(state, {"campaign_id": "camp_2", "pause_on_delete": True})
    assert state.id == "camp_2"
    assert sandbox.drain_counts() == {"POST start": 1, "POST pause": 1}
    assert sandbox.status("camp_1") == "paused" and sandbox.status("camp_2") == "running"


def test_diff_of_unknowns_in_preview(plugin: Plugin, sandbox: Sandbox) -> None:
    state = plugin.up(None, {"campaign_id": "camp_1"})
    news = {"campaign_id": "camp_1", "status": rpc.UNKNOWN, "__provider": PROVIDER_BLOB}
    inputs, failures = plugin.check(state.inputs, news)
    assert failures == []
    diff = plugin.diff(state.id, state.outputs, inputs)
    assert diff.changes == DIFF_SOME and list(diff.replaces) == []
    diff = plugin.diff(state.id, state.outputs, {"campaign_id": rpc.UNKNOWN, "__provider": PROVIDER_BLOB})
    assert [plugin.python_name(name) for name in diff.replaces] == ["campaign_id"]


def test_refresh_stores_stats_and_keeps_status(plugin: Plugin, sandbox: Sandbox) -> None:
    state = plugin.up(None, {"campaign_id": "camp_1"})
    sandbox.clear_requests()
    refreshed = plugin.refresh(state)
    assert sandbox.drain_counts() == {"GET stats": 1}
    assert refreshed is not None and refreshed.outputs["status"] == "running"
    assert refreshed.outputs["stats"]["totalEnrolled"] == 3
    assert refreshed.outputs["stats"]["campaignId"] == "camp_1"
    # Stats are not an input: the next up is still a no-op.
    assert plugin.preview(refreshed, {"campaign_id": "camp_1"}) == "same"


def test_refresh_of_a_deleted_campaign_drops_it(plugin: Plugin, sandbox: Sandbox) -> None:
    state = plugin.up(None, {"campaign_id": "camp_1"})
    sandbox.admin("DELETE", "/campaigns/camp_1")
    sandbox.clear_requests()
    assert plugin.refresh(state) is None
    assert sandbox.drain_counts() == {"GET stats": 1}


def test_refresh_does_not_drop_on_a_bare_404(plugin: Plugin, sandbox: Sandbox) -> None:
    """A 404 without the API's code (wrong base URL, a proxy) must not erase state."""
    state = plugin.up(None, {"campaign_id": "camp_1"})
    sandbox.faults({"status": 404, "body": "<html>Not Found</html>"})
    with pytest.raises(PluginError, match="campaign camp_1"):
        plugin.refresh(state)


def test_destroy_with_pause_on_delete(plugin: Plugin, sandbox: Sandbox) -> None:
    state = plugin.up(None, {"campaign_id": "camp_1", "pause_on_delete": True})
    sandbox.clear_requests()
    with plugin.next_run() as destroy:  # `pulumi destroy`: a run of its own
        destroy.destroy(state)
    assert sandbox.drain_counts() == {"POST pause": 1}
    assert sandbox.status("camp_1") == "paused"


def test_destroy_with_pause_on_delete_of_a_vanished_campaign_succeeds(
    plugin: Plugin, sandbox: Sandbox
) -> None:
    state = plugin.up(None, {"campaign_id": "camp_1", "pause_on_delete": True})
    sandbox.admin("DELETE", "/campaigns/camp_1")
    plugin.destroy(state)


def test_toggling_pause_on_delete_updates_state_without_a_call(plugin: Plugin, sandbox: Sandbox) -> None:
    state = plugin.up(None, {"campaign_id": "camp_1"})
    sandbox.clear_requests()
    assert plugin.preview(state, {"campaign_id": "camp_1", "pause_on_delete": True}) == "update"
    sandbox.put("camp_1", status="paused")  # paused in the dashboard during an incident
    for news in ({"pause_on_delete": True}, {"pause_on_delete": True, "reconcile": True}):
        state = plugin.up(state, {"campaign_id": "camp_1", **news})
        assert state.outputs["pause_on_delete"] is True
        # Re-sending start here would resume the paused campaign: an update that changes no
        # status sends nothing.
        assert sandbox.drain_counts() == {} and sandbox.status("camp_1") == "paused"


def test_forty_resources_in_parallel(plugin: Plugin, sandbox: Sandbox) -> None:
    ids = [f"camp_p{i}" for i in range(40)]
    for campaign_id in ids:
        sandbox.put(campaign_id, status="draft", leads=2)
    sandbox.clear_requests()
    with ThreadPoolExecutor(max_workers=16) as pool:
        states = list(pool.map(lambda cid: plugin.up(None, {"campaign_id": cid}), ids))
    assert sandbox.drain_counts() == {"POST start": 40}
    assert all(sandbox.status(cid) == "running" for cid in ids)
    with ThreadPoolExecutor(max_workers=16) as pool:
        ops = list(pool.map(lambda s: plugin.preview(s, {"campaign_id": s.id}), states))
    assert ops == ["same"] * 40 and sandbox.drain_counts() == {}


def test_api_errors_reach_the_user_clearly(plugin: Plugin, sandbox: Sandbox) -> None:
    with pytest.raises(PluginError) as info:
        plugin.up(None, {"campaign_id": "camp_noleads"})
    assert info.value.code == grpc.StatusCode.UNKNOWN
    assert (
        "NoLeadsEnrolledError: campaign camp_noleads: the campaign has no enrolled leads "
        "(no_leads_enrolled): enroll at least one lead, then run pulumi up again"
    ) in info.value.details
    assert sandbox.drain_counts() == {"POST start": 1}


def test_transient_faults_are_retried_inside_the_plugin(plugin: Plugin, sandbox: Sandbox) -> None:
    sandbox.faults(
        {"status": 503, "times": 1}, {"status": 429, "retryAfter": "0", "times": 1}, {"drop": True}
    )
    state = plugin.up(None, {"campaign_id": "camp_1"})
    assert state.outputs["status"] == "running"
    assert sandbox.drain_counts() == {"POST start": 4}


def test_give_up_after_retries_inside_the_plugin(plugin: Plugin, sandbox: Sandbox) -> None:
    sandbox.faults({"status": 500, "body": "oops", "times": 99})
    with pytest.raises(
        PluginError, match=r"campaign camp_1.*gave up after 4 attempts; last result: HTTP 500"
    ):
        plugin.up(None, {"campaign_id": "camp_1"})
    assert sandbox.drain_counts() == {"POST start": 4}


@pytest.mark.parametrize(
    ("news", "prop", "fragment"),
    [
        ({"campaign_id": "../x"}, "campaign_id", "campaign_id must be 1-128 characters"),
        ({"campaign_id": "a/b"}, "campaign_id", "got 'a/b'"),
        ({"campaign_id": "camp 1"}, "campaign_id", "campaign_id must"),
        ({"campaign_id": "camp?x=1"}, "campaign_id", "campaign_id must"),
        ({"campaign_id": "camp\n1"}, "campaign_id", "campaign_id must"),
        ({"campaign_id": ""}, "campaign_id", "campaign_id must"),
        ({"campaign_id": "x" * 129}, "campaign_id", "campaign_id must"),
        ({}, "campaign_id", "campaign_id must"),
        ({"campaign_id": "camp_1", "status": "stopped"}, "status", "'running' or 'paused'"),
        ({"campaign_id": "camp_1", "reconcile": "yes"}, "reconcile", "True or False"),
        ({"campaign_id": "camp_1", "pause_on_delete": 1}, "pause_on_delete", "True or False"),
        ({"campaign_id": "camp_1", "base_url": "http://app.leadterra.co"}, "base_url", "only https"),
        ({"campaign_id": "camp_1", "api_key": ""}, "api_key", "non-empty"),
    ],
)
def test_check_rejects_bad_input_before_any_request(
    plugin: Plugin, sandbox: Sandbox, news: dict[str, Any], prop: str, fragment: str
) -> None:
    _, failures = plugin.check({}, news)
    assert [p for p, _ in failures] == [prop]
    assert plugin.spelled(fragment) in failures[0][1]
    assert sandbox.drain_counts() == {}


def test_check_fills_defaults(plugin: Plugin) -> None:
    inputs, failures = plugin.check({}, {"campaign_id": "camp_1"})
    assert failures == []
    assert {k: inputs[k] for k in ("status", "reconcile", "pause_on_delete")} == {
        "status": "running",
        "reconcile": False,
        "pause_on_delete": False,
    }


def test_missing_key_is_a_check_failure_naming_all_three_ways(sandbox: Sandbox, plugin_kind: str) -> None:
    plug = make_plugin(plugin_kind)
    try:
        plug.configure({"leadterra:baseUrl": sandbox.url})
        _, failures = plug.check({}, {"campaign_id": "camp_1"})
        assert failures[0][0] == "api_key"
        ways = ("leadterra:apiKey", "LEADTERRA_API_KEY", plug.spelled("set api_key on the CampaignState"))
        for way in ways:
            assert way in failures[0][1]
    finally:
        plug.close()
    assert sandbox.drain_counts() == {}


def test_plain_http_config_base_url_is_refused_in_check(sandbox: Sandbox, plugin_kind: str) -> None:
    plug = make_plugin(plugin_kind)
    try:
        plug.configure({"leadterra:apiKey": TEST_KEY, "leadterra:baseUrl": "http://leadterra.example.com"})
        _, failures = plug.check({}, {"campaign_id": "camp_1"})
        assert failures and failures[0][0] == "base_url" and "clear" in failures[0][1]
    finally:
        plug.close()


def test_environment_is_the_fallback(sandbox: Sandbox, plugin_kind: str) -> None:
    plug = make_plugin(plugin_kind, env={"LEADTERRA_API_KEY": TEST_KEY, "LEADTERRA_BASE_URL": sandbox.url})
    try:
        plug.configure({})
        state = plug.up(None, {"campaign_id": "camp_1"})
        assert state.outputs["status"] == "running"
    finally:
        plug.close()


def test_resource_input_beats_config(plugin: Plugin, sandbox: Sandbox) -> None:
    """A wrong key in the resource input wins over the right one in config: precedence proven."""
    with pytest.raises(PluginError, match="authentication_failed"):
        plugin.up(None, {"campaign_id": "camp_1", "api_key": "sk_live_not_for_sandbox"})


def test_base_url_input_beats_config(plugin: Plugin, sandbox: Sandbox) -> None:
    with pytest.raises(PluginError, match="could not reach Leadterra"):
        plugin.up(None, {"campaign_id": "camp_1", "base_url": "http://127.0.0.1:9"})
    assert sandbox.drain_counts() == {}


def test_api_key_change_alone_is_an_update(plugin: Plugin, sandbox: Sandbox) -> None:
    """A rotated key reaches state at the next up (one idempotent call), never silently kept."""
    state = plugin.up(None, {"campaign_id": "camp_1", "api_key": TEST_KEY})
    sandbox.clear_requests()
    assert plugin.preview(state, {"campaign_id": "camp_1", "api_key": "sk_test_rotated"}) == "update"
    assert plugin.preview(state, {"campaign_id": "camp_1"}) == "update"  # input -> stack config
    assert plugin.preview(state, {"campaign_id": "camp_1", "api_key": TEST_KEY}) == "same"
    assert sandbox.drain_counts() == {}


def test_provider_blob_change_is_no_diff(plugin: Plugin, sandbox: Sandbox) -> None:
    """Other pickle bytes for the same provider (another dill, another protocol) change nothing."""
    if plugin.kind != "dynamic":
        pytest.skip("only the dynamic provider carries a pickled provider")
    state = plugin.up(None, {"campaign_id": "camp_1"})
    other = base64.b64encode(dill.dumps(CampaignStateProvider(), protocol=2)).decode()
    assert other != PROVIDER_BLOB
    diff = plugin.diff(state.id, state.outputs, {**state.inputs, "__provider": other})
    assert diff.changes == DIFF_NONE


@pytest.mark.parametrize(
    ("news", "first_words"),
    [
        ({"campaign_id": "camp_missing"}, "CampaignNotFoundError: campaign camp_missing: "),
        ({"campaign_id": "camp_noleads"}, "NoLeadsEnrolledError: campaign camp_noleads: "),
        ({"campaign_id": "camp_1", "base_url": "http://127.0.0.1:9"}, "APIConnectionError: campaign camp_1"),
    ],
)
def test_an_error_is_one_sentence_on_both_front_ends(
    plugin: Plugin, sandbox: Sandbox, news: dict[str, Any], first_words: str
) -> None:
    """What `pulumi up` prints for a failed step: the error's one sentence, no traceback (the
    dynamic server sends one with every exception; the provider puts its sentence on the call)."""
    with pytest.raises(PluginError) as info:
        plugin.up(None, news)
    assert info.value.details.startswith(first_words), info.value.details
    assert "\n" not in info.value.details and "Traceback" not in info.value.details
    state = plugin.up(None, {"campaign_id": "camp_2"})  # the next call is served as usual
    assert state.id == "camp_2"
    # A refresh and a destroy (next runs) that fail say one sentence too.
    sandbox.accept_keys("sk_test_someone_else_entirely")
    stored = Resource(state.id, state.inputs, {**state.outputs, "pause_on_delete": True})
    with plugin.next_run() as later:
        for step in (later.refresh, later.destroy):
            with pytest.raises(PluginError) as info:
                step(stored)
            assert info.value.details.startswith("AuthenticationError: campaign camp_2: ")
            assert "\n" not in info.value.details
