"""The one HTTP client: requests, timeouts, retries with back-off, and error mapping.

Everything that touches the network goes through :meth:`LeadterraClient._request`, so there is
exactly one retry loop and one error parser in the package.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Callable
from typing import Any, Optional
from urllib.parse import quote

import requests

from ._version import __version__
from .errors import (
    APIConnectionError,
    AuthenticationError,
    CampaignNotFoundError,
    ConfigurationError,
    InvalidRequestError,
    LeadterraError,
    NoLeadsEnrolledError,
    NoSequenceStepsError,
    RateLimitError,
    ServerError,
)
from .settings import RetryPolicy, base_url_problem

__all__ = ["LeadterraClient", "USER_AGENT"]

USER_AGENT = f"pulumi-leadterra/{__version__}"

# Within the 4xx answers that are not 401/404/429, the documented codes that refine the meaning.
_BY_CODE: dict[str, type[LeadterraError]] = {
    "no_leads_enrolled": NoLeadsEnrolledError,
    "no_sequence_steps": NoSequenceStepsError,
    "invalid_request": InvalidRequestError,
}

_DEFAULT_MESSAGES = {
    NoLeadsEnrolledError: "has no enrolled leads",
    NoSequenceStepsError: "has no sequence steps",
    CampaignNotFoundError: "was not found",
    AuthenticationError: "the API key was refused",
}


def _retry_after_seconds(value: Optional[str], now: float) -> Optional[float]:
    """Parse ``Retry-After`` as delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now)


def _parse_error_body(response: requests.Response) -> tuple[Optional[str], Optional[str]]:
    """(code, message) from either documented error shape, or (None, None) for other bodies."""
    try:
        body = response.json()
    except ValueError:
        return None, None
    if not isinstance(body, dict):
        return None, None
    inner = body.get("error")
    source = inner if isinstance(inner, dict) else body
    code = source.get("code")
    message = source.get("message")
    return (
        code if isinstance(code, str) and code else None,
        message if isinstance(message, str) and message else None,
    )


def _error_class(status: int, code: Optional[str]) -> type[LeadterraError]:
    """The HTTP status decides first; a code only refines a 400-family answer.

    A body saying ``campaign_not_found`` on a 401 or a 500 (a proxy, a confused gateway) is not
    evidence that the campaign is gone, and a refresh must never drop state on it.
    """
    if status == 401:
        return AuthenticationError
    if status == 404:
        return CampaignNotFoundError
    if status == 429:
        return RateLimitError
    if status >= 500:
        return ServerError
    return _BY_CODE.get(code or "", InvalidRequestError)


def _error_for(response: requests.Response, campaign_id: Optional[str]) -> LeadterraError:
    code, message = _parse_error_body(response)
    status = response.status_code
    cls = _error_class(status, code)
    if not message:
        message = _DEFAULT_MESSAGES.get(cls) or f"Leadterra answered HTTP {status}"
    return cls(
        message,
        campaign_id=campaign_id,
        http_status=status,
        code=code,
        request_id=response.headers.get("X-Request-Id"),
    )


def _retryable(response: requests.Response) -> bool:
    return response.status_code == 429 or response.status_code >= 500


class LeadterraClient:
    """A small, thread-safe client for the endpoints this provider uses.

    Construct one per (base URL, key, policy); the underlying ``requests.Session`` is created on
    first use so that a client never ends up inside a pickled provider.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        retry: Optional[RetryPolicy] = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        problem = base_url_problem(base_url)
        if problem:
            raise ConfigurationError(problem)
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"LeadterraClient(base_url={self._base_url!r})"

    def __getstate__(self) -> Any:
        raise TypeError("LeadterraClient holds a credential and must not be pickled")

    @property
    def base_url(self) -> str:
        return self._base_url

    def start(self, campaign_id: str) -> dict[str, Any]:
        """``POST /v1/campaigns/:id/start``: draft or paused becomes running; running is a no-op."""
        return self._request("POST", campaign_id, "start")

    def pause(self, campaign_id: str) -> dict[str, Any]:
        """``POST /v1/campaigns/:id/pause``: running becomes paused; paused or draft is a no-op."""
        return self._request("POST", campaign_id, "pause")

    def stats(self, campaign_id: str) -> dict[str, Any]:
        """``GET /v1/campaigns/:id/stats``: metrics only; the API reports no status here."""
        return self._request("GET", campaign_id, "stats")

    def _session(self) -> requests.Session:
        # One session per thread: the engine calls the plugin from 4 worker threads, and
        # requests.Session is not documented as thread-safe.
        session: Optional[requests.Session] = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers.update(
                {
                    "Authorization": f"Bearer {self._api_key}",
                    "User-Agent": USER_AGENT,
                    "Accept": "application/json",
                    "Content-Type": "application/json",
                }
            )
            adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=4)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            self._local.session = session
        return session

    def _backoff(self, attempt: int) -> float:
        """Full-jitter exponential back-off, so parallel resources do not retry in lockstep."""
        ceiling = min(self._retry.max_delay, self._retry.base_delay * (2 ** (attempt - 1)))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not cryptography

    def _request(self, method: str, campaign_id: str, action: str) -> dict[str, Any]:
        # campaign_id is validated by the provider's check; quoting is a second fence so that
        # no id can ever reach another path.
        url = f"{self._base_url}/v1/campaigns/{quote(campaign_id, safe='')}/{action}"
        policy = self._retry
        deadline = time.monotonic() + policy.budget
        attempt = 0
        while True:
            attempt += 1
            error: LeadterraError
            wait: Optional[float] = None
            try:
                response = self._session().request(
                    method,
                    url,
                    timeout=(policy.connect_timeout, policy.read_timeout),
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                error = APIConnectionError(
                    f"request failed before any HTTP response ({type(exc).__name__})",
                    campaign_id=campaign_id,
                )
            else:
                if 200 <= response.status_code < 300:
                    try:
                        body = response.json()
                    except ValueError:
                        body = None
                    if not isinstance(body, dict):
                        raise InvalidRequestError(
                            "Leadterra answered 2xx with a body that is not a JSON object",
                            campaign_id=campaign_id,
                            http_status=response.status_code,
                            request_id=response.headers.get("X-Request-Id"),
                        )
                    return body
                error = _error_for(response, campaign_id)
                if not _retryable(response):
                    raise error from None
                wait = _retry_after_seconds(response.headers.get("Retry-After"), time.time())
            if wait is None:
                wait = self._backoff(attempt)
            if attempt >= policy.max_attempts or time.monotonic() + wait > deadline:
                raise error.gave_up(attempt) from None
            self._sleep(wait)
