"""Declare the run state of Leadterra campaigns as Pulumi resources.

>>> from pulumi_leadterra import CampaignState
>>> CampaignState("launch", campaign_id="camp_123")            # held running
>>> CampaignState("legacy", campaign_id="camp_77", status="paused")

Importing this package has no side effects, and costs next to nothing: each public name is
imported when first used (PEP 562). The native plugin's entry point
(``pulumi_leadterra.plugin``) imports this package first, and prints its port before anything
of the dynamic provider, the resource or the HTTP client is loaded.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .client import LeadterraClient
    from .errors import (
        APIConnectionError,
        AuthenticationError,
        CampaignNotFoundError,
        CancelledError,
        ConfigurationError,
        EndpointNotFoundError,
        InvalidRequestError,
        LeadterraError,
        NoLeadsEnrolledError,
        NoSequenceStepsError,
        RateLimitError,
        ServerError,
        UnexpectedStatusError,
    )
    from .provider import CampaignStateProvider
    from .resource import CampaignState
    from .settings import RetryPolicy

__all__ = [
    "__version__",
    "CampaignState",
    "CampaignStateProvider",
    "LeadterraClient",
    "RetryPolicy",
    "LeadterraError",
    "ConfigurationError",
    "AuthenticationError",
    "CampaignNotFoundError",
    "EndpointNotFoundError",
    "CancelledError",
    "NoLeadsEnrolledError",
    "NoSequenceStepsError",
    "InvalidRequestError",
    "RateLimitError",
    "ServerError",
    "APIConnectionError",
    "UnexpectedStatusError",
]
#: Where each public name lives: the errors in .errors, the rest named here.
_HOMES = {
    "CampaignState": "resource",
    "CampaignStateProvider": "provider",
    "LeadterraClient": "client",
    "RetryPolicy": "settings",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name, "errors" if name.endswith("Error") else None)
    if home is None or name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
