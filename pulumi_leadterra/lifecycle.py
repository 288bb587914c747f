"""CampaignState's steps, over plain values: check, diff, create, read, update, delete.

Whether a step sends a start, a pause or nothing is decided by the pure function
``decision.decide`` (read it, and tests/test_decision.py, to learn what a step sends); this
module validates inputs, executes decisions (the call, its retries, the key that works, the
outputs from the reply) and reads. The dynamic provider (``provider.py``) adapts it to
``python -m pulumi.dynamic`` and ``plugin.py`` to the native provider protocol, without
restating any rule. Nothing here knows a Pulumi transport type: values are plain Python, an
unknown (during preview) is `UNKNOWN`.

Requests per call, as the README documents and the tests assert: check 0 (1 GET stats with
``leadterra:preflight`` for a create or a move to running), diff 0, create 1, update 1 when it
changes what is held (the status, the brake, a heal run, a new base URL) and 0 otherwise (a key
rotation, ``pause_on_delete``, ``reconcile``), read 1 (GET stats), delete 0 (1 with
pause_on_delete). A refused key on read or delete costs one more request per other key that could
be the working one.

An imported campaign is held as found: the API reports no status, so until the program declares
one, Pulumi sends nothing for it (``held_status`` is ``none``).

Run-level settings (read once per provider process, so they describe the whole run):
``leadterra:heal`` re-asserts ``reconcile=True`` resources; ``leadterra:healAll`` (the repair
after an interrupted run, whose state may be wrong) also pauses every resource declared paused,
whatever state records; and ``leadterra:pauseAll`` (the incident brake) holds every resource
paused whatever it declares, sending one pause per resource in every run.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Optional, TypeVar

from .client import LeadterraClient, remaining_capacity
from .decision import (
    ADD,
    DELETE,
    HELD_NOTHING,
    START,
    STATUSES,
    UNKNOWN,
    UPDATE,
    UPDATE_REPLACE,
    Run,
    decide,
    held,
    instant_problem,
    kind,
    parse_instant,
    satisfies,
)
from .decision import (
    moved as moved_elsewhere,
)
from .errors import (
    AuthenticationError,
    ConfigurationError,
    LeadterraError,
    NoLeadsEnrolledError,
    Secrets,
    UnexpectedStatusError,
)
from .settings import (
    MISSING_KEY_MESSAGE,
    RetryPolicy,
    Settings,
    base_url_problem,
    campaign_id_problem,
    key_fingerprint,
    key_kind,
    key_problem,
)
from .transport import Cancellation

__all__ = [
    "ADD",
    "DELETE",
    "HELD_NOTHING",
    "UPDATE",
    "UPDATE_REPLACE",
    "UNKNOWN",
    "Diff",
    "Lifecycle",
    "STATUSES",
    "campaign_id_problem",
]


#: What Leadterra may report for a campaign this resource holds; anything else is an error.
_OBSERVABLE = ("running", "paused", "draft")
_NOT_SENDING = ("paused", "draft")
_KEY_SOURCES = ("input", "config", "provider", "environment")
# What the API told us about a campaign, kept as it is by an update that sends nothing.
_OBSERVED = ("status", "started_at", "paused_at", "healed_at", "drift", "stats", "sent_baseline")
_BOOLEANS = ("reconcile", "pause_on_delete")
# Inputs changed in place; of these, only a new base URL sends a call (to the new endpoint).
_UPDATABLE = (
    "reconcile",
    "pause_on_delete",
    "base_url",
    "endpoint",
    "api_key",
    "api_key_source",
    "api_key_fingerprint",
    "start_at",
    "stop_at",
)
# Keys that state never holds, only their fingerprint: they belong to the run, not the resource.
_RUN_KEY_SOURCES = ("config", "provider", "environment")

_T = TypeVar("_T")
#: The window inputs, as the Python front end names them (adapters rename them for theirs).
_WINDOW = ("start_at", "stop_at")


def _is_unknown(value: Any) -> bool:
    return value is UNKNOWN


def _utc_now() -> datetime:
    return datetime.now(UTC)


_log = logging.getLogger("pulumi_leadterra")


@dataclasses.dataclass(frozen=True)
class Diff:
    """What an ``up`` would change in one resource, for the engine and for the preview.

    ``detailed`` names each changed property with its kind (``add``, ``delete``, ``update``,
    ``update-replace``); a property that did not change is not in it.
    """

    detailed: dict[str, str]

    @property
    def changes(self) -> bool:
        return bool(self.detailed)

    @property
    def replaces(self) -> list[str]:
        return [name for name, kind in self.detailed.items() if kind == UPDATE_REPLACE]


def _count(value: Any) -> Optional[float]:
    """A finite count, or None. State numbers come back as floats; a bool is not a count, nor
    is a number no float holds (a reply's 400-digit ``sent``: ``float()`` of it overflows) or
    nan/inf, which would make every comparison with a baseline meaningless."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _infer_from_stats(props: dict[str, Any], stats: dict[str, Any]) -> tuple[Any, Any, Optional[float]]:
    """(status, drift, sent baseline) after a refresh.

    The API reports no status, but a campaign recorded paused whose ``sent`` grew since the last
    refresh is sending: that is reported as running (an inference, said in ``drift``), so that
    refresh shows the drift and the next ``up`` pauses it. Never the other way: a quiet running
    campaign may just be between sequence steps.
    """
    status, drift = props.get("status"), props.get("drift")
    sent, baseline = _count(stats.get("sent")), _count(props.get("sent_baseline"))
    if status in _NOT_SENDING and sent is not None and baseline is not None and sent > baseline:
        drift = (
            f"inferred running: stats.sent grew from {baseline:g} to {sent:g} since the last refresh "
            f"while the campaign was recorded {status} (someone resumed it outside Pulumi?)"
        )
        return "running", drift, None
    return status, drift, sent if status in _NOT_SENDING else None


def _undone_message(campaign_id: str, desired: str, stamp: Any) -> str:
    """What a run says when its call undid a change made outside this stack: once is a heal, on
    every heal run it is two owners (two stacks declaring one campaign) undoing each other."""
    done, undone = ("resumed", "paused") if desired == "running" else ("paused", "resumed")
    return (
        f"campaign {campaign_id} was {undone} outside this stack since its last change here; this "
        f"run {done} it again (Leadterra's time: {stamp}). If another stack or job also declares "
        f"{campaign_id}, each heal run undoes the other's: one campaign, one stack (docs/operations.md, "
        "'One campaign, one stack')"
    )


def _current(olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
    """Stored outputs as this version writes them, whatever version wrote them, read against
    the run's checked inputs ``news``.

    Versions before the fingerprint stored the key itself (encrypted) whatever its source. Read
    as its fingerprint, an unchanged key compares equal: the upgrade previews no change and sends
    nothing, and the next update or refresh rewrites the outputs without it.

    Versions before ``api_key_source`` (the first dynamic provider, a campaign imported by the
    first native plugin) stored no key when it came from stack config or the environment: that
    key was the run's, as today's is, and is compared as if it were today's (its source and
    fingerprint). State from before ``held_status`` holds what the declaration holds.
    """
    current = dict(olds)
    key = olds.get("api_key")
    if isinstance(key, str) and key:
        current.setdefault("api_key_fingerprint", key_fingerprint(key))
        if current.get("api_key_source") in _RUN_KEY_SOURCES:
            del current["api_key"]
    elif "api_key_source" not in olds and news.get("api_key_source") in _RUN_KEY_SOURCES:
        for name in ("api_key_source", "api_key_fingerprint"):
            if name in news:
                current[name] = news[name]
    if "held_status" not in olds and "held_status" in news:
        current["held_status"] = news["held_status"]
    return current


class Lifecycle:
    """Holds one Leadterra campaign running or paused: every step, over plain values.

    One per provider process, built from the run's settings. Values are plain Python (an
    ``api_key`` is a str, an unknown is `UNKNOWN`); adapters unwrap what their protocol sends
    and mark ``api_key`` secret on the way out.
    """

    def __init__(
        self,
        settings: Settings,
        warn: Optional[Callable[[str], None]] = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        """``clock`` is read once, here: its instant is "now" for the whole run (every resource
        of a run agrees on which windows are open). Adapters pass none: the system clock."""
        self.settings = settings
        self.run = Run(
            now=clock(), pause_all=settings.pause_all, heal=settings.heal, heal_all=settings.heal_all
        )
        # Where a warning for the person running pulumi goes (the engine's log, from adapters).
        self._warn = warn or (lambda message: _log.warning("%s", message))
        # Preflight tries once: a flaky API must not hold up a preview with retries.
        self._preflight_retry = dataclasses.replace(settings.retry, max_attempts=1)
        self._clients: dict[tuple[str, str, RetryPolicy], LeadterraClient] = {}
        self._lock = threading.Lock()
        self._cancellation = Cancellation()
        # What this run's one GET /v1/sender-pools per endpoint found (preflight): the capacity
        # per pool, or the sentence saying why it could not be read.
        self._pools: dict[tuple[str, str], list[tuple[str, float]] | str] = {}
        self._pools_lock = threading.Lock()
        # Campaigns some resource of this run declares running (see `delete`).
        self._held_running: set[str] = set()
        # Every key this process may send: what any reply says is scrubbed of all of them.
        self._secrets = Secrets(settings.api_key)

    def cancel(self) -> None:
        """The engine's Cancel: every call in flight ends now, and every later one at once."""
        self._cancellation.set()

    def _client(self, base_url: str, key: str, retry: Optional[RetryPolicy] = None) -> LeadterraClient:
        policy = retry or self.settings.retry
        with self._lock:
            client = self._clients.get((base_url, key, policy))
            if client is None:
                client = LeadterraClient(
                    base_url, key, policy, cancellation=self._cancellation, secrets=self._secrets
                )
                self._clients[(base_url, key, policy)] = client
            return client

    # --- check: validate and default; no network unless preflight is on -------------------------
    def check(
        self, olds: Mapping[str, Any], news: dict[str, Any]
    ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """Validated inputs with defaults, the key and where it comes from, and the failures.

        ``olds`` is only read (``get`` and ``in``, a few of its names): an adapter may convert
        each stored input when it is read."""
        settings = self.settings
        failures = list(settings.problems)
        inputs = dict(news)

        campaign_id = news.get("campaign_id")
        if not _is_unknown(campaign_id):
            problem = campaign_id_problem(campaign_id)
            if problem:
                failures.append(("campaign_id", problem))

        status = news.get("status")
        if status is None:
            inputs.pop("status", None)
            status = HELD_NOTHING if self._holds_nothing(olds, news) else "running"
            if status != HELD_NOTHING:
                inputs["status"] = status
        elif not _is_unknown(status) and status not in STATUSES:
            failures.append(("status", f"status must be 'running' or 'paused'; got {status!r}"))
        inputs["held_status"] = status

        for name in _BOOLEANS:
            inputs.setdefault(name, False)
            value = inputs[name]
            if not _is_unknown(value) and not isinstance(value, bool):
                failures.append((name, f"{name} must be True or False; got {type(value).__name__}"))

        # Where this resource's calls go, however the URL arrived (input, stack config, an
        # explicit provider, the environment, the default): a new one is a move (see `update`).
        base_url = news.get("base_url")
        inputs.pop("endpoint", None)
        if _is_unknown(base_url):
            inputs["endpoint"] = UNKNOWN
        elif base_url is None:
            try:
                inputs["endpoint"] = settings.resolve_base_url(None)
            except ConfigurationError as exc:
                failures.append(("base_url", exc.api_message))
        else:
            problem = base_url_problem(base_url) if isinstance(base_url, str) else "base_url must be a string"
            if problem:
                failures.append(("base_url", problem))
            else:
                inputs["endpoint"] = settings.resolve_base_url(base_url)

        key = self._check_key(news.get("api_key"), inputs, failures)
        failures.extend(self._check_window(olds, inputs))

        if failures:
            return inputs, failures
        # What this run holds (the brake's pause, a window's pause, or the declaration) is the
        # checked ``status``, so the preview shows "running => paused" under the brake and
        # "paused => running" in the run after a window opens. ``held_status`` keeps what the
        # program declares.
        now_held = held(inputs, self.run).status
        if now_held in STATUSES:
            inputs["status"] = now_held
        if settings.preflight and key is not None and not _is_unknown(campaign_id):
            failures.extend(self._preflight(olds, inputs, key))
        if not failures and isinstance(campaign_id, str) and now_held == "running":
            with self._lock:
                self._held_running.add(campaign_id)
        return inputs, failures

    def _check_window(self, olds: Mapping[str, Any], inputs: dict[str, Any]) -> list[tuple[str, str]]:
        """``start_at``/``stop_at``: RFC 3339 instants with an offset, a window that ends after it
        starts, and no create whose window has already closed (it would never run)."""
        failures: list[tuple[str, str]] = []
        instants = {}
        for name in _WINDOW:
            value = inputs.get(name)
            if value is None:
                inputs.pop(name, None)
            elif not _is_unknown(value):
                problem = instant_problem(name, value)
                if problem:
                    failures.append((name, problem))
                else:
                    instants[name] = parse_instant(value)
        start, stop = instants.get("start_at"), instants.get("stop_at")
        if start is not None and stop is not None and stop <= start:
            failures.append(
                ("stop_at", f"stop_at ({inputs['stop_at']}) must be after start_at ({inputs['start_at']})")
            )
        old_id = olds.get("campaign_id")
        creating = old_id is None or old_id != inputs.get("campaign_id")
        if creating and stop is not None and stop <= self.run.now and not failures:
            failures.append(
                (
                    "stop_at",
                    f"stop_at ({inputs['stop_at']}) is already past, so this new campaign's window "
                    "has closed before it opened and it would never run; move stop_at later or "
                    "remove it",
                )
            )
        return failures

    @staticmethod
    def _holds_nothing(olds: Mapping[str, Any], news: dict[str, Any]) -> bool:
        """True for an imported campaign whose program still declares no status.

        The API reports no status, so an import cannot know one: its inputs (read by ``read``)
        have none. Defaulting to running there would start a campaign someone paused, so the
        resource holds nothing until a status is declared; the same campaign id keeps it so
        through later runs (and through the brake, which only overrides ``status``).
        """
        campaign_id = olds.get("campaign_id")
        if campaign_id is None or campaign_id != news.get("campaign_id"):
            return False
        return olds.get("held_status") == HELD_NOTHING or ("status" not in olds and "held_status" not in olds)

    def _check_key(self, raw: Any, inputs: dict[str, Any], failures: list[tuple[str, str]]) -> Optional[str]:
        """Record where this resource's key comes from, and its fingerprint, in its inputs.

        A rotation, or a move between ``api_key=``, stack config and the environment, then shows
        as an update (state only) at the next ``up``. A key from stack config or the environment
        is the run's, not the resource's: it never reaches state, even encrypted, and refresh and
        destroy use the run's key (so a revoked one is never left behind to block them). A key
        given as ``api_key=`` is the resource's own input and stays one, always secret.
        """
        input_key = raw
        if _is_unknown(input_key):
            inputs["api_key_source"] = "input"
            inputs["api_key_fingerprint"] = UNKNOWN
            return None
        if input_key is not None:
            problem = key_problem(input_key)
            if problem:
                failures.append(("api_key", f"api_key {problem}"))
                inputs.pop("api_key", None)
                return None
        try:
            key, source = self.settings.resolve_key(input_key)
        except ConfigurationError as exc:
            failures.append(("api_key", exc.api_message))
            return None
        if source in _RUN_KEY_SOURCES:
            inputs.pop("api_key", None)
        inputs["api_key_source"] = source
        if key_problem(key) is None:  # else settings.problems has said why, without the key
            inputs["api_key_fingerprint"] = key_fingerprint(key)
            # What kind of key it is (not the key): the policy pack refuses live keys outside
            # production, and the key itself (the run's) is no longer in the checked inputs.
            inputs["api_key_kind"] = key_kind(key)
        return str(key)

    def _preflight(self, olds: Mapping[str, Any], inputs: dict[str, Any], key: str) -> list[tuple[str, str]]:
        """One ``GET .../stats`` for a resource about to be created or moved to running.

        Fails the preview on what the ``up`` would certainly hit: an unknown campaign, a refused
        key, or (when it is about to start) no enrolled leads. Anything else, transient or not,
        is left for the ``up`` to report: a flaky API must not block a pull request.
        """
        campaign_id, status = str(inputs["campaign_id"]), inputs.get("status")
        creating = olds.get("campaign_id") != campaign_id
        starting = status == "running" and (creating or olds.get("status") != "running")
        if not (creating or starting):
            return []
        url = self.settings.resolve_base_url(inputs.get("base_url"))
        try:
            stats = self._client(url, key, self._preflight_retry).stats(campaign_id)
        except AuthenticationError as exc:
            return [("api_key", f"preflight: {exc}")]
        except LeadterraError as exc:
            return [("campaign_id", f"preflight: {exc}")] if exc.campaign_gone else []
        if starting and _count(stats.get("totalEnrolled")) == 0:
            error = NoLeadsEnrolledError(
                "has no enrolled leads (preflight: stats.totalEnrolled is 0), so start would fail",
                campaign_id=campaign_id,
                code="no_leads_enrolled",
            )
            return [("campaign_id", f"preflight: {error}")]
        if starting:
            self._warn_if_no_capacity(campaign_id, url, key)
        return []

    def _warn_if_no_capacity(self, campaign_id: str, url: str, key: str) -> None:
        """A start about to go out while a sender pool has no capacity left today: a warning
        (the API queues the sends, so nothing fails), naming the pool and its remaining volume.

        One ``GET /v1/sender-pools`` per run and endpoint at most, whatever its answer: the
        first start to ask holds the lock while it asks, the others read what it found. The API
        does not say which pool a campaign is assigned to, so every exhausted pool is named.
        """
        with self._pools_lock:
            if (url, key) not in self._pools:
                try:
                    body = self._client(url, key, self._preflight_retry).sender_pools()
                    self._pools[(url, key)] = remaining_capacity(body)
                except LeadterraError as exc:
                    unread = f"preflight could not read sender capacity: {exc}"
                    self._pools[(url, key)] = unread
                    self._warn(unread)  # once per run: the other starts stay quiet
            found = self._pools[(url, key)]
        if isinstance(found, str):
            return
        empty = [f"{name} (remaining today: {remaining:g})" for name, remaining in found if remaining <= 0]
        if empty:
            self._warn(
                f"campaign {campaign_id} would start while sender pool {', '.join(empty)} has no "
                "capacity left today: Leadterra queues its sends until the pool has capacity again "
                "(GET /v1/sender-pools; the API does not say which pool a campaign uses)"
            )

    # --- diff: compare desired inputs with stored outputs, no network -------------------------
    def diff(self, olds: dict[str, Any], news: dict[str, Any]) -> Diff:
        """Each changed property of checked inputs against stored outputs, with its kind."""
        olds = _current(olds, news)
        detailed: dict[str, str] = {}
        new_id = news.get("campaign_id")
        if _is_unknown(new_id) or new_id != olds.get("campaign_id"):
            detailed["campaign_id"] = UPDATE_REPLACE

        change = decide(olds, news, self.run).status_change
        if change is not None:
            detailed["status"] = change

        for name in _UPDATABLE:
            default = False if name in _BOOLEANS else None
            new, old = news.get(name, default), olds.get(name, default)
            if name == "endpoint" and old is None:
                continue  # state from before the endpoint was recorded: nothing to compare with
            if _is_unknown(new) or new != old:
                detailed[name] = kind(old, new)
        return Diff(detailed)

    # --- create / update: one idempotent call, or none when nothing held changes --------------
    def create(self, props: dict[str, Any]) -> dict[str, Any]:
        """The outputs of a new resource (its id is ``campaign_id``): one start or pause."""
        return self._apply(props, previous={})

    def update(self, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        """All outputs (the engine replaces the stored ones with them).

        One start or pause only when the update changes what is held: the status (declared, or
        the brake's), a heal run's re-assertion, or a new base URL. A key rotation, a key moving
        between input, config and environment, ``pause_on_delete`` or ``reconcile`` only update
        state: re-sending start then would resume a campaign paused in the dashboard during an
        incident.
        """
        olds = _current(olds, news)
        if decide(olds, news, self.run).call is not None:
            return self._apply(news, previous=olds)
        self.settings.raise_problems()
        key, source = self._key(news)
        return self._outputs(
            {**news, "api_key": key, "api_key_source": source},
            **{name: olds.get(name) for name in _OBSERVED},
        )

    def _key(self, props: dict[str, Any]) -> tuple[str, str]:
        key, source = props.get("api_key"), props.get("api_key_source")
        if not key:
            return self.settings.resolve_key(None)
        return key, source if source in _KEY_SOURCES else "input"

    def _apply(self, props: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
        settings = self.settings
        settings.raise_problems()
        campaign_id = props["campaign_id"]
        # Decided here again from the run's settings and instant: whatever inputs arrive, no
        # start leaves under the brake or outside the campaign's window.
        desired = "running" if decide(previous, props, self.run).call == START else "paused"
        key, source = self._key(props)
        client = self._client(settings.resolve_base_url(props.get("base_url")), key)
        body = client.start(campaign_id) if desired == "running" else client.pause(campaign_id)

        reported = body.get("status")
        if reported not in _OBSERVABLE:
            raise UnexpectedStatusError(
                f"Leadterra reported status {reported!r} after "
                f"{'start' if desired == 'running' else 'pause'}",
                campaign_id=campaign_id,
            )
        if not satisfies(reported, desired):
            raise LeadterraError(
                f"asked for {desired} but Leadterra reported {reported}",
                campaign_id=campaign_id,
            )
        healed_at = self._healed_at(previous, desired, reported, body)
        # Not under the brake (pausing everything is its job), nor at a new endpoint (its
        # timestamps were never this stack's).
        same_endpoint = not moved_elsewhere(previous, props)
        if healed_at != previous.get("healed_at") and not settings.pause_all and same_endpoint:
            self._warn(_undone_message(campaign_id, desired, healed_at))
        started_at = body.get("startedAt") or previous.get("started_at")
        paused_at = None if reported == "running" else body.get("pausedAt") or previous.get("paused_at")
        moved = (
            reported != previous.get("status")
            or started_at != previous.get("started_at")
            or paused_at != previous.get("paused_at")
        )
        return self._outputs(
            {**props, "api_key": key, "api_key_source": source},
            status=reported,
            started_at=started_at,
            paused_at=paused_at,
            healed_at=healed_at,
            stats=previous.get("stats"),
            # A pause or resume made now invalidates the sends baseline of the last refresh.
            sent_baseline=None if moved else previous.get("sent_baseline"),
        )

    @staticmethod
    def _healed_at(previous: dict[str, Any], desired: str, reported: str, body: dict[str, Any]) -> Any:
        """When this call undid a change made outside Pulumi, the API's timestamp of it.

        State said the campaign already was as declared (or refresh had inferred drift), yet the
        API's ``startedAt``/``pausedAt`` moved: so the call resumed or paused it for real.
        """
        healed_at = previous.get("healed_at")
        if not previous or not (satisfies(previous.get("status"), desired) or previous.get("drift")):
            return healed_at
        if desired == "running":
            stamp, before = body.get("startedAt"), previous.get("started_at")
        elif reported == "paused":
            stamp, before = body.get("pausedAt"), previous.get("paused_at")
        else:
            return healed_at
        return stamp if stamp and stamp != before else healed_at

    def _outputs(self, props: dict[str, Any], **observed: Any) -> dict[str, Any]:
        outs: dict[str, Any] = {
            "campaign_id": props["campaign_id"],
            "reconcile": props.get("reconcile", False),
            "pause_on_delete": props.get("pause_on_delete", False),
            **observed,
        }
        declared = props.get("held_status") or props.get("status")
        if declared in (*STATUSES, HELD_NOTHING):
            outs["held_status"] = declared
        if props.get("base_url") is not None:
            outs["base_url"] = props["base_url"]
        for name in _WINDOW:
            if isinstance(props.get(name), str):
                outs[name] = props[name]
        # Where the campaign is against its window as of this run, and when a run would next
        # change something: what the next scheduled run will do, for a pipeline or a person.
        now_held = held(props, self.run)
        if isinstance(now_held.window, str):
            outs["window"] = now_held.window
            outs["next_change_at"] = now_held.next_change_at
        if isinstance(props.get("endpoint"), str):
            outs["endpoint"] = props["endpoint"]
        api_key, source = props.get("api_key"), props.get("api_key_source")
        if source in _KEY_SOURCES:
            outs["api_key_source"] = source
        if isinstance(api_key, str) and api_key:
            outs["api_key_fingerprint"] = key_fingerprint(api_key)
            if source not in _RUN_KEY_SOURCES:
                # The resource's own api_key input, kept so that refresh and destroy can use it.
                # Adapters send it back marked secret: the engine stores it encrypted.
                outs["api_key"] = api_key
        elif props.get("api_key_fingerprint") is not None:
            outs["api_key_fingerprint"] = props["api_key_fingerprint"]
        return outs

    # --- calls on an existing campaign: the working key ---------------------------------------
    def _with_working_key(self, props: dict[str, Any], call: Callable[[LeadterraClient], _T]) -> _T:
        """Run a read or a pause with the key most likely to work, then the other one on a 401.

        State names where the key came from. A key given as input is tried first (it is what
        the resource used); otherwise the stack config or environment key of *this* run comes
        first. After a rotation the other one is then the working key, so a revoked key never
        blocks a refresh or a destroy. Only reads and pauses come here: never a start.
        """
        settings = self.settings
        stored = props.get("api_key")
        source = props.get("api_key_source") or ("input" if stored else None)
        ordered = [stored, settings.api_key] if source == "input" else [settings.api_key, stored]
        keys: list[str] = []
        for key in ordered:
            if isinstance(key, str) and key not in keys and key_problem(key) is None:
                keys.append(key)
        if not keys:
            raise ConfigurationError(MISSING_KEY_MESSAGE)
        # Before the first call: its reply is scrubbed of the key tried second as well.
        self._secrets.add(*keys)
        url = settings.resolve_base_url(props.get("base_url"))
        for index, key in enumerate(keys):
            try:
                return call(self._client(url, key))
            except AuthenticationError:
                if index == len(keys) - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    # --- read (refresh, import): one GET, never a POST ------------------------------------------
    def read(self, id_: str, props: dict[str, Any]) -> tuple[str, dict[str, Any], Optional[dict[str, Any]]]:
        """Refresh: the latest stats, and drift inferred from them. Import: the campaign by id.

        Only HTTP 404 with the API's code ``campaign_not_found`` drops a resource: a 401, a
        5xx or a bare 404 (a wrong base URL, a proxy page) is an error, and state stays.
        Returns (id, outputs, inputs): an empty id when the campaign is gone; inputs only for an
        import, whose state has none.
        """
        imported = "campaign_id" not in props
        campaign_id = props.get("campaign_id") or id_
        if imported:
            problem = campaign_id_problem(campaign_id)
            if problem:
                raise ConfigurationError(f"cannot read a campaign by this id: {problem}")
        try:
            stats = self._with_working_key(props, lambda client: client.stats(campaign_id))
        except LeadterraError as exc:
            if exc.campaign_gone:
                return "", {}, None
            raise
        if imported:
            # Held as found: no status (the API reports none), the key this read used (so the
            # first up of the generated program diffs to nothing), and inputs of the campaign id
            # alone, so the generated program holds nothing until someone declares a status.
            key, source = self.settings.resolve_key(None)
            held = {
                "campaign_id": campaign_id,
                "held_status": HELD_NOTHING,
                "endpoint": self.settings.resolve_base_url(None),
            }
            outs = self._outputs({**held, "api_key": key, "api_key_source": source}, stats=stats)
            return campaign_id, outs, {"campaign_id": campaign_id}
        status, drift, baseline = _infer_from_stats(props, stats)
        outs = self._outputs(
            props,
            status=status,
            started_at=props.get("started_at"),
            paused_at=props.get("paused_at"),
            healed_at=props.get("healed_at"),
            drift=drift,
            stats=stats,
            sent_baseline=baseline,
        )
        return id_, outs, None

    # --- delete: nothing by default --------------------------------------------------------------
    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Forget the campaign; with ``pause_on_delete``, pause it first (one POST .../pause).

        By default the campaign is left exactly as it is: removing a declaration must never stop
        a live campaign by surprise. Nor does ``pause_on_delete`` pause a campaign that another
        resource of this run declares running: a replacement under the same campaign id
        (``pulumi up --replace``, ``replaceOnChanges``) creates the new resource before it deletes
        the old one, and the old one's pause would leave the campaign paused while state says
        running. Every resource of a run passes through ``check`` first, and the engine's
        DeleteRequest says nothing of a replacement, so this run's checks are what tell.
        """
        if props.get("pause_on_delete") is not True:
            return
        campaign_id = props.get("campaign_id") or _id
        with self._lock:
            held = campaign_id in self._held_running
        if held:
            _log.info("%s not paused on delete: another resource of this run holds it running", campaign_id)
            return
        try:
            self._with_working_key(props, lambda client: client.pause(campaign_id))
        except LeadterraError as exc:
            if not exc.campaign_gone:
                raise
