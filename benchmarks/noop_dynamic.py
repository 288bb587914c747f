"""A no-op dynamic resource with `CampaignState`'s inputs and outputs: what `pulumi` costs on the
dynamic front end with the provider's own work taken out (benchmarks/cost_bench.py measures both
in the same run, a Python program each).

Its provider is pickled by reference, as ours is (this module must be importable in the engine's
dynamic-provider process: the bench puts this folder on PYTHONPATH), and stored plain, as ours
is. Check echoes the inputs, Diff says nothing changed, Create and Update echo the inputs as the
outputs, Read returns what the engine holds, Delete does nothing. No network, no settings.
"""

from __future__ import annotations

import pickle
from typing import Any, Optional

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

__all__ = ["NoopCampaignState"]

_OUTPUTS = (
    "held_status",
    "started_at",
    "paused_at",
    "healed_at",
    "drift",
    "stats",
    "api_key_source",
    "api_key_fingerprint",
    "endpoint",
)


class NoopProvider(ResourceProvider):
    serialize_as_secret_always = False

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        return DiffResult(changes=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(props["campaign_id"], props)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(news)


class NoopCampaignState(pulumi.dynamic.Resource, module="leadterra", name="NoopCampaignState"):  # type: ignore[call-arg]
    def __init__(
        self,
        resource_name: str,
        campaign_id: str,
        status: str = "running",
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        props: dict[str, Any] = {
            "campaign_id": campaign_id,
            "status": status,
            "reconcile": False,
            "pause_on_delete": False,
            "base_url": None,
            **dict.fromkeys(_OUTPUTS),
        }
        # As CampaignState does (pulumi/pulumi#17803): put back what serialize_provider wraps on
        # pickle._Pickler for each resource, or a thousand resources nest a thousand wrappers.
        saved = {name: vars(pickle._Pickler)[name] for name in ("_batch_setitems", "save_dict")}
        try:
            super().__init__(NoopProvider(), resource_name, props, opts)
        finally:
            for name, method in saved.items():
                setattr(pickle._Pickler, name, method)
