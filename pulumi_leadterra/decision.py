"""What one step of a CampaignState does: a pure function of plain values, no HTTP, no clock.

``decide(stored, inputs, run)`` takes the resource's stored outputs (``{}`` for a create), its
checked inputs and the run (its settings and its one instant, ``now``), and says what the step
does: no call, one start, or one pause, and what the preview shows for ``status``. Every rule
about *whether* a request leaves lives here; ``lifecycle`` only executes a decision (the call,
its retries, the outputs from the reply). A newcomer learns what a step sends by reading
`decide` and the table test over it (tests/test_decision.py).

The rules, in the order they win:

1. The brake (``leadterra:pauseAll``) holds every resource paused, imports included, whatever
   it declares and whatever its window says; it trusts no state (one pause per resource, every
   run).
2. An import whose program declares no status holds nothing: no call, ever, until declared.
3. A launch window (``start_at``/``stop_at``) holds a campaign declared running paused outside
   the window: before ``start_at`` (a draft stays draft, a running one is paused) and at or after
   ``stop_at``. Inside it, and with no window, the declaration holds.
4. A call leaves when what is held differs from what state records (draft counts as paused), or
   when the run re-asserts: ``heal``/``healAll`` for ``reconcile=True`` resources, ``healAll``
   for every resource held paused (the repair after an interrupted run). A re-assertion sends
   what is held *now*: a heal run outside a window pauses, it never starts.
5. A new endpoint (base URL input, or where the run's calls go) gets the campaign its one call.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from typing import Any, Optional

from ._unknown import UNKNOWN

__all__ = [
    "ADD",
    "CLOSED",
    "DELETE",
    "HELD_NOTHING",
    "OPEN",
    "BEFORE",
    "PAUSE",
    "START",
    "STATUSES",
    "UNKNOWN",
    "UPDATE",
    "UPDATE_REPLACE",
    "Decision",
    "Held",
    "Run",
    "decide",
    "format_instant",
    "held",
    "instant_problem",
    "parse_instant",
    "satisfies",
    "window_of",
]



STATUSES = ("running", "paused")
#: ``held_status`` of an imported campaign whose program declares no status: nothing is held.
HELD_NOTHING = "none"
#: Where ``now`` falls against a campaign's window (``window`` output); None without a window.
BEFORE, OPEN, CLOSED = "before", "open", "closed"
#: The one call a step may send.
START, PAUSE = "start", "pause"
# Kinds of change per property, as the engine's detailed diff names them.
ADD, DELETE, UPDATE, UPDATE_REPLACE = "add", "delete", "update", "update-replace"

# RFC 3339 date-time: a full date, a time with seconds, optional fraction, and an offset.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?")


def _unknown(value: Any) -> bool:
    return value is UNKNOWN


def kind(old: Any, new: Any) -> str:
    """The detailed diff's kind of a property going from ``old`` to ``new``."""
    if old is None and new is not None:
        return ADD
    if new is None and old is not None:
        return DELETE
    return UPDATE


def satisfies(observed: Any, desired: Any) -> bool:
    """Whether a campaign Leadterra reports ``observed`` already is ``desired``.

    Pausing a draft is a documented no-op that leaves it draft, so draft is as paused as it will
    ever get; demanding "paused" there would be a diff that never goes away.
    """
    return bool(observed == desired or (desired == "paused" and observed == "draft"))


# --- instants ------------------------------------------------------------------------------------
def instant_problem(name: str, value: Any) -> Optional[str]:
    """Why ``value`` is not an RFC 3339 instant with an offset, naming input ``name``; or None."""
    if not isinstance(value, str):
        return f"{name} must be an RFC 3339 date-time string such as 2027-03-10T09:00:00+01:00"
    match = _RFC3339.fullmatch(value.strip())
    if match is None:
        return (
            f"{name} is {value!r}, which is not an RFC 3339 date-time; write it like "
            "2027-03-10T09:00:00+01:00 (or ...Z for UTC)"
        )
    if match.group(2) is None:
        return (
            f"{name} is {value!r}, which has no offset, so it names a different instant in every "
            "time zone; add one, like 2027-03-10T09:00:00+01:00 (or ...Z for UTC)"
        )
    try:
        parse_instant(value)
    except ValueError:
        return f"{name} is {value!r}, which is not a date and time that exists"
    return None


def parse_instant(value: str) -> datetime:
    """An RFC 3339 instant with an offset as an aware datetime (check has refused anything else)."""
    text = value.strip()
    if text[-1] in "zZ":
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text.replace("t", "T"))
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no offset")
    return parsed


def format_instant(instant: datetime) -> str:
    """An instant in UTC, as RFC 3339 with ``Z``: outputs compare as text in any pipeline."""
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def window_of(start_at: Any, stop_at: Any, now: datetime) -> tuple[Any, Optional[datetime]]:
    """Where ``now`` falls (`BEFORE`, `OPEN`, `CLOSED`; None with no window; `UNKNOWN` while an
    instant is unknown) and the window's next edge after ``now``, if any."""
    if _unknown(start_at) or _unknown(stop_at):
        return UNKNOWN, None
    start = parse_instant(start_at) if start_at is not None else None
    stop = parse_instant(stop_at) if stop_at is not None else None
    if start is None and stop is None:
        return None, None
    if start is not None and now < start:
        return BEFORE, start
    if stop is not None and now >= stop:
        return CLOSED, None
    return OPEN, stop


# --- the run and what it holds ---------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Run:
    """What a run decides with: its settings (read once per provider process) and its instant.

    ``now`` is taken once per provider process, so every resource of a run agrees.
    """

    now: datetime
    pause_all: bool = False
    heal: bool = False
    heal_all: bool = False

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise ValueError("a run's instant must carry an offset")


@dataclasses.dataclass(frozen=True)
class Held:
    """What a run holds for one resource.

    ``status`` is ``running``, ``paused``, None (an import that declares nothing) or `UNKNOWN`;
    ``window`` where ``now`` falls; ``next_change_at`` the next instant at which a run would
    change something for this declaration (the brake aside), in UTC, or None.
    """

    status: Any
    window: Any = None
    next_change_at: Optional[str] = None


def _declared(inputs: dict[str, Any]) -> Any:
    """The status the program declares: check records it as ``held_status`` (it may rewrite
    ``status`` to what the run holds); inputs from before that hold their ``status``."""
    declared = inputs.get("held_status")
    if declared in (*STATUSES, HELD_NOTHING) or _unknown(declared):
        return declared
    return inputs.get("status", "running")


def held(inputs: dict[str, Any], run: Run) -> Held:
    """What this run holds for a resource with these checked inputs (rules 1 to 3).

    ``status`` in checked inputs is what check decided the run holds; ``paused`` there is held
    whatever else the inputs say (pausing is always safe, and inputs checked by another run must
    never start anything this run's rules would not).
    """
    declared = _declared(inputs)
    window, edge = window_of(inputs.get("start_at"), inputs.get("stop_at"), run.now)
    next_change = format_instant(edge) if edge is not None and declared == "running" else None
    status = inputs.get("status")
    if status is None and declared != HELD_NOTHING:
        status = "running"
    if run.pause_all or status == "paused":
        return Held("paused", window, next_change)
    if status is None:
        return Held(None, window, None)
    if _unknown(status) or _unknown(window):
        return Held(UNKNOWN, window, None)
    if window in (BEFORE, CLOSED):
        return Held("paused", window, next_change)
    return Held(status, window, next_change)


# --- the decision ----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Decision:
    """What one step does for one resource.

    ``call`` is `START`, `PAUSE` or None (no request); ``status_change`` the kind the preview
    shows for ``status`` (None: the preview shows no status change); ``reason`` says why, in
    words, for logs and tests.
    """

    held: Held
    call: Optional[str]
    status_change: Optional[str]
    reason: str


def _reasserts(inputs: dict[str, Any], status: Any, run: Run) -> bool:
    """Whether this run sends the held status even though state says it already holds.

    State can be wrong: a run killed after its start reached Leadterra but before the engine
    recorded it leaves "paused" in state for a running campaign. So the brake trusts no state,
    and ``healAll`` (the repair after an interrupted run) pauses every campaign held paused.
    Stale state is dangerous in that direction only: "running" in state for a paused campaign is
    someone's pause, which only ``heal`` undoes, for campaigns owned by Git (``reconcile=True``).
    """
    owned = (run.heal or run.heal_all) and inputs.get("reconcile") is True
    return run.pause_all or owned or (run.heal_all and status == "paused")


def moved(stored: dict[str, Any], inputs: dict[str, Any]) -> bool:
    """Whether the resource's calls now go to another API root than state records (a new base
    URL input, a new leadterra:baseUrl, another explicit provider). State from before the
    endpoint was recorded moved nowhere."""
    if inputs.get("base_url") != stored.get("base_url"):
        return True
    old, new = stored.get("endpoint"), inputs.get("endpoint")
    return isinstance(old, str) and isinstance(new, str) and old != new


def decide(stored: dict[str, Any], inputs: dict[str, Any], run: Run) -> Decision:
    """What a create (``stored`` empty) or an update sends, and what its preview shows.

    ``stored`` is the resource's outputs as this version writes them; ``inputs`` its checked
    inputs; ``run`` the run's settings and instant. Pure: same arguments, same decision.
    """
    now_held = held(inputs, run)
    status = now_held.status
    call = START if status == "running" else PAUSE
    if not stored:
        # A create sends its one call whatever it holds: it proves the campaign and the key when
        # the program declares it (a pause is always safe; a draft stays draft).
        return Decision(now_held, call, ADD, "created: one call holds what the run holds")
    observed = stored.get("status")
    if status is None:
        return Decision(now_held, None, None, "nothing held: an import declares no status")
    if _unknown(status):
        return Decision(now_held, None, kind(observed, status), "unknown until the inputs are computed")
    if not satisfies(observed, status):
        reason = f"state records {observed!r}; this run holds {status!r}"
        if now_held.window in (BEFORE, CLOSED) and not run.pause_all:
            reason += f" (window {now_held.window})"
        return Decision(now_held, call, kind(observed, status), reason)
    if _reasserts(inputs, status, run):
        which = "the brake" if run.pause_all else "healAll" if run.heal_all else "heal"
        return Decision(now_held, call, UPDATE, f"{which} re-asserts {status!r} whatever state says")
    if moved(stored, inputs):
        return Decision(now_held, call, None, "a new endpoint gets the campaign its one call")
    return Decision(now_held, None, None, f"state already records {status!r}")
