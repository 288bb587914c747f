"""Hostile replies: deeply nested JSON, numbers no float holds, unsolicited gzip, huge bodies.

Each becomes a clean error (or, for a number in stats, a value ignored); none escapes as a raw
RecursionError or OverflowError, and none costs more memory than the 1 MiB the client reads.
"""

from __future__ import annotations

import functools
import gzip
import json
import time
import tracemalloc
import zlib
from typing import Any

import pytest

from harness.engine import PLUGIN_KINDS, PROVIDER_BLOB, PluginError, Resource, make_plugin
from harness.sandbox import Sandbox
from pulumi_leadterra import InvalidRequestError, LeadterraClient, LeadterraError, RetryPolicy, ServerError
from pulumi_leadterra.lifecycle import _count, _infer_from_stats
from pulumi_leadterra.transport import Deadline, Transport
from tests.conftest import TEST_KEY
from tests.test_hardening_servers import FakeHTTP, Request, started, vm_kib

FAST = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.02, budget=10, read_timeout=5)
DEEP = "[" * 5000 + "]" * 5000
HUGE = "1" * 400


def nested(status: int, times: int = 9) -> dict[str, Any]:
    return {"status": status, "body": DEEP, "contentType": "application/json", "times": times}


# --- 5. deep JSON and numbers no float holds --------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cls", "attempts"), [(200, InvalidRequestError, 1), (400, InvalidRequestError, 1)]
)
def test_a_deeply_nested_body_is_a_clean_error(
    sandbox: Sandbox, status: int, cls: type[Exception], attempts: int
) -> None:
    sandbox.faults(nested(status))
    with pytest.raises(cls) as info:
        LeadterraClient(sandbox.url, TEST_KEY, FAST).start("camp_1")
    assert sandbox.drain_counts()["POST start"] == attempts
    assert "campaign camp_1" in str(info.value)


def test_a_5xx_with_a_deeply_nested_body_is_retried_like_any_5xx(sandbox: Sandbox) -> None:
    sandbox.faults(nested(500, times=2))
    assert LeadterraClient(sandbox.url, TEST_KEY, FAST).start("camp_1")["status"] == "running"
    assert sandbox.drain_counts()["POST start"] == 3


def test_json_nested_past_what_an_answer_needs_is_refused_before_anything_walks_it(sandbox: Sandbox) -> None:
    """200 levels parse (json allows ~1000), but no answer nests like that: refused at 32."""
    sandbox.faults({"status": 200, "body": '{"status": "running", "x": ' + "[" * 200 + "]" * 200 + "}"})
    with pytest.raises(InvalidRequestError, match="nests too deep"):
        LeadterraClient(sandbox.url, TEST_KEY, FAST).start("camp_1")


@pytest.mark.parametrize("number", [HUGE, "-" + HUGE, "1e400", "NaN", "Infinity", "-Infinity", "9" * 5000])
def test_a_number_no_float_holds_arrives_as_null(sandbox: Sandbox, number: str) -> None:
    sandbox.faults({"status": 200, "body": f'{{"sent": {number}, "opened": 3}}', "match": "stats"})
    assert LeadterraClient(sandbox.url, TEST_KEY, FAST).stats("camp_1") == {"sent": None, "opened": 3}


@pytest.mark.parametrize("value", [10**400, -(10**400), float("nan"), float("inf"), True, "12"])
def test_the_lifecycle_ignores_a_count_no_float_holds(value: Any) -> None:
    """The fix's own layer: state or a reply may still hold such a value (old state, another
    client); refresh must not crash on it, nor infer anything from it."""
    assert _count(value) is None
    props = {"status": "paused", "sent_baseline": 5.0, "drift": None}
    assert _infer_from_stats(props, {"sent": value}) == ("paused", None, None)
    assert _infer_from_stats({"status": "paused", "sent_baseline": value}, {"sent": 7}) == (
        "paused",
        None,
        7.0,
    )


@pytest.mark.parametrize("kind", PLUGIN_KINDS)
def test_pulumi_up_and_refresh_against_malformed_replies_print_one_clean_sentence(
    sandbox: Sandbox, kind: str
) -> None:
    plugin = make_plugin(kind)
    try:
        plugin.configure(
            {
                "leadterra:apiKey": TEST_KEY,
                "leadterra:baseUrl": sandbox.url,
                "leadterra:retryBaseDelay": "0.01",
                "leadterra:retryMaxDelay": "0.02",
            }
        )
        inputs, _ = plugin.check({}, {"campaign_id": "camp_1", "status": "paused"})
        sandbox.faults(nested(500))
        with pytest.raises(PluginError) as up:
            plugin.create(inputs)
        sandbox.admin("DELETE", "/faults")
        _, outputs = plugin.create(inputs)
        sandbox.faults({"status": 200, "body": f'{{"sent": {HUGE}, "opened": 1}}', "match": "stats"})
        refreshed = plugin.refresh(Resource("camp_1", inputs, {**outputs, "__provider": PROVIDER_BLOB}))
    finally:
        plugin.close()
    assert "ServerError: campaign camp_1" in up.value.details
    assert "gave up after 4 attempts; last result: HTTP 500" in up.value.details
    assert "RecursionError" not in up.value.details and "Unexpected" not in up.value.details
    assert refreshed is not None and refreshed.outputs["status"] == outputs["status"] == "draft"
    assert refreshed.outputs["stats"].get("sent") is None and refreshed.outputs["stats"]["opened"] == 1


# --- 6. what a reply may cost ------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def gzip_bomb(mib: int) -> bytes:
    """``mib`` MiB of zeros, gzip-compressed (about a thousandth of that on the wire)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1 << 20)
    return b"".join(packer.compress(zeros) for _ in range(mib)) + packer.flush()


def bomb(mib: int) -> Any:
    def app(request: Request) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": "application/json", "Content-Encoding": "gzip"}, gzip_bomb(mib)

    return app


def big(size: int, status: int = 200, chunked: bool = False) -> Any:
    body = b'{"status": "running", "x": "' + b"x" * size + b'"}'

    def app(request: Request) -> tuple[int, dict[str, str], bytes]:
        if request.path.endswith("/stats"):
            return started(request.campaign_id)
        headers = {"Content-Type": "application/json"}
        if chunked:
            headers["Transfer-Encoding"] = "chunked"
        return status, headers, body

    return app


def send(transport: Transport, url: str) -> Any:
    deadline = Deadline(10)
    try:
        return transport.send("POST", url, {}, deadline, 5, 5)
    finally:
        getattr(deadline, "close", lambda: None)()


def test_the_transport_never_inflates_a_body() -> None:
    with FakeHTTP(bomb(8)) as server:
        reply = send(Transport(), server.url + "/v1/campaigns/c/start")
    assert reply.body == gzip_bomb(8) and reply.encoding == "gzip" and not reply.oversized
    assert gzip.decompress(reply.body) == bytes(8 << 20)  # it was a real gzip body


@pytest.mark.parametrize("chunked", [False, True])
def test_the_transport_reads_at_most_1_mib_and_the_connection_is_not_reused(chunked: bool) -> None:
    with FakeHTTP(big(5 << 20, chunked=chunked)) as server:
        transport = Transport()
        reply = send(transport, server.url + "/v1/campaigns/c/start")
        assert reply.oversized and reply.body == b"" and reply.status == 200
        after = send(transport, server.url + "/v1/campaigns/c/stats")  # the pool is fine
        assert json.loads(after.body)["status"] == "running"
        assert server.connections == 2


def test_an_unsolicited_gzip_body_is_a_clean_error_that_costs_no_memory() -> None:
    with FakeHTTP(bomb(48)) as server:
        client = LeadterraClient(server.url, TEST_KEY, FAST)
        tracemalloc.start()
        try:
            with pytest.raises(LeadterraError) as info:
                client.start("camp_1")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 4 << 20, f"{peak / 2**20:.1f} MiB"
    assert isinstance(info.value, InvalidRequestError) and "gzip-encoded body" in str(info.value)
    assert info.value.attempts == 1


@pytest.mark.parametrize("chunked", [False, True])
def test_an_oversized_answer_is_a_clean_error(chunked: bool) -> None:
    with FakeHTTP(big(5 << 20, chunked=chunked)) as server:
        with pytest.raises(InvalidRequestError, match="over 1 MiB") as info:
            LeadterraClient(server.url, TEST_KEY, FAST).start("camp_1")
    assert info.value.attempts == 1


def test_an_oversized_5xx_page_is_still_a_retried_server_error() -> None:
    with FakeHTTP(big(3 << 20, status=502)) as server:
        with pytest.raises(ServerError, match="gave up after 4 attempts; last result: HTTP 502"):
            LeadterraClient(server.url, TEST_KEY, FAST).start("camp_1")
        assert len(server.requests) == 4


@pytest.mark.parametrize("kind", PLUGIN_KINDS)
def test_pulumi_up_against_a_gzip_bomb_fails_in_a_sentence_without_the_memory(kind: str) -> None:
    """256 KiB on the wire, 256 MiB inflated: the plugin's peak RSS must not notice."""
    gzip_bomb(256)
    with FakeHTTP(bomb(256)) as server:
        plugin = make_plugin(kind)
        try:
            plugin.configure({"leadterra:apiKey": TEST_KEY, "leadterra:baseUrl": server.url})
            inputs, _ = plugin.check({}, {"campaign_id": "camp_1"})
            plugin.preview(None, {"campaign_id": "camp_1"})  # warm: imports done
            before = vm_kib(plugin.proc.pid, "VmHWM")
            began = time.monotonic()
            with pytest.raises(PluginError) as info:
                plugin.create(inputs)
            elapsed = time.monotonic() - began
            grown = vm_kib(plugin.proc.pid, "VmHWM") - before
        finally:
            plugin.close()
    assert grown < 32 * 1024, f"peak RSS grew {grown / 1024:.0f} MiB in {elapsed:.1f} s"
    assert "gzip-encoded body" in info.value.details
