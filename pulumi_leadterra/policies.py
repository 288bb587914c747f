"""Guardrails for CampaignState as pulumi-policy policies: keep real email out of non-prod stacks.

Importing this module only defines objects; the analyzer server starts when a ``PolicyPack`` is
built, which only ``examples/policy-pack/__main__.py`` does. Needs ``pulumi-policy``
(``pip install 'pulumi-leadterra[policy]'``).

Unknown values (preview, before an input is computed) never produce a violation: the policy skips
what it cannot see, and runs again with known values during ``pulumi up``, before anything is sent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any, Optional

import pulumi
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from .decision import instant_problem, parse_instant
from .resource import CAMPAIGN_STATE_TYPE
from .schema import TYPE_TOKEN as NATIVE_TYPE
from .schema import to_camel
from .settings import DEFAULT_BASE_URL, Settings, base_url_problem, is_loopback_url, key_kind

__all__ = [
    "POLICIES",
    "TYPES",
    "no_live_sends_outside_production",
    "https_only",
    "unique_campaigns",
    "campaign_budget",
    "no_window_opens_in_a_freeze",
    "FREEZES_CONFIG",
    "DEFAULT_PRODUCTION_STACKS",
    "DEFAULT_MAX_RUNNING_CAMPAIGNS",
]

DEFAULT_PRODUCTION_STACKS = ["prod", "production"]
DEFAULT_MAX_RUNNING_CAMPAIGNS = 25
#: Where a stack declares its freezes: stack config ``leadterraPolicy:freezes``, a list of
#: ``{"from": <RFC 3339>, "until": <RFC 3339>, "reason": <text>}`` (``until`` excluded). Not in
#: the ``leadterra:`` namespace: that is the provider's, and a new key there would show as a
#: provider change in every preview.
FREEZES_CONFIG = ("leadterraPolicy", "freezes")

_UNKNOWN = object()
#: Both CampaignState types: the dynamic resource (Python names) and the native plugin's
#: (the schema's camelCase names).
TYPES = (CAMPAIGN_STATE_TYPE, NATIVE_TYPE)


def _prop(resource_type: str, props: Mapping[str, Any], name: str, default: Any = None) -> Any:
    """A property's value under its name for ``resource_type``, ``default`` when absent, or
    ``_UNKNOWN`` during preview."""
    key = to_camel(name) if resource_type == NATIVE_TYPE else name
    try:
        value = props.get(key, default)
    except UnknownValueError:
        return _UNKNOWN
    return default if value is None else value


def _normalize(url: str) -> str:
    return url.strip().rstrip("/").lower()


def _effective_base_url(resource_type: str, props: Mapping[str, Any]) -> Any:
    """Resource input, else stack config ``leadterra:baseUrl``, else the live API.

    ``_UNKNOWN`` during preview when the input is not computed yet.
    """
    url = _prop(resource_type, props, "base_url")
    if url is None:
        url = pulumi.Config("leadterra").get("baseUrl")
    return url or DEFAULT_BASE_URL


_KEY_SOURCES = {
    "input": "the resource's api_key",
    "config": "stack config leadterra:apiKey",
    "provider": "the explicit provider's apiKey",
    "environment": "the environment variable LEADTERRA_API_KEY",
}


def _effective_key_kind(resource_type: str, props: Mapping[str, Any]) -> tuple[Optional[str], str]:
    """The kind of key the provider would use (``live``, ``test``, ``other``), and where from.

    The engine hands the pack the provider's checked inputs: they name the kind of the key the
    provider resolved (``api_key_kind``, never the key) and where it came from, whichever way it
    arrived (``api_key=``, stack config, an explicit provider's ``apiKey``, the environment).
    Inputs checked by an older provider carry the key itself, or nothing: then stack config and
    the environment the engine runs the pack with decide, through the provider's own Settings.
    """
    source = _prop(resource_type, props, "api_key_source")
    kind = _prop(resource_type, props, "api_key_kind")
    if isinstance(kind, str):
        return kind, _KEY_SOURCES.get(source or "input", "the resource's api_key")
    key = _prop(resource_type, props, "api_key")
    if isinstance(key, str):
        return key_kind(key), _KEY_SOURCES.get(source or "input", "the resource's api_key")
    config = pulumi.Config("leadterra")
    settings = Settings.load(lambda name: config.get(name.split(":", 1)[1]))
    found = key_kind(settings.api_key) if isinstance(settings.api_key, str) else None
    return found, _KEY_SOURCES.get(settings.api_key_source or "", "")


def _is_running(resource_type: str, props: Mapping[str, Any]) -> bool:
    return bool(_prop(resource_type, props, "status", "running") == "running")


def _validate_no_live_sends(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in TYPES or not _is_running(args.resource_type, args.props):
        return
    config = args.get_config() or {}
    stack = pulumi.get_stack()
    if stack in config.get("productionStacks", DEFAULT_PRODUCTION_STACKS):
        return
    url = _effective_base_url(args.resource_type, args.props)
    allowed = {_normalize(u) for u in config.get("allowedBaseUrls", [])}
    if isinstance(url, str) and not is_loopback_url(url) and _normalize(url) not in allowed:
        report(
            f"CampaignState {args.name} would start campaign sends through {url} from stack "
            f"'{stack}', which is not a production stack. Point this stack at the sandbox "
            "(pulumi config set leadterra:baseUrl http://127.0.0.1:8787), add the URL to "
            "allowedBaseUrls, add the stack to productionStacks, or declare status='paused'.",
            None,
        )
    kind, where = _effective_key_kind(args.resource_type, args.props)
    if kind == "live":
        # Never echo the key itself: policy output lands in CI logs.
        report(
            f"CampaignState {args.name} in non-production stack '{stack}' would use a live API key "
            f"(sk_live_...) from {where}. Use a test key (sk_test_...) outside production.",
            None,
        )


def _validate_https(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in TYPES:
        return
    url = _effective_base_url(args.resource_type, args.props)
    if not isinstance(url, str):  # unknown in preview, or not a URL at all (check refuses it)
        return
    problem = base_url_problem(url)
    if problem:
        # The provider refuses these too, but only at apply time; this says so in preview.
        report(f"CampaignState {args.name}: {problem}.", None)


def _campaigns(args: StackValidationArgs) -> list[Any]:
    return [r for r in args.resources if r.resource_type in TYPES]


def _validate_unique(args: StackValidationArgs, report: ReportViolation) -> None:
    by_campaign: dict[str, list[Any]] = defaultdict(list)
    for resource in _campaigns(args):
        campaign_id = _prop(resource.resource_type, resource.props, "campaign_id")
        if isinstance(campaign_id, str):
            by_campaign[campaign_id].append(resource)
    for campaign_id, resources in sorted(by_campaign.items()):
        if len(resources) > 1:
            names = ", ".join(sorted(r.name for r in resources))
            for resource in resources:
                report(
                    f"campaign {campaign_id} is declared by {len(resources)} CampaignState "
                    f"resources ({names}); they would fight over it. Keep exactly one.",
                    resource.urn,
                )


def _validate_budget(args: StackValidationArgs, report: ReportViolation) -> None:
    config = args.get_config() or {}
    limit = int(config.get("maxRunningCampaigns", DEFAULT_MAX_RUNNING_CAMPAIGNS))
    running = [r for r in _campaigns(args) if _is_running(r.resource_type, r.props)]
    if len(running) > limit:
        report(
            f"this stack declares {len(running)} running campaigns, more than "
            f"maxRunningCampaigns ({limit}). Pause some, or raise maxRunningCampaigns in the "
            "policy config if the sender pools can carry them.",
            None,
        )


def _freezes() -> tuple[list[tuple[Any, Any, str]], list[str]]:
    """The stack's declared freezes as (from, until, reason), and a sentence per unusable one."""
    namespace, key = FREEZES_CONFIG
    try:
        declared = pulumi.Config(namespace).get_object(key) or []
    except Exception:  # noqa: BLE001 - pulumi raises a bare error for JSON it cannot read
        return [], [f"stack config {namespace}:{key} is not a JSON list"]
    if not isinstance(declared, list):
        return [], [f"stack config {namespace}:{key} must be a list of {{from, until, reason}}"]
    freezes, problems = [], []
    for index, entry in enumerate(declared):
        where = f"{namespace}:{key}[{index}]"
        if not isinstance(entry, dict):
            problems.append(f"{where} must be an object with from, until and reason")
            continue
        found = [instant_problem(f"{where}.{name}", entry.get(name)) for name in ("from", "until")]
        if any(found):
            problems.extend(problem for problem in found if problem)
            continue
        start, end = parse_instant(entry["from"]), parse_instant(entry["until"])
        if end <= start:
            problems.append(f"{where}: until must be after from")
            continue
        freezes.append((start, end, str(entry.get("reason") or "a declared freeze")))
    return freezes, problems


def _validate_freeze(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """A production campaign declared running whose window opens inside a declared freeze.

    Only the opening is judged: a window that opened before the freeze is the team's to stop
    (with the brake, ``leadterra:pauseAll``), and a campaign declared paused never opens.
    """
    if args.resource_type not in TYPES or not _is_running(args.resource_type, args.props):
        return
    config = args.get_config() or {}
    stack = pulumi.get_stack()
    if stack not in config.get("productionStacks", DEFAULT_PRODUCTION_STACKS):
        return
    start_at = _prop(args.resource_type, args.props, "start_at")
    if not isinstance(start_at, str) or instant_problem("start_at", start_at):
        return  # none declared, unknown in preview, or refused by check with a clearer sentence
    freezes, problems = _freezes()
    for problem in problems:
        report(f"CampaignState {args.name}: cannot judge freezes: {problem}.", None)
    opens = parse_instant(start_at)
    for start, end, reason in freezes:
        if start <= opens < end:
            name = to_camel("start_at") if args.resource_type == NATIVE_TYPE else "start_at"
            report(
                f"CampaignState {args.name} in production stack '{stack}' opens its window at "
                f"{start_at} ({name}), during the freeze from {start.isoformat()} until "
                f"{end.isoformat()} ({reason}). Move {name} to {end.isoformat()} or later.",
                None,
            )


#: The setting both production-scoped policies read: which stacks are production.
_PRODUCTION_STACKS = {"type": "array", "items": {"type": "string"}, "default": DEFAULT_PRODUCTION_STACKS}

no_live_sends_outside_production = ResourceValidationPolicy(
    name="leadterra-no-live-sends-outside-production",
    description=(
        "Outside production stacks, a running CampaignState must target a sandbox (loopback) "
        "or an allowed base URL, never the live Leadterra API, and must not use an sk_live_ key "
        "(from api_key=, stack config leadterra:apiKey or LEADTERRA_API_KEY)."
    ),
    validate=_validate_no_live_sends,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(
        properties={
            "productionStacks": _PRODUCTION_STACKS,
            "allowedBaseUrls": {"type": "array", "items": {"type": "string"}, "default": []},
        }
    ),
)

https_only = ResourceValidationPolicy(
    name="leadterra-https-only",
    description="A CampaignState's base URL must be https, unless it is a loopback sandbox.",
    validate=_validate_https,
    enforcement_level=EnforcementLevel.MANDATORY,
)

unique_campaigns = StackValidationPolicy(
    name="leadterra-unique-campaigns",
    description="No two CampaignState resources in a stack may declare the same campaign_id.",
    validate=_validate_unique,
    enforcement_level=EnforcementLevel.MANDATORY,
)

campaign_budget = StackValidationPolicy(
    name="leadterra-campaign-budget",
    description="At most maxRunningCampaigns (default 25) running CampaignState resources per stack.",
    validate=_validate_budget,
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=PolicyConfigSchema(
        properties={
            "maxRunningCampaigns": {
                "type": "integer",
                "minimum": 0,
                "default": DEFAULT_MAX_RUNNING_CAMPAIGNS,
            }
        }
    ),
)

no_window_opens_in_a_freeze = ResourceValidationPolicy(
    name="leadterra-no-window-opens-in-a-freeze",
    description=(
        "In production stacks, a running CampaignState's start_at (startAt) must not fall inside a "
        "freeze the stack declares in stack config leadterraPolicy:freezes."
    ),
    validate=_validate_freeze,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(
        properties={
            "productionStacks": _PRODUCTION_STACKS,
        }
    ),
)

POLICIES: list[Any] = [
    no_live_sends_outside_production,
    https_only,
    unique_campaigns,
    campaign_budget,
    no_window_opens_in_a_freeze,
]
