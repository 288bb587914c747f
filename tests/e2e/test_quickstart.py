"""The quickstart through the real `pulumi` command: the dynamic provider (a Python program) and
the native plugin (the Pulumi YAML example, and a Python program registering the native type),
found by path and on PATH, across the runs a GitOps stack sees.

After every command: the exact requests the sandbox received, and the state as `pulumi stack
export` holds it (never a plain key; `Project` checks every word the CLI prints for it too).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.cli import Project, summary
from harness.programs import ROOT
from harness.sandbox import Sandbox
from pulumi_leadterra.resource import CAMPAIGN_STATE_TYPE
from pulumi_leadterra.schema import TYPE_TOKEN
from tests.conftest import TEST_KEY

# A Python program on the native plugin, as a user of it writes one without a generated SDK.
_NATIVE_PYTHON = '''
import pulumi

class CampaignState(pulumi.CustomResource):
    def __init__(self, name, **props):
        outputs = ("status", "startedAt", "pausedAt", "healedAt", "heldStatus", "drift", "stats")
        super().__init__("leadterra:index:CampaignState", name, {**{o: None for o in outputs}, **props})

launch = CampaignState("launch", campaignId="camp_demo", status="running", reconcile=True)
legacy = CampaignState("legacy", campaignId="camp_legacy", status="paused")
pulumi.export("launchStatus", launch.status)
'''

ROTATED = "sk_test_rotated_during_incident_1"

VARIANTS = {
    "dynamic": CAMPAIGN_STATE_TYPE,
    "yaml-by-path": TYPE_TOKEN,
    "yaml-on-path": TYPE_TOKEN,
    "python-native-on-path": TYPE_TOKEN,
    "python-native-by-path": TYPE_TOKEN,
}


def _project(tmp_path: Path, sandbox: Sandbox, variant: str) -> Project:
    on_path = variant.endswith("on-path")
    project = Project(tmp_path, secrets=[TEST_KEY, ROTATED], plugin_on_path=on_path)
    if variant == "dynamic":
        project.python_program("quickstart", ROOT / "examples" / "quickstart" / "__main__.py")
    elif variant.startswith("python-native"):
        project.write("native.py", _NATIVE_PYTHON)
        project.python_program("quickstart-native", project.dir / "native.py", variant.endswith("by-path"))
    else:
        by_path = variant == "yaml-by-path"
        project.yaml_program(ROOT / "examples" / "yaml" / "Pulumi.yaml", plugin_by_path=by_path)
    project.init(sandbox.url, TEST_KEY, retryBaseDelay="0.01")
    return project


def _campaigns(project: Project, variant: str) -> dict[str, dict[str, Any]]:
    """Each CampaignState's outputs in state, by resource name."""
    return {name: r["outputs"] for name, r in project.resources(VARIANTS[variant]).items()}


def _status(outputs: dict[str, Any]) -> Any:
    return outputs.get("status")


def _fingerprint(outputs: dict[str, Any]) -> Any:
    return outputs.get("api_key_fingerprint") or outputs.get("apiKeyFingerprint")


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_a_stack_across_its_runs(tmp_path: Path, sandbox: Sandbox, variant: str) -> None:
    for campaign in ("camp_demo", "camp_legacy"):
        sandbox.put(campaign, status="draft", leads=3)
    sandbox.clear_requests()
    project = _project(tmp_path, sandbox, variant)

    # A pull request's preview: two creates, nothing sent.
    assert summary(project.preview()) == {"create": 2}
    assert sandbox.drain_counts() == {}

    # The merge: one start, one pause.
    project.up()
    assert sandbox.drain_counts() == {"POST start": 1, "POST pause": 1}
    state = _campaigns(project, variant)
    assert _status(state["launch"]) == "running" and _status(state["legacy"]) == "draft"
    # The key from stack config is the run's: state holds its fingerprint, never the key.
    for resource in project.resources(VARIANTS[variant]).values():
        for props in (resource["inputs"], resource["outputs"]):
            assert "api_key" not in props and "apiKey" not in props, "the key must not be in state"
    fingerprint = _fingerprint(state["launch"])
    assert fingerprint.startswith("sha256:")

    # A second up and a quiet preview: nothing to do, nothing sent, no output shown changing.
    project.up()
    quiet = project("preview", "--expect-no-changes", "--diff").stdout
    assert "[unknown]" not in quiet and "--outputs:--" not in quiet, quiet
    assert sandbox.drain_counts() == {}

    # Someone pauses the launch in the dashboard: an everyday up leaves it alone.
    sandbox.put("camp_demo", status="paused")
    sandbox.clear_requests()
    project.up()
    assert sandbox.drain_counts() == {} and sandbox.status("camp_demo") == "paused"

    # The scheduled heal run resumes the owned (reconcile) campaign, and only that one.
    project.up(env={"LEADTERRA_HEAL": "true"})
    assert sandbox.drain_counts() == {"POST start": 1} and sandbox.status("camp_demo") == "running"
    healed = _campaigns(project, variant)["launch"]
    assert (healed.get("healed_at") or healed.get("healedAt")) is not None

    # The incident brake: the preview shows the pause, up pauses, nothing starts.
    project("config", "set", "leadterra:pauseAll", "true")
    braked = project("preview", "--diff")
    assert '"running" => "paused"' in braked.stdout and sandbox.drain_counts() == {}
    project.up()
    # One pause per campaign, the one already paused too: the brake trusts no state.
    assert sandbox.drain_counts() == {"POST pause": 2} and sandbox.status("camp_demo") == "paused"
    project("config", "rm", "leadterra:pauseAll")
    project.up()
    assert sandbox.drain_counts() == {"POST start": 1} and sandbox.status("camp_demo") == "running"

    # An incident: someone pauses the launch in the dashboard, and the key is rotated meanwhile.
    # The rotation updates state (the key's fingerprint) and sends nothing, so the campaign stays
    # paused, on this run and the next.
    sandbox.put("camp_demo", status="paused")
    sandbox.clear_requests()
    project("config", "set", "--secret", "leadterra:apiKey", ROTATED)
    for _ in range(2):
        project.up()
        assert sandbox.drain_counts() == {} and sandbox.status("camp_demo") == "paused"
    rotated = _campaigns(project, variant)["launch"]
    assert _fingerprint(rotated) not in (fingerprint, None)
    assert "apiKey" not in rotated and "api_key" not in rotated
    sandbox.put("camp_demo", status="running")  # the incident is over: resumed by hand
    sandbox.clear_requests()

    # Drift detection's refresh: one read each, state keeps the declared statuses. A refresh
    # that previews first (the default) reads each campaign twice: once for its preview.
    project("refresh", "--yes")
    assert sandbox.drain_counts() == {"GET stats": 4}
    project("refresh", "--yes", "--skip-preview")
    assert sandbox.drain_counts() == {"GET stats": 2}
    assert _status(_campaigns(project, variant)["launch"]) == "running"
    project("preview", "--expect-no-changes")
    assert sandbox.drain_counts() == {}

    # Destroy: launch is left as it is; the YAML example's legacy declares pauseOnDelete, so it
    # gets its one pause (the Python quickstarts declare none, and send nothing).
    project("destroy", "--yes")
    assert sandbox.drain_counts() == ({"POST pause": 1} if variant.startswith("yaml") else {})
    assert sandbox.status("camp_demo") == "running" and _campaigns(project, variant) == {}
