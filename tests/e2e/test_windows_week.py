"""A launch week through the real `pulumi` command on both front ends, the provider under a
faked clock (libfaketime, from outside: harness/faketime.py), with the exact requests per run.

Declared on Monday for Wednesday 09:00 to Friday 17:00 (Berlin, +01:00), reconcile=True; runs
before, at, inside (a dashboard pause, a heal run), during the brake, and after. Each command
is a new provider process whose clock starts at the instant given (the engine's own clock and
the sandbox's stay real).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import pytest

from harness.cli import Project, find_cli, summary
from harness.faketime import faked_providers
from harness.sandbox import Sandbox
from pulumi_leadterra.schema import TYPE_TOKEN
from tests.conftest import TEST_KEY

START_AT, STOP_AT = "2027-03-10T09:00:00+01:00", "2027-03-12T17:00:00+01:00"
_PROGRAM = f"""
import pulumi
from pulumi_leadterra import CampaignState

launch = CampaignState("launch", campaign_id="camp_1", reconcile=True,
                       start_at="{START_AT}", stop_at="{STOP_AT}")
pulumi.export("window", launch.window)
"""

HEAL, BRAKE = {"LEADTERRA_HEAL": "true"}, {"LEADTERRA_PAUSE_ALL": "true"}
# (when, faked instant in UTC, settings, dashboard status set before, the preview's changes (none:
# no change), requests of the up, status after)
WEEK: list[tuple[str, str, dict[str, str], Optional[str], dict[str, int], dict[str, int], str]] = [
    ("Monday: declared", "2027-03-08 10:00:00", {}, None, {"create": 1}, {"POST pause": 1}, "draft"),
    ("Tuesday", "2027-03-09 10:00:00", {}, None, {}, {}, "draft"),
    ("Wednesday 08:59", "2027-03-10 07:59:00", {}, None, {}, {}, "draft"),
    ("Wednesday 09:00", "2027-03-10 08:00:05", {}, None, {"update": 1}, {"POST start": 1}, "running"),
    ("Thursday: dashboard pause", "2027-03-11 10:00:00", {}, "paused", {}, {}, "paused"),
    ("Thursday: heal run", "2027-03-11 10:15:00", HEAL, None, {"update": 1}, {"POST start": 1}, "running"),
    ("Thursday: the brake", "2027-03-11 11:00:00", BRAKE, None, {"update": 1}, {"POST pause": 1}, "paused"),
    (
        "Thursday: brake released",
        "2027-03-11 12:00:00",
        {},
        None,
        {"update": 1},
        {"POST start": 1},
        "running",
    ),
    ("Friday 17:00", "2027-03-12 16:00:05", {}, None, {"update": 1}, {"POST pause": 1}, "paused"),
    ("Friday: heal run", "2027-03-12 16:15:00", HEAL, None, {"update": 1}, {"POST pause": 1}, "paused"),
    ("Saturday", "2027-03-13 10:00:00", {}, None, {}, {}, "paused"),
]


# What the preview shows for status where a run moves the campaign: `~ status: "paused" => "running"`.
SHOWN = {
    "Wednesday 09:00": ("paused", "running"),
    "Thursday: the brake": ("running", "paused"),
    "Thursday: brake released": ("paused", "running"),
    "Friday 17:00": ("running", "paused"),
}


def _status_shown(preview: dict[str, Any]) -> tuple[Any, Any]:
    (step,) = [s for s in preview.get("steps", []) if s.get("op") == "update"]
    return step["oldState"]["inputs"].get("status"), step["newState"]["inputs"].get("status")


def _project(tmp_path: Path, sandbox: Sandbox, variant: str) -> Project:
    cli = find_cli()
    assert cli is not None
    project = Project(tmp_path, secrets=[TEST_KEY], plugin_on_path=variant == "native")
    project.env["PATH"] = f"{faked_providers(tmp_path / 'faked', cli)}:{project.env['PATH']}"
    project.front_end(variant, _PROGRAM, name="week")
    if variant == "native":
        # The YAML example with the plugin found on PATH (the faked wrapper), not by path.
        project.yaml_program(
            Path(__file__).parents[2] / "examples" / "yaml" / "Pulumi.yaml", plugin_by_path=False
        )
        properties = {"campaignId": "camp_1", "reconcile": True, "startAt": START_AT, "stopAt": STOP_AT}
        project.declare({"launch": {"type": TYPE_TOKEN, "properties": properties}})
    project.init(sandbox.url, TEST_KEY, retryBaseDelay="0.01")
    return project


def _outputs(project: Project) -> dict[str, Any]:
    (resource,) = [r for r in project.export()["deployment"]["resources"] if "CampaignState" in r["type"]]
    return dict(resource["outputs"])


@pytest.mark.parametrize("variant", ["dynamic", "native"])
def test_a_launch_week_with_the_requests_of_each_run(tmp_path: Path, sandbox: Sandbox, variant: str) -> None:
    project = _project(tmp_path, sandbox, variant)
    sandbox.clear_requests()
    timeline = []
    for when, instant, settings, dashboard, preview, requests, after in WEEK:
        env = {"FAKETIME": f"@{instant}", **settings}
        if dashboard:
            sandbox.put("camp_1", status=dashboard)
        shown = project.preview(env=env)
        planned = summary(shown)
        assert planned == preview, (when, planned)
        if when in SHOWN:
            assert _status_shown(shown) == SHOWN[when], when
        assert sandbox.drain_counts() == {}, when  # a preview sends nothing
        project.up(env=env)
        sent = dict(sandbox.drain_counts())
        timeline.append((when, sent))
        assert sent == requests, (when, sent)
        assert sandbox.status("camp_1") == after, when
    outputs = _outputs(project)
    assert outputs["window"] == "closed"
    print(f"\n{variant}: " + "; ".join(f"{w}: {s or 0}" for w, s in timeline))


@pytest.mark.parametrize("variant", ["dynamic", "native"])
def test_outputs_say_what_the_next_run_will_do(tmp_path: Path, sandbox: Sandbox, variant: str) -> None:
    project = _project(tmp_path, sandbox, variant)
    project.up(env={"FAKETIME": "@2027-03-08 10:00:00"})
    outputs = _outputs(project)
    next_change = outputs.get("next_change_at", outputs.get("nextChangeAt"))
    assert outputs["window"] == "before" and next_change == "2027-03-10T08:00:00Z"
    project.up(env={"FAKETIME": "@2027-03-10 12:00:00"})
    outputs = _outputs(project)
    next_change = outputs.get("next_change_at", outputs.get("nextChangeAt"))
    assert outputs["window"] == "open" and next_change == "2027-03-12T16:00:00Z"
