"""The API key never shows: not in outputs, error text, plugin logs, the provider blob or repr."""

from __future__ import annotations

import logging

import pytest
from pulumi.runtime import rpc

from harness.engine import PROVIDER_BLOB, Plugin, PluginError, make_plugin
from harness.sandbox import Sandbox
from pulumi_leadterra.settings import Settings

CONFIG_KEY = "sk_test_CONFIGKEY0123456789"
INPUT_KEY = "sk_test_INPUTKEY9876543210"
WRONG_KEY = "sk_live_WRONGKEY5555555555"


def _everything(plug: Plugin, caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(plug.transcript) + caplog.text


def test_key_never_leaks_through_lifecycles(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture, plugin_kind: str
) -> None:
    caplog.set_level(logging.DEBUG)
    plug = make_plugin(plugin_kind)
    try:
        plug.configure(
            {
                "leadterra:apiKey": CONFIG_KEY,
                "leadterra:baseUrl": sandbox.url,
                "leadterra:retryBaseDelay": "0.01",
                "leadterra:retryMaxDelay": "0.02",
            }
        )
        # Successful lifecycle with the config key.
        state = plug.up(None, {"campaign_id": "camp_1", "pause_on_delete": True})
        state = plug.up(state, {"campaign_id": "camp_1", "status": "paused", "pause_on_delete": True})
        refreshed = plug.refresh(state)
        assert refreshed is not None
        plug.destroy(refreshed)
        # Failing lifecycles: API refusals, server failures, dropped connections, unreachable host.
        for news, faults in [
            ({"campaign_id": "camp_noleads"}, []),
            ({"campaign_id": "camp_missing"}, []),
            ({"campaign_id": "camp_2", "api_key": WRONG_KEY}, []),
            ({"campaign_id": "camp_2"}, [{"status": 500, "body": "<html>boom</html>", "times": 9}]),
            ({"campaign_id": "camp_2"}, [{"drop": True, "times": 9}]),
            ({"campaign_id": "camp_2", "base_url": "http://127.0.0.1:9"}, []),
            ({"campaign_id": "../etc", "api_key": WRONG_KEY}, []),
        ]:
            if faults:
                sandbox.faults(*faults)
            with pytest.raises(PluginError):
                plug.up(None, news)
            sandbox.admin("DELETE", "/faults")
    finally:
        printed = plug.close()
    text = _everything(plug, caplog)
    # The failures really produced the text the user would see: one clean sentence per error.
    assert "NoLeadsEnrolledError: campaign camp_noleads" in text and "Traceback" not in text
    for key in (CONFIG_KEY, WRONG_KEY):
        assert key not in text
    assert CONFIG_KEY not in printed


def test_input_key_is_only_ever_a_secret(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture, plugin_kind: str
) -> None:
    """A key given as input comes back from Create/Update/Read only inside a secret envelope."""
    plug = make_plugin(plugin_kind)
    try:
        plug.configure({"leadterra:baseUrl": sandbox.url})
        _, outs = plug.create(
            {"campaign_id": "camp_1", "api_key": INPUT_KEY, "status": "running", "__provider": PROVIDER_BLOB}
        )
        assert rpc.is_rpc_secret(outs["api_key"]) and rpc.unwrap_rpc_secret(outs["api_key"]) == INPUT_KEY
        plain_outs = {k: v for k, v in outs.items() if k != "api_key"}
        assert INPUT_KEY not in repr(plain_outs)
        outs2 = plug.update(
            "camp_1",
            {**outs, "api_key": INPUT_KEY},
            {"campaign_id": "camp_1", "api_key": INPUT_KEY, "status": "paused", "__provider": PROVIDER_BLOB},
        )
        assert rpc.is_rpc_secret(outs2["api_key"])
        _, outs3 = plug.read("camp_1", {**outs2, "api_key": INPUT_KEY})
        assert rpc.is_rpc_secret(outs3["api_key"])
        # Delete authenticates with the stored key (no config key in this plugin at all).
        plug.delete("camp_1", {**outs3, "api_key": INPUT_KEY, "pause_on_delete": True})
        sandbox.put("camp_1", status="running")
        with pytest.raises(PluginError) as info:
            plug.create({"campaign_id": "camp_noleads", "api_key": INPUT_KEY, "__provider": PROVIDER_BLOB})
        assert INPUT_KEY not in info.value.details
    finally:
        printed = plug.close()
    assert INPUT_KEY not in printed and INPUT_KEY not in caplog.text


def test_credentials_in_a_base_url_are_refused_without_echo(plugin: Plugin) -> None:
    _, failures = plugin.check({}, {"campaign_id": "camp_1", "base_url": f"https://{WRONG_KEY}@evil.example"})
    assert failures[0][0] == "base_url" and WRONG_KEY not in failures[0][1]


def test_settings_repr_hides_the_key() -> None:
    settings = Settings.load(lambda k: CONFIG_KEY if k == "leadterra:apiKey" else None, environ={})
    assert settings.api_key == CONFIG_KEY
    assert CONFIG_KEY not in repr(settings) and CONFIG_KEY not in str(settings)


def test_configured_provider_pickles_without_the_key(sandbox: Sandbox) -> None:
    import pickle

    from pulumi.dynamic import ConfigureRequest
    from pulumi.dynamic.config import Config

    from pulumi_leadterra import CampaignStateProvider

    provider = CampaignStateProvider()
    provider.configure(ConfigureRequest(Config({"leadterra:apiKey": CONFIG_KEY}, "p")))
    provider.core._client(sandbox.url, CONFIG_KEY)  # a live client in the provider, too
    blob = pickle.dumps(provider)
    assert CONFIG_KEY.encode() not in blob and len(blob) < 200
