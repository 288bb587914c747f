"""The key from stack config is never in state, through the real `pulumi` command, on both front
ends: not in any resource's inputs or outputs (only its fingerprint), not in the resource calls of
a `PULUMI_DEBUG_GRPC` log (Pulumi itself logs its Configure call, which carries the provider's
config: see docs/recovery.md), and a stack written by the earlier versions, which stored the key
encrypted, previews no change, sends nothing and loses the key at its next refresh.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.cli import Project
from harness.programs import ROOT
from harness.sandbox import Sandbox
from pulumi_leadterra.resource import CAMPAIGN_STATE_TYPE
from pulumi_leadterra.schema import TYPE_TOKEN
from pulumi_leadterra.settings import key_fingerprint
from tests.conftest import TEST_KEY

VARIANTS = {"dynamic": CAMPAIGN_STATE_TYPE, "native": TYPE_TOKEN}
_KEY_NAMES = ("api_key", "apiKey")


def _project(tmp_path: Path, sandbox: Sandbox, variant: str) -> Project:
    project = Project(tmp_path, secrets=[TEST_KEY])
    project.front_end(variant)
    project.init(sandbox.url, TEST_KEY, retryBaseDelay="0.01")
    return project


def _campaigns(state: dict[str, Any], variant: str) -> list[dict[str, Any]]:
    return [r for r in state["deployment"].get("resources", []) if r["type"] == VARIANTS[variant]]


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_the_config_key_is_never_in_state_and_old_state_migrates_quietly(
    tmp_path: Path, sandbox: Sandbox, variant: str
) -> None:
    for campaign in ("camp_demo", "camp_legacy"):
        sandbox.put(campaign, status="draft", leads=3)
    project = _project(tmp_path, sandbox, variant)
    grpc_log = tmp_path / "grpc.log"
    project.up(env={"PULUMI_DEBUG_GRPC": str(grpc_log)})
    assert sandbox.drain_counts() == {"POST start": 1, "POST pause": 1}

    state = project.export()
    for resource in _campaigns(state, variant):
        for props in (resource["inputs"], resource["outputs"]):
            assert not set(_KEY_NAMES) & set(props), "the config key reached state"
        fingerprint = (
            resource["outputs"].get("api_key_fingerprint") or resource["outputs"]["apiKeyFingerprint"]
        )
        assert fingerprint == key_fingerprint(TEST_KEY)
    # Pulumi logs every gRPC call in clear. The key is in those that carry the stack's config
    # (the engine's own: the program's Run, the plugin's start, Configure, CheckConfig), never in
    # a resource's: no Check, Diff, Create, Update, Read or Delete, no registration.
    carrying = set()
    for line in grpc_log.read_text().splitlines():
        if TEST_KEY in line:
            carrying.add(json.loads(line)["method"].rsplit("/", 1)[-1])
    assert "Configure" in carrying, carrying  # the log really holds the config calls
    resource_calls = {"Check", "Diff", "Create", "Update", "Read", "Delete", "RegisterResource"}
    assert not carrying & resource_calls, carrying

    # The state an earlier version wrote: the key itself, encrypted, in inputs and outputs.
    legacy = project.stored_secret(TEST_KEY)
    for resource in _campaigns(state, variant):
        name = "api_key" if variant == "dynamic" else "apiKey"
        for props in (resource["inputs"], resource["outputs"]):
            props[name] = legacy
        resource["outputs"].pop("api_key_fingerprint", None)
        resource["outputs"].pop("apiKeyFingerprint", None)
    (tmp_path / "legacy.json").write_text(json.dumps(state))
    project("stack", "import", "--file", str(tmp_path / "legacy.json"))
    assert any(
        isinstance(r["outputs"].get(name), dict)
        for r in _campaigns(project.export(), variant)
        for name in _KEY_NAMES
    ), "the import did not keep the legacy key"

    # Upgraded: no change to preview, nothing sent, twice.
    project("preview", "--expect-no-changes")
    project.up()
    project("preview", "--expect-no-changes")
    assert sandbox.drain_counts() == {}
    # The next refresh rewrites the outputs without the key; still quiet afterwards.
    project("refresh", "--yes", "--skip-preview")
    assert sandbox.drain_counts() == {"GET stats": 2}
    for resource in _campaigns(project.export(), variant):
        assert not set(_KEY_NAMES) & set(resource["outputs"])
    project("preview", "--expect-no-changes")
    assert sandbox.drain_counts() == {}


def test_an_explicit_providers_key_is_its_own_source_and_not_in_the_resources_state(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    project = Project(tmp_path, secrets=[TEST_KEY])
    program = project.yaml_program(ROOT / "examples" / "yaml" / "Pulumi.yaml", plugin_by_path=True)
    program["config"] = {"acctKey": {"type": "string", "secret": True}}
    program["resources"] = {
        "acct": {
            "type": "pulumi:providers:leadterra",
            "properties": {"apiKey": "${acctKey}", "baseUrl": sandbox.url},
        },
        "launch": {
            "type": TYPE_TOKEN,
            "properties": {"campaignId": "camp_1"},
            "options": {"provider": "${acct}"},
        },
    }
    program.pop("outputs", None)
    project.write_yaml("Pulumi.yaml", program)
    project("stack", "init", "dev")
    project("config", "set", "--secret", "acctKey", TEST_KEY)
    project.up()
    assert sandbox.drain_counts() == {"POST start": 1}
    (launch,) = project.resources(TYPE_TOKEN).values()
    assert launch["outputs"]["apiKeySource"] == "provider"
    assert launch["outputs"]["apiKeyFingerprint"] == key_fingerprint(TEST_KEY)
    for props in (launch["inputs"], launch["outputs"]):
        assert not set(_KEY_NAMES) & set(props)
    project("preview", "--expect-no-changes")
    assert sandbox.drain_counts() == {}
