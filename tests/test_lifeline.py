"""Nothing sends after the engine is gone: a provider whose engine stops listening (the CLI killed
with ``kill -9``) cancels what is in flight, sends nothing more and exits within about a second.
Both front ends, each started with the address of a stand-in engine that the test then stops.
"""

from __future__ import annotations

import threading
import time

import pytest

from harness.engine import Plugin, PluginError
from harness.sandbox import Sandbox
from pulumi_leadterra.lifeline import engine_address, watch_engine


@pytest.mark.parametrize(
    ("argv", "address"),
    [
        (["127.0.0.1:4321"], "127.0.0.1:4321"),
        (["--logtostderr", "-v=9", "--logflow", "127.0.0.1:4321"], "127.0.0.1:4321"),
        (["--tracing", "http://127.0.0.1:9", "[::1]:4321"], "[::1]:4321"),
        ([""], None),  # started by hand for PULUMI_DEBUG_PROVIDERS: nothing to watch
        ([], None),
        (["tests/test_lifeline.py"], None),
        (["127.0.0.1:0"], None),
        (["127.0.0.1:99999"], None),
    ],
)
def test_the_engine_address_is_the_last_argument(argv: list[str], address: object) -> None:
    assert engine_address(argv) == address


def test_a_listening_engine_is_left_alone_and_a_gone_one_noticed() -> None:
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    address = f"127.0.0.1:{listener.getsockname()[1]}"
    gone, exits = threading.Event(), []
    began = time.monotonic()
    assert watch_engine(address, gone.set, interval=0.05, exit_process=exits.append)
    assert not watch_engine(address, gone.set)  # once per address
    assert not gone.wait(0.5) and exits == []  # probes of a live engine change nothing
    listener.close()
    stopped = time.monotonic()
    assert gone.wait(2) and time.monotonic() - stopped < 1
    time.sleep(0.05)
    assert exits == [1] and time.monotonic() - began > 0.5


def test_nothing_is_sent_after_the_engine_is_gone(plugin_kind: str, sandbox: Sandbox) -> None:
    """An `up` whose starts keep failing with 503 retries for a minute; the engine dies during
    it. Within a second the provider has exited, and nothing reaches the sandbox after that."""
    from harness.engine import make_plugin

    plugin: Plugin = make_plugin(plugin_kind)
    plugin.configure(
        {
            "leadterra:apiKey": "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
            "leadterra:baseUrl": sandbox.url,
            "leadterra:retryBaseDelay": "0.2",
            "leadterra:retryMaxDelay": "0.2",
            "leadterra:maxAttempts": "100",
        }
    )
    sandbox.faults({"status": 503, "match": "/start", "times": 1000})
    sandbox.clear_requests()
    errors: list[BaseException] = []

    def up(campaign_id: str) -> None:
        try:
            plugin.up(None, {"campaign_id": campaign_id})
        except (PluginError, Exception) as exc:  # noqa: BLE001 - the call dies with its plugin
            errors.append(exc)

    calls = [threading.Thread(target=up, args=(f"camp_{i}",)) for i in (1, 2, 3)]
    for call in calls:
        call.start()
    deadline = time.monotonic() + 20
    while sum(sandbox.counts().values()) < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sum(sandbox.counts().values()) >= 6, "the starts should be retrying by now"

    plugin.engine.stop()  # the engine is killed
    killed = time.monotonic()
    plugin.proc.wait(timeout=5)
    assert time.monotonic() - killed < 1.5, "the provider outlived its engine"
    time.sleep(max(0.0, killed + 1 - time.monotonic()))
    sandbox.clear_requests()
    time.sleep(2)  # retries were due every 0.2 s: any left would have been sent by now
    assert sandbox.counts() == {}
    for call in calls:
        call.join(timeout=10)
    assert len(errors) == 3 and {"camp_1", "camp_2", "camp_3"} <= {
        campaign for campaign in ("camp_1", "camp_2", "camp_3") if sandbox.status(campaign) == "draft"
    }
    plugin.close()
