"""The sandbox's campaigns, in an SQLite database (WAL mode) at the ``--state`` path.

Every change is committed before its answer leaves, so an acknowledged change survives a
``kill -9`` (WAL with ``synchronous=NORMAL`` loses nothing to a process crash; only a power cut
could take the last commits). SQLite's own locking lets several sandboxes share one state file
safely: each request reads and writes the database inside one transaction, never a private copy.

A file that is not a sandbox database (an older sandbox's JSON, anything else) is refused with a
sentence naming it, and never written to.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Optional

__all__ = ["StateFileError", "Store", "new_campaign", "now_iso", "transition_time"]

_FORMAT = "leadterra-sandbox/2"
_SQLITE_MAGIC = b"SQLite format 3\x00"


class StateFileError(Exception):
    """The state file cannot be used; the message names it and says what to do."""


def now_iso() -> str:
    """UTC now with milliseconds, as ISO 8601 (``2025-01-15T11:00:00.123Z``)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def transition_time(previous: Optional[str]) -> str:
    """A timestamp for a new transition, strictly later than ``previous``.

    Clients tell a real transition from a no-op by ``startedAt``/``pausedAt`` changing; two
    transitions within one millisecond must still give two different timestamps. Never raises:
    a ``previous`` that is not a time, or so late that nothing representable follows it (a seed
    or an old state file may hold one), gives now.
    """
    now = now_iso()
    if not previous:
        return now
    try:
        before = datetime.fromisoformat(previous)
        if before.tzinfo is None:
            before = before.replace(tzinfo=UTC)
        if datetime.fromisoformat(now) > before:
            return now
        later = (before + timedelta(milliseconds=1)).astimezone(UTC)
    except (TypeError, ValueError, OverflowError):
        return now
    return later.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_campaign(campaign_id: str, status: str = "draft", leads: int = 3) -> dict[str, Any]:
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


class Campaigns:
    """The campaigns as one transaction sees them: read, write, delete by id."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def get(self, campaign_id: str) -> Optional[dict[str, Any]]:
        row = self._db.execute("SELECT body FROM campaigns WHERE id = ?", (campaign_id,)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def put(self, campaign: dict[str, Any]) -> None:
        body = json.dumps(campaign, separators=(",", ":"))
        self._db.execute("INSERT OR REPLACE INTO campaigns (id, body) VALUES (?, ?)", (campaign["id"], body))

    def add(self, campaign: dict[str, Any]) -> None:
        """Insert unless a campaign with that id exists (seeding never overwrites state)."""
        body = json.dumps(campaign, separators=(",", ":"))
        self._db.execute("INSERT OR IGNORE INTO campaigns (id, body) VALUES (?, ?)", (campaign["id"], body))

    def delete(self, campaign_id: str) -> None:
        self._db.execute("DELETE FROM campaigns WHERE id = ?", (campaign_id,))


class Store:
    """Campaigns by id in SQLite: at ``path``, or in memory when ``path`` is None."""

    def __init__(self, path: Optional[Path]) -> None:
        self._lock = threading.Lock()
        self._db = _open(path)

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Campaigns]:
        """One atomic unit of reads and writes, committed (durably) when the block ends.

        ``write=False`` for reads only: other sandboxes on the same file are not held up.
        """
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield Campaigns(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _open(path: Optional[Path]) -> sqlite3.Connection:
    if path is None:
        db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
    else:
        _refuse_foreign_file(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.DatabaseError as exc:
            raise StateFileError(f"state file {path} cannot be opened as a database ({exc})") from None
    try:
        db.execute("BEGIN IMMEDIATE")
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            db.execute("CREATE TABLE campaigns (id TEXT PRIMARY KEY, body TEXT NOT NULL)")
            db.execute("INSERT INTO meta VALUES ('format', ?)", (_FORMAT,))
        elif tables != {"meta", "campaigns"} or db.execute(
            "SELECT value FROM meta WHERE key = 'format'"
        ).fetchone() != (_FORMAT,):
            db.execute("ROLLBACK")
            raise StateFileError(
                f"state file {path} is an SQLite database, but not a sandbox's; "
                "give --state a path of its own"
            )
        db.execute("COMMIT")
    except sqlite3.DatabaseError as exc:
        raise StateFileError(f"state file {path} cannot be used as a sandbox database ({exc})") from None
    return db


def _refuse_foreign_file(path: Path) -> None:
    """Refuse, without touching it, a file that is neither absent, empty, nor SQLite."""
    try:
        with path.open("rb") as handle:
            head = handle.read(len(_SQLITE_MAGIC))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StateFileError(f"state file {path} cannot be read ({exc.strerror})") from None
    if not head or head == _SQLITE_MAGIC:
        return
    hint = (
        "it looks like JSON from an older sandbox: load its campaigns with --seed and give --state a new path"
        if head.lstrip()[:1] in (b"{", b"[")
        else "give --state a new path"
    )
    raise StateFileError(f"state file {path} is not a sandbox database, and is left untouched; {hint}")
