"""The guardrails policy pack (`examples/policy-pack`) through the real `pulumi` command.

A dev stack of the quickstart (the dynamic provider) and of the Pulumi YAML example (the native
plugin, by path), each against the sandbox, previewed with ``--policy-pack`` as a user and the
GitOps workflow run it:

- a live-looking key (``sk_live_...``) in stack config fails the preview (and an ``up``) with
  the mandatory ``leadterra-no-live-sends-outside-production`` named in the output, the key
  itself never printed (`Project` checks every word the CLI prints, and every state export);
- a sandbox key (``sk_test_...``) passes the preview, and the ``up`` with the pack applies it.

After every command: the exact requests the sandbox received (a preview sends none, a blocked
``up`` sends none), and the state as ``pulumi stack export`` holds it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import Project, policy_pack
from harness.programs import ROOT
from harness.sandbox import Sandbox
from pulumi_leadterra.policies import no_live_sends_outside_production
from pulumi_leadterra.resource import CAMPAIGN_STATE_TYPE
from pulumi_leadterra.schema import TYPE_TOKEN
from tests.conftest import TEST_KEY

# Looks like a production key; it must never appear in anything the CLI prints or stores.
LIVE_KEY = "sk_live_51HxQ7sKZr9mW2bTdLp4VnE8yJcA3uF6g"
NO_LIVE = no_live_sends_outside_production.name  # "leadterra-no-live-sends-outside-production"
VARIANTS = {"dynamic": CAMPAIGN_STATE_TYPE, "yaml-native": TYPE_TOKEN}



def _project(tmp_path: Path, sandbox: Sandbox, variant: str, key: str) -> Project:
    # Both keys are secrets to Project: neither may appear in output or in a state export.
    project = Project(tmp_path, secrets=[LIVE_KEY, TEST_KEY])
    if variant == "dynamic":
        project.python_program("quickstart", ROOT / "examples" / "quickstart" / "__main__.py")
    else:
        project.yaml_program(ROOT / "examples" / "yaml" / "Pulumi.yaml", plugin_by_path=True)
    project.init(sandbox.url, key, "dev", retryBaseDelay="0.01")  # dev: not a productionStack
    return project


def _campaigns(project: Project, variant: str) -> dict[str, str]:
    """Each CampaignState's status in state, by resource name."""
    return {name: r["outputs"].get("status") for name, r in project.resources(VARIANTS[variant]).items()}


@pytest.fixture
def campaigns(sandbox: Sandbox) -> Sandbox:
    """The quickstart's two campaigns, ready to start; the request log empty."""
    for campaign in ("camp_demo", "camp_legacy"):
        sandbox.put(campaign, status="draft", leads=3)
    sandbox.clear_requests()
    return sandbox


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_a_live_key_on_a_dev_stack_is_blocked(tmp_path: Path, campaigns: Sandbox, variant: str) -> None:
    sandbox = campaigns
    pack = policy_pack(tmp_path)
    project = _project(tmp_path, sandbox, variant, LIVE_KEY)

    # The pull request's preview: the mandatory policy fails it, by name, saying the key is a
    # live one but not what it is (Project fails on the key anywhere in the output); nothing
    # reaches the sandbox. (Where the key came from: see the last test.)
    blocked = project("preview", "--policy-pack", str(pack), check=False)
    output = blocked.stdout + blocked.stderr
    assert blocked.returncode != 0
    assert NO_LIVE in output and "mandatory" in output
    assert "launch in non-production stack 'dev' would use a live API key (sk_live_...)" in output
    # Only the running campaign is a live send; the paused one is safe and passes.
    assert output.count("would use a live API key") == 1 and f"{VARIANTS[variant]}: launch)" in output
    assert sandbox.drain_counts() == {}
    assert project.export()["deployment"].get("resources") is None  # never deployed

    # The pack is enforced at apply time too: the up stops before any request.
    refused = project("up", "--yes", "--policy-pack", str(pack), check=False)
    assert refused.returncode != 0 and NO_LIVE in refused.stdout + refused.stderr
    assert sandbox.drain_counts() == {}
    assert _campaigns(project, variant) == {}
    assert sandbox.status("camp_demo") == "draft" and sandbox.status("camp_legacy") == "draft"


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_a_sandbox_key_on_a_dev_stack_passes(tmp_path: Path, campaigns: Sandbox, variant: str) -> None:
    sandbox = campaigns
    pack = policy_pack(tmp_path)
    project = _project(tmp_path, sandbox, variant, TEST_KEY)

    # The preview passes the pack (the engine ran it: its check mark, from the copy), two
    # creates (and the stack), no violation, nothing sent.
    preview = project("preview", "--policy-pack", str(pack)).stdout
    # (The CLI words its policy summary by terminal and path length: only the pack's name and
    # "Loading policy packs" are stable.)
    assert "Loading policy packs...: done" in preview
    assert "+ 3 to create" in preview and NO_LIVE not in preview
    assert sandbox.drain_counts() == {}
    assert project.export()["deployment"].get("resources") is None

    # The up with the pack: the policies pass with known values, then one start and one pause.
    project.up("--policy-pack", str(pack))
    assert sandbox.drain_counts() == {"POST start": 1, "POST pause": 1}
    assert _campaigns(project, variant) == {"launch": "running", "legacy": "draft"}
    # (A pause of a draft leaves it a draft: Leadterra reports what it holds.)
    assert sandbox.status("camp_demo") == "running" and sandbox.status("camp_legacy") == "draft"
    for resource in project.resources(VARIANTS[variant]).values():  # never the config key
        for props in (resource["inputs"], resource["outputs"]):
            assert "api_key" not in props and "apiKey" not in props

    # A quiet preview with the pack: no changes, nothing sent.
    project("preview", "--expect-no-changes", "--policy-pack", str(pack))
    assert sandbox.drain_counts() == {}
    assert _campaigns(project, variant) == {"launch": "running", "legacy": "draft"}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_the_violation_names_where_the_key_came_from(
    tmp_path: Path, campaigns: Sandbox, variant: str
) -> None:
    project = _project(tmp_path, campaigns, variant, LIVE_KEY)
    blocked = project("preview", "--policy-pack", str(policy_pack(tmp_path)), check=False)
    assert campaigns.drain_counts() == {}
    assert project.export()["deployment"].get("resources") is None
    assert blocked.returncode != 0
    assert "(sk_live_...) from stack config leadterra:apiKey" in blocked.stdout + blocked.stderr
