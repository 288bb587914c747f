"""Launch windows through the plugin protocol, on both front ends, over the sandbox.

Time is the real clock: each window opens and closes a few seconds from now, and the test waits
for it (no setting in the product moves time). Each `pulumi` run is a new plugin process, whose
instant is taken once; every step asserts the exact requests the sandbox received. The same
week at calendar scale is the decision table (tests/test_decision.py) with an injected clock,
and the real CLI under libfaketime (tests/e2e/test_windows_week.py).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any, Optional

import pytest

from harness.engine import PluginError, Resource
from harness.sandbox import Sandbox
from tests.conftest import Run


def _instant(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat()


def _wait_until(moment: datetime) -> None:
    delay = (moment - datetime.now(UTC)).total_seconds()
    if delay > 0:
        time.sleep(delay + 0.05)


def _before(moment: datetime) -> None:
    """The step that follows must run before ``moment``: a machine too slow for it fails loudly
    rather than testing something else."""
    assert datetime.now(UTC) < moment - timedelta(seconds=0.5), "too slow to run this step in time"


def test_a_window_opens_and_closes_with_one_call_each(run: Run, sandbox: Sandbox) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=8)
    stop = start + timedelta(seconds=12)
    news: dict[str, Any] = {
        "campaign_id": "camp_1",
        "reconcile": True,
        "start_at": _instant(start),
        "stop_at": _instant(stop),
    }
    # Declared ahead of its window: the create's one call is a pause (a draft stays draft).
    state: Optional[Resource] = run().up(None, news)
    assert state is not None
    assert sandbox.drain_counts() == {"POST pause": 1} and sandbox.status("camp_1") == "draft"
    assert state.outputs["window"] == "before" and state.inputs["status"] == "paused"
    assert state.outputs["next_change_at"] == start.isoformat().replace("+00:00", "Z")
    # A scheduled run before it: nothing to preview, nothing sent.
    _before(start)
    plugin = run()
    assert plugin.preview(state, news) == "same"
    state = plugin.up(state, news)
    assert sandbox.drain_counts() == {}

    _wait_until(start)
    plugin = run()  # the first run after start_at: `~ status: "paused" => "running"`, one start
    inputs, failures = plugin.check(state.inputs, news)
    assert failures == [] and inputs["status"] == "running" and inputs["held_status"] == "running"
    assert plugin.preview(state, news) == "update"
    state = plugin.up(state, news)
    assert sandbox.drain_counts() == {"POST start": 1} and sandbox.status("camp_1") == "running"
    assert state.outputs["window"] == "open"
    assert state.outputs["next_change_at"] == stop.isoformat().replace("+00:00", "Z")

    # A dashboard pause inside the window: everyday runs respect it, a heal run undoes it.
    sandbox.put("camp_1", status="paused")
    state = run().up(state, news)
    assert sandbox.drain_counts() == {} and sandbox.status("camp_1") == "paused"
    state = run(heal="true").up(state, news)
    assert sandbox.drain_counts() == {"POST start": 1} and sandbox.status("camp_1") == "running"
    # The brake wins over the window; released inside the window, the campaign runs again.
    state = run(pauseAll="true").up(state, news)
    assert sandbox.drain_counts() == {"POST pause": 1} and sandbox.status("camp_1") == "paused"
    _before(stop)
    state = run().up(state, news)
    assert sandbox.drain_counts() == {"POST start": 1} and sandbox.status("camp_1") == "running"

    _wait_until(stop)
    plugin = run()  # the first run after stop_at pauses it
    assert plugin.preview(state, news) == "update"
    state = plugin.up(state, news)
    assert sandbox.drain_counts() == {"POST pause": 1} and sandbox.status("camp_1") == "paused"
    assert state.outputs["window"] == "closed" and state.outputs.get("next_change_at") is None
    # A heal run after the window re-asserts the pause; it never starts. Everyday: nothing.
    state = run(heal="true").up(state, news)
    assert sandbox.drain_counts() == {"POST pause": 1} and sandbox.status("camp_1") == "paused"
    state = run().up(state, news)
    assert sandbox.drain_counts() == {}


def test_a_campaign_running_before_its_window_is_paused(run: Run, sandbox: Sandbox) -> None:
    state = run().up(None, {"campaign_id": "camp_1"})
    assert sandbox.drain_counts() == {"POST start": 1}
    later = _instant(datetime.now(UTC) + timedelta(days=2))
    news = {"campaign_id": "camp_1", "start_at": later}
    plugin = run()
    assert plugin.preview(state, news) == "update"  # `~ status: "running" => "paused"`
    state = plugin.up(state, news)
    assert sandbox.drain_counts() == {"POST pause": 1} and sandbox.status("camp_1") == "paused"
    assert state.outputs["window"] == "before"


def test_bad_windows_are_check_failures_in_the_users_words(run: Run, sandbox: Sandbox) -> None:
    plugin = run()
    spelled = plugin.spelled
    base = {"campaign_id": "camp_1"}
    _, failures = plugin.check({}, {**base, "start_at": "2027-03-10T09:00:00"})
    assert [name for name, _ in failures] == ["start_at"]
    assert failures[0][1].startswith(spelled("start_at is")) and "no offset" in failures[0][1]
    _, failures = plugin.check(
        {}, {**base, "start_at": "2027-03-12T09:00:00Z", "stop_at": "2027-03-10T09:00:00Z"}
    )
    assert [name for name, _ in failures] == ["stop_at"] and spelled("must be after start_at") in failures[0][
        1
    ]
    _, failures = plugin.check({}, {**base, "stop_at": "2020-01-01T00:00:00Z"})
    assert [name for name, _ in failures] == ["stop_at"] and "already past" in failures[0][1]
    with pytest.raises(PluginError):
        plugin.up(None, {**base, "stop_at": "2020-01-01T00:00:00Z"})
    assert sandbox.drain_counts() == {}
