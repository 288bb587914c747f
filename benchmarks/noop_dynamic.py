"""A no-op dynamic resource with `CampaignState`'s inputs and outputs: what `pulumi` costs on the
dynamic front end with the provider's own work taken out (benchmarks/cost_bench.py measures both
in the same run, a Python program each).

Its provider is pickled by reference, as ours is (this module must be importable in the engine's
dynamic-provider process: the bench puts this folder on PYTHONPATH), and stored plain, as ours
is, and it stores the same inputs and outputs, so that the engine's own work is the same for both
and the difference is the provider's: Check returns the inputs with the fields our check records
(key fingerprint, kind and source, endpoint, held status), Diff says nothing changed, Create
returns them as the outputs with a ``started_at``, Update echoes the inputs, Read returns what the
engine holds with a ``stats`` object of the API's shape, Delete does nothing. No network, no
settings (the recorded fields are constants of the same length).
"""

from __future__ import annotations

import pickle
import time
from typing import Any, Optional

import pulumi
from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

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
#: What our check records, in values of the same shape.
_RECORDED = {
    "api_key_fingerprint": "sha256:0000000000000000",
    "api_key_kind": "test",
    "api_key_source": "config",
    "endpoint": "http://127.0.0.1:00000",
}
_STATS = dict.fromkeys(
    ("bounced", "delivered", "openRate", "queued", "replied", "replyRate", "sent", "totalEnrolled"), 0
)


class NoopProvider(ResourceProvider):
    serialize_as_secret_always = False

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return CheckResult({**news, **_RECORDED, "held_status": news.get("status")}, [])

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        return DiffResult(changes=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = {key: value for key, value in props.items() if key != "api_key_kind"}
        outs["started_at"] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        return CreateResult(props["campaign_id"], outs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, {**props, "stats": {"campaignId": id_, **_STATS}})

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
