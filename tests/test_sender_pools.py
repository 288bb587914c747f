"""Sender capacity before a start (``leadterra:preflight``): one ``GET /v1/sender-pools`` per run
at most, both documented spellings read, anything else refused with a sentence, and a start into
an exhausted pool a warning in the preview (the API queues sends: nothing fails)."""

from __future__ import annotations

from typing import Any

import pytest

from harness.engine import make_plugin
from harness.sandbox import Sandbox
from pulumi_leadterra.client import remaining_capacity
from pulumi_leadterra.errors import LeadterraError
from tests.conftest import TEST_KEY


@pytest.mark.parametrize(
    "body",
    [
        {"senderPools": [{"id": "pool_a", "name": "Outbound A", "remainingToday": 0}]},
        {"pools": [{"id": "pool_a", "name": "Outbound A", "remainingVolume": 0}]},
    ],
)
def test_both_documented_spellings_are_read(body: dict[str, Any]) -> None:
    assert remaining_capacity(body) == [("Outbound A", 0.0)]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, "answered with nothing; expected senderPools[].remainingToday or pools[].remainingVolume"),
        ({"senderPools": [], "pools": []}, "answered with pools, senderPools; expected"),
        (
            {"senderPools": [{"id": "p", "remainingVolume": 3}]},
            "senderPools[0] without a number in remainingToday",
        ),
        ({"pools": [{"id": "p", "remainingVolume": True}]}, "pools[0] without a number in remainingVolume"),
        ({"pools": {"id": "p"}}, "pools that is not a list"),
        ({"capacity": 3}, "answered with capacity; expected"),
    ],
)
def test_anything_else_is_refused_with_a_sentence(body: dict[str, Any], words: str) -> None:
    with pytest.raises(LeadterraError) as caught:
        remaining_capacity(body)
    assert words in str(caught.value)


def _run(sandbox: Sandbox, plugin_kind: str, news: list[dict[str, Any]], preflight: bool = True) -> str:
    """One `pulumi preview` of new resources; what the plugin printed (its warnings)."""
    plugin = make_plugin(plugin_kind)
    config = {"apiKey": TEST_KEY, "baseUrl": sandbox.url, "preflight": "true" if preflight else "false"}
    plugin.configure({f"leadterra:{name}": value for name, value in config.items()})
    sandbox.clear_requests()
    try:
        for item in news:
            assert plugin.preview(None, item) == "create"
    finally:
        printed = plugin.close()
    return printed


@pytest.mark.parametrize("spelling", ["senderPools", "pools"])
def test_a_start_into_an_exhausted_pool_is_a_warning_with_one_pools_request_per_run(
    sandbox: Sandbox, plugin_kind: str, spelling: str
) -> None:
    pools = [
        {"id": "pool_a", "name": "Outbound A", "remaining": 0},
        {"id": "pool_b", "name": "B", "remaining": 40},
    ]
    sandbox.admin("POST", "/settings", {"senderPools": pools, "poolSpelling": spelling})
    news = [
        {"campaign_id": "camp_1"},
        {"campaign_id": "camp_2"},
        {"campaign_id": "camp_3", "status": "paused"},
    ]
    printed = _run(sandbox, plugin_kind, news)
    assert sandbox.drain_counts() == {"GET stats": 3, "GET sender-pools": 1}
    for campaign in ("camp_1", "camp_2"):
        assert f"campaign {campaign} would start while sender pool Outbound A (remaining today: 0)" in printed
    assert "camp_3 would start" not in printed and "pool B" not in printed and TEST_KEY not in printed


def test_capacity_left_says_nothing_and_no_start_asks_nothing(sandbox: Sandbox, plugin_kind: str) -> None:
    printed = _run(sandbox, plugin_kind, [{"campaign_id": "camp_1"}])
    assert sandbox.drain_counts() == {"GET stats": 1, "GET sender-pools": 1} and "sender pool" not in printed
    sandbox.admin("POST", "/settings", {"senderPools": [{"id": "p", "name": "P", "remaining": 0}]})
    # Paused, or running before its window: no start goes out, so no pools request either.
    news = [
        {"campaign_id": "camp_1", "status": "paused"},
        {"campaign_id": "camp_2", "start_at": "2099-01-01T09:00:00Z"},
    ]
    printed = _run(sandbox, plugin_kind, news)
    assert sandbox.drain_counts() == {"GET stats": 2} and "sender pool" not in printed
    # Without preflight: nothing at all.
    _run(sandbox, plugin_kind, [{"campaign_id": "camp_1"}], preflight=False)
    assert sandbox.drain_counts() == {}


def test_a_reply_in_neither_spelling_is_said_once_and_fails_nothing(
    sandbox: Sandbox, plugin_kind: str
) -> None:
    sandbox.faults({"match": "/v1/sender-pools", "status": 200, "body": '{"capacity": 3}', "times": 5})
    printed = _run(sandbox, plugin_kind, [{"campaign_id": "camp_1"}, {"campaign_id": "camp_2"}])
    assert sandbox.drain_counts() == {"GET stats": 2, "GET sender-pools": 1}
    assert printed.count("preflight could not read sender capacity") == 1
    assert "expected senderPools[].remainingToday or pools[].remainingVolume" in printed
    # A failing pools endpoint (one try, no retries) is said the same way.
    sandbox.faults({"match": "/v1/sender-pools", "status": 503, "times": 5})
    printed = _run(sandbox, plugin_kind, [{"campaign_id": "camp_1"}])
    assert sandbox.drain_counts() == {"GET stats": 1, "GET sender-pools": 1}
    assert "preflight could not read sender capacity" in printed
