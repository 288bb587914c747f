"""The user-facing CampaignState class in a program, under pulumi.runtime.set_mocks."""

from __future__ import annotations

import asyncio
from typing import Any

import pulumi
import pytest
from pulumi.runtime import rpc

from harness.programs import Recorder
from pulumi_leadterra import CampaignState


@pytest.fixture(autouse=True)
def event_loop_for_pulumi() -> Any:
    """Pulumi's Output needs a current event loop; other tests' asyncio.run() leaves none."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield
    loop.close()


@pytest.fixture
def mocks() -> Recorder:
    recorder = Recorder({"status": "running", "started_at": "2025-01-15T11:00:00Z"})
    pulumi.runtime.set_mocks(recorder, project="leadterra", stack="dev", preview=False)
    return recorder


@pulumi.runtime.test
def test_type_token_inputs_and_outputs(mocks: Recorder) -> Any:
    launch = CampaignState("launch", campaign_id="camp_123")
    hold = CampaignState("legacy", campaign_id="camp_77", status="paused", pause_on_delete=True)

    def verify(values: list[Any]) -> None:
        status, started_at, _ = values
        assert status == "running" and started_at == "2025-01-15T11:00:00Z"
        by_name = {r.name: r for r in mocks.resources}
        assert by_name["launch"].typ == "pulumi-python:dynamic/leadterra:CampaignState"
        assert by_name["launch"].inputs["status"] == "running"
        assert by_name["legacy"].inputs["status"] == "paused"
        assert by_name["legacy"].inputs["pause_on_delete"] is True
        assert "api_key" not in by_name["launch"].inputs
        assert "__provider" in by_name["launch"].inputs

    return pulumi.Output.all(launch.status, launch.started_at, hold.status).apply(verify)


@pulumi.runtime.test
def test_api_key_input_is_sent_as_a_secret(mocks: Recorder) -> Any:
    state = CampaignState("k", campaign_id="camp_1", api_key="sk_test_program_key")

    def verify(_: Any) -> None:
        sent = mocks.resources[0].inputs["api_key"]
        assert rpc.is_rpc_secret(sent) and rpc.unwrap_rpc_secret(sent) == "sk_test_program_key"

    return state.campaign_id.apply(verify)


def test_additional_secret_outputs_always_lists_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_init(self: Any, provider: Any, name: str, props: Any, opts: Any) -> None:
        seen.update(props=props, opts=opts)

    monkeypatch.setattr(pulumi.dynamic.Resource, "__init__", fake_init)
    CampaignState("x", campaign_id="camp_1", api_key="sk_test_k", opts=pulumi.ResourceOptions(protect=True))
    assert seen["opts"].additional_secret_outputs == ["api_key"] and seen["opts"].protect is True
    assert isinstance(seen["props"]["api_key"], pulumi.Output)
    assert not rpc.is_rpc_secret(seen["props"]["campaign_id"])
