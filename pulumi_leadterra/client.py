"""The one HTTP client: the endpoints, the retry loop, and error mapping.

Every call goes through :meth:`LeadterraClient._request`, so there is exactly one retry loop and
one error parser in the package. How bytes travel (proxies, credentials, the deadline of a call)
is decided in one other place, :mod:`.transport`; whether to try again, and when, in
``_should_retry`` and ``_retry_delay``.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import random
import re
import time
from collections.abc import Callable
from datetime import UTC
from typing import Any, Optional
from urllib.parse import quote

from urllib3.exceptions import HTTPError

from ._version import __version__
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
    Secrets,
    ServerError,
)
from .settings import RetryPolicy, base_url_problem, campaign_id_problem, is_loopback_url, key_problem
from .transport import MAX_REPLY_BYTES, Cancellation, Deadline, Reply, Transport

__all__ = ["LeadterraClient", "USER_AGENT", "remaining_capacity"]

USER_AGENT = f"pulumi-leadterra/{__version__}"
_log = logging.getLogger("pulumi_leadterra")

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
    EndpointNotFoundError: "Leadterra answered 404 without campaign_not_found, so the URL is wrong",
    AuthenticationError: "the API key was refused",
}


#: The jitter added after a Retry-After, as a fraction of the wait (see `_retry_delay`).
_RETRY_AFTER_SPREAD = 0.25
_DELTA_SECONDS = re.compile(r"[0-9]{1,10}")  # ASCII digits only: "²".isdigit() is True


def _retry_after_seconds(value: Optional[str], now: float) -> Optional[float]:
    """``Retry-After`` as delta-seconds or an HTTP date; None when absent or unreadable, so that
    a garbage value falls back to our own back-off instead of failing the call."""
    if not value:
        return None
    value = value.strip()
    if _DELTA_SECONDS.fullmatch(value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


#: How deep a reply's JSON may nest. A campaign's answer is two levels deep; a body nested a
#: thousand levels (which ``json`` refuses with RecursionError) is not an answer.
_MAX_DEPTH = 32
_LARGEST_INT = 2**53  # what a JSON number (an IEEE double) holds exactly
_NOT_JSON = object()
_ENCODED = (
    "Leadterra answered with a {0}-encoded body, which the provider asked not to get (it asks for "
    "identity) and does not decode"
)
_OVERSIZED = (
    f"Leadterra answered with a body over {MAX_REPLY_BYTES >> 20} MiB (a campaign's answer is a few "
    "hundred bytes), which the provider does not read"
)


def _int(text: str) -> Optional[int]:
    # A number no double can hold (stats.sent with 400 digits) is no count: null, not a crash
    # (float() of it raises OverflowError) nor a 4300-digit int() error.
    if len(text) > 20:
        return None
    value = int(text)
    return value if -_LARGEST_INT <= value <= _LARGEST_INT else None


def _float(text: str) -> Optional[float]:
    value = float(text)  # "1e400" is inf, not an error
    return value if math.isfinite(value) else None


def _clean(value: Any, secrets: Secrets, depth: int = 0) -> Any:
    """``value`` with every string scrubbed of the keys; raises ValueError past `_MAX_DEPTH`."""
    if depth > _MAX_DEPTH:
        raise ValueError("nests too deep")
    if isinstance(value, str):
        return secrets.scrub(value)
    if isinstance(value, dict):
        return {secrets.scrub(k): _clean(v, secrets, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(item, secrets, depth + 1) for item in value]
    return value


def _decode(reply: Reply, secrets: Secrets) -> Any:
    """The reply's JSON, numbers a double cannot hold as null, every string scrubbed of the
    keys; `_NOT_JSON` for a body that is not (compressed, oversized, malformed, too deep)."""
    if reply.oversized or reply.encoding or not reply.body:
        return _NOT_JSON
    try:
        parsed = json.loads(
            reply.body, parse_int=_int, parse_float=_float, parse_constant=lambda _name: None
        )
        return _clean(parsed, secrets)
    except (ValueError, RecursionError):
        return _NOT_JSON


def _request_id(reply: Reply, secrets: Secrets) -> Optional[str]:
    value = reply.headers.get("X-Request-Id")
    return secrets.scrub(value)[:200] if value else None


def _parse_error_body(reply: Reply, secrets: Secrets) -> tuple[Optional[str], Optional[str]]:
    """(code, message) from either documented error shape, or (None, None) for other bodies."""
    body = _decode(reply, secrets)
    if not isinstance(body, dict):
        return None, None
    inner = body.get("error")
    source = inner if isinstance(inner, dict) else body
    code = source.get("code")
    message = source.get("message")
    return (
        code[:200] if isinstance(code, str) and code else None,
        message[:2000] if isinstance(message, str) and message else None,
    )


def _error_class(status: int, code: Optional[str]) -> type[LeadterraError]:
    """The HTTP status decides first; a code only refines a 400-family answer.

    A body saying ``campaign_not_found`` on a 401 or a 500 (a proxy, a confused gateway) is not
    evidence that the campaign is gone, and a refresh must never drop state on it.
    """
    if status == 401:
        return AuthenticationError
    if status == 404:
        return CampaignNotFoundError if code == "campaign_not_found" else EndpointNotFoundError
    if status == 429:
        return RateLimitError
    if status >= 500:
        return ServerError
    return _BY_CODE.get(code or "", InvalidRequestError)


def _error_for(reply: Reply, campaign_id: Optional[str], secrets: Secrets) -> LeadterraError:
    code, message = _parse_error_body(reply, secrets)
    status = reply.status
    cls = _error_class(status, code)
    if not message:
        message = _DEFAULT_MESSAGES.get(cls) or f"Leadterra answered HTTP {status}"
    return cls(
        message,
        campaign_id=campaign_id,
        http_status=status,
        code=code,
        request_id=_request_id(reply, secrets),
    )


def _refused(exc: BaseException) -> bool:
    """Whether a failed request never connected because nothing listens there (urllib3 wraps
    the socket's ConnectionRefusedError, sometimes twice)."""
    seen: Optional[BaseException] = exc
    for _ in range(6):
        if seen is None:
            return False
        if isinstance(seen, ConnectionRefusedError):
            return True
        reason = getattr(seen, "reason", None)
        seen = reason if isinstance(reason, BaseException) else (seen.__cause__ or seen.__context__)
    return False


def _should_retry(response: Optional[Reply]) -> bool:
    """Retry what may succeed next time: no answer at all, a 429, or a 5xx. Start and pause are
    idempotent by contract, so repeating them is safe; any other 4xx will not change."""
    return response is None or response.status == 429 or response.status >= 500


def _json_object(reply: Reply, campaign_id: Optional[str], secrets: Secrets) -> dict[str, Any]:
    body = _decode(reply, secrets)
    if not isinstance(body, dict):
        if reply.oversized:
            what = _OVERSIZED
        elif reply.encoding:
            what = _ENCODED.format(reply.encoding[:20])
        else:
            what = "Leadterra answered 2xx with a body that is not a JSON object (or nests too deep)"
        raise InvalidRequestError(
            what,
            campaign_id=campaign_id,
            http_status=reply.status,
            request_id=_request_id(reply, secrets),
        )
    return body


#: The two spellings Leadterra's documentation gives for ``GET /v1/sender-pools``: the list's key,
#: and each pool's remaining volume for today.
_POOL_SPELLINGS = (("senderPools", "remainingToday"), ("pools", "remainingVolume"))


def remaining_capacity(body: dict[str, Any]) -> list[tuple[str, float]]:
    """(pool, remaining volume today) for each sender pool in a ``GET /v1/sender-pools`` reply.

    The documentation spells the reply two ways (``senderPools``/``remainingToday`` and
    ``pools``/``remainingVolume``); both are read. Anything else (neither key, both, a pool
    without its spelling's field, a count that is not a finite number) is refused with a sentence
    saying what was expected: a guess about capacity would be worse than none.
    """
    present = [(key, field) for key, field in _POOL_SPELLINGS if key in body]
    expected = "senderPools[].remainingToday or pools[].remainingVolume"
    if len(present) != 1:
        found = ", ".join(sorted(str(key)[:40] for key in body)[:8]) or "nothing"
        raise LeadterraError(f"GET /v1/sender-pools answered with {found}; expected {expected}")
    key, field = present[0]
    pools = body[key]
    if not isinstance(pools, list):
        raise LeadterraError(f"GET /v1/sender-pools answered {key} that is not a list; expected {expected}")
    capacity: list[tuple[str, float]] = []
    for index, pool in enumerate(pools):
        remaining = pool.get(field) if isinstance(pool, dict) else None
        valid = isinstance(remaining, int | float) and not isinstance(remaining, bool)
        if not valid or not math.isfinite(float(remaining)):  # type: ignore[arg-type]
            raise LeadterraError(
                f"GET /v1/sender-pools answered {key}[{index}] without a number in {field}; "
                f"expected {expected}"
            )
        name = next((pool[n] for n in ("name", "id") if isinstance(pool.get(n), str) and pool[n]), None)
        capacity.append((str(name or f"{key}[{index}]")[:80], float(remaining)))  # type: ignore[arg-type]
    return capacity


class LeadterraClient:
    """A small, thread-safe client for the endpoints this provider uses.

    Construct one per (base URL, key, policy). It holds a credential, so it refuses to be
    pickled, and its repr shows only the base URL. Everything it returns or raises that came
    from a reply is scrubbed of its key and of every other key in ``secrets`` (shared by the
    clients of one process).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        retry: Optional[RetryPolicy] = None,
        *,
        sleep: Optional[Callable[[float], None]] = None,
        cancellation: Optional[Cancellation] = None,
        secrets: Optional[Secrets] = None,
    ) -> None:
        problem = base_url_problem(base_url)
        if problem:
            raise ConfigurationError(problem)
        problem = key_problem(api_key)
        if problem:
            raise ConfigurationError(f"the API key {problem}")
        self._base_url = base_url.rstrip("/")
        self._headers = {
            "Authorization": f"Bearer {api_key}",
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._cancellation = cancellation or Cancellation()
        self._secrets = secrets or Secrets()
        self._secrets.add(api_key)
        self._transport = Transport()

    def __repr__(self) -> str:
        return f"LeadterraClient(base_url={self._base_url!r})"

    def _refused_reason(self) -> str:
        """A refused connection names where it went (a base URL holds no credential: see
        `base_url_problem`) and, on loopback, the likely cause: no sandbox listening there."""
        hint = (
            "; is the sandbox running? (make sandbox, or .venv/bin/leadterra-sandbox --port PORT)"
            if is_loopback_url(self._base_url)
            else ""
        )
        return f"{self._base_url} refused the connection{hint}"

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

    def sender_pools(self) -> dict[str, Any]:
        """``GET /v1/sender-pools``: remaining sending capacity per pool, as the API spells it
        (read it with `remaining_capacity`)."""
        return self._send("GET", f"{self._base_url}/v1/sender-pools", "sender-pools", None)

    def _backoff(self, attempt: int) -> float:
        """Full jitter: a uniform wait between 0 and the exponential ceiling, so that parallel
        resources retrying after one outage spread out instead of arriving in lockstep."""
        ceiling = min(self._retry.max_delay, self._retry.base_delay * (2 ** (attempt - 1)))
        return random.uniform(0, ceiling)  # noqa: S311 - jitter, not cryptography

    def _retry_delay(self, attempt: int, response: Optional[Reply], remaining: float = math.inf) -> float:
        """How long to wait before the next attempt: the server's Retry-After, else back-off.

        Retry-After is a floor, never a schedule: a 429 answered to 32 parallel resources names
        the same instant for all of them, and retrying exactly then would bring the same burst
        back. So a jitter of up to a quarter of the wait (at least ``base_delay``, at most
        ``max_delay``) is added on top; never less than the server asked, and never so much that
        a wait that fits in the ``remaining`` budget no longer does (half of what is left).
        """
        if response is not None:
            wait = _retry_after_seconds(response.headers.get("Retry-After"), time.time())
            if wait is not None:
                spread = min(self._retry.max_delay, max(self._retry.base_delay, wait * _RETRY_AFTER_SPREAD))
                spread = min(spread, max(0.0, (remaining - wait) / 2))
                return wait + random.uniform(0, spread)  # noqa: S311 - jitter, not cryptography
        return self._backoff(attempt)

    def _request(self, method: str, campaign_id: str, action: str) -> dict[str, Any]:
        """One call: attempts until success, a final answer, the attempt count or the budget.

        The budget bounds the whole call, requests in flight and bodies included: worst case,
        it returns ``retryBudget`` seconds after it began, plus the moment a socket takes to
        close.
        """
        # campaign_id is validated by the provider's check; this is the second fence, for ids
        # that never went through check (refresh and destroy take them from state): "." or
        # ".." would be a dot segment that urllib3 resolves (POST /v1/start), so nothing but
        # the check's own alphabet reaches the path, quoted all the same.
        problem = campaign_id_problem(campaign_id)
        if problem:
            raise ConfigurationError(
                f"refusing to send {method} {action} for this campaign id: {problem} (nothing was sent)"
            )
        url = f"{self._base_url}/v1/campaigns/{quote(campaign_id, safe='')}/{action}"
        return self._send(method, url, action, campaign_id)

    def _send(self, method: str, url: str, action: str, campaign_id: Optional[str]) -> dict[str, Any]:
        policy, cancellation = self._retry, self._cancellation
        if cancellation.is_set:
            raise CancelledError("cancelled before the request was sent", campaign_id=campaign_id)
        deadline = Deadline(policy.budget)
        cancellation.track(deadline)
        try:
            return self._attempts(method, url, action, campaign_id, deadline)
        finally:
            cancellation.untrack(deadline)
            deadline.close()

    def _attempts(
        self, method: str, url: str, action: str, campaign_id: Optional[str], deadline: Deadline
    ) -> dict[str, Any]:
        policy, cancellation = self._retry, self._cancellation
        attempt = 0
        while True:
            attempt += 1
            response: Optional[Reply] = None
            try:
                response = self._transport.send(
                    method, url, self._headers, deadline, policy.connect_timeout, policy.read_timeout
                )
            except (HTTPError, OSError) as exc:
                if cancellation.is_set:
                    raise CancelledError(
                        f"cancelled while waiting for Leadterra's answer to {method} {action}",
                        campaign_id=campaign_id,
                    ) from None
                reason = (
                    f"no complete answer within the retry budget of {policy.budget:g} s "
                    "(leadterra:retryBudget)"
                    if deadline.expired or deadline.remaining() <= 0
                    else self._refused_reason()
                    if _refused(exc)
                    else f"request failed before any HTTP response ({type(exc).__name__})"
                )
                error: LeadterraError = APIConnectionError(reason, campaign_id=campaign_id)
            else:
                # Method, action, id and status only: never a header, so never the key.
                _log.debug(
                    "%s %s %s: HTTP %s (attempt %d)", method, action, campaign_id, response.status, attempt
                )
                if 200 <= response.status < 300:
                    return _json_object(response, campaign_id, self._secrets)
                error = _error_for(response, campaign_id, self._secrets)
            if not _should_retry(response):
                raise error from None
            wait = self._retry_delay(attempt, response, deadline.remaining())
            if attempt >= policy.max_attempts or wait >= deadline.remaining():
                raise error.gave_up(attempt) from None
            if self._sleep is not None:
                self._sleep(wait)
            if cancellation.wait(0 if self._sleep is not None else wait):
                raise CancelledError(
                    f"cancelled after attempt {attempt} ({error.api_message}); no retry was sent",
                    campaign_id=campaign_id,
                ) from None
