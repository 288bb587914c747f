"""The guardrails policy pack through the real analyzer protocol, as the engine drives it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pulumi.runtime import rpc
from pulumi.runtime.proto import analyzer_pb2

from harness.analyzer import Analyzer
from harness.structs import to_struct
from pulumi_leadterra.resource import CAMPAIGN_STATE_TYPE
from pulumi_leadterra.schema import to_camel

NO_LIVE = "leadterra-no-live-sends-outside-production"
HTTPS = "leadterra-https-only"
UNIQUE = "leadterra-unique-campaigns"
BUDGET = "leadterra-campaign-budget"
FREEZE = "leadterra-no-window-opens-in-a-freeze"
SANDBOX = "http://127.0.0.1:8787"
MANDATORY, ADVISORY = 1, 0


def names(diagnostics: list[Any]) -> list[str]:
    return sorted(d.policyName for d in diagnostics)


@pytest.fixture
def analyzer_factory() -> Iterator[Any]:
    started: list[Analyzer] = []

    def start(
        stack: str,
        config: dict[str, str] | None = None,
        dry_run: bool = True,
        env: dict[str, str] | None = None,
    ) -> Analyzer:
        analyzer = Analyzer(stack, config, dry_run, env)
        started.append(analyzer)
        return analyzer

    yield start
    for analyzer in started:
        analyzer.close()


def campaign(campaign_id: str = "camp_1", **props: Any) -> dict[str, Any]:
    return {
        "campaign_id": campaign_id,
        "status": "running",
        "reconcile": False,
        "pause_on_delete": False,
        **props,
    }


def test_dev_stack_with_sandbox_config_passes(analyzer_factory: Any) -> None:
    dev = analyzer_factory("dev", {"leadterra:baseUrl": SANDBOX})
    assert dev.analyze("launch", campaign()) == []


def test_dev_stack_relying_on_the_live_default_fails(analyzer_factory: Any) -> None:
    dev = analyzer_factory("dev")
    (diag,) = dev.analyze("launch", campaign())
    assert diag.policyName == NO_LIVE and diag.enforcementLevel == MANDATORY
    assert "https://app.leadterra.co" in diag.message and "'dev'" in diag.message
    assert "leadterra:baseUrl" in diag.message  # says what to do


def test_resource_base_url_beats_stack_config(analyzer_factory: Any) -> None:
    dev = analyzer_factory("staging", {"leadterra:baseUrl": SANDBOX})
    assert names(dev.analyze("launch", campaign(base_url="https://app.leadterra.co"))) == [NO_LIVE]
    dev2 = analyzer_factory("staging", {"leadterra:baseUrl": "https://app.leadterra.co"})
    assert dev2.analyze("launch", campaign(base_url="http://localhost:9000")) == []


def test_prod_stack_passes(analyzer_factory: Any) -> None:
    prod = analyzer_factory("prod")
    assert prod.analyze("launch", campaign(api_key="sk_live_abc")) == []


def test_paused_is_always_safe(analyzer_factory: Any) -> None:
    dev = analyzer_factory("dev")
    assert dev.analyze("hold", campaign(status="paused", api_key="sk_live_abc")) == []


def test_live_key_outside_production_fails_without_echoing_it(analyzer_factory: Any) -> None:
    dev = analyzer_factory("dev", {"leadterra:baseUrl": SANDBOX})
    key = "sk_live_SUPERSECRET123"
    (diag,) = dev.analyze("launch", campaign(api_key=rpc.wrap_rpc_secret(key)))
    assert diag.policyName == NO_LIVE and "sk_live_" in diag.message and key not in diag.message


LIVE = "sk_live_FROMSOMEWHERE987654"


@pytest.mark.parametrize(
    ("config", "env", "where"),
    [
        ({"leadterra:apiKey": LIVE}, {}, "stack config leadterra:apiKey"),
        ({}, {"LEADTERRA_API_KEY": LIVE}, "LEADTERRA_API_KEY"),
    ],
)
def test_live_key_wherever_the_provider_would_take_it(
    analyzer_factory: Any, config: dict[str, str], env: dict[str, str], where: str
) -> None:
    dev = analyzer_factory("dev", {"leadterra:baseUrl": SANDBOX, **config}, env=env)
    (diag,) = dev.analyze("launch", campaign())
    assert diag.policyName == NO_LIVE and where in diag.message and LIVE not in diag.message
    prod = analyzer_factory("prod", config, env=env)
    assert prod.analyze("launch", campaign()) == []


def test_live_key_follows_the_provider_precedence(analyzer_factory: Any) -> None:
    """A test key where the provider looks first wins over a live key further down, and back."""
    dev = analyzer_factory(
        "dev",
        {"leadterra:baseUrl": SANDBOX, "leadterra:apiKey": "sk_test_x"},
        env={"LEADTERRA_API_KEY": LIVE},
    )
    assert dev.analyze("launch", campaign()) == []  # config beats environment
    assert names(dev.analyze("launch", campaign(api_key=LIVE))) == [NO_LIVE]  # input beats config
    dev2 = analyzer_factory("dev", {"leadterra:baseUrl": SANDBOX, "leadterra:apiKey": LIVE})
    assert dev2.analyze("launch", campaign(api_key="sk_test_x")) == []


def test_config_knobs_production_stacks_and_allowed_urls(analyzer_factory: Any) -> None:
    live = analyzer_factory("live")
    assert names(live.analyze("launch", campaign())) == [NO_LIVE]
    live.configure({NO_LIVE: ("mandatory", {"productionStacks": ["live"]})})
    assert live.analyze("launch", campaign()) == []

    qa = analyzer_factory("qa", {"leadterra:baseUrl": "https://qa.leadterra.internal"})
    assert names(qa.analyze("launch", campaign())) == [NO_LIVE]
    qa.configure({NO_LIVE: ("mandatory", {"allowedBaseUrls": ["https://qa.leadterra.internal/"]})})
    assert qa.analyze("launch", campaign()) == []


def test_other_resource_types_are_ignored(analyzer_factory: Any) -> None:
    dev = analyzer_factory("dev")
    assert (
        dev.analyze("bucket", {"campaign_id": "x", "base_url": "http://evil"}, type_="aws:s3/bucket:Bucket")
        == []
    )
    pairs = [("a", campaign("camp_1")), ("b", campaign("camp_1"))]
    assert dev.analyze_stack(pairs, type_="aws:s3/bucket:Bucket") == []


@pytest.mark.parametrize(
    ("url", "violations"),
    [
        ("http://app.leadterra.co", [HTTPS, NO_LIVE]),
        ("http://10.1.2.3:8080", [HTTPS, NO_LIVE]),
        ("https://app.leadterra.co", [NO_LIVE]),
        ("http://127.0.0.1:8787", []),
        ("http://[::1]:8787", []),
        ("http://localhost:8787", []),
    ],
)
def test_https_only(analyzer_factory: Any, url: str, violations: list[str]) -> None:
    dev = analyzer_factory("dev")
    assert names(dev.analyze("launch", campaign(base_url=url))) == violations


def test_https_only_applies_in_production_and_to_paused(analyzer_factory: Any) -> None:
    prod = analyzer_factory("prod")
    (diag,) = prod.analyze("launch", campaign(status="paused", base_url="http://leadterra.example.com"))
    assert diag.policyName == HTTPS and "https" in diag.message and diag.enforcementLevel == MANDATORY


def test_unknown_values_in_preview_neither_crash_nor_violate(analyzer_factory: Any) -> None:
    dev = analyzer_factory("dev")
    unknown = rpc.UNKNOWN
    assert dev.analyze("a", campaign(base_url=unknown)) == []
    assert dev.analyze("b", campaign(status=unknown)) == []
    assert dev.analyze("c", campaign(api_key=unknown, base_url=SANDBOX)) == []
    stack = [("a", campaign(unknown)), ("b", campaign(unknown)), ("c", campaign("camp_1", status=unknown))]
    assert dev.analyze_stack(stack) == []


def test_unique_campaigns(analyzer_factory: Any) -> None:
    dev = analyzer_factory("dev", {"leadterra:baseUrl": SANDBOX})
    diags = dev.analyze_stack(
        [("a", campaign("camp_1")), ("b", campaign("camp_1", status="paused")), ("c", campaign("camp_2"))]
    )
    assert names(diags) == [UNIQUE, UNIQUE]
    assert {d.urn.rsplit("::", 1)[1] for d in diags} == {"a", "b"}
    assert all("camp_1" in d.message and d.enforcementLevel == MANDATORY for d in diags)
    assert dev.analyze_stack([("a", campaign("camp_1")), ("c", campaign("camp_2"))]) == []


def test_campaign_budget_default_advisory(analyzer_factory: Any) -> None:
    dev = analyzer_factory("dev", {"leadterra:baseUrl": SANDBOX})
    under = [(f"r{i}", campaign(f"camp_{i}")) for i in range(25)]
    assert dev.analyze_stack(under) == []
    over = [*under, ("r25", campaign("camp_25"))]
    (diag,) = dev.analyze_stack(over)
    assert diag.policyName == BUDGET and diag.enforcementLevel == ADVISORY and "26 running" in diag.message
    paused_extra = [*under, ("p", campaign("camp_p", status="paused"))]
    assert dev.analyze_stack(paused_extra) == []


def test_campaign_budget_configured(analyzer_factory: Any) -> None:
    dev = analyzer_factory("dev", {"leadterra:baseUrl": SANDBOX})
    dev.configure({BUDGET: ("mandatory", {"maxRunningCampaigns": 2})})
    (diag,) = dev.analyze_stack([(f"r{i}", campaign(f"camp_{i}")) for i in range(3)])
    assert diag.policyName == BUDGET and diag.enforcementLevel == MANDATORY and "(2)" in diag.message


FREEZES = (
    '[{"from": "2027-12-20T00:00:00+01:00", "until": "2028-01-04T00:00:00+01:00", "reason": "year-end"}]'
)


def test_no_production_window_opens_during_a_declared_freeze(analyzer_factory: Any) -> None:
    prod = analyzer_factory("prod", {"leadterraPolicy:freezes": FREEZES})
    (diag,) = prod.analyze("launch", campaign(start_at="2027-12-27T09:00:00+01:00"))
    assert diag.policyName == FREEZE and diag.enforcementLevel == MANDATORY
    assert "year-end" in diag.message and "2027-12-27T09:00:00+01:00 (start_at)" in diag.message
    # Before the freeze or at its end: fine; paused, or no window: fine.
    assert prod.analyze("launch", campaign(start_at="2027-12-19T23:59:59+01:00")) == []
    assert prod.analyze("launch", campaign(start_at="2028-01-04T00:00:00+01:00")) == []
    assert prod.analyze("launch", campaign(status="paused", start_at="2027-12-27T09:00:00+01:00")) == []
    assert prod.analyze("launch", campaign()) == []
    # The schema's names for the native type.
    (diag,) = prod.analyze(
        "launch", {"campaignId": "camp_1", "status": "running", "startAt": "2027-12-27T09:00:00Z"}, NATIVE
    )
    assert diag.policyName == FREEZE and "(startAt)" in diag.message
    # Outside production stacks a freeze does not apply.
    dev = analyzer_factory("dev", {"leadterra:baseUrl": SANDBOX, "leadterraPolicy:freezes": FREEZES})
    assert dev.analyze("launch", campaign(start_at="2027-12-27T09:00:00+01:00")) == []
    # A freeze the policy cannot read is said, not ignored.
    bad = analyzer_factory("prod", {"leadterraPolicy:freezes": '[{"from": "2027-12-20", "until": "x"}]'})
    diags = bad.analyze("launch", campaign(start_at="2027-12-27T09:00:00+01:00"))
    assert diags and set(names(diags)) == {FREEZE}
    assert all("cannot judge freezes" in d.message for d in diags)


def test_policies_import_without_side_effects() -> None:
    import subprocess
    import sys

    code = "import pulumi_leadterra.policies as p; print(len(p.POLICIES), [x.name for x in p.POLICIES])"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.startswith(
        "5 ['leadterra-no-live-sends-outside-production', 'leadterra-https-only',"
    )


# --- the native plugin's type token, with the schema's camelCase names -------------------------
NATIVE = "leadterra:index:CampaignState"


def native(campaign_id: str = "camp_1", **props: Any) -> dict[str, Any]:
    """`campaign` under the native plugin's names; ``props`` are given in camelCase."""
    return {**{to_camel(k): v for k, v in campaign(campaign_id).items()}, **props}


def test_native_resources_get_the_same_guardrails(analyzer_factory: Any) -> None:
    dev = analyzer_factory("dev")
    assert names(dev.analyze("launch", native(), type_=NATIVE)) == [NO_LIVE]
    assert dev.analyze("launch", native(baseUrl=SANDBOX), type_=NATIVE) == []
    assert names(dev.analyze("launch", native(baseUrl="http://10.0.0.5"), type_=NATIVE)) == [HTTPS, NO_LIVE]
    live = dev.analyze("launch", native(baseUrl=SANDBOX, apiKey=rpc.wrap_rpc_secret(LIVE)), type_=NATIVE)
    assert names(live) == [NO_LIVE] and LIVE not in live[0].message
    assert dev.analyze("hold", native(status="paused"), type_=NATIVE) == []


def test_a_live_key_the_provider_resolved_is_seen_without_the_key_in_inputs(analyzer_factory: Any) -> None:
    """An explicit native provider's apiKey (another stack's live key, say) is not in the stack's
    config, and the provider keeps the run's key out of the checked inputs: the kind it records
    is what the pack reads."""
    dev = analyzer_factory("dev", {"leadterra:baseUrl": SANDBOX, "leadterra:apiKey": "sk_test_x"})
    checked = native(baseUrl=SANDBOX, apiKeySource="config", apiKeyKind="live")
    (diag,) = dev.analyze("launch", checked, type_=NATIVE)
    assert diag.policyName == NO_LIVE and "stack config leadterra:apiKey" in diag.message
    assert dev.analyze("launch", {**checked, "apiKeyKind": "test"}, type_=NATIVE) == []
    dynamic = campaign(api_key_source="environment", api_key_kind="live")
    assert names(dev.analyze("launch", dynamic)) == [NO_LIVE]


def test_native_and_dynamic_resources_count_together(analyzer_factory: Any) -> None:
    dev = analyzer_factory("dev", {"leadterra:baseUrl": SANDBOX})
    request = analyzer_pb2.AnalyzeStackRequest(
        resources=[
            analyzer_pb2.AnalyzerResource(
                type=CAMPAIGN_STATE_TYPE,
                properties=to_struct(campaign("camp_1")),
                urn="urn:pulumi:s::p::t::a",
                name="a",
            ),
            analyzer_pb2.AnalyzerResource(
                type=NATIVE, properties=to_struct(native("camp_1")), urn="urn:pulumi:s::p::t::b", name="b"
            ),
        ]
    )
    diagnostics = list(dev.stub.AnalyzeStack(request, timeout=30).diagnostics)
    assert names(diagnostics) == [UNIQUE, UNIQUE]
