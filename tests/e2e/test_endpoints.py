"""A provider configuration change that moves campaigns, through the real `pulumi` command on both
front ends: `pulumi config set leadterra:baseUrl <another endpoint>` previews the move (the
native plugin's DiffConfig names `baseUrl`; each resource's `endpoint` changes) and the `up`
sends each campaign its one call at the new endpoint, as a new `base_url` input does; then quiet.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cli import Project
from harness.sandbox import Sandbox
from pulumi_leadterra.sandbox import SandboxServer
from pulumi_leadterra.sandbox.store import new_campaign
from tests.conftest import TEST_KEY


@pytest.fixture
def other(tmp_path: Path) -> Iterator[Sandbox]:
    """A second Leadterra endpoint (another region or account) with the same campaigns."""
    campaigns = [new_campaign("camp_demo"), new_campaign("camp_legacy")]
    with SandboxServer(state_path=tmp_path / "other.json", campaigns=campaigns) as server:
        yield Sandbox(server.url)


@pytest.mark.parametrize("variant", ["dynamic", "native"])
def test_a_new_base_url_in_stack_config_moves_every_campaign(
    tmp_path: Path, sandbox: Sandbox, other: Sandbox, variant: str
) -> None:
    for campaign in ("camp_demo", "camp_legacy"):
        sandbox.put(campaign, status="draft", leads=3)
    project = Project(tmp_path, secrets=[TEST_KEY])
    type_token = project.front_end(variant)
    project.init(sandbox.url, TEST_KEY, retryBaseDelay="0.01")
    project.up()
    sandbox.clear_requests()

    project("config", "set", "leadterra:baseUrl", other.url)
    preview = project("preview", "--diff").stdout
    assert f'"{sandbox.url}" => "{other.url}"' in preview, preview
    assert sandbox.drain_counts() == {} and other.drain_counts() == {}
    project.up()
    # Each campaign its one call at the new endpoint (the launch started, the legacy paused).
    assert other.drain_counts() == {"POST start": 1, "POST pause": 1} and sandbox.drain_counts() == {}
    assert other.status("camp_demo") == "running"
    for resource in project.resources(type_token).values():
        assert resource["outputs"]["endpoint"] == other.url
    project("preview", "--expect-no-changes")
    project.up()
    assert other.drain_counts() == {} and sandbox.drain_counts() == {}
