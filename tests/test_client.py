"""The HTTP client against the sandbox over real loopback HTTP: errors, shapes, retries, budget."""

from __future__ import annotations

import pickle
import socket
import threading
import time
from email.utils import formatdate
from pathlib import Path

import pytest

from harness.sandbox import Sandbox
from pulumi_leadterra import (
    APIConnectionError,
    AuthenticationError,
    CampaignNotFoundError,
    ConfigurationError,
    EndpointNotFoundError,
    InvalidRequestError,
    LeadterraClient,
    LeadterraError,
    NoLeadsEnrolledError,
    NoSequenceStepsError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    __version__,
)
from pulumi_leadterra.settings import Settings
from pulumi_leadterra.transport import Reply, proxies_for
from tests.conftest import TEST_KEY

FAST = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.02, budget=10, read_timeout=2)


class Sleeps:
    """Records the back-off the client asks for instead of sleeping through it."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def client(
    sandbox: Sandbox, policy: RetryPolicy = FAST, key: str = TEST_KEY
) -> tuple[LeadterraClient, Sleeps]:
    sleeps = Sleeps()
    return LeadterraClient(sandbox.url, key, policy, sleep=sleeps), sleeps


def test_start_then_start_again_is_a_no_op(sandbox: Sandbox) -> None:
    c, _ = client(sandbox)
    first = c.start("camp_1")
    assert first["status"] == "running" and first["startedAt"]
    assert c.start("camp_1") == first
    assert sandbox.drain_counts() == {"POST start": 2}
    assert sandbox.status("camp_1") == "running"


def test_requests_carry_user_agent(sandbox: Sandbox) -> None:
    c, _ = client(sandbox)
    c.stats("camp_1")
    assert sandbox.requests()[0]["userAgent"] == f"pulumi-leadterra/{__version__}"


def test_pause_of_draft_is_a_no_op_that_stays_draft(sandbox: Sandbox) -> None:
    c, _ = client(sandbox)
    assert c.pause("camp_2")["status"] == "draft"


@pytest.mark.parametrize(
    ("campaign", "key", "cls", "code"),
    [
        ("camp_noleads", TEST_KEY, NoLeadsEnrolledError, "no_leads_enrolled"),
        ("camp_missing", TEST_KEY, CampaignNotFoundError, "campaign_not_found"),
        ("camp_1", "sk_live_wrong", AuthenticationError, "authentication_failed"),
    ],
)
@pytest.mark.parametrize("shape", ["nested", "flat"])
def test_documented_errors_are_typed_named_and_not_retried(
    sandbox: Sandbox, campaign: str, key: str, cls: type[LeadterraError], code: str, shape: str
) -> None:
    sandbox.admin("POST", "/settings", {"errorShape": shape})
    c, sleeps = client(sandbox, key=key)
    with pytest.raises(cls) as info:
        c.start(campaign)
    err = info.value
    assert (err.code, err.campaign_id, err.attempts) == (code, campaign, 1)
    assert err.http_status in (400, 401, 404)
    assert err.request_id and err.request_id.startswith("req_")
    assert f"campaign {campaign}" in str(err) and f"({code})" in str(err)
    assert sandbox.drain_counts()["POST start"] == 1 and sleeps.waits == []


def test_no_leads_message_says_what_to_do(sandbox: Sandbox) -> None:
    c, _ = client(sandbox)
    with pytest.raises(NoLeadsEnrolledError, match="enroll at least one lead, then run pulumi up again"):
        c.start("camp_noleads")


def test_no_sequence_steps(sandbox: Sandbox) -> None:
    sandbox.put("camp_nosteps", status="draft", leads=2, sequenceSteps=[])
    c, _ = client(sandbox)
    with pytest.raises(NoSequenceStepsError, match=r"camp_nosteps.*\(no_sequence_steps\).*add at least one"):
        c.start("camp_nosteps")


def test_other_4xx_is_invalid_request_without_retry(sandbox: Sandbox) -> None:
    sandbox.faults({"status": 400, "code": "invalid_request", "message": "bad id"})
    c, sleeps = client(sandbox)
    with pytest.raises(InvalidRequestError, match=r"campaign camp_1: bad id \(invalid_request\)"):
        c.pause("camp_1")
    assert sleeps.waits == []


def test_html_502_is_retried_then_succeeds(sandbox: Sandbox) -> None:
    sandbox.faults({"status": 502, "body": "<html><h1>502 Bad Gateway</h1></html>", "times": 2})
    c, sleeps = client(sandbox)
    assert c.start("camp_1")["status"] == "running"
    assert sandbox.drain_counts() == {"POST start": 3}
    assert len(sleeps.waits) == 2


def test_give_up_names_status_attempts_and_code(sandbox: Sandbox) -> None:
    sandbox.faults({"status": 503, "body": "<html>down</html>", "times": 10})
    c, sleeps = client(sandbox)
    with pytest.raises(ServerError) as info:
        c.start("camp_1")
    text = str(info.value)
    assert "campaign camp_1" in text and "gave up after 4 attempts" in text and "HTTP 503" in text
    assert info.value.code is None and info.value.http_status == 503
    assert sandbox.drain_counts() == {"POST start": 4} and len(sleeps.waits) == 3


def test_backoff_is_exponential_with_jitter_and_capped(sandbox: Sandbox) -> None:
    sandbox.faults({"status": 500, "times": 10})
    policy = RetryPolicy(max_attempts=6, base_delay=0.1, max_delay=0.4, budget=10)
    c, sleeps = client(sandbox, policy)
    with pytest.raises(ServerError):
        c.start("camp_1")
    ceilings = [0.1, 0.2, 0.4, 0.4, 0.4]
    assert len(sleeps.waits) == 5
    for wait, ceiling in zip(sleeps.waits, ceilings, strict=True):
        assert 0 <= wait <= ceiling


def test_backoff_is_full_jitter_not_equal_jitter(sandbox: Sandbox) -> None:
    """Full jitter spreads waits over the whole [0, ceiling]; equal jitter never goes below half."""
    c, _ = client(sandbox, RetryPolicy(base_delay=1, max_delay=8))
    waits = [c._backoff(3) for _ in range(2000)]
    assert max(waits) <= 4 and min(waits) < 0.5 and 1.6 < sum(waits) / len(waits) < 2.4


def test_429_honours_retry_after_seconds(sandbox: Sandbox) -> None:
    sandbox.faults({"status": 429, "retryAfter": "3", "times": 1})
    c, sleeps = client(sandbox)
    assert c.start("camp_1")["status"] == "running"
    # Never before the server asked; jitter of up to a quarter of the wait on top.
    assert len(sleeps.waits) == 1 and 3.0 <= sleeps.waits[0] <= 3.75


def test_retry_after_gets_jitter_so_parallel_calls_do_not_retry_in_lockstep(sandbox: Sandbox) -> None:
    """32 calls told "Retry-After: 4" by one 429 burst spread over [4, 5] s instead of all at 4."""
    c, _ = client(sandbox, RetryPolicy(base_delay=0.5, max_delay=8))
    reply = Reply(429, {"Retry-After": "4"}, b"")
    waits = [c._retry_delay(1, reply) for _ in range(32)]
    assert min(waits) >= 4.0 and max(waits) <= 5.0
    assert len({round(wait, 3) for wait in waits}) > 24 and max(waits) - min(waits) > 0.5
    # The jitter never turns a wait that fits in what is left of the budget into a give-up.
    tight = [c._retry_delay(1, reply, remaining=4.4) for _ in range(200)]
    assert min(tight) >= 4.0 and max(tight) <= 4.2


def test_429_honours_retry_after_http_date(sandbox: Sandbox) -> None:
    sandbox.faults({"status": 429, "retryAfter": formatdate(time.time() + 5, usegmt=True), "times": 1})
    c, sleeps = client(sandbox)
    c.start("camp_1")
    assert len(sleeps.waits) == 1 and 3.0 <= sleeps.waits[0] <= 5.0 * 1.25


def test_retry_after_beyond_budget_gives_up_at_once(sandbox: Sandbox) -> None:
    sandbox.faults({"status": 429, "retryAfter": "3600", "times": 1})
    c, sleeps = client(sandbox)
    with pytest.raises(
        RateLimitError, match=r"camp_1.*\(rate_limited\).*gave up after 1 attempt; last result: HTTP 429"
    ):
        c.start("camp_1")
    assert sleeps.waits == []


def test_dropped_connection_is_retried(sandbox: Sandbox) -> None:
    sandbox.faults({"drop": True, "times": 1})
    c, sleeps = client(sandbox)
    assert c.pause("camp_1")["status"] in ("draft", "paused")
    assert len(sleeps.waits) == 1


def test_read_timeout_is_a_connection_error_after_retries(sandbox: Sandbox) -> None:
    sandbox.faults({"status": 200, "delay_ms": 600, "times": 3})
    policy = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.01, budget=10, read_timeout=0.2)
    c, _ = client(sandbox, policy)
    with pytest.raises(
        APIConnectionError, match=r"ReadTimeout.*gave up after 3 attempts; last result: no HTTP response"
    ):
        c.start("camp_1")


def test_connection_refused(sandbox: Sandbox) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleeps = Sleeps()
    c = LeadterraClient(f"http://127.0.0.1:{port}", TEST_KEY, FAST, sleep=sleeps)
    with pytest.raises(APIConnectionError, match="could not reach Leadterra") as info:
        c.start("camp_1")
    assert info.value.attempts == 4 and len(sleeps.waits) == 3


def test_wall_clock_budget_is_real(sandbox: Sandbox) -> None:
    """Real sleeps, tiny budget: the client stops trying well inside it."""
    sandbox.faults({"status": 500, "times": 100})
    policy = RetryPolicy(max_attempts=100, base_delay=0.05, max_delay=0.1, budget=0.5)
    c = LeadterraClient(sandbox.url, TEST_KEY, policy)
    started = time.monotonic()
    # The last 500 (between attempts), or the budget running out during an attempt on a busy
    # machine (APIConnectionError naming leadterra:retryBudget): either way it gave up in time.
    with pytest.raises((ServerError, APIConnectionError)) as info:
        c.start("camp_1")
    assert time.monotonic() - started < 1.5
    assert isinstance(info.value, ServerError) or "retry budget of 0.5 s" in str(info.value)


@pytest.mark.parametrize("campaign_id", ["../../v1/sender-pools", "..", ".", "camp_1/../..", "", "a" * 129])
def test_campaign_id_cannot_escape_its_path(sandbox: Sandbox, campaign_id: str) -> None:
    """The client is a second fence behind check: ids from state never went through check, and
    urllib3 resolves a "." or ".." segment (quoting leaves dots alone), so "..": POST /v1/start."""
    c, _ = client(sandbox)
    for call in (c.start, c.pause, c.stats):
        with pytest.raises(ConfigurationError, match=r"campaign_id must be .*nothing was sent"):
            call(campaign_id)
    assert sandbox.requests() == []


def test_a_bare_404_is_a_wrong_url_not_a_missing_campaign(sandbox: Sandbox) -> None:
    """A 404 without the API's campaign_not_found (a proxy's page, no such route) says nothing
    about the campaign, and is not retried."""
    sandbox.faults({"status": 404, "body": "<html>Not Found</html>"})
    c, sleeps = client(sandbox)
    with pytest.raises(EndpointNotFoundError) as info:
        c.stats("camp_1")
    assert not info.value.campaign_gone and sleeps.waits == []


@pytest.mark.parametrize(
    "url",
    [
        "http://app.leadterra.co",
        "http://10.0.0.5:8080",
        "ftp://x",
        "https://user:pw@app.leadterra.co",
        "nohost",
    ],
)
def test_unsafe_base_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        LeadterraClient(url, TEST_KEY)
    assert "pw" not in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://app.leadterra.co",
        "http://127.0.0.1:9",
        "http://localhost:9",
        "http://[::1]:9",
        "http://127.8.9.1",
    ],
)
def test_safe_base_urls_are_accepted(url: str) -> None:
    assert LeadterraClient(url, TEST_KEY).base_url == url


def test_errors_and_client_never_show_the_key(sandbox: Sandbox) -> None:
    c, _ = client(sandbox, key="sk_test_SECRETSECRET")
    sandbox.faults({"status": 500, "times": 10})
    with pytest.raises(ServerError) as info:
        c.start("camp_1")
    err = info.value
    for text in (str(err), repr(err), repr(c), str(pickle.loads(pickle.dumps(err)))):
        assert "SECRETSECRET" not in text
    assert repr(pickle.loads(pickle.dumps(err))) == repr(err)
    with pytest.raises(TypeError):
        pickle.dumps(c)


# --- hardening: hostile servers and hostile values -------------------------------------------


def test_the_budget_bounds_a_trickling_answer(sandbox: Sandbox) -> None:
    """One byte every 0.2 s never trips a 1 s read timeout; the 2 s budget must still hold."""
    sandbox.faults({"trickleMs": 200, "times": 9})
    policy = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.02, budget=2, read_timeout=1)
    c, _ = client(sandbox, policy)
    began = time.monotonic()
    with pytest.raises(APIConnectionError) as info:
        c.start("camp_1")
    elapsed = time.monotonic() - began
    assert 1.9 < elapsed < 3.0, elapsed
    assert "retry budget of 2 s" in str(info.value) and "leadterra:retryBudget" in str(info.value)


@pytest.mark.parametrize("value", ["\u00b2", "1.5", "-3", "soon", "9" * 40, "Mon, 99 Foo 2025 99:99:99 GMT"])
def test_garbage_retry_after_falls_back_to_backoff(sandbox: Sandbox, value: str) -> None:
    sandbox.faults({"status": 429, "retryAfter": value, "times": 1})
    c, sleeps = client(sandbox)
    assert c.start("camp_1")["status"] == "running"
    assert len(sleeps.waits) == 1 and 0 <= sleeps.waits[0] <= FAST.base_delay


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("read_timeout", 0),
        ("read_timeout", float("nan")),
        ("connect_timeout", float("inf")),
        ("budget", float("nan")),
        ("max_attempts", 0),
        ("base_delay", -1),
    ],
)
def test_unusable_policies_are_refused_naming_the_setting(field: str, value: float) -> None:
    with pytest.raises(ConfigurationError) as info:
        RetryPolicy(**{field: value})
    assert "must be" in str(info.value) and "up to" in str(info.value)


@pytest.mark.parametrize("key", [TEST_KEY + "\n", "sk_test_\u00e9", " " + TEST_KEY, "sk test"])
def test_unusable_keys_are_refused_without_echo(sandbox: Sandbox, key: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        LeadterraClient(sandbox.url, key)
    assert key.strip() not in str(info.value) and "API key" in str(info.value)
    assert sandbox.drain_counts() == {}


@pytest.mark.parametrize(
    ("url", "part"),
    [
        (f"https://app.leadterra.co/?key={TEST_KEY}", "a query"),
        (f"https://app.leadterra.co/#{TEST_KEY}", "a fragment"),
        (f"https://user:{TEST_KEY}@app.leadterra.co", "user information"),
    ],
)
def test_a_base_url_carrying_the_key_is_refused_without_echo(url: str, part: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        LeadterraClient(url, TEST_KEY)
    assert TEST_KEY not in str(info.value) and part in str(info.value)


def test_loopback_requests_never_use_a_proxy(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy on a closed port: if the client used it, the call would fail."""
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    c, _ = client(sandbox)
    assert c.start("camp_1")["status"] == "running"
    assert sandbox.drain_counts() == {"POST start": 1}


def test_netrc_never_replaces_our_authorization(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login someone password hunter2\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))
    c, _ = client(sandbox)
    assert c.start("camp_1")["status"] == "running"  # Basic auth from netrc would be a 401


def test_https_goes_through_the_configured_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTPS_PROXY is honoured for https: a fake proxy on loopback sees the CONNECT (nothing ever
    leaves loopback: the proxy refuses the tunnel)."""
    seen: list[bytes] = []
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def proxy() -> None:
        conn, _ = server.accept()
        with conn:
            seen.append(conn.recv(4096))
            conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=proxy, daemon=True)
    thread.start()
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{server.getsockname()[1]}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    c = LeadterraClient("https://app.leadterra.co", TEST_KEY, RetryPolicy(max_attempts=1, budget=5))
    with pytest.raises(APIConnectionError):
        c.start("camp_1")
    thread.join(timeout=5)
    server.close()
    assert seen and seen[0].startswith(b"CONNECT app.leadterra.co:443")
    assert TEST_KEY.encode() not in seen[0]  # the key travels only inside the TLS tunnel


def test_proxy_choice_honours_no_proxy() -> None:
    env = {"HTTPS_PROXY": "http://proxy.corp:3128", "HTTP_PROXY": "http://proxy.corp:3128"}
    assert proxies_for("https://app.leadterra.co", env) == {"https": "http://proxy.corp:3128"}
    assert proxies_for("https://app.leadterra.co", {**env, "NO_PROXY": "leadterra.co"}) == {}
    assert proxies_for("https://app.leadterra.co", {**env, "no_proxy": "*"}) == {}
    assert proxies_for("https://app.leadterra.co", {**env, "NO_PROXY": "other.co"}) != {}
    assert proxies_for("http://127.0.0.1:8787", env) == {}
    assert proxies_for("https://localhost:8443", env) == {}


@pytest.mark.parametrize(
    ("status", "cls"),
    [(401, AuthenticationError), (500, ServerError), (400, InvalidRequestError), (429, RateLimitError)],
)
def test_the_http_status_decides_the_error_class_first(sandbox: Sandbox, status: int, cls: type) -> None:
    sandbox.faults({"status": status, "code": "campaign_not_found", "times": 9})
    c, _ = client(sandbox, RetryPolicy(max_attempts=1))
    with pytest.raises(LeadterraError) as info:
        c.start("camp_1")
    assert type(info.value) is cls and not info.value.campaign_gone


def test_a_refused_connection_names_the_url_and_on_loopback_the_sandbox() -> None:
    client = LeadterraClient("http://127.0.0.1:9", TEST_KEY, RetryPolicy(max_attempts=1))
    with pytest.raises(APIConnectionError) as info:
        client.start("camp_1")
    assert "http://127.0.0.1:9 refused the connection; is the sandbox running?" in str(info.value)
    assert TEST_KEY not in str(info.value)


@pytest.mark.parametrize(
    ("config", "env", "where"),
    [
        ({"leadterra:baseUrl": "http://example.com"}, {}, "stack config leadterra:baseUrl: "),
        ({}, {"LEADTERRA_BASE_URL": "http://example.com"}, "LEADTERRA_BASE_URL: "),
    ],
)
def test_a_base_url_problem_names_where_the_url_was_set(
    config: dict[str, str], env: dict[str, str], where: str
) -> None:
    settings = Settings.load(config.get, env)
    with pytest.raises(ConfigurationError) as info:
        settings.resolve_base_url(None)
    assert info.value.api_message.startswith(where + "base URL http://example.com is plain http")
    with pytest.raises(ConfigurationError) as info:  # given as an input: the input's own words
        settings.resolve_base_url("http://example.org")
    assert info.value.api_message.startswith("base URL http://example.org is plain http")
