"""The ``/_sandbox`` admin API, which real Leadterra does not have, and the run-time knobs it sets.

Everything it accepts is validated here, before it is stored: a fault or a setting that would
later break every ``/v1`` request is refused with a 400 naming the field instead.
"""

from __future__ import annotations

import math
import re
import threading
from datetime import UTC, datetime
from typing import Any, Optional

from .api import public, resume
from .routes import ApiError
from .store import new_campaign, transition_time

__all__ = [
    "HEADER_VALUE",
    "Runtime",
    "add_faults",
    "change_settings",
    "clear_faults",
    "clear_requests",
    "delete_campaign",
    "get_campaign",
    "list_requests",
    "put_campaign",
    "validate_fault",
]

MAX_LEADS = 10_000
MAX_LOG = 100_000  # requests kept in the log; the oldest go first
TEST_KEY_PREFIX = "sk_test_"
#: What an HTTP header value may hold (RFC 9110 field-value): visible characters, spaces and tabs,
#: in Latin-1, which is how http.server sends it. No control characters, C0 or C1.
HEADER_VALUE = re.compile(r"[\t\x20-\x7e\xa0-\xff]*")
#: Timestamps the admin API takes: far enough on either side of now for any test, and always
#: with room after them for the next transition's "strictly later" millisecond.
_EARLIEST, _LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)


class Runtime:
    """What the handler threads share besides the campaigns: faults, settings, the request log."""

    def __init__(self, api_key: Optional[str]) -> None:
        self.api_key = api_key
        self.api_keys: Optional[list[str]] = None
        self.lock = threading.Lock()
        self.faults: list[dict[str, Any]] = []
        self.latency_ms = 0.0
        self.error_shape = "nested"
        self.requests: list[dict[str, Any]] = []
        # GET /v1/sender-pools: each pool's id, name and remaining volume today, and which of the
        # documentation's two spellings the answer uses.
        self.sender_pools: list[dict[str, Any]] = [
            {"id": "pool_default", "name": "Default", "remaining": 500}
        ]
        self.pool_spelling = "senderPools"

    def take_fault(self, path: str) -> Optional[dict[str, Any]]:
        """The first fault matching ``path``, used up once."""
        with self.lock:
            for fault in self.faults:
                if fault.get("match", "") in path:
                    fault["times"] = fault.get("times", 1) - 1
                    if fault["times"] <= 0:
                        self.faults.remove(fault)
                    return dict(fault)
        return None

    def log(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.requests.append(entry)
            del self.requests[:-MAX_LOG]

    def accepts(self, key: str) -> bool:
        if self.api_keys is not None:
            return key in self.api_keys  # set through the admin API: a rotation, a revocation
        if self.api_key:
            return key == self.api_key
        return key.startswith(TEST_KEY_PREFIX) and len(key) > len(TEST_KEY_PREFIX)


def _number(value: Any, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ApiError(400, "invalid_request", f"{name} must be a number from {low:g} to {high:g}")
    if not low <= value <= high:
        raise ApiError(400, "invalid_request", f"{name} must be a number from {low:g} to {high:g}")
    return float(value)


def _whole(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ApiError(400, "invalid_request", f"{name} must be a whole number from {low} to {high}")
    return value


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or len(value) > 100_000:
        raise ApiError(400, "invalid_request", f"{name} must be a string")
    return value


def _header_text(value: Any, name: str) -> str:
    """A string that can go out as an HTTP header value as it is, or a 400 naming ``name``."""
    if not isinstance(value, str) or len(value) > 8192 or not HEADER_VALUE.fullmatch(value):
        raise ApiError(
            400,
            "invalid_request",
            f"{name} must be a header value: one line of printable Latin-1 text, no control characters",
        )
    return value


def _timestamp(value: Any, name: str) -> Optional[str]:
    """An ISO 8601 time from 1970 up to 2100 (as given), null, or a 400 naming ``name``."""
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value) if isinstance(value, str) and 10 < len(value) <= 40 else None
    except ValueError:
        when = None
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if when is None or not _EARLIEST <= when < _LATEST:
        raise ApiError(
            400,
            "invalid_request",
            f"{name} must be an ISO 8601 time from 1970 up to 2100, like 2025-01-15T11:00:00.000Z, or null",
        )
    return str(value)


def validate_fault(fault: Any) -> dict[str, Any]:
    """A fault as documented in the README, or a 400 naming what is wrong with it."""
    if not isinstance(fault, dict):
        raise ApiError(400, "invalid_request", "each fault must be a JSON object")
    if "holdMs" in fault and set(fault) - {"holdMs", "match", "times"}:
        raise ApiError(400, "invalid_request", "holdMs combines only with match and times")
    checked: dict[str, Any] = {}
    for key, value in fault.items():
        if key == "status":
            checked[key] = _whole(value, "status", 100, 599)
        elif key == "times":
            checked[key] = _whole(value, "times", 1, 1_000_000)
        elif key in ("match", "body", "code", "message"):
            checked[key] = _text(value, key)
        elif key == "contentType":
            checked[key] = _header_text(value, key)
        elif key == "retryAfter":
            if isinstance(value, int) and not isinstance(value, bool):
                value = str(value)
            checked[key] = _header_text(value, key)
        elif key == "drop":
            if not isinstance(value, bool):
                raise ApiError(400, "invalid_request", "drop must be true or false")
            checked[key] = value
        elif key == "delay_ms":
            checked[key] = _number(value, key, 0, 60_000)
        elif key == "trickleMs":
            checked[key] = _number(value, key, 0, 10_000)
        elif key == "holdMs":
            checked[key] = _number(value, key, 0, 600_000)
        else:
            raise ApiError(400, "invalid_request", f"unknown fault field {key[:40]!r}")
    return checked


# -- campaigns -------------------------------------------------------------------------------------
_PUT_FIELDS = ("status", "leads", "name", "startedAt", "pausedAt", "sent", "sequenceSteps")


def get_campaign(ctx: Any, campaign_id: str, _body: Any) -> tuple[int, Any]:
    with ctx.store.transaction(write=False) as campaigns:
        campaign = campaigns.get(campaign_id)
    if campaign is None:
        raise ApiError(404, "campaign_not_found", f"no campaign {campaign_id} in this workspace")
    return 200, public(campaign)


def put_campaign(ctx: Any, campaign_id: str, body: Any) -> tuple[int, Any]:
    """Create or change a campaign as a person in the dashboard would: same transitions as the
    API (timestamps, sends), then any field given explicitly wins."""
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "expected a JSON object")
    unknown = sorted(set(body) - set(_PUT_FIELDS))
    if unknown:
        allowed = ", ".join(_PUT_FIELDS)
        raise ApiError(400, "invalid_request", f"unknown field {unknown[0][:40]!r}; use {allowed}")
    fields = dict(body)
    if fields.get("status", "draft") not in ("draft", "running", "paused"):
        raise ApiError(400, "invalid_request", "status must be draft, running or paused")
    if "leads" in fields:
        count = _whole(fields["leads"], "leads", 0, MAX_LEADS)
        fields["leads"] = new_campaign(campaign_id, leads=count)["leads"]
    if "sent" in fields:
        _whole(fields["sent"], "sent", 0, 10**12)
    if "name" in fields:
        _text(fields["name"], "name")
    for stamp in ("startedAt", "pausedAt"):
        if stamp in fields:
            _timestamp(fields[stamp], stamp)
    if "sequenceSteps" in fields and not (
        isinstance(fields["sequenceSteps"], list)
        and all(isinstance(s, dict) and isinstance(s.get("subject"), str) for s in fields["sequenceSteps"])
    ):
        raise ApiError(400, "invalid_request", "sequenceSteps must be a list of steps with a subject")
    with ctx.store.transaction() as campaigns:
        campaign = campaigns.get(campaign_id) or new_campaign(campaign_id, leads=0)
        before, after = campaign["status"], fields.get("status", campaign["status"])
        if "leads" in fields:
            campaign["leads"] = fields["leads"]
        if after == "running" and before != "running":
            resume(campaign)
        elif after == "paused" and before != "paused":
            campaign.update(status="paused", pausedAt=transition_time(campaign.get("pausedAt")))
        campaign.update(fields)
        campaigns.put(campaign)
        return 200, public(campaign)


def delete_campaign(ctx: Any, campaign_id: str, _body: Any) -> tuple[int, Any]:
    with ctx.store.transaction() as campaigns:
        if campaigns.get(campaign_id) is None:
            raise ApiError(404, "campaign_not_found", f"no campaign {campaign_id} in this workspace")
        campaigns.delete(campaign_id)
    return 200, {"deleted": campaign_id}


# -- faults, settings, the request log -------------------------------------------------------------
def add_faults(ctx: Any, _id: Any, body: Any) -> tuple[int, Any]:
    faults = body.get("faults") if isinstance(body, dict) else None
    if not isinstance(faults, list) or len(faults) > 1000:
        raise ApiError(400, "invalid_request", 'expected {"faults": [{...}, ...]} (at most 1000)')
    checked = [validate_fault(fault) for fault in faults]
    runtime: Runtime = ctx.runtime
    with runtime.lock:
        runtime.faults.extend(checked)
        return 200, {"faults": list(runtime.faults)}


def clear_faults(ctx: Any, _id: Any, _body: Any) -> tuple[int, Any]:
    with ctx.runtime.lock:
        ctx.runtime.faults.clear()
    return 200, {"faults": []}


def change_settings(ctx: Any, _id: Any, body: Any) -> tuple[int, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "expected a JSON object")
    unknown = sorted(set(body) - {"latencyMs", "errorShape", "apiKeys", "senderPools", "poolSpelling"})
    if unknown:
        raise ApiError(400, "invalid_request", f"unknown setting {unknown[0][:40]!r}")
    latency = _number(body["latencyMs"], "latencyMs", 0, 60_000) if "latencyMs" in body else None
    shape = body.get("errorShape")
    if "errorShape" in body and shape not in ("nested", "flat"):
        raise ApiError(400, "invalid_request", "errorShape must be nested or flat")
    keys = body.get("apiKeys")
    if keys is not None and (not isinstance(keys, list) or not all(isinstance(k, str) for k in keys)):
        raise ApiError(400, "invalid_request", "apiKeys must be a list of keys, or null")
    pools = _sender_pools(body["senderPools"]) if "senderPools" in body else None
    spelling = body.get("poolSpelling")
    if "poolSpelling" in body and spelling not in ("senderPools", "pools"):
        raise ApiError(400, "invalid_request", "poolSpelling must be senderPools or pools")
    runtime: Runtime = ctx.runtime
    with runtime.lock:
        if pools is not None:
            runtime.sender_pools = pools
        if spelling is not None:
            runtime.pool_spelling = spelling
        if latency is not None:
            runtime.latency_ms = latency
        if shape is not None:
            runtime.error_shape = shape
        if "apiKeys" in body:
            runtime.api_keys = keys
        # The accepted keys are never echoed back: only how many there are.
        return 200, {
            "latencyMs": runtime.latency_ms,
            "errorShape": runtime.error_shape,
            "apiKeys": None if runtime.api_keys is None else len(runtime.api_keys),
            "senderPools": list(runtime.sender_pools),
            "poolSpelling": runtime.pool_spelling,
        }


def _sender_pools(value: Any) -> list[dict[str, Any]]:
    """``senderPools`` of the settings: a list of {id, name, remaining}."""
    if not isinstance(value, list) or len(value) > 100:
        raise ApiError(400, "invalid_request", "senderPools must be a list of at most 100 pools")
    pools = []
    for pool in value:
        if not isinstance(pool, dict) or set(pool) - {"id", "name", "remaining"}:
            raise ApiError(400, "invalid_request", "each sender pool is {id, name, remaining}")
        pools.append(
            {
                "id": _text(pool.get("id", ""), "id"),
                "name": _text(pool.get("name", ""), "name"),
                "remaining": _whole(pool.get("remaining", 0), "remaining", 0, 10**9),
            }
        )
    return pools


def list_requests(ctx: Any, _id: Any, _body: Any) -> tuple[int, Any]:
    with ctx.runtime.lock:
        return 200, {"requests": list(ctx.runtime.requests)}


def clear_requests(ctx: Any, _id: Any, _body: Any) -> tuple[int, Any]:
    with ctx.runtime.lock:
        ctx.runtime.requests.clear()
    return 200, {"requests": []}
