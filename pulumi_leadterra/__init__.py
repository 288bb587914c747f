"""Declare the run state of Leadterra campaigns as Pulumi resources.

>>> from pulumi_leadterra import CampaignState
>>> CampaignState("launch", campaign_id="camp_123")            # held running
>>> CampaignState("legacy", campaign_id="camp_77", status="paused")

Importing this package has no side effects: the engine re-imports it in its plugin process.
"""

from ._version import __version__
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
