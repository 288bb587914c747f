"""What a busy provider keeps: the watchdog holds only the calls in flight (not every call of the
last ``retryBudget`` seconds), and each origin's pool holds a connection per call the plugin runs
at once (so 64 parallel calls reuse 64 connections instead of opening 32 more every round)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from harness.engine import NativePlugin
from harness.sandbox import Sandbox
from pulumi_leadterra import LeadterraClient, LeadterraError, RetryPolicy
from pulumi_leadterra.transport import _WATCHDOG, Deadline, Transport
from tests.conftest import TEST_KEY
from tests.test_hardening_servers import FakeHTTP, Request, open_fds, started, vm_kib

HOUR = RetryPolicy(max_attempts=1, budget=3600)


def heap() -> int:
    return len(_WATCHDOG._heap)


# --- 8. the watchdog forgets a call when it ends ------------------------------------------------------


def test_a_closed_deadline_leaves_the_watchdog() -> None:
    before = heap()
    deadlines = [Deadline(3600) for _ in range(100)]
    for deadline in deadlines:
        deadline.arm()
    assert heap() == before + 100
    for deadline in deadlines[::-1][:50] + deadlines[:50]:  # any order
        deadline.close()
    assert heap() == before
    deadlines[0].close()  # twice is harmless
    assert heap() == before


def test_finished_calls_leave_nothing_behind_in_the_watchdog(sandbox: Sandbox) -> None:
    client = LeadterraClient(sandbox.url, TEST_KEY, HOUR)
    before = heap()
    for _ in range(100):
        client.start("camp_1")
    for _ in range(20):
        with pytest.raises(LeadterraError):
            client.start("camp_missing")  # a failed call too
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda _: client.stats("camp_2"), range(200)))
    assert heap() == before


def test_the_watchdog_still_expires_calls_in_flight() -> None:
    deadline = Deadline(0.05)
    deadline.arm()
    try:
        assert _wait(lambda: deadline.expired, 5)
    finally:
        deadline.close()


def test_a_short_deadline_after_a_long_one_still_expires_on_time() -> None:
    """The watchdog sleeps until the earliest deadline it knows and is woken only for an earlier
    one: a call with a short budget armed while it sleeps for an hour-long one must still end."""
    long = Deadline(3600)
    long.arm()
    time.sleep(0.05)  # the watchdog is now asleep until the hour is up
    short = Deadline(0.1)
    short.arm()
    try:
        assert _wait(lambda: short.expired, 5)
        assert not long.expired
    finally:
        short.close()
        long.close()


def test_calls_one_after_another_do_not_wake_the_watchdog_each_time() -> None:
    """Each call arms a deadline and ends long before it; one later than the moment the watchdog
    already means to look needs no wake-up (a wake-up per call cost a sixth of a read's CPU)."""
    wakes = 0
    notify = _WATCHDOG._cond.notify

    def counted(n: int = 1) -> None:
        nonlocal wakes
        wakes += 1
        notify(n)

    _WATCHDOG._cond.notify = counted  # type: ignore[method-assign]
    try:
        for _ in range(100):
            deadline = Deadline(3600)
            deadline.arm()
            deadline.close()
    finally:
        del _WATCHDOG._cond.notify
    assert wakes <= 1  # the first, if the watchdog was waiting on an empty heap


def test_a_busy_plugin_keeps_no_memory_per_finished_call(sandbox: Sandbox) -> None:
    """End to end: 16 in flight with retryBudget=3600 (the largest allowed). The growth over a
    second run of calls, after a first one has warmed everything up, must not scale with them:
    before the fix each call left ~600 bytes in the watchdog for the hour."""
    plugin = NativePlugin()
    try:
        plugin.configure(
            {"leadterra:apiKey": TEST_KEY, "leadterra:baseUrl": sandbox.url, "leadterra:retryBudget": "3600"}
        )
        inputs = [plugin.check({}, {"campaign_id": f"camp_{i}"})[0] for i in range(1, 6)]

        def burst(calls: int) -> None:
            with ThreadPoolExecutor(max_workers=16) as pool:
                list(pool.map(lambda i: plugin.create(inputs[i % len(inputs)]), range(calls)))
            plugin.transcript.clear()
            sandbox.clear_requests()

        burst(3000)  # warm-up: gRPC, the pools, the allocator's arenas
        before = vm_kib(plugin.proc.pid, "VmRSS")
        burst(5000)
        grown = vm_kib(plugin.proc.pid, "VmRSS") - before
    finally:
        plugin.close()
    # Measured: ~2000 KiB before the fix (about 400 bytes a call), 150-350 KiB after.
    assert grown < 1000, f"RSS grew {grown} KiB over 5000 finished calls"


# --- 9. the pool is as wide as the plugin -------------------------------------------------------------


def test_one_constant_sizes_the_workers_and_the_pool() -> None:
    from pulumi_leadterra import plugin, transport

    assert plugin._WORKERS == transport.MAX_CONCURRENCY == Transport()._pool_size == 64


def gate(parties: int) -> Any:
    """An app that answers a start only once ``parties`` requests are waiting at once."""
    barrier = threading.Barrier(parties, timeout=15)

    def app(request: Request) -> tuple[int, dict[str, str], bytes]:
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            pass
        return started(request.campaign_id)

    app.barrier = barrier  # type: ignore[attr-defined]
    return app


def test_64_concurrent_calls_to_one_origin_reuse_their_connections() -> None:
    app = gate(64)
    with FakeHTTP(app) as server:
        client = LeadterraClient(server.url, TEST_KEY, RetryPolicy(max_attempts=1, budget=30))
        fds = []
        with ThreadPoolExecutor(max_workers=64) as pool:
            for _ in range(3):
                assert not app.barrier.broken
                results = list(pool.map(lambda i: client.start(f"camp_{i}"), range(64)))
                assert all(r["status"] == "running" for r in results)
                fds.append(open_fds())
        assert server.connections == 64
        assert fds[0] == fds[1] == fds[2]  # no descriptor per round


def test_64_concurrent_creates_through_the_plugin_open_64_connections_once() -> None:
    app = gate(64)
    with FakeHTTP(app) as server:
        plugin = NativePlugin()
        try:
            plugin.configure({"leadterra:apiKey": TEST_KEY, "leadterra:baseUrl": server.url})
            inputs = [plugin.check({}, {"campaign_id": f"camp_{i}"})[0] for i in range(64)]
            with ThreadPoolExecutor(max_workers=64) as pool:
                for _ in range(3):
                    list(pool.map(plugin.create, inputs))
        finally:
            printed = plugin.close()
        assert not app.barrier.broken  # all 64 were in flight at once, every round
    assert server.connections == 64
    assert "Connection pool is full" not in printed


def _wait(predicate: Any, timeout: float) -> bool:
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        if predicate():
            return True
        time.sleep(0.01)
    return False
