"""The HTTP client against the sandbox over real loopback HTTP: errors, shapes, retries, budget."""

from __future__ import annotations

import pickle
import socket
import time
from email.utils import formatdate

import pytest

from pulumi_leadterra import (
    APIConnectionError,
    AuthenticationError,
    CampaignNotFoundError,
    ConfigurationError,
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
from tests.conftest import TEST_KEY
from tests.sandbox_admin import Sandbox

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
    assert sandbox.counts() == {"POST start": 2}
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
    assert sandbox.counts()["POST start"] == 1 and sleeps.waits == []


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
    assert sandbox.counts() == {"POST start": 3}
    assert len(sleeps.waits) == 2


def test_give_up_names_status_attempts_and_code(sandbox: Sandbox) -> None:
    sandbox.faults({"status": 503, "body": "<html>down</html>", "times": 10})
    c, sleeps = client(sandbox)
    with pytest.raises(ServerError) as info:
        c.start("camp_1")
    text = str(info.value)
    assert "campaign camp_1" in text and "gave up after 4 attempts" in text and "HTTP 503" in text
    assert info.value.code is None and info.value.http_status == 503
    assert sandbox.counts() == {"POST start": 4} and len(sleeps.waits) == 3


def test_backoff_is_exponential_with_jitter_and_capped(sandbox: Sandbox) -> None:
    sandbox.faults({"status": 500, "times": 10})
    policy = RetryPolicy(max_attempts=6, base_delay=0.1, max_delay=0.4, budget=10)
    c, sleeps = client(sandbox, policy)
    with pytest.raises(ServerError):
        c.start("camp_1")
    ceilings = [0.1, 0.2, 0.4, 0.4, 0.4]
    assert len(sleeps.waits) == 5
    for wait, ceiling in zip(sleeps.waits, ceilings, strict=True):
        assert ceiling / 2 <= wait <= ceiling


def test_429_honours_retry_after_seconds(sandbox: Sandbox) -> None:
    sandbox.faults({"status": 429, "retryAfter": "3", "times": 1})
    c, sleeps = client(sandbox)
    assert c.start("camp_1")["status"] == "running"
    assert sleeps.waits == [3.0]


def test_429_honours_retry_after_http_date(sandbox: Sandbox) -> None:
    sandbox.faults({"status": 429, "retryAfter": formatdate(time.time() + 5, usegmt=True), "times": 1})
    c, sleeps = client(sandbox)
    c.start("camp_1")
    assert len(sleeps.waits) == 1 and 3.0 <= sleeps.waits[0] <= 5.0


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
    with pytest.raises(ServerError):
        c.start("camp_1")
    assert time.monotonic() - started < 1.5


def test_campaign_id_cannot_escape_its_path(sandbox: Sandbox) -> None:
    c, _ = client(sandbox)
    with pytest.raises(CampaignNotFoundError):
        c.start("../../v1/sender-pools")
    assert sandbox.requests()[0]["path"].startswith("/v1/campaigns/..%2F..%2F")


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
