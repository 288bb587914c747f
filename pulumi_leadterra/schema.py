"""The native plugin's Pulumi package schema: package ``leadterra``, resource
``leadterra:index:CampaignState``, every property described, in the schema's camelCase.

Also the one table of names between the schema (camelCase) and `Lifecycle` (snake_case).
"""

from __future__ import annotations

from typing import Any

from ._version import __version__

__all__ = [
    "EXAMPLES",
    "GO_MODULE",
    "LOGO_PATH",
    "NODE_PACKAGE",
    "OWNER",
    "PACKAGE",
    "PLUGIN_DOWNLOAD_URL",
    "PYTHON_PACKAGE",
    "REPOSITORY",
    "SCHEMA",
    "TYPE_TOKEN",
    "to_camel",
    "to_snake",
]

PACKAGE = "leadterra"
TYPE_TOKEN = "leadterra:index:CampaignState"  # noqa: S105 - a type token, not a password
#: The one place the repository's GitHub owner is written: every URL, package and module name
#: below derives from it, and tests/test_registry.py fails on any other owner anywhere in the
#: repository (pyproject.toml, requirements, docs). Moving the repository: change it here, then
#: the URLs test_registry.py names, then `make sdk`.
OWNER = "leadterra"
REPOSITORY = f"https://github.com/{OWNER}/pulumi-leadterra"
#: Where releases put the plugin archive (`make plugin`): the engine downloads
#: pulumi-resource-leadterra-v<version>-<os>-<arch>.tar.gz from this repository's releases.
PLUGIN_DOWNLOAD_URL = f"github://api.github.com/{OWNER}/pulumi-leadterra"
#: The logo the Pulumi Registry shows (a file of this repository, served from its main branch).
LOGO_PATH = "assets/logo.svg"
NODE_PACKAGE = f"@{OWNER}/pulumi"
GO_MODULE = f"github.com/{OWNER}/pulumi-leadterra/sdk"
#: The generated Python SDK. Not `pulumi_leadterra`, the name the convention gives: that is this
#: package (`pip install pulumi-leadterra`: the dynamic resource, the plugin every language's SDK
#: runs, the policies), which Python users already import and find under that name. The generated
#: SDK is a typed client of the plugin that plugin's users add (docs/installation-configuration.md).
PYTHON_PACKAGE = "pulumi_leadterra_native"
#: ``respectSchemaVersion``: each SDK carries the schema's version (the package's, from
#: _version.py) in its package.json, setup.py and pulumi-plugin.json, so the SDK a user installs
#: asks the engine for the plugin of its own release (docs/release.md).
_LANGUAGE = {
    "nodejs": {
        "packageName": NODE_PACKAGE,
        "packageDescription": "Leadterra campaigns as code.",
        "respectSchemaVersion": True,
    },
    "python": {"packageName": PYTHON_PACKAGE, "respectSchemaVersion": True},
    "go": {
        "importBasePath": f"{GO_MODULE}/go/leadterra",
        "generateResourceContainerTypes": True,
        "respectSchemaVersion": True,
    },
    # C#: the default namespace, Pulumi.Leadterra (no C# SDK is generated here yet: Pulumi's C#
    # code generator is not among the Go modules this project builds from).
    "csharp": {"packageReferences": {"Pulumi": "3.*"}},
}

_CAMEL = {
    "campaign_id": "campaignId",
    "pause_on_delete": "pauseOnDelete",
    "base_url": "baseUrl",
    "api_key": "apiKey",
    "api_key_source": "apiKeySource",
    "api_key_fingerprint": "apiKeyFingerprint",
    "api_key_kind": "apiKeyKind",
    "started_at": "startedAt",
    "paused_at": "pausedAt",
    "healed_at": "healedAt",
    "sent_baseline": "sentBaseline",
    "held_status": "heldStatus",
    "start_at": "startAt",
    "stop_at": "stopAt",
    "next_change_at": "nextChangeAt",
}
_SNAKE = {camel: snake for snake, camel in _CAMEL.items()}


def to_camel(name: str) -> str:
    return _CAMEL.get(name, name)


def to_snake(name: str) -> str:
    return _SNAKE.get(name, name)


def _p(kind: str, description: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "description": description, **extra}


_CONFIG: dict[str, dict[str, Any]] = {
    "apiKey": _p(
        "string",
        "The Leadterra API key (sk_live_... or sk_test_...). Falls back to LEADTERRA_API_KEY, which "
        "the provider reads itself: the key then never passes through your program or state.",
        # No `defaultInfo` environment: an SDK would read the variable into the provider's inputs
        # (the TypeScript SDK without marking it secret); the plugin reads it in its own process.
        secret=True,
    ),
    "baseUrl": _p(
        "string",
        "The API's base URL: https, or http on loopback (the sandbox). Default https://app.leadterra.co.",
        defaultInfo={"environment": ["LEADTERRA_BASE_URL"]},
    ),
    "heal": _p(
        "boolean",
        "This run re-asserts every reconcile=true CampaignState with one idempotent call. Set it "
        "for scheduled heal runs only, never in a stack file.",
        defaultInfo={"environment": ["LEADTERRA_HEAL"]},
    ),
    "healAll": _p(
        "boolean",
        "The repair after an interrupted run: this run pauses every CampaignState declared paused, "
        "whatever state records (one idempotent pause each), and heals reconcile=true ones as heal "
        "does. It never undoes a dashboard pause of a campaign Git does not own. Set it for one run.",
        defaultInfo={"environment": ["LEADTERRA_HEAL_ALL"]},
    ),
    "pauseAll": _p(
        "boolean",
        "The incident brake: every CampaignState is held paused whatever it declares, and nothing "
        "starts; every run sends one idempotent pause per campaign, whatever state records.",
        defaultInfo={"environment": ["LEADTERRA_PAUSE_ALL"]},
    ),
    "preflight": _p(
        "boolean",
        "Check makes one GET .../stats for each resource about to be created or started, and fails "
        "the preview on an unknown campaign, a refused key, or a campaign without leads; and one "
        "GET /v1/sender-pools per run before any start, warning when a pool has no capacity left today.",
        defaultInfo={"environment": ["LEADTERRA_PREFLIGHT"]},
    ),
    "maxAttempts": _p("integer", "Attempts per call, 1-100 (default 4)."),
    "retryBaseDelay": _p("number", "First back-off ceiling in seconds, 0-60 (default 0.5)."),
    "retryMaxDelay": _p("number", "Longest back-off in seconds, 0-600 (default 8)."),
    "retryBudget": _p("number", "Bound on a whole call in seconds, above 0 up to 3600 (default 60)."),
    "connectTimeout": _p("number", "Connect timeout in seconds, above 0 up to 600 (default 5)."),
    "readTimeout": _p("number", "Read timeout in seconds, above 0 up to 600 (default 30)."),
}

_INPUTS: dict[str, dict[str, Any]] = {
    "campaignId": _p(
        "string", "The Leadterra campaign (1-128 letters, digits, _ or -). Changing it replaces."
    ),
    "status": _p("string", "The status to hold: running (the default) or paused."),
    "reconcile": _p(
        "boolean",
        "Owned by Git: runs with the provider's heal setting re-assert the status with one idempotent call.",
    ),
    "pauseOnDelete": _p(
        "boolean", "Destroy pauses the campaign (one call); by default destroy sends nothing."
    ),
    "baseUrl": _p("string", "This resource's base URL; overrides the provider's."),
    "apiKey": _p(
        "string", "This resource's API key; overrides the provider's. Always a secret.", secret=True
    ),
    "startAt": _p(
        "string",
        "When the launch window opens: an RFC 3339 instant with an offset (2027-03-10T09:00:00+01:00). "
        "Before it, a campaign declared running is held paused (a draft stays draft); the first run "
        "at or after it starts the campaign.",
    ),
    "stopAt": _p(
        "string",
        "When the launch window closes: an RFC 3339 instant with an offset, after startAt. The first "
        "run at or after it pauses the campaign, and it is held paused from then on.",
    ),
}

_OUTPUTS: dict[str, dict[str, Any]] = {
    **_INPUTS,
    "status": _p(
        "string",
        "The status Leadterra last reported (running, paused or draft), or running inferred by "
        "refresh from sends while recorded paused (then drift says so).",
    ),
    "startedAt": _p("string", "When the campaign last turned running, as the API reported it."),
    "pausedAt": _p(
        "string", "When the campaign last paused, as the API reported it (cleared while running)."
    ),
    "healedAt": _p("string", "When an update last undid a pause or resume made outside Pulumi."),
    "drift": _p("string", "Why refresh reported a status the API did not (inferred from stats.sent)."),
    "stats": _p(
        "object",
        "The campaign's metrics as of the last refresh (GET .../stats).",
        additionalProperties={"$ref": "pulumi.json#/Any"},
    ),
    "apiKeySource": _p(
        "string",
        "Where the key in use came from: input, config, provider (an explicit provider), environment.",
    ),
    "endpoint": _p(
        "string",
        "The API root this resource's calls go to (baseUrl, else the provider's, else the live API); "
        "a new one, however it arrives, sends the campaign its one call there.",
    ),
    "apiKeyFingerprint": _p(
        "string",
        "sha256: and the first 16 hex digits of the key's SHA-256: shows a rotation as an update. "
        "A key from provider configuration or the environment is never stored, even encrypted.",
    ),
    "heldStatus": _p(
        "string",
        "The status this declaration holds: running or paused, or none for an imported campaign "
        "whose program declares no status yet (Pulumi then sends nothing for it; declare status to "
        "hold one).",
    ),
    "window": _p(
        "string",
        "Where the run that last wrote this resource found it against its window: before, open or "
        "closed (absent without startAt/stopAt).",
    ),
    "nextChangeAt": _p(
        "string",
        "The next instant (UTC) at which a run would change something for this declaration: startAt "
        "before the window, stopAt inside it, absent when no edge is ahead or status is paused.",
    ),
    "sentBaseline": _p(
        "number", "Internal: stats.sent at the last refresh while paused, for inferred drift."
    ),
}

#: The resource's example, one program per language: the registry shows it on the resource's page,
#: each SDK in its docs, and tests/e2e/test_sdks.py runs each through the real engine.
EXAMPLES: dict[str, str] = {
    "typescript": f"""import * as leadterra from "{NODE_PACKAGE}";

// Held running: the first `pulumi up` starts it (one call), later ones send nothing while it runs.
const launch = new leadterra.CampaignState("launch", {{
    campaignId: "camp_demo",
    status: "running",
    reconcile: true,
}});
// Held paused: pausing is always safe.
const legacy = new leadterra.CampaignState("legacy", {{ campaignId: "camp_legacy", status: "paused" }});

export const launchStatus = launch.status;
export const legacyHeld = legacy.heldStatus;
""",
    "python": f"""import pulumi
import {PYTHON_PACKAGE} as leadterra

# Held running: the first `pulumi up` starts it (one call), later ones send nothing while it runs.
launch = leadterra.CampaignState("launch", campaign_id="camp_demo", status="running", reconcile=True)
# Held paused: pausing is always safe.
legacy = leadterra.CampaignState("legacy", campaign_id="camp_legacy", status="paused")

pulumi.export("launchStatus", launch.status)
pulumi.export("legacyHeld", legacy.held_status)
""",
    "go": f"""package main

import (
	"{GO_MODULE}/go/leadterra"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func main() {{
	pulumi.Run(func(ctx *pulumi.Context) error {{
		// Held running: the first `pulumi up` starts it (one call), later ones send nothing.
		launch, err := leadterra.NewCampaignState(ctx, "launch", &leadterra.CampaignStateArgs{{
			CampaignId: pulumi.String("camp_demo"),
			Status:     pulumi.String("running"),
			Reconcile:  pulumi.Bool(true),
		}})
		if err != nil {{
			return err
		}}
		// Held paused: pausing is always safe.
		legacy, err := leadterra.NewCampaignState(ctx, "legacy", &leadterra.CampaignStateArgs{{
			CampaignId: pulumi.String("camp_legacy"),
			Status:     pulumi.String("paused"),
		}})
		if err != nil {{
			return err
		}}
		ctx.Export("launchStatus", launch.Status)
		ctx.Export("legacyHeld", legacy.HeldStatus)
		return nil
	}})
}}
""",
    "yaml": f"""resources:
  # Held running: the first `pulumi up` starts it (one call), later ones send nothing while it runs.
  launch:
    type: {TYPE_TOKEN}
    properties:
      campaignId: camp_demo
      status: running
      reconcile: true
  # Held paused: pausing is always safe.
  legacy:
    type: {TYPE_TOKEN}
    properties:
      campaignId: camp_legacy
      status: paused
outputs:
  launchStatus: ${{launch.status}}
  legacyHeld: ${{legacy.heldStatus}}
""",
}

_DESCRIPTION = (
    "Holds a Leadterra campaign running or paused on every pulumi up: one idempotent call when "
    "something needs doing, none when nothing does.\n\n"
    "{{% examples %}}\n## Example Usage\n\n{{% example %}}\n"
    "### Hold one campaign running and another paused\n\n"
    + "\n".join(f"```{language}\n{program}```\n" for language, program in EXAMPLES.items())
    + "{{% /example %}}\n{{% /examples %}}\n\n"
    "## Import\n\n"
    "Import reads the campaign and holds it as found: the next `pulumi up` sends nothing for it "
    "until the program declares a `status`.\n\n"
    f"```sh\n$ pulumi import {TYPE_TOKEN} launch camp_123\n```\n"
)

SCHEMA: dict[str, Any] = {
    "name": PACKAGE,
    "displayName": "Leadterra",
    "version": __version__,
    "description": "Declare the run state of Leadterra outbound-email campaigns as code.",
    # The registry files a package under its category/ keyword (infrastructure: where it lists
    # SaaS providers such as auth0); kind/native: a provider of its own, not a bridged one.
    "keywords": ["pulumi", "leadterra", "email", "campaigns", "category/infrastructure", "kind/native"],
    "license": "Apache-2.0",
    "publisher": "Leadterra",
    "homepage": REPOSITORY,
    "repository": REPOSITORY,
    "logoUrl": f"https://raw.githubusercontent.com/{OWNER}/pulumi-leadterra/main/{LOGO_PATH}",
    "pluginDownloadURL": PLUGIN_DOWNLOAD_URL,
    "language": _LANGUAGE,
    "config": {"variables": _CONFIG},
    "provider": {"description": "The Leadterra provider.", "inputProperties": _CONFIG},
    "resources": {
        TYPE_TOKEN: {
            "description": _DESCRIPTION,
            "inputProperties": _INPUTS,
            "requiredInputs": ["campaignId"],
            "properties": _OUTPUTS,
            # No status for an imported campaign: the API reports none.
            "required": ["campaignId", "reconcile", "pauseOnDelete"],
        }
    },
}
