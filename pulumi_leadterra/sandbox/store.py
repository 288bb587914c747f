"""The sandbox's campaigns, kept in one JSON file written atomically (a restart loses nothing)."""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Optional

__all__ = ["Store", "now_iso", "demo_campaign", "transition_time"]


def now_iso() -> str:
    """UTC now with milliseconds, as ISO 8601 (``2025-01-15T11:00:00.123Z``)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def transition_time(previous: Optional[str]) -> str:
    """A timestamp for a new transition, strictly later than ``previous``.

    Clients tell a real transition from a no-op by ``startedAt``/``pausedAt`` changing; two
    transitions within one millisecond must still give two different timestamps.
    """
    now = now_iso()
    if not previous:
        return now
    try:
        before = datetime.fromisoformat(previous)
    except ValueError:
        return now
    if before.tzinfo is None:
        before = before.replace(tzinfo=UTC)
    if datetime.fromisoformat(now) > before:
        return now
    return (before + timedelta(milliseconds=1)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def demo_campaign(campaign_id: str, status: str = "draft", leads: int = 3) -> dict[str, Any]:
    """A campaign ready to start: one sequence step and ``leads`` enrolled leads."""
    return {
        "id": campaign_id,
        "name": f"Demo {campaign_id}",
        "status": status,
        "sequenceSteps": [{"subject": "Hello {{firstName}}", "bodyHtml": "<p>Hi!</p>"}],
        "leads": [{"email": f"lead{i}@example.com", "firstName": f"Lead{i}"} for i in range(leads)],
        "createdAt": now_iso(),
        "startedAt": now_iso() if status == "running" else None,
        "pausedAt": now_iso() if status == "paused" else None,
        "sent": 0,
    }


class Store:
    """Thread-safe campaigns by id, persisted by a background writer.

    Handlers change the campaigns in memory under a lock and return at once; a writer thread
    saves the whole state at most every ``interval`` seconds, coalescing the changes made in
    between, so persistence never sits on a request's path. ``close()`` (called on SIGINT and
    SIGTERM) writes the last changes, so a restart loses nothing.
    """

    def __init__(self, path: Optional[Path], interval: float = 0.25) -> None:
        self._path = path
        self._interval = interval
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._dirty = False
        self._closed = False
        self.campaigns: dict[str, dict[str, Any]] = {}
        if path is not None and path.exists():
            self.campaigns = json.loads(path.read_text()).get("campaigns", {})
        self._writer = threading.Thread(target=self._write_loop, name="sandbox-store", daemon=True)
        if path is not None:
            self._writer.start()

    @contextmanager
    def change(self) -> Iterator[dict[str, dict[str, Any]]]:
        """Mutate campaigns under the lock; the writer saves them shortly after."""
        with self._lock:
            yield self.campaigns
            self._dirty = True
            self._wake.notify()

    @contextmanager
    def view(self) -> Iterator[dict[str, dict[str, Any]]]:
        with self._lock:
            yield self.campaigns

    def close(self) -> None:
        """Write what is pending and stop the writer."""
        with self._lock:
            self._closed = True
            self._wake.notify()
        if self._writer.is_alive():
            self._writer.join(timeout=10)

    def _write_loop(self) -> None:
        while True:
            with self._lock:
                while not self._dirty and not self._closed:
                    self._wake.wait()
                if not self._dirty:
                    return
                snapshot = json.dumps({"campaigns": self.campaigns}, separators=(",", ":"), sort_keys=True)
                self._dirty = False
                closing = self._closed
            self._save(snapshot)
            if closing:
                continue  # one more pass: anything changed while saving is written too
            time.sleep(self._interval)

    def _save(self, snapshot: str) -> None:
        assert self._path is not None
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self._path.parent, prefix=".state-", suffix=".json")
        # Write a temporary file and rename it over the old one: a reader (or a restart) sees the
        # old state or the new one, never half a file.
        with os.fdopen(fd, "w") as handle:
            handle.write(snapshot)
        os.replace(tmp, self._path)
