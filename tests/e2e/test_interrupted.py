"""Interrupted runs through the real `pulumi` command, on both front ends: a `pulumi up` killed
with ``kill -9`` while its starts are at Leadterra, whose answers never come back (the sandbox
carries each start out and holds its answer), so state keeps saying paused for campaigns that
are sending. Then what a team does about it:

- nothing is sent once the CLI is gone: the provider processes exit within about a second and no
  request arrives after the kill plus one second;
- a second `up` meanwhile is refused and names `pulumi cancel` (the stale lock);
- the documented incident order (stop the job, `pulumi cancel`, then the brake) pauses every
  campaign, whatever state says, and every brake run pauses them all again;
- declaring `paused` again is no repair by itself (an everyday run trusts state), and a
  `healAll` run re-asserts every declaration: every campaign paused, then a quiet preview.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from harness.cli import Project
from harness.sandbox import Sandbox
from pulumi_leadterra.schema import TYPE_TOKEN
from tests.conftest import TEST_KEY

N = 20
IDS = [f"camp_{i}" for i in range(1, N + 1)]

_FLEET = f"""
import pulumi
from pulumi_leadterra import CampaignState

status = pulumi.Config().get("status") or "running"
for i in range(1, {N + 1}):
    CampaignState(f"c{{i}}", campaign_id=f"camp_{{i}}", status=status)
"""

def _project(tmp_path: Path, sandbox: Sandbox, variant: str) -> Project:
    project = Project(tmp_path, secrets=[TEST_KEY])
    project.front_end(variant, _FLEET, name="fleet")
    # A short read timeout: a provider left behind by a killed CLI would retry its unanswered
    # starts within the seconds this test watches.
    project.init(
        sandbox.url, TEST_KEY, retryBaseDelay="0.2", retryMaxDelay="0.5", readTimeout="2", maxAttempts="20"
    )
    return project


def _declare(project: Project, variant: str, status: str) -> None:
    if variant == "dynamic":
        project("config", "set", "fleet:status", status)
    else:
        project.declare(
            {
                f"c{i}": {"type": TYPE_TOKEN, "properties": {"campaignId": f"camp_{i}", "status": status}}
                for i in range(1, N + 1)
            }
        )


def _running(sandbox: Sandbox) -> list[str]:
    return [campaign for campaign in IDS if sandbox.status(campaign) == "running"]


def _kill_mid_up(project: Project, sandbox: Sandbox) -> float:
    """`pulumi up` killed with kill -9 once a few of its starts have reached the sandbox (their
    answers held, so never recorded); returns when it was killed, after checking that nothing
    of ours outlives the CLI by more than a second and nothing arrives after that."""
    sandbox.faults({"holdMs": 600_000, "match": "/start", "times": 1_000})
    sandbox.clear_requests()
    proc = project.start("up", "--yes", "--skip-preview")
    deadline = time.monotonic() + 120
    while len(_running(sandbox)) < 3 and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[0]
        time.sleep(0.1)
    assert len(_running(sandbox)) >= 3, "the up should have started some campaigns by now"
    assert project.processes(providers_only=True), "no provider process found to watch"
    proc.kill()  # kill -9 of the CLI, by the PID this test started
    killed = time.time()
    proc.communicate(timeout=30)

    while project.processes(providers_only=True) and time.time() < killed + 5:
        time.sleep(0.05)
    assert project.processes(providers_only=True) == {}, "a provider process outlived the CLI"
    assert time.time() - killed < 1.5, "a provider process outlived the CLI by more than a second"
    time.sleep(4)  # the read timeout is 2 s: a provider still retrying would have sent by now
    late = [r for r in sandbox.requests() if r["receivedAt"] > killed + 1]
    assert late == [], f"requests after the engine was gone: {late}"
    # A kill can leave an empty .attrs sidecar (then every command fails with "failed to load
    # checkpoint: EOF"): the runbook's first step, before anything else.
    project.remove_empty_attrs()
    sandbox.admin("DELETE", "/faults")
    sandbox.clear_requests()
    return killed


@pytest.mark.parametrize("variant", ["dynamic", "native"])
def test_after_a_killed_up_the_brake_and_heal_all_leave_nothing_sending(
    tmp_path: Path, sandbox: Sandbox, variant: str
) -> None:
    for campaign in IDS[5:]:
        sandbox.put(campaign, leads=3)
    project = _project(tmp_path, sandbox, variant)
    _declare(project, variant, "paused")
    project.up()
    assert sandbox.drain_counts() == {"POST pause": N} and _running(sandbox) == []

    # The launch: declared running, and the job is killed while the starts are out.
    _declare(project, variant, "running")
    _kill_mid_up(project, sandbox)
    started = _running(sandbox)
    assert len(started) >= 3

    # Pulling the brake while the dead run still holds the lock: refused, naming the way out.
    project("config", "set", "leadterra:pauseAll", "true")
    refused = project.up(check=False)
    assert refused.returncode != 0 and "pulumi cancel" in refused.stdout + refused.stderr
    assert sandbox.drain_counts() == {}

    # The incident order that works: the job is stopped (killed above), then cancel, then brake.
    project("cancel", "--yes")
    project("refresh", "--yes")
    assert set(sandbox.drain_counts()) == {"GET stats"}
    project.up()
    assert sandbox.drain_counts() == {"POST pause": N}, "the brake pauses every campaign, whatever state says"
    assert _running(sandbox) == []
    sandbox.put(started[0], status="running")  # resumed in the dashboard during the incident
    project.up()
    assert sandbox.drain_counts() == {"POST pause": N} and _running(sandbox) == []

    # Released with the declaration set back to paused: state says paused, nothing is sent.
    project("config", "rm", "leadterra:pauseAll")
    _declare(project, variant, "paused")
    project.up()
    assert sandbox.drain_counts() == {}

    # Another launch, killed again; this time the team declares paused instead of the brake.
    _declare(project, variant, "running")
    _kill_mid_up(project, sandbox)
    started = _running(sandbox)
    project("cancel", "--yes")
    _declare(project, variant, "paused")
    project.up()
    # An everyday run trusts state, which says paused: nothing sent, the started ones still run.
    assert sandbox.drain_counts() == {} and _running(sandbox) == started
    # The documented repair: one run that re-asserts every declaration.
    project.up(env={"LEADTERRA_HEAL_ALL": "true"})
    assert sandbox.drain_counts() == {"POST pause": N} and _running(sandbox) == []
    project("preview", "--expect-no-changes")
    project.up()
    assert sandbox.drain_counts() == {} and _running(sandbox) == []
    assert os.environ.get("LEADTERRA_HEAL_ALL") is None
