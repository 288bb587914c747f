"""Replacements under the same campaign id, through the real `pulumi` command, with
`pauseOnDelete`: the engine creates the new resource (a start) before it deletes the old one, and
the old one's pause must not leave the campaign paused while state says running. Every way a
replacement starts: `pulumi up --replace URN` on both front ends, `replaceOnChanges: [status]`,
and with `deleteBeforeReplace` (the delete comes first and pauses nothing either).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.cli import Project
from harness.programs import ROOT
from harness.sandbox import Sandbox
from pulumi_leadterra.schema import TYPE_TOKEN
from tests.conftest import TEST_KEY

_DYNAMIC = """
import pulumi
from pulumi_leadterra import CampaignState

CampaignState(
    "launch",
    campaign_id="camp_1",
    status=pulumi.Config().require("status"),
    pause_on_delete=True,
    opts=pulumi.ResourceOptions(replace_on_changes=["status"]),
)
"""


def _declare_yaml(project: Project, status: str, options: dict[str, Any]) -> None:
    properties = {"campaignId": "camp_1", "status": status, "pauseOnDelete": True}
    resource: dict[str, Any] = {"type": TYPE_TOKEN, "properties": properties}
    if options:
        resource["options"] = options
    project.declare({"launch": resource})


def _urn(project: Project, type_token: str) -> str:
    (resource,) = project.resources(type_token).values()
    return str(resource["urn"])


@pytest.mark.parametrize("variant", ["native", "dynamic"])
def test_up_replace_of_a_running_campaign_leaves_it_running(
    tmp_path: Path, sandbox: Sandbox, variant: str
) -> None:
    project = Project(tmp_path, secrets=[TEST_KEY])
    type_token = project.front_end(variant, _DYNAMIC, name="launch")
    project.init(sandbox.url, TEST_KEY, retryBaseDelay="0.01")
    if variant == "dynamic":
        project("config", "set", "launch:status", "running")
    else:
        _declare_yaml(project, "running", {})
    project.up()
    assert sandbox.drain_counts() == {"POST start": 1}

    project.up("--replace", _urn(project, type_token))
    # The new resource's start (a no-op on a running campaign), and no pause from the old one.
    assert sandbox.drain_counts() == {"POST start": 1} and sandbox.status("camp_1") == "running"
    project("preview", "--expect-no-changes")
    (state,) = project.resources(type_token).values()
    assert state["outputs"]["status"] == "running"

    # Declared paused and replaced: the new one pauses, and so may the old one's delete. (The
    # dynamic resource's replace_on_changes is not honoured by the engine, v3.274.1: a status
    # change updates it in place; so both front ends are replaced with --replace here.)
    if variant == "dynamic":
        project("config", "set", "launch:status", "paused")
    else:
        _declare_yaml(project, "paused", {})
    project.up("--replace", _urn(project, type_token))
    assert sandbox.drain_counts() == {"POST pause": 2} and sandbox.status("camp_1") == "paused"
    # Destroy still honours pauseOnDelete.
    sandbox.put("camp_1", status="running")
    sandbox.clear_requests()
    project("destroy", "--yes")
    assert sandbox.drain_counts() == {"POST pause": 1} and sandbox.status("camp_1") == "paused"


@pytest.mark.parametrize(
    ("options", "requests"),
    [
        ({"replaceOnChanges": ["status"]}, {"POST start": 1}),
        # Delete first, whose pause is skipped too (this run declares camp_1 running), then start.
        ({"replaceOnChanges": ["status"], "deleteBeforeReplace": True}, {"POST start": 1}),
    ],
    ids=["create-before-delete", "delete-before-replace"],
)
def test_replace_on_changes_from_paused_to_running_ends_running(
    tmp_path: Path, sandbox: Sandbox, options: dict[str, Any], requests: dict[str, int]
) -> None:
    project = Project(tmp_path, secrets=[TEST_KEY])
    project.yaml_program(ROOT / "examples" / "yaml" / "Pulumi.yaml", plugin_by_path=True)
    project.init(sandbox.url, TEST_KEY, retryBaseDelay="0.01")
    _declare_yaml(project, "paused", options)
    project.up()
    assert sandbox.drain_counts() == {"POST pause": 1}

    _declare_yaml(project, "running", options)
    assert "replace" in project("preview", "--diff").stdout
    project.up()
    assert sandbox.drain_counts() == requests and sandbox.status("camp_1") == "running"
    project("preview", "--expect-no-changes")
    (state,) = project.resources(TYPE_TOKEN).values()
    assert state["outputs"]["status"] == "running"
