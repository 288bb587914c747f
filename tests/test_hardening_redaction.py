"""A reply that repeats the key (a gateway echoing the Authorization header into its error, its
code or its X-Request-Id) never makes us print it: str, repr, pickles, the engine's sentence."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from harness.engine import PLUGIN_KINDS, PROVIDER_BLOB, PluginError, Resource, make_plugin
from harness.sandbox import Sandbox
from pulumi_leadterra import InvalidRequestError, LeadterraClient, LeadterraError, RetryPolicy
from pulumi_leadterra.lifecycle import Lifecycle
from pulumi_leadterra.settings import Settings
from tests.conftest import TEST_KEY
from tests.test_hardening_servers import FakeHTTP, Request, json_answer

OTHER_KEY = "sk_test_0therKeyFromStackConfig9"
REDACTED = "[redacted]"  # pulumi_leadterra.errors.REDACTED
ONCE = RetryPolicy(max_attempts=1, budget=10)


def echo(seen: list[str]) -> Any:
    """A gateway that repeats every Authorization header it has seen, in every field it has."""

    def app(request: Request) -> tuple[int, dict[str, str], bytes]:
        header = request.headers.get("Authorization", "")
        seen.append(header)
        everything = " / ".join(seen)
        body = {"error": {"code": f"bad_auth[{header}]", "message": f"refused {everything}"}}
        status = 401 if OTHER_KEY not in everything or TEST_KEY not in everything else 400
        return json_answer(status, body, **{"X-Request-Id": f"req_{header}"})

    return app


def texts(err: LeadterraError) -> list[str]:
    back = pickle.loads(pickle.dumps(err))
    return [
        str(err),
        repr(err),
        str(back),
        repr(back),
        str(err.gave_up(3)),
        err.code or "",
        err.request_id or "",
    ]


def test_the_client_scrubs_its_key_from_message_code_and_request_id() -> None:
    seen: list[str] = []
    with FakeHTTP(echo(seen)) as gateway:
        with pytest.raises(LeadterraError) as info:
            LeadterraClient(gateway.url, TEST_KEY, ONCE).start("camp_1")
    assert seen == [f"Bearer {TEST_KEY}"]  # it did echo it
    for text in texts(info.value):
        assert TEST_KEY not in text
    assert REDACTED in str(info.value) and REDACTED in (info.value.request_id or "")


def test_the_lifecycle_scrubs_every_key_it_may_try() -> None:
    """Refresh with the resource's own key (refused), then stack config's: the second reply
    repeats both, and neither may show."""
    seen: list[str] = []
    with FakeHTTP(echo(seen)) as gateway:
        core = Lifecycle(Settings.load({"leadterra:apiKey": OTHER_KEY, "leadterra:baseUrl": gateway.url}.get))
        props = {"campaign_id": "camp_1", "status": "running", "api_key": TEST_KEY, "api_key_source": "input"}
        with pytest.raises(InvalidRequestError) as info:
            core.read("camp_1", props)
    assert len(seen) == 2
    for text in texts(info.value):
        assert TEST_KEY not in text and OTHER_KEY not in text


def test_secrets_scrub_every_form_and_never_print() -> None:
    from pulumi_leadterra import errors
    from pulumi_leadterra.errors import Secrets

    key = "sk_test_a+b/c"
    secrets = Secrets(key, None, "")
    assert errors.REDACTED == REDACTED
    assert secrets.scrub(f"Bearer {key}; raw {key}; quoted sk_test_a%2Bb%2Fc") == (
        f"{REDACTED}; raw {REDACTED}; quoted {REDACTED}"
    )
    assert key not in repr(secrets)
    with pytest.raises(TypeError):
        pickle.dumps(secrets)


def test_a_2xx_body_repeating_the_key_is_scrubbed_before_it_reaches_state(sandbox: Sandbox) -> None:
    sandbox.faults({"status": 200, "body": f'{{"status": "running", "startedAt": "{TEST_KEY}"}}'})
    body = LeadterraClient(sandbox.url, TEST_KEY, ONCE).start("camp_1")
    assert body == {"status": "running", "startedAt": REDACTED}


# --- end to end: the engine's sentence --------------------------------------------------------------


@pytest.mark.parametrize("kind", PLUGIN_KINDS)
def test_an_echoing_gateway_never_puts_the_key_in_what_pulumi_prints(sandbox: Sandbox, kind: str) -> None:
    plugin = make_plugin(kind)
    try:
        plugin.configure({"leadterra:apiKey": TEST_KEY, "leadterra:baseUrl": sandbox.url})
        echoed = f"Authorization: Bearer {TEST_KEY}"
        sandbox.faults(
            {"status": 400, "code": TEST_KEY, "message": f"invalid header {echoed}", "times": 2},
        )
        inputs, failures = plugin.check({}, {"campaign_id": "camp_1"})
        assert failures == []
        with pytest.raises(PluginError) as up:
            plugin.create(inputs)
        outputs = {"campaign_id": "camp_1", "status": "running", "__provider": PROVIDER_BLOB}
        with pytest.raises(PluginError) as refresh:
            plugin.refresh(Resource("camp_1", inputs, outputs))
    finally:
        printed = plugin.close()
    for details in (up.value.details, refresh.value.details):
        assert "invalid header Authorization: [redacted]" in details
        assert TEST_KEY not in details
    assert TEST_KEY not in printed
