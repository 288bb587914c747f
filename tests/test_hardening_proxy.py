"""Proxies: the budget bounds the tunnel's set-up, and the usual ways of writing HTTPS_PROXY work.

Every proxy here is a fake on 127.0.0.1; the base URLs name hosts under ``.invalid``, which never
resolve, and no request goes further than the proxy (which never opens a tunnel for real).
"""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest
from urllib3.exceptions import HTTPError

from harness.engine import PLUGIN_KINDS, PluginError, make_plugin
from pulumi_leadterra import (
    APIConnectionError,
    ConfigurationError,
    LeadterraClient,
    LeadterraError,
    RetryPolicy,
)
from pulumi_leadterra.transport import Deadline, Transport, proxies_for
from tests.conftest import TEST_KEY
from tests.test_hardening_servers import RecordingProxy, proxy_env, trickling_proxy, trickling_tls_peer

REMOTE = "https://api.leadterra.invalid"
ONE_SECOND = RetryPolicy(budget=1, connect_timeout=5, read_timeout=5)


@pytest.fixture
def proxied(monkeypatch: pytest.MonkeyPatch) -> Any:
    def point_at(url: str) -> None:
        for name, value in proxy_env(url).items():
            monkeypatch.setenv(name, value)

    return point_at


def _close(deadline: Deadline) -> None:
    getattr(deadline, "close", lambda: None)()


# --- 3. the budget bounds the CONNECT reply and the TLS handshake -----------------------------------


def test_the_watchdog_bounds_a_connect_reply_trickled_one_line_at_a_time(proxied: Any) -> None:
    """Transport layer: one header line every 0.3 s never trips a 5 s socket timeout."""
    with trickling_proxy(every=0.3, bound=8) as proxy:
        proxied(f"http://127.0.0.1:{proxy.port}")
        deadline = Deadline(1.0)
        began = time.monotonic()
        try:
            with pytest.raises((HTTPError, OSError)):
                Transport().send("POST", f"{REMOTE}/v1/campaigns/c/start", {}, deadline, 5, 5)
        finally:
            _close(deadline)
        elapsed = time.monotonic() - began
    assert elapsed < 2.0, elapsed
    assert deadline.expired


def test_the_retry_budget_covers_the_tunnel_and_says_so_truthfully(proxied: Any) -> None:
    with trickling_proxy(every=0.3, bound=8) as proxy:
        proxied(f"http://127.0.0.1:{proxy.port}")
        began = time.monotonic()
        with pytest.raises(APIConnectionError) as info:
            LeadterraClient(REMOTE, TEST_KEY, ONE_SECOND).start("camp_1")
        elapsed = time.monotonic() - began
    assert elapsed < 2.0, elapsed
    assert "within the retry budget of 1 s" in str(info.value)


def test_a_trickled_tls_handshake_stays_within_the_budget() -> None:
    """A guarantee kept (ssl bounds the whole handshake by the connect timeout, which the client
    caps at the budget left): a loopback https peer announces a 16 KiB handshake record and sends
    it a byte every 0.2 s."""
    with trickling_tls_peer(every=0.2, bound=8) as peer:
        began = time.monotonic()
        with pytest.raises(APIConnectionError) as info:
            LeadterraClient(f"https://127.0.0.1:{peer.port}", TEST_KEY, ONE_SECOND).start("camp_1")
        elapsed = time.monotonic() - began
    assert elapsed < 2.0, elapsed
    assert "within the retry budget of 1 s" in str(info.value)


@pytest.mark.parametrize("kind", PLUGIN_KINDS)
def test_pulumi_up_behind_a_trickling_proxy_ends_with_the_budget(kind: str) -> None:
    with trickling_proxy(every=0.3, bound=8) as proxy:
        plugin = make_plugin(kind, env=proxy_env(f"http://127.0.0.1:{proxy.port}"))
        try:
            plugin.configure(
                {"leadterra:apiKey": TEST_KEY, "leadterra:baseUrl": REMOTE, "leadterra:retryBudget": "1"}
            )
            inputs, failures = plugin.check({}, {"campaign_id": "camp_1"})
            assert failures == []
            began = time.monotonic()
            with pytest.raises(PluginError) as info:
                plugin.create(inputs)
            elapsed = time.monotonic() - began
        finally:
            plugin.close()
    assert elapsed < 2.5, elapsed
    assert "within the retry budget of 1 s" in info.value.details


# --- 4. HTTPS_PROXY as people write it --------------------------------------------------------------


def test_a_proxy_without_a_scheme_is_http() -> None:
    env = {"HTTPS_PROXY": "proxy.corp:3128"}
    assert proxies_for(REMOTE, env) == {"https": "http://proxy.corp:3128"}
    assert proxies_for(REMOTE, {"https_proxy": "user:pw@proxy.corp:3128"}) == {
        "https": "http://user:pw@proxy.corp:3128"
    }
    assert proxies_for("http://127.0.0.1:8787", env) == {}  # loopback: never a proxy


@pytest.mark.parametrize("scheme", ["", "http://"])
def test_proxy_credentials_are_sent_as_proxy_authorization_and_never_printed(
    proxied: Any, scheme: str
) -> None:
    with RecordingProxy(b"407 Proxy Authentication Required") as proxy:
        proxied(f"{scheme}alice:p%40ss%3Aw0rd@127.0.0.1:{proxy.port}")
        with pytest.raises(LeadterraError) as info:
            LeadterraClient(REMOTE, TEST_KEY, RetryPolicy(max_attempts=1, budget=5)).start("camp_1")
    (head,) = proxy.heads
    assert head.startswith(b"CONNECT api.leadterra.invalid:443 ")
    expected = base64.b64encode(b"alice:p@ss:w0rd")
    assert b"\r\nproxy-authorization: basic " + expected.lower() in head.lower()
    assert TEST_KEY.encode() not in head  # the key travels only inside the tunnel
    for text in (str(info.value), repr(info.value)):
        assert "p@ss" not in text and "p%40ss" not in text and "alice" not in text


def test_an_unsupported_proxy_scheme_is_a_configuration_error_that_shows_no_credential(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in proxy_env("socks5://alice:hunter2@127.0.0.1:1").items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as info:
        LeadterraClient(REMOTE, TEST_KEY, RetryPolicy(max_attempts=1, budget=5)).start("camp_1")
    assert "socks5" in str(info.value) and "HTTPS_PROXY" in str(info.value).upper()
    assert "hunter2" not in str(info.value) and "alice" not in str(info.value)


@pytest.mark.parametrize("kind", PLUGIN_KINDS)
def test_pulumi_up_with_a_corporate_proxy_setting_reaches_the_proxy_with_its_credentials(kind: str) -> None:
    with RecordingProxy(b"403 Forbidden") as proxy:
        plugin = make_plugin(kind, env=proxy_env(f"alice:s3cr%40t@127.0.0.1:{proxy.port}"))
        try:
            plugin.configure(
                {"leadterra:apiKey": TEST_KEY, "leadterra:baseUrl": REMOTE, "leadterra:maxAttempts": "1"}
            )
            inputs, _ = plugin.check({}, {"campaign_id": "camp_1"})
            with pytest.raises(PluginError) as info:
                plugin.create(inputs)
        finally:
            printed = plugin.close()
    assert [head.split(b"\r\n", 1)[0] for head in proxy.heads] == [
        b"CONNECT api.leadterra.invalid:443 HTTP/1.0"
    ]
    assert b"Basic " + base64.b64encode(b"alice:s3cr@t") in proxy.heads[0]
    assert "APIConnectionError" in info.value.details
    for text in (info.value.details, printed):
        assert "s3cr" not in text and "alice" not in text
