"""The sandbox's campaigns, kept in one JSON file written atomically (a restart loses nothing)."""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Optional

__all__ = ["Store", "now_iso", "demo_campaign"]


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
    """Thread-safe campaigns by id, persisted after every change."""

    def __init__(self, path: Optional[Path]) -> None:
        self._path = path
        self._lock = threading.Lock()
        self.campaigns: dict[str, dict[str, Any]] = {}
        if path is not None and path.exists():
            self.campaigns = json.loads(path.read_text()).get("campaigns", {})

    @contextmanager
    def change(self) -> Iterator[dict[str, dict[str, Any]]]:
        """Mutate campaigns under the lock; the file is rewritten when the block ends."""
        with self._lock:
            yield self.campaigns
            self._save()

    @contextmanager
    def view(self) -> Iterator[dict[str, dict[str, Any]]]:
        with self._lock:
            yield self.campaigns

    def _save(self) -> None:
        if self._path is None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self._path.parent, prefix=".state-", suffix=".json")
        with os.fdopen(fd, "w") as handle:
            json.dump({"campaigns": self.campaigns}, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self._path)
