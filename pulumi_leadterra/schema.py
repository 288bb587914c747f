"""The native plugin's Pulumi package schema: package ``leadterra``, resource
``leadterra:index:CampaignState``, every property described, in the schema's camelCase.

Also the one table of names between the schema (camelCase) and `Lifecycle` (snake_case).
"""

from __future__ import annotations

from typing import Any

from ._version import __version__

__all__ = ["PACKAGE", "PLUGIN_DOWNLOAD_URL", "SCHEMA", "TYPE_TOKEN", "to_camel", "to_snake"]

PACKAGE = "leadterra"
TYPE_TOKEN = "leadterra:index:CampaignState"  # noqa: S105 - a type token, not a password
#: Where releases put the plugin archive (`make plugin`): the engine downloads
#: pulumi-resource-leadterra-v<version>-<os>-<arch>.tar.gz from this repository's releases.
PLUGIN_DOWNLOAD_URL = "github://api.github.com/leadterra/pulumi-leadterra"
#: The generated SDKs' names. ``respectSchemaVersion``: each SDK carries the schema's version (the
#: package's, from _version.py) in its package.json, setup.py and pulumi-plugin.json, so the SDK a
#: user installs asks the engine for the plugin of its own release (docs/release.md).
#: The generated SDKs' names. The Python one is `pulumi_leadterra_native`: `pulumi_leadterra` is
#: this package (the dynamic resource, the plugin itself, the policies), and the generated SDK is a
#: typed client of the plugin for Python programs that want the native resource.
_LANGUAGE = {
    "nodejs": {
        "packageName": "@leadterra/pulumi",
        "packageDescription": "Leadterra campaigns as code.",
        "respectSchemaVersion": True,
    },
    "python": {"packageName": "pulumi_leadterra_native", "respectSchemaVersion": True},
    "go": {
        "importBasePath": "github.com/leadterra/pulumi-leadterra/sdk/go/leadterra",
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
        "The Leadterra API key (sk_live_... or sk_test_...). Falls back to LEADTERRA_API_KEY.",
        secret=True,
        defaultInfo={"environment": ["LEADTERRA_API_KEY"]},
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
        "the preview on an unknown campaign, a refused key, or a campaign without leads.",
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
    "sentBaseline": _p(
        "number", "Internal: stats.sent at the last refresh while paused, for inferred drift."
    ),
}

SCHEMA: dict[str, Any] = {
    "name": PACKAGE,
    "displayName": "Leadterra",
    "version": __version__,
    "description": "Declare the run state of Leadterra outbound-email campaigns as code.",
    "keywords": ["pulumi", "leadterra", "email", "campaigns"],
    "license": "Apache-2.0",
    "repository": "https://github.com/leadterra/pulumi-leadterra",
    "pluginDownloadURL": PLUGIN_DOWNLOAD_URL,
    "language": _LANGUAGE,
    "config": {"variables": _CONFIG},
    "provider": {"description": "The Leadterra provider.", "inputProperties": _CONFIG},
    "resources": {
        TYPE_TOKEN: {
            "description": (
                "Holds a Leadterra campaign running or paused on every pulumi up: one idempotent call "
                "when something needs doing, none when nothing does."
            ),
            "inputProperties": _INPUTS,
            "requiredInputs": ["campaignId"],
            "properties": _OUTPUTS,
            # No status for an imported campaign: the API reports none.
            "required": ["campaignId", "reconcile", "pauseOnDelete"],
        }
    },
}
