"""Where the API key, base URL and retry budget come from, and which base URLs are safe.

Precedence, highest first: resource input > stack config (``leadterra:*``) > environment
(``LEADTERRA_*``) > default. The key is sent only over https, or to a loopback host (the local
sandbox), so that it never crosses a network in clear.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional
from urllib.parse import urlsplit

from .errors import ConfigurationError

__all__ = [
    "DEFAULT_BASE_URL",
    "RetryPolicy",
    "Settings",
    "base_url_problem",
    "is_loopback_url",
]

DEFAULT_BASE_URL = "https://app.leadterra.co"

_ENV_KEY = "LEADTERRA_API_KEY"
_ENV_BASE_URL = "LEADTERRA_BASE_URL"

MISSING_KEY_MESSAGE = (
    "no Leadterra API key is set: run 'pulumi config set --secret leadterra:apiKey sk_...', "
    "or set the environment variable LEADTERRA_API_KEY, or pass api_key= to CampaignState"
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

    @classmethod
    def from_config(cls, get: Any) -> RetryPolicy:
        """Build from stack config; ``get`` is ``Config.get`` (keys without the namespace)."""
        defaults = cls()
        values: dict[str, Any] = {}
        for field, key, kind in (
            ("max_attempts", "maxAttempts", int),
            ("base_delay", "retryBaseDelay", float),
            ("max_delay", "retryMaxDelay", float),
            ("budget", "retryBudget", float),
            ("connect_timeout", "connectTimeout", float),
            ("read_timeout", "readTimeout", float),
        ):
            raw = get(key)
            if raw is None or raw == "":
                values[field] = getattr(defaults, field)
                continue
            try:
                value = kind(raw)
            except (TypeError, ValueError):
                raise ConfigurationError(
                    f"stack config leadterra:{key} is {raw!r}, which is not a number"
                ) from None
            if value < (1 if kind is int else 0):
                raise ConfigurationError(f"stack config leadterra:{key} must be positive")
            values[field] = value
        return cls(**values)


def is_loopback_url(url: str) -> bool:
    """True when the URL's host is ``localhost``, in 127.0.0.0/8 or ``::1``."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def base_url_problem(url: str) -> Optional[str]:
    """Why ``url`` may not receive the API key, or None when it may."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return f"base URL {url!r} is not an http(s) URL with a host"
    if parts.username or parts.password:
        return "the base URL must not carry credentials; use leadterra:apiKey for the key"
    if parts.query or parts.fragment:
        return f"base URL {url!r} must not have a query or fragment"
    if parts.scheme == "http" and not is_loopback_url(url):
        return (
            f"base URL {url!r} is plain http: the API key would cross the network in clear, "
            "so only https is allowed (plain http only for localhost/127.0.0.1/::1)"
        )
    return None


@dataclass(frozen=True)
class Settings:
    """What the stack config and environment say, read once per plugin process."""

    api_key: Optional[str] = None
    base_url: Optional[str] = None
    retry: RetryPolicy = RetryPolicy()

    @classmethod
    def load(cls, config_get: Any = None, environ: Mapping[str, str] = os.environ) -> Settings:
        """Read stack config through ``config_get`` (None outside the engine), then the env."""
        get = config_get or (lambda _key: None)
        return cls(
            api_key=get("leadterra:apiKey") or environ.get(_ENV_KEY) or None,
            base_url=get("leadterra:baseUrl") or environ.get(_ENV_BASE_URL) or None,
            retry=RetryPolicy.from_config(lambda key: get(f"leadterra:{key}")),
        )

    def resolve_key(self, input_key: Optional[str]) -> str:
        """The key to use for one resource; raises with all three ways to set one."""
        key = input_key or self.api_key
        if not key:
            raise ConfigurationError(MISSING_KEY_MESSAGE)
        return key

    def resolve_base_url(self, input_url: Optional[str]) -> str:
        """The base URL for one resource, refused when it would expose the key."""
        url = (input_url or self.base_url or DEFAULT_BASE_URL).rstrip("/")
        problem = base_url_problem(url)
        if problem:
            raise ConfigurationError(problem)
        return url

    def __repr__(self) -> str:
        # The dataclass repr would print the key.
        key = "set" if self.api_key else "unset"
        return f"Settings(api_key=<{key}>, base_url={self.base_url!r}, retry={self.retry!r})"
