"""Typed errors for everything that can go wrong between Pulumi and Leadterra.

Modelled on stripe-python: one base class carrying what the API said (HTTP status, API code,
message, request id) plus what we know (campaign id, attempts made), and one subclass per
meaning, so callers can ``except CampaignNotFoundError`` instead of parsing strings.

The message of every error is what ``pulumi up`` prints, so it names the campaign, the API code,
and what to do next. No error ever holds the API key: it is never passed in, and whatever an
error takes from a reply (message, code, request id) is first scrubbed of every key the process
holds (`Secrets`), since a gateway may echo the ``Authorization`` header back; so no ``str``,
``repr`` or pickle can show it.
"""

from __future__ import annotations

import threading
from typing import Optional
from urllib.parse import quote

__all__ = [
    "REDACTED",
    "Secrets",
    "LeadterraError",
    "ConfigurationError",
    "AuthenticationError",
    "CampaignNotFoundError",
    "EndpointNotFoundError",
    "CancelledError",
    "NoLeadsEnrolledError",
    "NoSequenceStepsError",
    "InvalidRequestError",
    "UnexpectedStatusError",
    "RateLimitError",
    "ServerError",
    "APIConnectionError",
]


#: What stands where a reply repeated a key.
REDACTED = "[redacted]"


class Secrets:
    """The API keys one process may send, so that no text taken from a reply can repeat one.

    Shared by every client of a provider process: a reply to a call made with one key is
    scrubbed of the others too (the lifecycle may try a second key after a 401, and an error
    from either lands in the same log). Thread-safe; holds the keys, so it never prints them.
    """

    def __init__(self, *keys: Optional[str]) -> None:
        self._lock = threading.Lock()
        self._forms: tuple[str, ...] = ()
        self.add(*keys)

    def add(self, *keys: Optional[str]) -> None:
        """Also scrub ``keys`` (None and empty strings are ignored)."""
        with self._lock:
            forms = set(self._forms)
            for key in keys:
                if isinstance(key, str) and key:
                    # As sent, and percent-encoded (a gateway echoing it in a URL or a query).
                    forms.update((key, quote(key, safe=""), f"Bearer {key}"))
            # Longest first, so that "Bearer <key>" goes whole before "<key>" alone.
            self._forms = tuple(sorted(forms, key=len, reverse=True))

    def scrub(self, text: str) -> str:
        """``text`` with every form of every key replaced by `REDACTED`."""
        for form in self._forms:
            if form in text:
                text = text.replace(form, REDACTED)
        return text

    def __repr__(self) -> str:
        return f"Secrets(<{len(self._forms)} forms>)"

    def __getstate__(self) -> None:
        raise TypeError("Secrets holds credentials and must not be pickled")


class LeadterraError(Exception):
    """Base of every error this package raises on purpose."""

    #: What the user should do about it; subclasses override. Appended to the message.
    remedy: str = "check the campaign in the Leadterra dashboard, then run pulumi up again"

    def __init__(
        self,
        message: str,
        *,
        campaign_id: Optional[str] = None,
        http_status: Optional[int] = None,
        code: Optional[str] = None,
        request_id: Optional[str] = None,
        attempts: int = 1,
        final: bool = False,
    ) -> None:
        self.api_message = message
        self.campaign_id = campaign_id
        self.http_status = http_status
        self.code = code
        self.request_id = request_id
        self.attempts = attempts
        # ``final`` marks the error raised after retrying gave up, whose text must say so.
        self.final = final
        super().__init__(self._render())

    def _render(self) -> str:
        subject = f"campaign {self.campaign_id}" if self.campaign_id else "Leadterra"
        text = f"{subject}: {self.api_message}"
        if self.code:
            text += f" ({self.code})"
        text += f": {self.remedy}"
        if self.final:
            status = f"HTTP {self.http_status}" if self.http_status else "no HTTP response"
            plural = "attempt" if self.attempts == 1 else "attempts"
            text += f" [gave up after {self.attempts} {plural}; last result: {status}]"
        if self.request_id:
            text += f" [request id {self.request_id}]"
        return text

    def gave_up(self, attempts: int) -> LeadterraError:
        """The same error, re-worded as the last one after ``attempts`` tries."""
        return type(self)(
            self.api_message,
            campaign_id=self.campaign_id,
            http_status=self.http_status,
            code=self.code,
            request_id=self.request_id,
            attempts=attempts,
            final=True,
        )

    @property
    def campaign_gone(self) -> bool:
        """True only for HTTP 404 with the API's own ``campaign_not_found``: the one proof that
        a campaign no longer exists (a bare 404 may be a wrong base URL or a proxy page)."""
        return self.http_status == 404 and self.code == "campaign_not_found"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(campaign_id={self.campaign_id!r}, "
            f"http_status={self.http_status!r}, code={self.code!r}, "
            f"request_id={self.request_id!r}, attempts={self.attempts!r})"
        )

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # Pickling an exception re-calls its constructor with ``self.args`` only; keyword-only
        # arguments need an explicit recipe, or a pickled error (multiprocessing, a test runner
        # shipping failures between processes) comes back broken.
        return (
            _rebuild,
            (
                type(self),
                self.api_message,
                {
                    "campaign_id": self.campaign_id,
                    "http_status": self.http_status,
                    "code": self.code,
                    "request_id": self.request_id,
                    "attempts": self.attempts,
                    "final": self.final,
                },
            ),
        )


def _rebuild(cls: type[LeadterraError], message: str, kwargs: dict) -> LeadterraError:  # type: ignore[type-arg]
    return cls(message, **kwargs)


class ConfigurationError(LeadterraError):
    """The provider is not configured well enough to send a request safely."""

    remedy = "fix the configuration, then run pulumi up again"


class AuthenticationError(LeadterraError):
    """401 ``authentication_failed``: the key is missing, malformed or revoked."""

    remedy = (
        "check the API key (pulumi config set --secret leadterra:apiKey ..., "
        "or LEADTERRA_API_KEY) and that it belongs to the campaign's workspace"
    )


class CampaignNotFoundError(LeadterraError):
    """404 ``campaign_not_found``: no such campaign in the key's workspace."""

    remedy = "check the campaign_id and that the API key belongs to the workspace that owns it"


class EndpointNotFoundError(LeadterraError):
    """404 without the API's ``campaign_not_found``: the URL itself is wrong (a base URL with a
    path, a proxy's page, another API version), which says nothing about the campaign."""

    remedy = (
        "check leadterra:baseUrl: it must be the API's root, like https://app.leadterra.co, with no "
        "path (the provider adds /v1/...), and that this provider version speaks the API there"
    )


class CancelledError(LeadterraError):
    """The engine cancelled the operation (Ctrl-C): the call stopped, and nothing more is sent."""

    remedy = (
        "the call was stopped before Leadterra answered, so the campaign may or may not have "
        "changed; run pulumi refresh, then pulumi up again (start and pause are safe to repeat)"
    )


class NoLeadsEnrolledError(LeadterraError):
    """400 ``no_leads_enrolled``: a campaign without leads cannot start."""

    remedy = "enroll at least one lead, then run pulumi up again"


class NoSequenceStepsError(LeadterraError):
    """400 ``no_sequence_steps``: a campaign without steps cannot start."""

    remedy = "add at least one sequence step, then run pulumi up again"


class InvalidRequestError(LeadterraError):
    """Any other 4xx: the request itself was refused and retrying will not help."""

    remedy = "this request will not succeed as it is; check the campaign and the provider version"


class UnexpectedStatusError(LeadterraError):
    """Leadterra reported a status CampaignState cannot hold (say ``archived``), or none at all."""

    remedy = (
        "CampaignState holds only running or paused campaigns; check the campaign in the Leadterra "
        "dashboard, or remove its declaration (nothing was recorded in state)"
    )


class RateLimitError(LeadterraError):
    """429 after every retry: the key or workspace is being throttled."""

    remedy = (
        "Leadterra is rate limiting this key; wait a minute, or lower pulumi up --parallel, "
        "then run pulumi up again"
    )


class ServerError(LeadterraError):
    """5xx after every retry: Leadterra (or a proxy in front of it) is failing."""

    remedy = "Leadterra is failing on its side; try again later (start and pause are safe to repeat)"


class APIConnectionError(LeadterraError):
    """No HTTP response at all after every retry: DNS, TCP, TLS or a timeout."""

    remedy = (
        "could not reach Leadterra; check the network and leadterra:baseUrl, then run "
        "pulumi up again (start and pause are safe to repeat)"
    )
