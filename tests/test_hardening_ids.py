"""Campaign ids from state never went through check: the client refuses any id outside check's
alphabet, so a state id ".." cannot turn refresh into GET /v1/stats (urllib3 resolves dot
segments; quoting leaves dots alone). The client-layer test is in test_client.py
(test_campaign_id_cannot_escape_its_path)."""

from __future__ import annotations

import pytest

from harness.engine import PROVIDER_BLOB, Plugin, PluginError, Resource
from harness.sandbox import Sandbox
from pulumi_leadterra.lifecycle import campaign_id_problem

DOTTED = ["..", ".", "camp_1/..", "%2e%2e"]


def test_check_and_the_client_apply_one_rule() -> None:
    from pulumi_leadterra import client, settings

    assert campaign_id_problem is settings.campaign_id_problem is client.campaign_id_problem


@pytest.mark.parametrize("campaign_id", DOTTED)
def test_refresh_and_destroy_of_a_state_id_with_dots_send_nothing(
    plugin: Plugin, sandbox: Sandbox, campaign_id: str
) -> None:
    outputs = {
        "campaign_id": campaign_id,
        "status": "running",
        "pause_on_delete": True,
        "__provider": PROVIDER_BLOB,
    }
    state = Resource(campaign_id, {"campaign_id": campaign_id}, outputs)
    with pytest.raises(PluginError) as refresh:
        plugin.refresh(state)
    with pytest.raises(PluginError) as destroy:
        plugin.destroy(state)
    assert sandbox.requests() == []
    for details in (refresh.value.details, destroy.value.details):
        assert "ConfigurationError" in details and "nothing was sent" in details
        assert plugin.spelled("campaign_id must be") in details


def test_the_id_rule_is_unchanged_for_ordinary_ids() -> None:
    assert campaign_id_problem("camp_1") is None and campaign_id_problem("A-b_9" * 25) is None
