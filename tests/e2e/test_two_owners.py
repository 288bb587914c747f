"""Two stacks holding one campaign, through the real `pulumi` command on both front ends: stack A
declares camp_1 running, stack B paused, both `reconcile=True`. Each heal run undoes the other's
(that is what heal does), and now says so in the run's output, naming the campaign, so the
second owner is found instead of flipping the campaign unseen on every schedule.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import Project
from harness.sandbox import Sandbox
from pulumi_leadterra.schema import TYPE_TOKEN
from tests.conftest import TEST_KEY

_PROGRAM = """
import pulumi
from pulumi_leadterra import CampaignState

CampaignState("owned", campaign_id="camp_1", status=pulumi.Config().require("status"), reconcile=True)
"""


def _stack(tmp_path: Path, sandbox: Sandbox, variant: str, status: str) -> Project:
    project = Project(tmp_path, secrets=[TEST_KEY])
    project.front_end(variant, _PROGRAM, name="owner")
    if variant == "native":
        properties = {"campaignId": "camp_1", "status": status, "reconcile": True}
        project.declare({"owned": {"type": TYPE_TOKEN, "properties": properties}})
    project.init(sandbox.url, TEST_KEY, retryBaseDelay="0.01")
    if variant == "dynamic":
        project("config", "set", "owner:status", status)
    return project


@pytest.mark.parametrize("variant", ["dynamic", "native"])
def test_each_heal_run_names_the_campaign_another_stack_also_holds(
    tmp_path: Path, sandbox: Sandbox, variant: str
) -> None:
    a = _stack(tmp_path / "a", sandbox, variant, "running")
    b = _stack(tmp_path / "b", sandbox, variant, "paused")
    a.up()
    b.up()
    assert sandbox.drain_counts() == {"POST start": 1, "POST pause": 1}

    heal = {"LEADTERRA_HEAL": "true"}
    for _ in range(2):
        for stack, call, status in ((a, "POST start", "running"), (b, "POST pause", "paused")):
            result = stack.up(env=heal)
            assert sandbox.drain_counts() == {call: 1} and sandbox.status("camp_1") == status
            printed = result.stdout + result.stderr
            assert "campaign camp_1 was" in printed and "one campaign, one stack" in printed, printed
    # An everyday run says nothing and sends nothing.
    result = a.up()
    assert sandbox.drain_counts() == {} and "camp_1 was" not in result.stdout + result.stderr
