"""No key in clear in state, in any language, however it is supplied (issue 20 point 6), through
the real `pulumi` command on each generated SDK and Pulumi YAML: a key from plain stack config
(``pulumi config set leadterra:apiKey`` without ``--secret``) on the default provider; explicit
providers whose ``apiKey`` is a secret config value, a plain config value (a plain string in the
program), or not set at all (``LEADTERRA_API_KEY``, which the plugin reads itself). Each key
reaches the API (the sandbox accepts only these four), each campaign records where its key came
from, and `pulumi stack export` holds none of them: a provider's inputs and outputs hold the key
as ciphertext, a campaign only its fingerprint.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.cli import Project
from harness.sandbox import Sandbox
from harness.sdks import go_project, pack_nodejs_sdk, python_project, typescript_project, yaml_project
from pulumi_leadterra.schema import GO_MODULE, NODE_PACKAGE, PYTHON_PACKAGE, TYPE_TOKEN
from pulumi_leadterra.settings import key_fingerprint

#: One key per way of supplying it, each campaign named for its way.
KEYS = {
    "config": "sk_test_keyFromPlainStackConfig01",
    "secret": "sk_test_keyFromSecretConfig000002",
    "plain": "sk_test_keyFromPlainProperty00003",
    "environment": "sk_test_keyFromEnvironment0000004",
}
#: What each campaign's apiKeySource says: the stack's config, an explicit provider, the variable.
SOURCES = {"config": "config", "secret": "provider", "plain": "provider", "environment": "environment"}
#: What a secret looks like in `pulumi stack export` (Pulumi's secret signature).
SECRET_SIG = "4dabf18193072939515e22adb298388d"
PROVIDER = "pulumi:providers:leadterra"

_TYPESCRIPT = """
import * as pulumi from "@pulumi/pulumi";
import * as leadterra from "NODE_PACKAGE";

const config = new pulumi.Config();
const secret = new leadterra.Provider("secretAcct", { apiKey: config.requireSecret("secretKey") });
const plain = new leadterra.Provider("plainAcct", { apiKey: config.require("plainKey") });
const environment = new leadterra.Provider("envAcct", {});

new leadterra.CampaignState("config", { campaignId: "camp_config" });
new leadterra.CampaignState("secret", { campaignId: "camp_secret" }, { provider: secret });
new leadterra.CampaignState("plain", { campaignId: "camp_plain" }, { provider: plain });
new leadterra.CampaignState("environment", { campaignId: "camp_environment" }, { provider: environment });
""".replace("NODE_PACKAGE", NODE_PACKAGE)

_PYTHON = f"""
import pulumi
import {PYTHON_PACKAGE} as leadterra

config = pulumi.Config()
secret = leadterra.Provider("secretAcct", api_key=config.require_secret("secretKey"))
plain = leadterra.Provider("plainAcct", api_key=config.require("plainKey"))
environment = leadterra.Provider("envAcct")

leadterra.CampaignState("config", campaign_id="camp_config")
leadterra.CampaignState("secret", campaign_id="camp_secret", opts=pulumi.ResourceOptions(provider=secret))
leadterra.CampaignState("plain", campaign_id="camp_plain", opts=pulumi.ResourceOptions(provider=plain))
leadterra.CampaignState(
    "environment", campaign_id="camp_environment", opts=pulumi.ResourceOptions(provider=environment)
)
"""

_GO = """package main

import (
	"GO_MODULE/go/leadterra"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		providers := map[string]*leadterra.ProviderArgs{
			"secret":      {ApiKey: config.RequireSecret(ctx, "secretKey").ToStringPtrOutput()},
			"plain":       {ApiKey: pulumi.StringPtr(config.Require(ctx, "plainKey"))},
			"environment": {},
		}
		names := map[string]string{"secret": "secretAcct", "plain": "plainAcct", "environment": "envAcct"}
		for way, args := range providers {
			provider, err := leadterra.NewProvider(ctx, names[way], args)
			if err != nil {
				return err
			}
			if _, err := leadterra.NewCampaignState(ctx, way, &leadterra.CampaignStateArgs{
				CampaignId: pulumi.String("camp_" + way),
			}, pulumi.Provider(provider)); err != nil {
				return err
			}
		}
		_, err := leadterra.NewCampaignState(ctx, "config", &leadterra.CampaignStateArgs{
			CampaignId: pulumi.String("camp_config"),
		})
		return err
	})
}
""".replace("GO_MODULE", GO_MODULE)

_YAML: dict[str, Any] = {
    "config": {"secretKey": {"type": "string", "secret": True}, "plainKey": {"type": "string"}},
    "resources": {
        "secretAcct": {"type": PROVIDER, "properties": {"apiKey": "${secretKey}"}},
        "plainAcct": {"type": PROVIDER, "properties": {"apiKey": "${plainKey}"}},
        "envAcct": {"type": PROVIDER},
        "config": {"type": TYPE_TOKEN, "properties": {"campaignId": "camp_config"}},
        **{
            way: {
                "type": TYPE_TOKEN,
                "properties": {"campaignId": f"camp_{way}"},
                "options": {"provider": f"${{{account}}}"},
            }
            for way, account in (("secret", "secretAcct"), ("plain", "plainAcct"), ("environment", "envAcct"))
        },
    },
}


def _typescript(project: Project, workdir: Path) -> None:
    typescript_project(project, "keys-nodejs", _TYPESCRIPT, pack_nodejs_sdk(workdir))


LANGUAGES: dict[str, Callable[[Project, Path], None]] = {
    "typescript": _typescript,
    "go": lambda project, _: go_project(project, "keys-go", _GO),
    "python": lambda project, _: python_project(project, "keys-python", _PYTHON),
    "yaml": lambda project, _: yaml_project(project, "keys-yaml", _YAML),
}


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_no_key_in_clear_however_it_is_supplied(tmp_path: Path, sandbox: Sandbox, language: str) -> None:
    for way in KEYS:
        sandbox.put(f"camp_{way}", status="draft", leads=3)
    sandbox.accept_keys(*KEYS.values())  # each campaign's call proves its key reached the API
    sandbox.clear_requests()
    project = Project(
        tmp_path,
        secrets=list(KEYS.values()),  # nothing pulumi prints, state exports included, holds one
        plugin_on_path=True,
        env={"LEADTERRA_API_KEY": KEYS["environment"], "LEADTERRA_BASE_URL": sandbox.url},
    )
    LANGUAGES[language](project, tmp_path)
    project("stack", "init", "dev")
    project("config", "set", "leadterra:apiKey", KEYS["config"])  # plain, not --secret
    project("config", "set", "--secret", "secretKey", KEYS["secret"])
    project("config", "set", "plainKey", KEYS["plain"])

    project.up()
    assert sandbox.drain_counts() == {"POST start": 4}

    exported = project("stack", "export").stdout
    for way, key in KEYS.items():
        assert key not in exported, f"the key from {way} is in state in clear"
    campaigns = project.resources(TYPE_TOKEN)
    assert set(campaigns) == set(KEYS)
    for way, campaign in campaigns.items():
        assert campaign["outputs"]["apiKeySource"] == SOURCES[way], way
        assert campaign["outputs"]["apiKeyFingerprint"] == key_fingerprint(KEYS[way]), way
        assert "apiKey" not in campaign["inputs"] and "apiKey" not in campaign["outputs"], way
    # Every provider that holds a key (the default one from stack config, the explicit ones
    # given one) holds it as ciphertext, in its inputs and its outputs alike.
    providers = project.resources(PROVIDER)
    holding = {name for name, provider in providers.items() if "apiKey" in provider.get("inputs", {})}
    assert {"secretAcct", "plainAcct"} <= holding and "envAcct" not in holding, holding
    assert any(name.startswith("default") for name in holding), holding
    for name in holding:
        for props in (providers[name]["inputs"], providers[name]["outputs"]):
            assert props["apiKey"][SECRET_SIG] == "1b47061264138c4ac30d75fd1eb44270", name

    # Marking the key secret is no change: the next run is quiet.
    project("preview", "--expect-no-changes")
    assert sandbox.drain_counts() == {}
