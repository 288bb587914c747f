"""Which handler answers which request: the sandbox's one routing table."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Optional

__all__ = ["ApiError", "Handler", "ID_PATTERN", "route"]

ID_PATTERN = r"[A-Za-z0-9_-]{1,128}"
_ID = rf"(?P<id>{ID_PATTERN})"

#: A handler takes the server's context, the campaign id from the path (or None) and the parsed
#: JSON body (or None), and returns (HTTP status, JSON payload).
Handler = Callable[[Any, Any, Any], tuple[int, Any]]


class ApiError(Exception):
    """An answer with an error body: HTTP status, API code and message (and any headers it needs,
    such as a 405's ``Allow``)."""

    def __init__(
        self, status: int, code: str, message: str, headers: Optional[dict[str, str]] = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


def _table() -> list[tuple[str, re.Pattern[str], Handler]]:
    from . import admin, api

    return [
        ("POST", re.compile(r"/v1/campaigns"), api.create),
        ("POST", re.compile(rf"/v1/campaigns/{_ID}/start"), api.start),
        ("POST", re.compile(rf"/v1/campaigns/{_ID}/pause"), api.pause),
        ("GET", re.compile(rf"/v1/campaigns/{_ID}/stats"), api.stats),
        ("POST", re.compile(rf"/v1/campaigns/{_ID}/leads/bulk"), api.leads),
        ("GET", re.compile(r"/v1/sender-pools"), api.pools),
        ("GET", re.compile(rf"/_sandbox/campaigns/{_ID}"), admin.get_campaign),
        ("PUT", re.compile(rf"/_sandbox/campaigns/{_ID}"), admin.put_campaign),
        ("DELETE", re.compile(rf"/_sandbox/campaigns/{_ID}"), admin.delete_campaign),
        ("POST", re.compile(r"/_sandbox/faults"), admin.add_faults),
        ("DELETE", re.compile(r"/_sandbox/faults"), admin.clear_faults),
        ("POST", re.compile(r"/_sandbox/settings"), admin.change_settings),
        ("GET", re.compile(r"/_sandbox/requests"), admin.list_requests),
        ("DELETE", re.compile(r"/_sandbox/requests"), admin.clear_requests),
    ]


_ROUTES: list[tuple[str, re.Pattern[str], Handler]] = []


def route(method: str, path: str) -> tuple[Handler, re.Match[str]]:
    """The handler for ``method path``, with the path's match. An ApiError when none: 405 with
    ``Allow`` when the path is known but takes other methods, 404 when the path is unknown."""
    if not _ROUTES:
        _ROUTES.extend(_table())
    allowed: list[str] = []
    for verb, pattern, handler in _ROUTES:
        match = pattern.fullmatch(path)
        if match and verb == method:
            return handler, match
        if match:
            allowed.append(verb)
    if allowed:
        allow = ", ".join(allowed)
        message = f"{method[:20]} is not allowed on {path}; use {allow}"
        raise ApiError(405, "method_not_allowed", message, {"Allow": allow})
    raise ApiError(404, "not_found", f"no route for {method[:20]} {path}")
