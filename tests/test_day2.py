"""Day-2 behaviour, point by point, through the plugin protocol: keys, import, observed status,
heal, the incident brake, inferred drift, preflight and the run-level settings.

Each run of `pulumi` starts its own plugin process, so a test that changes a run-level setting
(``leadterra:heal``, ``leadterra:pauseAll``, ``leadterra:preflight``) starts a new plugin for it,
as the engine would. Every step asserts the exact requests the sandbox received.
"""

from __future__ import annotations

from typing import Any, Optional

import pytest
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2

from harness.engine import PluginError, Resource, make_plugin
from harness.sandbox import Sandbox
from pulumi_leadterra.settings import key_fingerprint
from tests.conftest import TEST_KEY, Run

K1 = "sk_test_FIRSTKEY1111111111"
K2 = "sk_test_SECONDKEY222222222"
DIFF_SOME = provider_pb2.DiffResponse.DIFF_SOME



def _secret(value: Any) -> Any:
    assert rpc.is_rpc_secret(value), "the key must only ever leave the provider as a secret"
    return rpc.unwrap_rpc_secret(value)


# --- 1. keys ------------------------------------------------------------------------------------


def test_state_that_stored_the_config_key_migrates_with_no_request_and_no_diff(
    run: Run, sandbox: Sandbox
) -> None:
    """Versions before the fingerprint stored the config key itself (encrypted) in inputs and
    outputs. Upgraded, such a stack previews no change and sends nothing; the next refresh (or
    update) rewrites its outputs without the key."""
    news = {"campaign_id": "camp_1"}
    state = run(key=K1).up(None, news)
    legacy = Resource(
        state.id,
        {**state.inputs, "api_key": rpc.wrap_rpc_secret(K1)},
        {
            **{k: v for k, v in state.outputs.items() if k != "api_key_fingerprint"},
            "api_key": rpc.wrap_rpc_secret(K1),
        },
    )
    sandbox.clear_requests()
    plugin = run(key=K1)
    assert plugin.preview(legacy, news) == "same"
    state = plugin.up(legacy, news)
    assert sandbox.drain_counts() == {}
    refreshed = plugin.refresh(state)
    assert refreshed is not None and sandbox.drain_counts() == {"GET stats": 1}
    assert "api_key" not in refreshed.outputs
    assert refreshed.outputs["api_key_fingerprint"] == key_fingerprint(K1)
    assert run(key=K1).preview(refreshed, news) == "same"
    # A rotation on top of old state is still seen, and still sends nothing.
    plugin = run(key=K2)
    assert plugin.preview(legacy, news) == "update"
    rotated = plugin.up(legacy, news)
    assert sandbox.drain_counts() == {} and "api_key" not in rotated.outputs


def test_rotating_the_input_key_reaches_state_and_refresh_destroy_use_it(run: Run, sandbox: Sandbox) -> None:
    news = {"campaign_id": "camp_1", "api_key": K1, "pause_on_delete": True}
    state = run(key=None).up(None, news)
    assert _secret(state.outputs["api_key"]) == K1 and state.outputs["api_key_source"] == "input"

    rotated = {**news, "api_key": K2}
    plugin = run(key=None)
    inputs, _ = plugin.check(state.inputs, rotated)
    assert _secret(inputs["api_key"]) == K2  # what the preview shows as `~ api_key: [secret]`
    assert plugin.preview(state, rotated) == "update" and sandbox.drain_counts() == {}
    state = plugin.up(state, rotated)
    assert sandbox.drain_counts() == {}  # a rotation changes state only: no start re-sent
    assert _secret(state.outputs["api_key"]) == K2

    sandbox.accept_keys(K2)  # K1 revoked in the dashboard
    plugin = run(key=None)
    refreshed = plugin.refresh(state)
    assert refreshed is not None and sandbox.drain_counts() == {"GET stats": 1}
    plugin.destroy(refreshed)
    assert sandbox.drain_counts() == {"POST pause": 1} and sandbox.status("camp_1") == "paused"


def test_rotating_the_config_key_reaches_state_as_a_fingerprint_only(run: Run, sandbox: Sandbox) -> None:
    news = {"campaign_id": "camp_1", "pause_on_delete": True}
    state = run(key=K1).up(None, news)
    assert state.outputs["api_key_source"] == "config"
    assert state.outputs["api_key_fingerprint"] == key_fingerprint(K1)
    # The run's key is never stored, not even encrypted: not in outputs, not in inputs.
    assert "api_key" not in state.outputs and "api_key" not in state.inputs
    assert K1 not in repr(state) and K1[8:] not in repr(state)
    assert run(key=K1).preview(state, news) == "same"

    plugin = run(key=K2)
    assert plugin.preview(state, news) == "update"
    state = plugin.up(state, news)
    assert sandbox.drain_counts() == {} and state.outputs["api_key_fingerprint"] == key_fingerprint(K2)
    assert "api_key" not in state.outputs

    sandbox.accept_keys(K2)
    plugin = run(key=K2)
    refreshed = plugin.refresh(state)
    assert refreshed is not None
    plugin.destroy(refreshed)
    assert sandbox.drain_counts() == {"GET stats": 1, "POST pause": 1}


def test_moving_the_key_between_input_config_and_environment_is_an_update(run: Run, sandbox: Sandbox) -> None:
    state = run(key=None).up(None, {"campaign_id": "camp_1", "api_key": K1})
    plain = {"campaign_id": "camp_1"}
    plugin = run(key=K1)  # the same value, now from stack config
    assert plugin.preview(state, plain) == "update"
    state = plugin.up(state, plain)
    assert state.outputs["api_key_source"] == "config" and sandbox.drain_counts() == {}

    plugin = run(key=None, env={"LEADTERRA_API_KEY": K1})  # and now from the environment
    inputs, failures = plugin.check(state.inputs, plain)
    assert failures == [] and inputs["api_key_source"] == "environment"
    state = plugin.up(state, plain)
    assert state.outputs["api_key_source"] == "environment" and sandbox.drain_counts() == {}
    assert run(key=None, env={"LEADTERRA_API_KEY": K1}).preview(state, plain) == "same"


def test_refresh_and_destroy_before_the_next_up_find_the_working_key(run: Run, sandbox: Sandbox) -> None:
    """The input key was rotated and revoked, but no up ran yet: the config key still works."""
    state = run(key=None).up(None, {"campaign_id": "camp_1", "api_key": K1, "pause_on_delete": True})
    sandbox.accept_keys(K2)
    plugin = run(key=K2)
    refreshed = plugin.refresh(state)
    assert refreshed is not None and refreshed.id == "camp_1"
    assert [r["status"] for r in sandbox.requests()] == [401, 200]
    sandbox.clear_requests()
    plugin.destroy(state)
    assert sandbox.drain_counts() == {"POST pause": 2} and sandbox.status("camp_1") == "paused"


def test_a_401_never_drops_a_resource(run: Run, sandbox: Sandbox) -> None:
    state = run().up(None, {"campaign_id": "camp_1"})
    sandbox.accept_keys("sk_test_someone_else")
    with pytest.raises(PluginError, match="authentication_failed"):
        run().refresh(state)
    # A 401 whose body claims the campaign is gone is still a 401.
    sandbox.accept_keys(TEST_KEY)
    sandbox.faults({"status": 401, "code": "campaign_not_found", "match": "/stats"})
    with pytest.raises(PluginError, match="AuthenticationError"):
        run().refresh(state)


def test_bad_keys_are_check_failures_that_never_repeat_the_key(run: Run, sandbox: Sandbox) -> None:
    for bad in ("sk_test_abc\n", "sk_test_ä", "sk test"):
        _, failures = run().check({}, {"campaign_id": "camp_1", "api_key": bad})
        assert [p for p, _ in failures] == ["api_key"] and bad.strip() not in failures[0][1]
    _, failures = run(key="sk_test_pasted\n").check({}, {"campaign_id": "camp_1"})
    assert failures and "leadterra:apiKey" in failures[0][1] and "sk_test_pasted" not in failures[0][1]
    assert sandbox.drain_counts() == {}


# --- 2. import ----------------------------------------------------------------------------------


def test_import_reads_the_campaign_by_id(run: Run, sandbox: Sandbox) -> None:
    plugin = run()
    sandbox.put("camp_2", status="paused")  # paused by someone: the import must not resume it
    id_, outs, inputs = plugin.import_("camp_2")
    assert outs is not None
    assert id_ == "camp_2" and outs["campaign_id"] == "camp_2" and outs["stats"]["totalEnrolled"] == 3
    assert inputs == {"campaign_id": "camp_2"} or set(inputs) == {"campaign_id", "__provider"}
    assert outs["held_status"] == "none" and "status" not in outs
    assert sandbox.drain_counts() == {"GET stats": 1}
    # The program `pulumi import` generates declares the campaign id alone: held as found.
    state = Resource(id_, inputs, outs)
    for _ in range(3):
        assert plugin.preview(state, {"campaign_id": "camp_2"}) == "same"
        state = plugin.up(state, {"campaign_id": "camp_2"})
        assert state.outputs["held_status"] == "none"
    assert sandbox.drain_counts() == {} and sandbox.status("camp_2") == "paused"
    # A key rotation or reconcile changes nothing on the campaign either.
    state = plugin.up(state, {"campaign_id": "camp_2", "reconcile": True})
    assert sandbox.drain_counts() == {} and sandbox.status("camp_2") == "paused"
    # Declaring a status holds it from then on: one call.
    assert plugin.preview(state, {"campaign_id": "camp_2", "status": "running"}) == "update"
    state = plugin.up(state, {"campaign_id": "camp_2", "status": "running"})
    assert sandbox.drain_counts() == {"POST start": 1} and state.outputs["held_status"] == "running"


def test_an_imported_campaign_stays_as_found_through_the_brake(run: Run, sandbox: Sandbox) -> None:
    sandbox.put("camp_2", status="running")
    id_, outs, inputs = run().import_("camp_2")
    assert outs is not None
    state = Resource(id_, inputs, outs)
    state = run(pauseAll="true").up(state, {"campaign_id": "camp_2"})
    assert sandbox.status("camp_2") == "paused"  # the brake holds everything paused
    sandbox.clear_requests()
    state = run().up(state, {"campaign_id": "camp_2"})  # brake off: nothing declared to restore
    assert sandbox.drain_counts() == {} and sandbox.status("camp_2") == "paused"


def test_import_of_a_missing_campaign_is_an_empty_id(run: Run, sandbox: Sandbox) -> None:
    plugin = run()
    id_, outs, _ = plugin.import_("camp_nope")
    assert id_ == ""
    if plugin.kind == "native":
        assert outs is None  # unset: the engine says the resource does not exist
    with pytest.raises(PluginError, match=plugin.spelled("campaign_id must be")):
        run().import_("../etc")
    sandbox.faults({"status": 500, "code": "campaign_not_found", "times": 9})
    with pytest.raises(PluginError, match="ServerError"):
        run().import_("camp_2")


# --- 3. observed status -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", ['{"id": "camp_1", "status": "archived"}', '{"id": "camp_1"}', '{"id": "camp_1", "status": 3}']
)
def test_a_status_we_cannot_hold_is_an_error_naming_campaign_and_status(
    run: Run, sandbox: Sandbox, body: str
) -> None:
    sandbox.faults({"status": 200, "body": body, "contentType": "application/json", "match": "/start"})
    with pytest.raises(PluginError) as info:
        run().up(None, {"campaign_id": "camp_1"})
    assert "UnexpectedStatusError: campaign camp_1: Leadterra reported status" in info.value.details
    assert "holds only running or paused" in info.value.details


@pytest.mark.parametrize("status", [401, 500, 403])
def test_refresh_drops_only_on_404_with_campaign_not_found(run: Run, sandbox: Sandbox, status: int) -> None:
    state = run().up(None, {"campaign_id": "camp_1"})
    sandbox.faults({"status": status, "code": "campaign_not_found", "times": 9})
    with pytest.raises(PluginError, match="campaign camp_1"):
        run().refresh(state)
    sandbox.admin("DELETE", "/faults")
    assert run().refresh(state) is not None


# --- 4. heal ------------------------------------------------------------------------------------


def test_heal_reasserts_only_reconcile_resources_and_records_real_heals(run: Run, sandbox: Sandbox) -> None:
    owned = {"campaign_id": "camp_1", "reconcile": True}
    loose = {"campaign_id": "camp_2"}
    plugin = run()
    a, b = plugin.up(None, owned), plugin.up(None, loose)
    sandbox.put("camp_1", status="paused")
    sandbox.put("camp_2", status="paused")

    plugin = run()  # an everyday run: nothing to do, nothing sent
    assert (plugin.preview(a, owned), plugin.preview(b, loose)) == ("same", "same")
    assert sandbox.drain_counts() == {}

    plugin = run(heal="true")
    assert (plugin.preview(a, owned), plugin.preview(b, loose)) == ("update", "same")
    a, b = plugin.up(a, owned), plugin.up(b, loose)
    assert sandbox.drain_counts() == {"POST start": 1}
    assert sandbox.status("camp_1") == "running" and sandbox.status("camp_2") == "paused"
    assert (
        a.outputs["healed_at"]
        == a.outputs["started_at"]
        == sandbox.admin("GET", "/campaigns/camp_1")["startedAt"]
    )

    healed_at = a.outputs["healed_at"]
    a = run(heal="1").up(a, owned)  # nothing to heal: one idempotent start, no new heal recorded
    assert sandbox.drain_counts() == {"POST start": 1} and a.outputs["healed_at"] == healed_at


def test_heal_of_a_paused_declaration_pauses_a_dashboard_resume(run: Run, sandbox: Sandbox) -> None:
    news = {"campaign_id": "camp_1", "status": "paused", "reconcile": True}
    sandbox.put("camp_1", status="running")
    state = run().up(None, news)
    sandbox.put("camp_1", status="running")  # resumed in the dashboard
    state = run(heal="true").up(state, news)
    assert sandbox.drain_counts() == {"POST pause": 1} and sandbox.status("camp_1") == "paused"
    assert state.outputs["healed_at"] == state.outputs["paused_at"]


def test_two_stacks_holding_one_campaign_are_named_on_every_heal_run(
    plugin_kind: str, sandbox: Sandbox
) -> None:
    """Stack A declares camp_1 running, stack B paused, both reconcile=True: each heal run undoes
    the other's, and says so, naming the campaign; an everyday run says nothing."""
    a_news = {"campaign_id": "camp_1", "status": "running", "reconcile": True}
    b_news = {"campaign_id": "camp_1", "status": "paused", "reconcile": True}
    said: list[str] = []  # what each run's plugin printed (no engine answers Log here: stderr)

    def one_run(state: Optional[Resource], news: dict[str, Any], **settings: str) -> Resource:
        plugin = make_plugin(plugin_kind)
        config = {"apiKey": TEST_KEY, "baseUrl": sandbox.url, "retryBaseDelay": "0.01", **settings}
        plugin.configure({f"leadterra:{name}": value for name, value in config.items()})
        try:
            return plugin.up(state, news)
        finally:
            said.append(plugin.close())

    a = one_run(None, a_news)
    b = one_run(None, b_news)  # camp_1 ends paused (B last); creating is no heal
    sandbox.clear_requests()
    for _ in range(3):
        a = one_run(a, a_news, heal="true")
        b = one_run(b, b_news, heal="true")
    assert sandbox.drain_counts() == {"POST start": 3, "POST pause": 3}
    assert not any("camp_1" in text for text in said[:2])
    for text in said[2:]:
        assert "campaign camp_1 was" in text and "one campaign, one stack" in text, text
    one_run(a, a_news)
    assert "camp_1" not in said[-1] and sandbox.drain_counts() == {}
    assert not any(TEST_KEY in text for text in said)


def test_a_replacement_under_the_same_campaign_ends_as_declared(run: Run, sandbox: Sandbox) -> None:
    """`pulumi up --replace` or replaceOnChanges with pause_on_delete: the engine creates the new
    resource (start) before it deletes the old one, whose pause must not undo the start."""
    paused = {"campaign_id": "camp_1", "status": "paused", "pause_on_delete": True}
    state = run().up(None, paused)
    running = {**paused, "status": "running"}
    plugin = run()
    state = plugin.up(state, running, replace=True)
    assert sandbox.drain_counts() == {"POST start": 1} and sandbox.status("camp_1") == "running"
    assert plugin.preview(state, running) == "same"
    # Replaced while declared paused: the new one pauses and so may the old one's delete.
    state = run().up(state, paused, replace=True)
    assert sandbox.drain_counts() == {"POST pause": 2} and sandbox.status("camp_1") == "paused"
    # Destroy (no check: nothing of the run holds it) still pauses.
    state = run().up(state, running)
    plugin = run()
    plugin.destroy(state)
    assert sandbox.drain_counts() == {"POST pause": 1} and sandbox.status("camp_1") == "paused"


def test_a_new_endpoint_from_configuration_gets_the_campaign_its_one_call(
    run: Run, sandbox: Sandbox, tmp_path: Any
) -> None:
    """`pulumi config set leadterra:baseUrl <another endpoint>`: the resource's endpoint changes,
    the preview says so, and the up sends the declared status there once; then quiet again."""
    from pulumi_leadterra.sandbox import SandboxServer
    from pulumi_leadterra.sandbox.store import new_campaign

    news = {"campaign_id": "camp_1"}
    state = run().up(None, news)
    assert state.outputs["endpoint"] == sandbox.url
    with SandboxServer(state_path=tmp_path / "other.json", campaigns=[new_campaign("camp_1")]) as other:
        moved = Sandbox(other.url)
        plugin = run(baseUrl=other.url)
        assert plugin.preview(state, news) == "update"
        state = plugin.up(state, news)
        assert moved.drain_counts() == {"POST start": 1} and moved.status("camp_1") == "running"
        assert sandbox.drain_counts() == {} and state.outputs["endpoint"] == other.url
        assert run(baseUrl=other.url).preview(state, news) == "same"
    # State from before the endpoint was recorded previews no change.
    legacy = Resource(state.id, state.inputs, {k: v for k, v in state.outputs.items() if k != "endpoint"})
    assert run().preview(legacy, news) == "same"


# --- 5. the incident brake ----------------------------------------------------------------------


def test_the_brake_holds_everything_paused_and_never_starts(run: Run, sandbox: Sandbox) -> None:
    declared = {
        "a": {"campaign_id": "camp_1", "reconcile": True},
        "b": {"campaign_id": "camp_2"},
        "c": {"campaign_id": "camp_3", "status": "paused"},
    }
    plugin = run()
    state = {name: plugin.up(None, news) for name, news in declared.items()}

    plugin = run(pauseAll="true", heal="true")
    inputs, _ = plugin.check(state["a"].inputs, declared["a"])
    assert inputs["status"] == "paused"  # the preview shows `~ status: "running" => "paused"`
    # The brake trusts no state: every resource is paused again, the one recorded paused too.
    assert {n: plugin.preview(state[n], news) for n, news in declared.items()} == {
        "a": "update",  # running -> paused
        "b": "update",
        "c": "update",  # recorded paused (draft): re-asserted all the same
    }
    assert sandbox.drain_counts() == {}
    state = {name: plugin.up(state[name], news) for name, news in declared.items()}
    assert sandbox.drain_counts() == {"POST pause": 3}
    # A new declaration under the brake is created paused: no start leaves while it is on.
    plugin.up(None, {"campaign_id": "camp_4"})
    assert sandbox.drain_counts() == {"POST pause": 1} and sandbox.status("camp_4") == "draft"

    sandbox.put("camp_1", status="running")  # someone resumes during the incident
    plugin = run(pauseAll="true", heal="true")
    state = {name: plugin.up(state[name], news) for name, news in declared.items()}
    assert sandbox.drain_counts() == {"POST pause": 3} and sandbox.status("camp_1") == "paused"

    plugin = run()  # brake released: back to the declarations
    assert {n: plugin.preview(state[n], news) for n, news in declared.items()} == {
        "a": "update",
        "b": "update",
        "c": "same",
    }
    state = {name: plugin.up(state[name], news) for name, news in declared.items()}
    assert sandbox.drain_counts() == {"POST start": 2}
    assert [sandbox.status(c) for c in ("camp_1", "camp_2", "camp_3")] == ["running", "running", "draft"]


def test_the_brake_and_heal_all_repair_what_an_interrupted_run_left_running(
    run: Run, sandbox: Sandbox
) -> None:
    """A run killed after its starts reached Leadterra but before the engine recorded them
    leaves state saying paused for campaigns that are sending. Everyday runs trust state; the
    brake and a healAll run do not."""
    declared = {f"c{i}": {"campaign_id": f"camp_{i}", "status": "paused"} for i in (1, 2, 3)}
    plugin = run()
    state = {name: plugin.up(None, news) for name, news in declared.items()}
    for i in (1, 2, 3):  # the interrupted run's starts, never recorded
        sandbox.put(f"camp_{i}", status="running")
    sandbox.clear_requests()

    # Declaring paused again (what state already says) is no repair: nothing is sent.
    plugin = run()
    assert {n: plugin.preview(state[n], news) for n, news in declared.items()} == dict.fromkeys(
        declared, "same"
    )
    assert sandbox.drain_counts() == {}

    # healAll re-asserts every declaration with one idempotent call each.
    plugin = run(healAll="true")
    assert {n: plugin.preview(state[n], news) for n, news in declared.items()} == dict.fromkeys(
        declared, "update"
    )
    state = {name: plugin.up(state[name], news) for name, news in declared.items()}
    assert sandbox.drain_counts() == {"POST pause": 3}
    assert {sandbox.status(f"camp_{i}") for i in (1, 2, 3)} == {"paused"}
    assert all(s.outputs["healed_at"] for s in state.values())  # each pause really paused one

    # The brake does the same without being told state is wrong.
    for i in (1, 2, 3):
        sandbox.put(f"camp_{i}", status="running")
    sandbox.clear_requests()
    plugin = run(pauseAll="true")
    state = {name: plugin.up(state[name], news) for name, news in declared.items()}
    assert sandbox.drain_counts() == {"POST pause": 3}
    assert {sandbox.status(f"camp_{i}") for i in (1, 2, 3)} == {"paused"}


def test_heal_all_pauses_what_is_declared_paused_and_undoes_no_dashboard_pause(
    run: Run, sandbox: Sandbox
) -> None:
    """healAll repairs the dangerous direction only: every campaign declared paused is paused
    again. A campaign declared running but paused in the dashboard stays paused (that pause was
    someone's decision), unless Git owns it (reconcile=True), as in any heal run."""
    declared = {
        "a": {"campaign_id": "camp_1"},  # running, reconcile False
        "b": {"campaign_id": "camp_2", "status": "paused"},
        "c": {"campaign_id": "camp_3", "reconcile": True},  # running, owned by Git
    }
    plugin = run()
    state = {name: plugin.up(None, news) for name, news in declared.items()}
    sandbox.put("camp_1", status="paused")  # paused in the dashboard
    sandbox.put("camp_3", status="paused")
    sandbox.clear_requests()
    plugin = run(healAll="true")
    assert {n: plugin.preview(state[n], news) for n, news in declared.items()} == {
        "a": "same",
        "b": "update",
        "c": "update",
    }
    state = {name: plugin.up(state[name], news) for name, news in declared.items()}
    assert sandbox.drain_counts() == {"POST pause": 1, "POST start": 1}
    assert [sandbox.status(c) for c in ("camp_1", "camp_2", "camp_3")] == ["paused", "draft", "running"]
    # With the brake on too, the brake wins: nothing starts.
    plugin = run(healAll="true", pauseAll="true")
    state = {name: plugin.up(state[name], news) for name, news in declared.items()}
    assert sandbox.drain_counts() == {"POST pause": 3} and sandbox.status("camp_3") == "paused"


def test_the_brake_holds_even_if_stale_inputs_say_running(run: Run, sandbox: Sandbox) -> None:
    """Defence in depth: Update with inputs checked before the brake still sends only a pause."""
    from harness.engine import PROVIDER_BLOB

    state = run().up(None, {"campaign_id": "camp_1"})
    sandbox.put("camp_1", status="paused")
    outs = run(pauseAll="true").update("camp_1", state.outputs, {**state.inputs, "__provider": PROVIDER_BLOB})
    assert sandbox.drain_counts() == {"POST pause": 1} and outs["status"] == "paused"


# --- 6. drift, inferred in the safe direction only ----------------------------------------------


def test_refresh_infers_running_from_sends_and_the_next_up_pauses(run: Run, sandbox: Sandbox) -> None:
    news = {"campaign_id": "camp_1", "status": "paused"}
    sandbox.put("camp_1", status="running")
    state = run().up(None, news)
    state = run().refresh(state)  # the baseline
    assert state is not None and state.outputs["status"] == "paused" and "drift" not in state.outputs
    state = run().refresh(state)  # nothing sent: still paused
    assert state is not None and state.outputs["status"] == "paused"

    sandbox.put("camp_1", status="running")  # resumed in the dashboard: the next step goes out
    sandbox.clear_requests()
    state = run().refresh(state)
    assert sandbox.drain_counts() == {"GET stats": 1}
    assert state is not None and state.outputs["status"] == "running"
    assert "inferred running" in state.outputs["drift"] and "stats.sent grew" in state.outputs["drift"]

    plugin = run()
    assert plugin.preview(state, news) == "update"
    state = plugin.up(state, news)
    assert sandbox.drain_counts() == {"POST pause": 1} and sandbox.status("camp_1") == "paused"
    assert state.outputs["status"] == "paused" and "drift" not in state.outputs
    assert state.outputs["healed_at"] == state.outputs["paused_at"]
    state = run().refresh(state)
    assert state is not None and state.outputs["status"] == "paused"


def test_running_is_never_inferred_paused(run: Run, sandbox: Sandbox) -> None:
    state = run().up(None, {"campaign_id": "camp_1"})
    state = run().refresh(state)
    sandbox.put("camp_1", status="paused")
    state = run().refresh(state)
    assert state is not None and state.outputs["status"] == "running" and "drift" not in state.outputs


def test_sends_before_our_own_pause_are_not_drift(run: Run, sandbox: Sandbox) -> None:
    """Baseline taken while running, then the declaration pauses: no false alarm afterwards."""
    state = run().up(None, {"campaign_id": "camp_1"})
    state = run().refresh(state)
    assert state is not None
    sandbox.put("camp_1", status="paused")
    sandbox.put("camp_1", status="running")  # more sends, still legitimately running
    state = run().up(state, {"campaign_id": "camp_1", "status": "paused"})
    for _ in range(2):
        refreshed = run().refresh(state)
        assert refreshed is not None and refreshed.outputs["status"] == "paused"
        state = refreshed


# --- 7. preflight -------------------------------------------------------------------------------


def test_preflight_catches_a_campaign_without_leads_in_preview(run: Run, sandbox: Sandbox) -> None:
    plugin = run(preflight="true")
    _, failures = plugin.check({}, {"campaign_id": "camp_noleads"})
    assert sandbox.drain_counts() == {"GET stats": 1}
    ((prop, reason),) = failures
    assert prop == "campaign_id" and "no_leads_enrolled" in reason and "enroll at least one lead" in reason
    assert TEST_KEY not in reason
    # Held paused, it is not about to start: only its existence is checked.
    assert plugin.check({}, {"campaign_id": "camp_noleads", "status": "paused"})[1] == []
    assert sandbox.drain_counts() == {"GET stats": 1}


def test_preflight_not_found_and_refused_key(run: Run, sandbox: Sandbox) -> None:
    plugin = run(preflight="true")
    ((prop, reason),) = plugin.check({}, {"campaign_id": "camp_nope"})[1]
    assert prop == "campaign_id" and "campaign_not_found" in reason
    sandbox.accept_keys("sk_test_other")
    ((prop, reason),) = plugin.check({}, {"campaign_id": "camp_1"})[1]
    assert prop == "api_key" and "authentication_failed" in reason and TEST_KEY not in reason
    assert sandbox.drain_counts() == {"GET stats": 2}


def test_preflight_ignores_transient_failures(run: Run, sandbox: Sandbox) -> None:
    sandbox.faults({"status": 503, "times": 9})
    assert run(preflight="true").check({}, {"campaign_id": "camp_1"})[1] == []
    assert sandbox.drain_counts() == {"GET stats": 1}  # one try, no retry loop in a preview
    sandbox.admin("DELETE", "/faults")
    sandbox.faults({"drop": True, "times": 9})
    assert run(preflight="true").check({}, {"campaign_id": "camp_1"})[1] == []


def test_preflight_only_for_creates_and_moves_to_running(run: Run, sandbox: Sandbox) -> None:
    state = run().up(None, {"campaign_id": "camp_1"})
    plugin = run(preflight="true")
    assert plugin.preview(state, {"campaign_id": "camp_1"}) == "same"
    assert plugin.preview(state, {"campaign_id": "camp_1", "status": "paused"}) == "update"
    assert sandbox.drain_counts() == {}
    paused = plugin.up(state, {"campaign_id": "camp_1", "status": "paused"})
    sandbox.clear_requests()
    assert plugin.preview(paused, {"campaign_id": "camp_1"}) == "update"  # moving back to running
    # ...and, as it is about to start, the run's one look at sender capacity.
    assert sandbox.drain_counts() == {"GET stats": 1, "GET sender-pools": 1}
    assert run().preview(paused, {"campaign_id": "camp_1"}) == "update"  # without preflight: 0
    assert sandbox.drain_counts() == {}


# --- run-level settings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"), [("heal", "yes"), ("pauseAll", "2"), ("preflight", "on"), ("maxAttempts", "1.5")]
)
def test_unusable_settings_are_check_failures_naming_the_key(
    run: Run, sandbox: Sandbox, name: str, value: str
) -> None:
    failures = run(**{name: value}).check({}, {"campaign_id": "camp_1"})[1]
    assert [p for p, _ in failures] == [f"leadterra:{name}"] and repr(value) in failures[0][1]
    assert sandbox.drain_counts() == {}


def test_environment_twins_fill_the_gap_and_stack_config_wins(run: Run, sandbox: Sandbox) -> None:
    state = run().up(None, {"campaign_id": "camp_1", "reconcile": True})
    assert run(env={"LEADTERRA_HEAL": "1"}).preview(state, {"campaign_id": "camp_1", "reconcile": True}) == (
        "update"
    )
    assert (
        run(env={"LEADTERRA_HEAL": "true"}, heal="false").preview(
            state, {"campaign_id": "camp_1", "reconcile": True}
        )
        == "same"
    )
    inputs, _ = run(env={"LEADTERRA_PAUSE_ALL": "TRUE"}).check({}, {"campaign_id": "camp_1"})
    assert inputs["status"] == "paused"
    run(env={"LEADTERRA_PREFLIGHT": "1"}).check({}, {"campaign_id": "camp_2"})
    assert sandbox.drain_counts() == {"GET stats": 1, "GET sender-pools": 1}  # a start: capacity too
