"""The user-facing resource: ``CampaignState(name, campaign_id=..., status=...)``."""

from __future__ import annotations

import pickle
from typing import Any, Optional

import pulumi
import pulumi.dynamic

from .provider import CampaignStateProvider

__all__ = ["CampaignState", "CAMPAIGN_STATE_TYPE"]

#: What the SDK's ``serialize_provider`` replaces on ``pickle._Pickler`` for each dynamic resource
#: and never puts back (pulumi/pulumi#17803); ``CampaignState.__init__`` restores them.
_PICKLER_PATCHED = ("_batch_setitems", "save_dict")


class CampaignState(pulumi.dynamic.Resource, module="leadterra", name="CampaignState"):  # type: ignore[call-arg]
    """Holds a Leadterra campaign ``running`` (the default) or ``paused`` on every ``pulumi up``.

    Type token: ``pulumi-python:dynamic/leadterra:CampaignState``. Changing ``campaign_id``
    replaces the resource; a new ``status`` or ``base_url`` updates it with one idempotent API
    call; the key, where it comes from, ``reconcile`` and ``pause_on_delete`` update state only,
    with no call (a start then would resume a campaign paused during an incident).
    ``reconcile=True`` resources are re-asserted only in runs
    with ``leadterra:heal``; ``leadterra:pauseAll`` holds every resource paused. Destroying it
    sends nothing unless ``pause_on_delete=True``. ``start_at``/``stop_at`` (RFC 3339 with an
    offset) declare a launch window: outside it a campaign declared running is held paused, and
    the first run inside it starts it (``window`` and ``next_change_at`` say what the next run
    will do).
    """

    campaign_id: pulumi.Output[str]
    #: The status Leadterra last reported (``running``, ``paused`` or ``draft``), or ``running``
    #: inferred by refresh from sends while recorded paused (then ``drift`` says so).
    status: pulumi.Output[str]
    #: The status this declaration holds (``running`` or ``paused``); ``none`` for an imported
    #: campaign whose program declares no status yet: Pulumi then sends nothing for it.
    held_status: pulumi.Output[str]
    started_at: pulumi.Output[Optional[str]]
    paused_at: pulumi.Output[Optional[str]]
    #: When an ``up`` last undid a pause or resume made outside Pulumi (the API's timestamp).
    healed_at: pulumi.Output[Optional[str]]
    #: Why refresh reported a status the API did not (inferred from ``stats.sent``), else None.
    drift: pulumi.Output[Optional[str]]
    #: The campaign's metrics as of the last ``pulumi refresh``.
    stats: pulumi.Output[Optional[dict[str, Any]]]
    #: Where the key in use came from: ``input``, ``config`` or ``environment`` (never the key).
    api_key_source: pulumi.Output[str]
    #: ``sha256:`` and 16 hex digits of the key's hash: a rotation shows as an update. A key from
    #: stack config or the environment is never stored, even encrypted.
    api_key_fingerprint: pulumi.Output[str]
    #: The API root this resource's calls go to (``base_url``, else stack config, else the live
    #: API); a new one, however it arrives, gets the campaign its one call there.
    endpoint: pulumi.Output[str]
    #: When the launch window opens and closes (RFC 3339 with an offset), as declared.
    start_at: pulumi.Output[Optional[str]]
    stop_at: pulumi.Output[Optional[str]]
    #: Where the last run that wrote this resource found it against its window: ``before``,
    #: ``open`` or ``closed``; None without a window.
    window: pulumi.Output[Optional[str]]
    #: The next instant (UTC) at which a run would change something: ``start_at`` before the
    #: window, ``stop_at`` inside it; None when no edge is ahead or the declaration is paused.
    next_change_at: pulumi.Output[Optional[str]]
    reconcile: pulumi.Output[bool]
    pause_on_delete: pulumi.Output[bool]
    base_url: pulumi.Output[Optional[str]]

    def __init__(
        self,
        resource_name: str,
        campaign_id: pulumi.Input[str],
        status: pulumi.Input[str] = "running",
        reconcile: pulumi.Input[bool] = False,
        pause_on_delete: pulumi.Input[bool] = False,
        api_key: Optional[pulumi.Input[str]] = None,
        base_url: Optional[pulumi.Input[str]] = None,
        start_at: Optional[pulumi.Input[str]] = None,
        stop_at: Optional[pulumi.Input[str]] = None,
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        props: dict[str, Any] = {
            "campaign_id": campaign_id,
            "status": status,
            "reconcile": reconcile,
            "pause_on_delete": pause_on_delete,
            "base_url": base_url,
            "start_at": start_at,
            "stop_at": stop_at,
            # Declared so that they exist as outputs on the resource object.
            "started_at": None,
            "paused_at": None,
            "healed_at": None,
            "drift": None,
            "stats": None,
            "api_key_source": None,
            "api_key_fingerprint": None,
            "endpoint": None,
            "held_status": None,
            "window": None,
            "next_change_at": None,
        }
        if api_key is not None:
            props["api_key"] = pulumi.Output.secret(api_key)
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=["api_key"])
        )
        # pulumi/pulumi#17803: the SDK's serialize_provider (called synchronously from
        # dynamic.Resource.__init__) wraps pickle._Pickler._batch_setitems in a sorting wrapper
        # around the previous one and never restores it, so the N-th dynamic resource pickles
        # through N nested wrappers: RecursionError past ~960 resources. Putting the methods back
        # leaves each resource exactly one wrapper (the same bytes: sorting is idempotent) and
        # the rest of the program the pickler it had.
        saved = {name: vars(pickle._Pickler)[name] for name in _PICKLER_PATCHED}
        try:
            super().__init__(CampaignStateProvider(), resource_name, props, opts)
        finally:
            for name, method in saved.items():
                setattr(pickle._Pickler, name, method)


#: What the engine, state files and policies call this resource type, derived from the class so
#: the two can never disagree: ``pulumi-python:dynamic/leadterra:CampaignState``.
CAMPAIGN_STATE_TYPE = f"pulumi-python:{CampaignState._resource_type_name}"
