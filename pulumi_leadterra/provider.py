"""The lifecycle of a CampaignState: check, diff, create, read, update, delete.

This class runs inside the engine's plugin process (``python -m pulumi.dynamic``), unpickled from
the ``__provider`` property. It is pickled *by reference* and carries no state of its own across
the pickle (see ``__getstate__``): configuration and HTTP clients are built in the plugin process,
so the blob stays a few dozen bytes, identical on every run, and free of credentials.

Requests per call, as the README documents and the tests assert:
check 0, diff 0, create 1, update 1, read 1 (GET stats), delete 0 (1 with pause_on_delete).
"""

from __future__ import annotations

import re
import threading
from typing import Any, Optional

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.output import Unknown
from pulumi.runtime import rpc

from .client import LeadterraClient
from .errors import CampaignNotFoundError, ConfigurationError, LeadterraError
from .settings import Settings, base_url_problem

__all__ = ["CampaignStateProvider", "STATUSES", "campaign_id_problem"]

STATUSES = ("running", "paused")
_CAMPAIGN_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_BOOLEANS = ("reconcile", "pause_on_delete")
# Inputs whose change is applied in place by one idempotent call.
_UPDATABLE = ("reconcile", "pause_on_delete", "base_url")


def campaign_id_problem(value: Any) -> Optional[str]:
    """Why ``value`` is not a campaign id we will put in a URL path, or None when it is fine."""
    if isinstance(value, str) and _CAMPAIGN_ID.fullmatch(value):
        return None
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    return (
        f"campaign_id must be 1-128 characters, each a letter, digit, '_' or '-' (like camp_123); got {shown}"
    )


def _unknown(value: Any) -> bool:
    return isinstance(value, Unknown) or value == rpc.UNKNOWN


def _plain(value: Any) -> Any:
    """The value inside an RPC secret wrapper, if it is one (the engine may or may not strip it)."""
    return rpc.unwrap_rpc_secret(value)


def _satisfies(observed: Any, desired: Any) -> bool:
    # Pausing a draft is a documented no-op that leaves it draft, so draft is as paused as it
    # will ever get; demanding "paused" there would be a diff that never goes away.
    return bool(observed == desired or (desired == "paused" and observed == "draft"))


class CampaignStateProvider(ResourceProvider):
    """Holds one Leadterra campaign running or paused. Constructible with no arguments."""

    def __init__(self) -> None:
        super().__init__()

    # --- pickling: by reference, no state -------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        # Whatever configure() cached (settings with the key, HTTP clients, a lock) stays in
        # this process; the engine's state only ever gets the class reference.
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        pass

    # --- configuration ---------------------------------------------------------------------
    def configure(self, req: ConfigureRequest) -> None:
        """Read stack config once per plugin process; the environment fills the gaps."""
        self._settings = Settings.load(req.config.get)
        self._clients: dict[tuple[str, str], LeadterraClient] = {}
        self._lock = threading.Lock()

    def _get_settings(self) -> Settings:
        settings: Optional[Settings] = getattr(self, "_settings", None)
        if settings is None:
            # Used outside the engine (tests, scripts): environment only.
            self.configure(ConfigureRequest(_NoConfig()))  # type: ignore[arg-type]
            settings = self._settings
        return settings

    def _client(self, props: dict[str, Any]) -> LeadterraClient:
        settings = self._get_settings()
        key = settings.resolve_key(_plain(props.get("api_key")))
        url = settings.resolve_base_url(props.get("base_url"))
        with self._lock:
            client = self._clients.get((url, key))
            if client is None:
                client = LeadterraClient(url, key, settings.retry)
                self._clients[(url, key)] = client
            return client

    # --- check: validate and default, no network -------------------------------------------
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures: list[CheckFailure] = []
        inputs = dict(news)

        campaign_id = news.get("campaign_id")
        if not _unknown(campaign_id):
            problem = campaign_id_problem(campaign_id)
            if problem:
                failures.append(CheckFailure("campaign_id", problem))

        inputs.setdefault("status", "running")
        status = inputs["status"]
        if not _unknown(status) and status not in STATUSES:
            failures.append(CheckFailure("status", f"status must be 'running' or 'paused'; got {status!r}"))

        for name in _BOOLEANS:
            inputs.setdefault(name, False)
            value = inputs[name]
            if not _unknown(value) and not isinstance(value, bool):
                failures.append(
                    CheckFailure(name, f"{name} must be True or False; got {type(value).__name__}")
                )

        base_url = news.get("base_url")
        if base_url is not None and not _unknown(base_url):
            problem = base_url_problem(base_url) if isinstance(base_url, str) else "base_url must be a string"
            if problem:
                failures.append(CheckFailure("base_url", problem))

        api_key = _plain(news.get("api_key"))
        if api_key is not None and not _unknown(api_key):
            # Echoed back marked secret, whatever the engine sent, so it is never stored plain.
            inputs["api_key"] = rpc.wrap_rpc_secret(api_key)
            if not isinstance(api_key, str) or not api_key.strip():
                failures.append(CheckFailure("api_key", "api_key must be a non-empty string"))
        # What the resource leaves out, stack config or the environment must supply safely: a key,
        # and a base URL the key may be sent to. Said now, in preview, not mid-up.
        settings = self._get_settings()
        if api_key is None:
            try:
                settings.resolve_key(None)
            except ConfigurationError as exc:
                failures.append(CheckFailure("api_key", exc.api_message))
        if base_url is None:
            try:
                settings.resolve_base_url(None)
            except ConfigurationError as exc:
                failures.append(CheckFailure("base_url", exc.api_message))

        return CheckResult(inputs, failures)

    # --- diff: compare desired inputs with stored outputs, no network -------------------------
    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces: list[str] = []
        changed: list[str] = []

        new_id = news.get("campaign_id")
        if _unknown(new_id) or new_id != olds.get("campaign_id"):
            replaces.append("campaign_id")

        desired = news.get("status", "running")
        if _unknown(desired) or not _satisfies(olds.get("status"), desired):
            changed.append("status")

        for name in _UPDATABLE:
            default = None if name == "base_url" else False
            new = news.get(name, default)
            if _unknown(new) or new != olds.get(name, default):
                changed.append(name)

        # With reconcile, every up re-asserts the state: the API cannot tell us about a pause
        # made in the dashboard, so one idempotent call is the only way to heal it.
        reconcile = news.get("reconcile") is True
        changes = bool(replaces or changed or reconcile)
        return DiffResult(
            changes=changes,
            replaces=replaces,
            stables=[],
            delete_before_replace=False,
        )

    # --- create / update: exactly one idempotent call ------------------------------------------
    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = self._apply(props, previous={})
        return CreateResult(outs["campaign_id"], outs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        # The engine replaces stored outputs with what we return: return all of them.
        return UpdateResult(self._apply(news, previous=olds))

    def _apply(self, props: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
        campaign_id = props["campaign_id"]
        desired = props.get("status", "running")
        client = self._client(props)
        body = client.start(campaign_id) if desired == "running" else client.pause(campaign_id)
        reported = body.get("status")
        if reported not in ("draft", "running", "paused"):
            reported = desired
        if not _satisfies(reported, desired):
            raise LeadterraError(
                f"asked for {desired} but Leadterra reported {reported}",
                campaign_id=campaign_id,
            )
        started_at = body.get("startedAt") or previous.get("started_at")
        paused_at = None if reported == "running" else body.get("pausedAt") or previous.get("paused_at")
        return self._outputs(
            props,
            status=reported,
            started_at=started_at,
            paused_at=paused_at,
            stats=previous.get("stats"),
        )

    @staticmethod
    def _outputs(props: dict[str, Any], **observed: Any) -> dict[str, Any]:
        outs: dict[str, Any] = {
            "campaign_id": props["campaign_id"],
            "reconcile": props.get("reconcile", False),
            "pause_on_delete": props.get("pause_on_delete", False),
            **observed,
        }
        if props.get("base_url") is not None:
            outs["base_url"] = props["base_url"]
        api_key = _plain(props.get("api_key"))
        if api_key is not None:
            # Kept so that refresh and destroy can authenticate as the resource did; sent back
            # marked secret, so the engine stores it encrypted, never in plain text.
            outs["api_key"] = rpc.wrap_rpc_secret(api_key)
        return outs

    # --- read (refresh): one GET, never a POST -----------------------------------------------
    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        campaign_id = props.get("campaign_id") or id_
        try:
            stats = self._client(props).stats(campaign_id)
        except CampaignNotFoundError as exc:
            # Only the API's own code proves the campaign is gone; a bare 404 (a wrong base URL,
            # a proxy) must not make a refresh drop the resource from state.
            if exc.code == "campaign_not_found":
                return ReadResult("", {})
            raise
        # The API reports no status: keep the one recorded by the last start or pause.
        outs = self._outputs(
            props,
            status=props.get("status"),
            started_at=props.get("started_at"),
            paused_at=props.get("paused_at"),
            stats=stats,
        )
        return ReadResult(id_, outs)

    # --- delete: nothing by default --------------------------------------------------------------
    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Forget the campaign; with ``pause_on_delete``, pause it first (one POST .../pause).

        By default the campaign is left exactly as it is: removing a declaration must never stop
        a live campaign by surprise.
        """
        if props.get("pause_on_delete") is not True:
            return
        try:
            self._client(props).pause(props.get("campaign_id") or _id)
        except CampaignNotFoundError as exc:
            if exc.code != "campaign_not_found":
                raise


class _NoConfig:
    """Stands in for the engine's config object when the provider runs outside the engine."""

    def get(self, _key: str) -> None:
        return None
