"""Where the API key, base URL and retry budget come from, and which base URLs are safe.

Precedence, highest first: resource input > stack config (``leadterra:*``) > environment
(``LEADTERRA_*``) > default. The key is sent only over https, or to a loopback host (the local
sandbox), so that it never crosses a network in clear.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional
from urllib.parse import urlsplit

from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from .errors import ConfigurationError

__all__ = [
    "DEFAULT_BASE_URL",
    "MISSING_KEY_MESSAGE",
    "key_problem",
    "RetryPolicy",
    "Settings",
    "base_url_problem",
    "campaign_id_problem",
    "is_loopback_url",
    "key_fingerprint",
    "key_kind",
]

DEFAULT_BASE_URL = "https://app.leadterra.co"

_ENV_KEY = "LEADTERRA_API_KEY"
_ENV_BASE_URL = "LEADTERRA_BASE_URL"

MISSING_KEY_MESSAGE = (
    "no Leadterra API key is set: run 'pulumi config set --secret leadterra:apiKey sk_...', "
    "or set the environment variable LEADTERRA_API_KEY, or set api_key on the CampaignState"
)


# (field, stack config key, kind, lowest, highest, lowest allowed itself?)
_RETRY_FIELDS: tuple[tuple[str, str, type, float, float, bool], ...] = (
    ("max_attempts", "maxAttempts", int, 1, 100, True),
    ("base_delay", "retryBaseDelay", float, 0, 60, True),
    ("max_delay", "retryMaxDelay", float, 0, 600, True),
    ("budget", "retryBudget", float, 0, 3600, False),
    ("connect_timeout", "connectTimeout", float, 0, 600, False),
    ("read_timeout", "readTimeout", float, 0, 600, False),
)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard the client tries before giving up.

    Start and pause are idempotent by contract, so retrying them is safe; the budget is still
    bounded so a broken API fails a ``pulumi up`` in well under two minutes instead of hanging it.
    """

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    budget: float = 60.0
    connect_timeout: float = 5.0
    read_timeout: float = 30.0

    def __post_init__(self) -> None:
        # The same rule for a policy built in code as for one read from stack config.
        for field, key, kind, low, high, low_ok in _RETRY_FIELDS:
            problem = _range_problem(getattr(self, field), key, kind, low, high, low_ok)
            if problem:
                raise ConfigurationError(problem)

    @classmethod
    def from_config(cls, get: Any) -> tuple[RetryPolicy, list[tuple[str, str]]]:
        """Build from stack config (``get`` takes keys without the namespace).

        Returns the policy and the problems found, as (config key, sentence) pairs: an unusable
        value falls back to its default here and is reported by ``check``, before any request.
        """
        defaults = cls()
        values: dict[str, Any] = {}
        problems: list[tuple[str, str]] = []
        for field, key, kind, low, high, low_ok in _RETRY_FIELDS:
            raw = get(key)
            values[field] = getattr(defaults, field)
            if raw is None or raw == "":
                continue
            problem = _range_problem(raw, key, kind, low, high, low_ok)
            if problem:
                problems.append((f"leadterra:{key}", f"stack config {problem}"))
                continue
            value = _number(raw, kind)
            values[field] = value
        return cls(**values), problems


def _range_problem(raw: Any, key: str, kind: type, low: float, high: float, low_ok: bool) -> Optional[str]:
    """Why ``raw`` is not a usable value of setting ``key``, naming the accepted range; or None."""
    value = _number(raw, kind)
    if value is not None and (low <= value if low_ok else low < value) and value <= high:
        return None
    kind_name = "a whole number" if kind is int else "a number"
    bound = "from" if low_ok else "above"
    return f"leadterra:{key} is {_shown(raw)}; it must be {kind_name} {bound} {low:g} up to {high:g}"


def _number(raw: Any, kind: type) -> Optional[float]:
    """``raw`` as a finite number of ``kind``, or None (nan, inf, 1.5 for an int, text)."""
    if isinstance(raw, bool):
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(value) or (kind is int and not value.is_integer()):
        return None
    return int(value) if kind is int else value


def _shown(raw: Any) -> str:
    text = repr(raw)
    return text if len(text) <= 40 else text[:37] + "..."


_TRUE = ("true", "1")
_FALSE = ("false", "0")


def _flag(
    stack_value: Any, env_value: Optional[str], key: str, env_name: str
) -> tuple[bool, Optional[tuple[str, str]]]:
    """A boolean setting: the stack's value, else its environment twin, else False.

    The engine hands config over as strings, so ``"true"``/``"false"`` (and ``1``/``0``) are
    accepted; anything else is a problem for ``check`` to report, and counts as False (for
    ``pauseAll`` that would be the unsafe reading, which is why check refuses to go on).
    """
    for raw, where in ((stack_value, f"stack config leadterra:{key}"), (env_value, env_name)):
        if raw is None or raw == "":
            continue
        if isinstance(raw, bool):
            return raw, None
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True, None
        if text in _FALSE:
            return False, None
        return False, (f"leadterra:{key}", f"{where} is {_shown(raw)}; use true or false (or 1/0)")
    return False, None


#: What a URL may contain: printable ASCII, less the backslash. Anything else (a backslash, a
#: space, a tab, a control or non-ASCII character) is read differently by different URL parsers,
#: and the one that decides where the bytes go must be the one that was checked.
#: An API key as an HTTP header carries it: printable ASCII, no space.
_KEY_CHARS = re.compile(r"[\x21-\x7e]+")
_URL_CHARS = re.compile(r"[\x21-\x5b\x5d-\x7e]+")


@dataclass(frozen=True)
class _Url:
    """A URL as the transport will use it (urllib3's parser, the one that picks the socket)."""

    scheme: str
    host: str  # lower case, IPv6 without brackets
    port: Optional[int]
    auth: bool
    path: str  # what either parser reads as the path (urllib3 removes dot segments)
    query: Optional[str]
    fragment: Optional[str]


def _parse_url(url: Any) -> Optional[_Url]:
    """``url`` as urllib3 reads it, or None when it may not be trusted: not a string, a character
    outside printable ASCII (or a backslash), unparseable, or read differently by the standard
    library's ``urlsplit`` (scheme, host, port or user information). One URL must mean one host
    to everything that checks it and to what sends it, or the check protects nothing: urllib3
    reads ``http://leak.example\\[::1]`` as host ``leak.example``, urlsplit as ``::1``."""
    return _parse_str_url(url) if isinstance(url, str) else None


@functools.lru_cache(maxsize=64)
def _parse_str_url(url: str) -> Optional[_Url]:
    # Cached: every check and diff of a run reads the same one or two base URLs (four readings
    # a resource were a quarter of the plugin's CPU per Check and Diff), and a `_Url` is frozen.
    if not _URL_CHARS.fullmatch(url):
        return None
    try:
        parts = parse_url(url)
        split = urlsplit(url)
        split_port = split.port
    except (LocationParseError, ValueError):
        return None
    scheme = (parts.scheme or "").lower()
    host = (parts.host or "").lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    auth = bool(parts.auth)
    if (
        scheme != split.scheme.lower()
        or host != (split.hostname or "")
        or parts.port != split_port
        or auth != bool(split.username or split.password or "@" in split.netloc)
    ):
        return None
    path = split.path if split.path.strip("/") else parts.path or ""
    return _Url(scheme, host, parts.port, auth, path, parts.query, parts.fragment)


def is_loopback_url(url: str) -> bool:
    """True when the URL's host is ``localhost``, in 127.0.0.0/8 or ``::1``, as the transport
    reads it; False for any URL whose host is in doubt (see `_parse_url`)."""
    return _is_loopback(url) if isinstance(url, str) else False


@functools.lru_cache(maxsize=64)
def _is_loopback(url: str) -> bool:
    parts = _parse_url(url)
    if parts is None:
        return False
    if parts.host == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.host).is_loopback
    except ValueError:
        return False


def base_url_problem(url: str) -> Optional[str]:
    """Why ``url`` may not receive the API key, or None when it may.

    The sentence names the part that is wrong and shows at most the URL's scheme and host: a URL
    refused for carrying a credential must not repeat it in a CI log. The URL is read by the
    transport's own parser, and refused when another parser would read another host.
    """
    if not isinstance(url, str):
        return _BAD_URL_CHARS
    return _str_url_problem(url)


_BAD_URL_CHARS = (
    "the base URL contains a character that is not allowed (a backslash, a space, a "
    "control or non-ASCII character): URL parsers disagree on where such a URL goes"
)


@functools.lru_cache(maxsize=64)
def _str_url_problem(url: str) -> Optional[str]:
    # Cached as `_parse_str_url` is: every Check of a run asks about the same one or two URLs.
    if not _URL_CHARS.fullmatch(url):
        return _BAD_URL_CHARS
    parts = _parse_url(url)
    if parts is None:
        return "the base URL is not a well-formed URL (or URL parsers read different hosts in it)"
    host = parts.host
    if parts.scheme not in ("https", "http") or not host:
        return "the base URL must be an http(s) URL with a host, like https://app.leadterra.co"
    origin = f"{parts.scheme}://{f'[{host}]' if ':' in host else host}"
    if parts.auth:
        return (
            f"the base URL for {origin} carries user information (user:password@); that part is not "
            "allowed: the key belongs in leadterra:apiKey"
        )
    if parts.query is not None or parts.fragment is not None:
        part = "a query (?...)" if parts.query is not None else "a fragment (#...)"
        return f"the base URL for {origin} has {part}; that part is not allowed in a base URL"
    if parts.path.strip("/"):
        # The provider adds /v1/campaigns/...; a path here would double it, and the API's 404 for
        # that URL would say nothing about the campaign.
        return (
            f"the base URL for {origin} has a path; use the API's root, like {origin}{_port(parts)} "
            "(the provider adds /v1/... itself)"
        )
    if parts.scheme == "http" and not is_loopback_url(url):
        return (
            f"base URL {origin} is plain http: the API key would cross the network in clear, "
            "so only https is allowed (plain http only for localhost/127.0.0.1/::1)"
        )
    return None


def _port(parts: Any) -> str:
    return f":{parts.port}" if parts.port else ""


_CAMPAIGN_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


def campaign_id_problem(value: Any) -> Optional[str]:
    """Why ``value`` is not a campaign id we will put in a URL path, or None when it is fine.

    The provider's check applies it to inputs, and the client to every id it sends (ids from
    state never went through check): no dot, so no ``.``/``..`` segment a URL parser resolves.
    """
    if isinstance(value, str) and _CAMPAIGN_ID.fullmatch(value):
        return None
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    return (
        f"campaign_id must be 1-128 characters, each a letter, digit, '_' or '-' (like camp_123); got {shown}"
    )


def key_problem(key: Any) -> Optional[str]:
    """What is wrong with an API key, in words that never repeat it; None when it is usable.

    An HTTP header safely carries printable ASCII without line breaks: a key pasted with a
    trailing newline would otherwise fail deep inside requests, looking like a network error.
    """
    if not isinstance(key, str) or not key.strip():
        return "must be a non-empty string"
    if key != key.strip():
        return "has leading or trailing whitespace (a pasted newline?); remove it"
    if _KEY_CHARS.fullmatch(key):  # the common case, in one pass (every Check reads the key)
        return None
    if any(ch.isspace() for ch in key):
        return "contains whitespace; an API key is one word"
    return "contains a character that is not printable ASCII, so it cannot be sent in a header"


@functools.lru_cache(maxsize=16)
def key_fingerprint(key: str) -> str:
    """What state records of a key from stack config or the environment: enough to tell that it
    changed (a rotation shows as an update), nothing to authenticate with.

    The first 64 bits of its SHA-256: an API key is a long random string, so this cannot be
    turned back into it, and two keys of one stack do not collide in practice.
    """
    # Cached: every Check of a run hashes the run's one key (a rotation adds a second).
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()[:16]


def key_kind(key: str) -> str:
    """``live``, ``test`` or ``other``: the part of a key that is no secret (its prefix)."""
    if key.startswith("sk_live_"):
        return "live"
    return "test" if key.startswith("sk_test_") else "other"


#: Where a key came from, as recorded in state (``api_key_source``).
KeySource = str


@dataclass(frozen=True)
class Settings:
    """What the stack config and environment say, read once per plugin process.

    ``problems`` lists unusable values as (config key, sentence); ``check`` reports them before
    any request, and nothing that sends a request runs while there are any.
    """

    api_key: Optional[str] = None
    api_key_source: Optional[KeySource] = None
    base_url: Optional[str] = None
    #: Where ``base_url`` came from, so that a problem with it names what the user set.
    base_url_source: Optional[str] = None
    retry: RetryPolicy = RetryPolicy()
    heal: bool = False
    heal_all: bool = False
    pause_all: bool = False
    preflight: bool = False
    problems: tuple[tuple[str, str], ...] = ()

    @classmethod
    def load(
        cls, config_get: Any = None, environ: Mapping[str, str] = os.environ, config_source: str = "config"
    ) -> Settings:
        """Read configuration through ``config_get`` (None outside the engine), then the env.

        ``config_source`` says what ``config_get`` reads: ``config``, the stack's ``leadterra:``
        config (the default provider), or ``provider``, an explicit provider's own properties.
        """
        get = config_get or (lambda _key: None)
        config_key = get("leadterra:apiKey") or None
        env_key = environ.get(_ENV_KEY) or None
        key, source = (config_key, config_source) if config_key else (env_key, "environment")
        problems: list[tuple[str, str]] = []
        if key is not None:
            problem = key_problem(key)
            if problem:
                where = {"config": "stack config leadterra:apiKey", "provider": "the provider's apiKey"}.get(
                    source, _ENV_KEY
                )
                problems.append(("api_key", f"the API key in {where} {problem}"))
        retry, retry_problems = RetryPolicy.from_config(lambda name: get(f"leadterra:{name}"))
        problems.extend(retry_problems)
        flags: dict[str, bool] = {}
        for field, name, env_name in (
            ("heal", "heal", "LEADTERRA_HEAL"),
            ("heal_all", "healAll", "LEADTERRA_HEAL_ALL"),
            ("pause_all", "pauseAll", "LEADTERRA_PAUSE_ALL"),
            ("preflight", "preflight", "LEADTERRA_PREFLIGHT"),
        ):
            stack_value = get(f"leadterra:{name}")
            flags[field], flag_problem = _flag(stack_value, environ.get(env_name), name, env_name)
            if flag_problem:
                problems.append(flag_problem)
        config_url, env_url = get("leadterra:baseUrl") or None, environ.get(_ENV_BASE_URL) or None
        return cls(
            api_key=key,
            api_key_source=source if key else None,
            base_url=config_url or env_url,
            base_url_source=(
                "stack config leadterra:baseUrl" if config_url else _ENV_BASE_URL if env_url else None
            ),
            retry=retry,
            problems=tuple(problems),
            **flags,
        )

    def resolve_key(self, input_key: Optional[str]) -> tuple[str, KeySource]:
        """The key for one resource and where it came from; raises naming all three ways."""
        if input_key:
            return input_key, "input"
        if not self.api_key or not self.api_key_source:
            raise ConfigurationError(MISSING_KEY_MESSAGE)
        return self.api_key, self.api_key_source

    def resolve_base_url(self, input_url: Optional[str]) -> str:
        """The base URL for one resource, refused when it would expose the key."""
        url = (input_url or self.base_url or DEFAULT_BASE_URL).rstrip("/")
        problem = base_url_problem(url)
        if problem:
            where = None if input_url else self.base_url_source
            raise ConfigurationError(f"{where}: {problem}" if where else problem)
        return url

    def raise_problems(self) -> None:
        """Refuse to send anything while a setting is unusable (check has already said why)."""
        if self.problems:
            raise ConfigurationError("; ".join(sentence for _key, sentence in self.problems))

    def __repr__(self) -> str:
        # The dataclass repr would print the key.
        key = f"<from {self.api_key_source}>" if self.api_key else "<unset>"
        return (
            f"Settings(api_key={key}, base_url={self.base_url!r}, retry={self.retry!r}, "
            f"heal={self.heal}, heal_all={self.heal_all}, pause_all={self.pause_all}, "
            f"preflight={self.preflight}, "
            f"problems={len(self.problems)})"
        )
