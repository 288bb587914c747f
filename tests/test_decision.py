"""The decision core as a table: what a step sends and what its preview shows, with no HTTP,
no sandbox and no clock but the instant passed in.

The table runs every combination of recorded status, declared status (an import declares
none), window position, brake, heal, healAll and ``reconcile``; the rules are checked as
properties of the whole table, and the rows a newcomer asks about are spelled out below it.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any, Optional

import pytest

from pulumi_leadterra.decision import (
    ADD,
    BEFORE,
    CLOSED,
    HELD_NOTHING,
    OPEN,
    PAUSE,
    START,
    UNKNOWN,
    UPDATE,
    Run,
    decide,
    held,
    instant_problem,
    window_of,
)
from pulumi_leadterra.lifecycle import Lifecycle
from pulumi_leadterra.settings import Settings

# The week of the issue: declared on Monday for Wednesday 09:00 to Friday 17:00 (Berlin, +01:00).
MONDAY = datetime(2027, 3, 8, 10, 0, tzinfo=UTC)
START_AT, STOP_AT = "2027-03-10T09:00:00+01:00", "2027-03-12T17:00:00+01:00"
OPENS = datetime(2027, 3, 10, 8, 0, tzinfo=UTC)
CLOSES = datetime(2027, 3, 12, 16, 0, tzinfo=UTC)
WINDOWS: dict[Optional[str], tuple[datetime, dict[str, str]]] = {
    None: (MONDAY, {}),
    BEFORE: (MONDAY, {"start_at": START_AT, "stop_at": STOP_AT}),
    OPEN: (OPENS, {"start_at": START_AT, "stop_at": STOP_AT}),
    CLOSED: (CLOSES, {"start_at": START_AT, "stop_at": STOP_AT}),
}


def _inputs(declared: str, window: Optional[str], reconcile: bool) -> dict[str, Any]:
    inputs: dict[str, Any] = {"campaign_id": "camp_1", "held_status": declared, "reconcile": reconcile}
    if declared != HELD_NOTHING:
        inputs["status"] = declared
    inputs.update(WINDOWS[window][1])
    return inputs


def _stored(status: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {**inputs, "status": status}


TABLE = list(
    itertools.product(
        ("running", "paused", "draft"),  # what state records
        ("running", "paused", HELD_NOTHING),  # what the program declares (none: an import)
        (None, BEFORE, OPEN, CLOSED),
        (False, True),  # the brake
        (False, True),  # heal
        (False, True),  # healAll
        (False, True),  # reconcile
    )
)


@pytest.mark.parametrize(("recorded", "declared", "window", "brake", "heal", "heal_all", "reconcile"), TABLE)
def test_the_rules_hold_over_every_combination(
    recorded: str,
    declared: str,
    window: Optional[str],
    brake: bool,
    heal: bool,
    heal_all: bool,
    reconcile: bool,
) -> None:
    now, _ = WINDOWS[window]
    run = Run(now=now, pause_all=brake, heal=heal, heal_all=heal_all)
    inputs = _inputs(declared, window, reconcile)
    step = decide(_stored(recorded, inputs), inputs, run)
    assert step.held.window == window

    # A step sends a call exactly when its preview shows a status change: no hidden sends.
    assert (step.call is None) == (step.status_change is None), step.reason
    # Nothing starts under the brake, outside a window, for a paused or empty declaration.
    if step.call == START:
        assert not brake and declared == "running" and window in (None, OPEN), step.reason
    # The brake trusts no state: one pause per resource, every run, imports included.
    if brake:
        assert step.call == PAUSE and step.held.status == "paused"
    # An import holds nothing until declared (the brake aside).
    if declared == HELD_NOTHING and not brake:
        assert step.call is None and step.held.status is None
    # A declaration running outside its window is held paused.
    if declared == "running" and window in (BEFORE, CLOSED):
        assert step.held.status == "paused" and step.call != START
    # Everyday runs trust state: nothing is sent when state records what is held.
    everyday = not (brake or heal or heal_all)
    recorded_as_held = recorded == step.held.status or (step.held.status == "paused" and recorded == "draft")
    if everyday and recorded_as_held:
        assert step.call is None
    # ...and send the one call that moves it otherwise.
    if step.held.status in ("running", "paused") and not recorded_as_held:
        assert step.call == (START if step.held.status == "running" else PAUSE)
    # A dashboard pause inside an open window is undone only by a heal run, for Git-owned ones.
    if recorded == "paused" and declared == "running" and window in (None, OPEN) and not brake:
        assert step.call == START  # state says paused: it moves to running (the window opened)
    if recorded == "running" and step.held.status == "running":
        assert (step.call == START) == ((heal or heal_all) and reconcile)
    # healAll pauses every resource held paused, whatever state records (an interrupted run).
    if heal_all and step.held.status == "paused":
        assert step.call == PAUSE
    # The next change is a window edge, only for a campaign declared running.
    if declared == "running" and window == BEFORE:
        assert step.held.next_change_at == "2027-03-10T08:00:00Z"
    elif declared == "running" and window == OPEN:
        assert step.held.next_change_at == "2027-03-12T16:00:00Z"
    else:
        assert step.held.next_change_at is None


def test_a_create_sends_its_one_call_holding_what_the_run_holds() -> None:
    for window, (now, instants) in WINDOWS.items():
        inputs = {"campaign_id": "camp_1", "status": "running", "held_status": "running", **instants}
        step = decide({}, inputs, Run(now=now))
        expected = START if window in (None, OPEN) else PAUSE
        assert (step.call, step.status_change) == (expected, ADD), window
        assert decide({}, inputs, Run(now=now, pause_all=True)).call == PAUSE


# The rows of the week, as a person reads them: (now, recorded, settings) -> (call, preview).
WEEK = [
    ("Monday, declared", MONDAY, "draft", {}, None, None),
    ("Tuesday, scheduled run", MONDAY + timedelta(days=1), "draft", {}, None, None),
    ("Wednesday 08:59:59", OPENS - timedelta(seconds=1), "draft", {}, None, None),
    ("Wednesday 09:00, window opens", OPENS, "draft", {}, START, UPDATE),
    ("Wednesday 12:00, running", OPENS + timedelta(hours=3), "running", {}, None, None),
    ("Thursday, dashboard pause, everyday run", OPENS + timedelta(days=1), "running", {}, None, None),
    ("Thursday, heal run", OPENS + timedelta(days=1), "running", {"heal": True}, START, UPDATE),
    ("Thursday, the brake", OPENS + timedelta(days=1), "running", {"pause_all": True}, PAUSE, UPDATE),
    ("Thursday, brake released", OPENS + timedelta(days=1), "paused", {}, START, UPDATE),
    ("Friday 17:00, window closes", CLOSES, "running", {}, PAUSE, UPDATE),
    ("Friday 17:00, heal run after close", CLOSES, "paused", {"heal": True}, PAUSE, UPDATE),
    ("Saturday", CLOSES + timedelta(days=1), "paused", {}, None, None),
]


@pytest.mark.parametrize(
    ("when", "now", "recorded", "flags", "call", "preview"), WEEK, ids=[w[0] for w in WEEK]
)
def test_the_week(
    when: str,
    now: datetime,
    recorded: str,
    flags: dict[str, bool],
    call: Optional[str],
    preview: Optional[str],
) -> None:
    inputs = {
        "campaign_id": "camp_1",
        "status": "running",
        "held_status": "running",
        "reconcile": True,
        "start_at": START_AT,
        "stop_at": STOP_AT,
    }
    step = decide({**inputs, "status": recorded}, inputs, Run(now=now, **flags))
    assert (step.call, step.status_change) == (call, preview), step.reason


def test_unknown_inputs_decide_nothing_yet() -> None:
    inputs = {"campaign_id": "camp_1", "status": "running", "held_status": "running", "start_at": UNKNOWN}
    step = decide({**inputs, "status": "paused"}, inputs, Run(now=MONDAY))
    assert step.call is None and step.status_change == UPDATE and step.held.status is UNKNOWN
    # Under the brake an unknown window still holds paused.
    assert held(inputs, Run(now=MONDAY, pause_all=True)).status == "paused"


def test_inputs_checked_by_another_run_never_start_outside_the_window() -> None:
    """Defence in depth: status 'running' from stale inputs, window closed now: a pause."""
    inputs = {"campaign_id": "camp_1", "status": "running", "held_status": "running", "stop_at": STOP_AT}
    assert decide({**inputs, "status": "running"}, inputs, Run(now=CLOSES)).call == PAUSE


def test_window_edges() -> None:
    assert window_of(START_AT, None, OPENS - timedelta(microseconds=1))[0] == BEFORE
    assert window_of(START_AT, None, OPENS) == (OPEN, None)  # at start_at: open
    assert window_of(None, STOP_AT, CLOSES - timedelta(microseconds=1))[0] == OPEN
    assert window_of(None, STOP_AT, CLOSES) == (CLOSED, None)  # at stop_at: closed
    assert window_of(None, None, MONDAY) == (None, None)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("2027-03-10T09:00:00", "no offset"),
        ("2027-03-10", "not an RFC 3339"),
        ("next wednesday", "not an RFC 3339"),
        ("2027-02-30T09:00:00Z", "not a date and time that exists"),
        (1773133200, "must be an RFC 3339 date-time string"),
    ],
)
def test_instants_need_rfc3339_with_an_offset(value: Any, words: str) -> None:
    problem = instant_problem("start_at", value)
    assert problem is not None and words in problem and problem.startswith("start_at")


@pytest.mark.parametrize(
    "value", ["2027-03-10T09:00:00Z", "2027-03-10T09:00:00.5+01:00", "2027-03-10 09:00:00-05:00"]
)
def test_instants_with_an_offset_pass(value: str) -> None:
    assert instant_problem("start_at", value) is None


# --- check and diff with an injected clock: no request leaves for any of these ---------------------
def _core(now: datetime, **flags: bool) -> Lifecycle:
    settings = Settings(
        api_key="sk_test_" + "A" * 24, api_key_source="config", base_url="http://127.0.0.1:9", **flags
    )
    return Lifecycle(settings, clock=lambda: now)


def test_check_refuses_bad_windows_with_clear_sentences() -> None:
    core = _core(MONDAY)
    base = {"campaign_id": "camp_1"}
    _, failures = core.check({}, {**base, "start_at": STOP_AT, "stop_at": START_AT})
    assert [name for name, _ in failures] == ["stop_at"] and "must be after start_at" in failures[0][1]
    _, failures = core.check({}, {**base, "start_at": "2027-03-10T09:00:00"})
    assert [name for name, _ in failures] == ["start_at"] and "no offset" in failures[0][1]
    _, failures = core.check({}, {**base, "stop_at": "2027-03-01T17:00:00Z"})
    assert [name for name, _ in failures] == ["stop_at"] and "already past" in failures[0][1]
    # An existing resource whose window has closed is not refused: the run pauses it.
    stored = {**base, "status": "running", "held_status": "running"}
    inputs, failures = core.check(stored, {**base, "stop_at": "2027-03-01T17:00:00Z"})
    assert failures == [] and inputs["status"] == "paused" and inputs["held_status"] == "running"


def test_check_holds_what_the_run_holds_and_diff_previews_it() -> None:
    news = {"campaign_id": "camp_1", "start_at": START_AT, "stop_at": STOP_AT}
    stored = {
        "campaign_id": "camp_1",
        "status": "draft",
        "held_status": "running",
        "start_at": START_AT,
        "stop_at": STOP_AT,
    }
    before, failures = _core(MONDAY).check(stored, news)
    assert failures == [] and before["status"] == "paused"  # the preview shows nothing yet
    assert _core(MONDAY).diff(stored, before).detailed == {}
    opened, _ = _core(OPENS).check(stored, news)
    assert opened["status"] == "running"  # `~ status: "paused" => "running"`
    assert _core(OPENS).diff(stored, opened).detailed == {"status": UPDATE}
    # One instant per run: a clock read again later does not move this run's decisions.
    ticks = iter([OPENS - timedelta(seconds=1), OPENS, OPENS + timedelta(seconds=1)])
    core = Lifecycle(_core(MONDAY).settings, clock=lambda: next(ticks))
    assert {core.check(stored, news)[0]["status"] for _ in range(3)} == {"paused"}
