"""The Leadterra guardrails policy pack. The engine starts this file; building the pack serves it."""

from pulumi_policy import EnforcementLevel, PolicyPack

from pulumi_leadterra.policies import POLICIES

PolicyPack(
    name="leadterra-guardrails",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=POLICIES,
)
