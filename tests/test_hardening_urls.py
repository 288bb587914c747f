"""One URL, one host: what decides a base URL is safe reads it as the transport does.

Python's ``urlsplit`` reads ``http://leak.example\\[::1]`` as host ``::1`` (loopback, so plain
http is allowed); urllib3, which opens the socket, reads host ``leak.example`` and sends the
bearer token there in clear. The checks, the transport and the policy pack now read URLs with
urllib3's parser and refuse any URL the two parsers read differently (or holding a backslash,
whitespace, a control or non-ASCII character).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import urllib3.util.connection

from harness.analyzer import Analyzer
from harness.engine import PLUGIN_KINDS, PROVIDER_BLOB, PluginError, Resource, make_plugin
from pulumi_leadterra import ConfigurationError, LeadterraClient, LeadterraError, RetryPolicy
from pulumi_leadterra.settings import base_url_problem, is_loopback_url
from tests.conftest import TEST_KEY
from tests.test_hardening_servers import FakeHTTP, started

SPLIT = [
    "http://leak.example\\[::1]",
    "http://leak.example\\[::1]:8787",
    "http://leak.example\\@127.0.0.1",
    "http://127.0.0.1\\@leak.example",
    "http://leak.example\\.localhost",
    "http://leak.example\t@127.0.0.1",
    "http://leak.example @127.0.0.1",
    "http://leak.example\n@127.0.0.1",
    "http://127.0.0.1\x00.leak.example",
    "http://l\u0435ak.example@127.0.0.1",  # a Cyrillic "e"
    "http://leak.example#@127.0.0.1",
    "http://leak.example?@127.0.0.1",
]


@pytest.mark.parametrize("url", SPLIT)
def test_a_url_two_parsers_read_differently_is_never_loopback_nor_safe(url: str) -> None:
    assert not is_loopback_url(url)
    assert base_url_problem(url) is not None


@pytest.mark.parametrize(
    "url",
    ["https://app.leadterra.co", "https://APP.leadterra.co/", "http://127.0.0.1:8787", "http://[::1]:9"],
)
def test_ordinary_urls_still_pass(url: str) -> None:
    assert base_url_problem(url) is None


def test_the_client_never_connects_to_a_host_the_check_did_not_see(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where urllib3 would open the socket is recorded, and refused, so nothing leaves loopback."""
    dialled: list[tuple[str, int]] = []

    def refuse(address: tuple[str, int], *args: Any, **kwargs: Any) -> None:
        dialled.append(address)
        raise OSError("refused by the test: nothing leaves loopback")

    monkeypatch.setattr(urllib3.util.connection, "create_connection", refuse)
    with pytest.raises(LeadterraError):
        LeadterraClient("http://leak.example\\[::1]", TEST_KEY, RetryPolicy(max_attempts=1)).start("camp_1")
    assert dialled == []


# --- the policy pack trusts the same functions ------------------------------------------------------


@pytest.fixture
def dev_analyzer() -> Iterator[Any]:
    started_: list[Analyzer] = []

    def start(config: dict[str, str]) -> Analyzer:
        started_.append(Analyzer("dev", config))
        return started_[-1]

    yield start
    for analyzer in started_:
        analyzer.close()


@pytest.mark.parametrize("where", ["stack config", "resource input"])
def test_the_policy_pack_refuses_it_as_plain_http_and_as_a_live_send(dev_analyzer: Any, where: str) -> None:
    url = "http://leak.example\\[::1]"
    props = {"campaign_id": "camp_1", "status": "running", "reconcile": False, "pause_on_delete": False}
    if where == "stack config":
        analyzer = dev_analyzer({"leadterra:baseUrl": url})
    else:
        analyzer = dev_analyzer({})
        props["base_url"] = url
    names = sorted(d.policyName for d in analyzer.analyze("launch", props))
    assert names == ["leadterra-https-only", "leadterra-no-live-sends-outside-production"]


# --- end to end: a stack configured with such a URL sends nothing, anywhere -------------------------


@pytest.mark.parametrize("kind", PLUGIN_KINDS)
def test_a_stack_with_a_split_base_url_fails_check_and_refresh_and_sends_no_key(kind: str) -> None:
    """``http://127.0.0.1:PORT\\[::1]``: urlsplit reads ::1, urllib3 reads 127.0.0.1:PORT, where a
    recording server stands in for leak.example. ``pulumi refresh`` of state holding the URL, then
    ``pulumi up`` with it in stack config: refused, and no request (so no key) reaches it."""
    with FakeHTTP(lambda request: started(request.campaign_id)) as elsewhere:
        url = f"http://127.0.0.1:{elsewhere.port}\\[::1]"
        plugin = make_plugin(kind)
        try:
            plugin.configure({"leadterra:apiKey": TEST_KEY, "leadterra:baseUrl": url})
            outputs = {
                "campaign_id": "camp_1",
                "status": "running",
                "base_url": url,
                "__provider": PROVIDER_BLOB,
            }
            refreshed: Any = None
            try:
                refreshed = plugin.refresh(Resource("camp_1", {}, outputs))
            except PluginError as exc:
                refreshed = exc.details
            _, failures = plugin.check({}, {"campaign_id": "camp_1"})
        finally:
            plugin.close()
        sent = [(r.method, r.path, "Authorization" in r.headers) for r in elsewhere.requests]
        assert sent == []
        assert isinstance(refreshed, str) and "not allowed" in refreshed
        assert [prop for prop, _ in failures] == ["base_url"] and "not allowed" in failures[0][1]


def test_configuration_error_names_no_credential() -> None:
    with pytest.raises(ConfigurationError) as info:
        LeadterraClient(f"http://u:{TEST_KEY}@leak.example\\[::1]", TEST_KEY)
    assert TEST_KEY not in str(info.value)
