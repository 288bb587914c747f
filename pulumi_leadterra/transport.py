"""How bytes reach Leadterra: the one place that decides proxies, credentials and time limits.

Requests go out through urllib3 directly. Unlike ``requests``, it reads nothing from the
environment by itself, which is what we want: a loopback ``http`` request sent through
``HTTP_PROXY`` would carry the bearer token in clear to the proxy, and a ``.netrc`` entry would
silently replace our ``Authorization`` header. This module applies, explicitly, what we do want
from the environment: ``HTTPS_PROXY``/``NO_PROXY`` and ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``
for https to a non-loopback host, which corporate networks need. Loopback never goes through a
proxy. (It is also about a third cheaper per call than ``requests``, which matters to the native
plugin's throughput.)

It also makes a call's time budget a real bound. A socket read timeout only limits the wait
between two bytes, so a server trickling one byte at a time could hold a request forever; here a
watchdog shuts the socket of the request in flight when the call's deadline passes.
"""

from __future__ import annotations

import heapq
import itertools
import os
import socket
import threading
import time
from typing import Any, Optional, Union
from urllib.parse import urlsplit

import certifi
from urllib3 import BaseHTTPResponse, PoolManager, ProxyManager, Timeout
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .settings import is_loopback_url

__all__ = ["Cancellation", "Deadline", "Transport"]

_current = threading.local()


class Deadline:
    """The wall-clock end of one call (all its attempts). Once armed, the shared watchdog shuts
    down the socket of the request in flight at that moment, so no byte pattern outlasts it."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self.expired = False
        self._lock = threading.Lock()
        self._connection: Optional[HTTPConnection] = None
        self._armed = False

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def watch(self, connection: HTTPConnection) -> None:
        """Called by the connection that is about to carry this call's request."""
        with self._lock:
            self._connection = connection
            if self.expired:
                _shut(connection)

    def arm(self) -> None:
        if not self._armed:
            self._armed = True
            _WATCHDOG.add(self)

    def disarm(self) -> None:
        """The attempt is over: nothing of it is left to shut."""
        with self._lock:
            self._connection = None

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            if self._connection is not None:
                _shut(self._connection)


class Cancellation:
    """The engine's Cancel (Ctrl-C), for every call of one provider process.

    Once set, the socket of each call in flight is shut at once (so the call ends now, not when
    its budget runs out), and no call starts, retries or sleeps any more.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._live: set[Deadline] = set()

    @property
    def is_set(self) -> bool:
        return self._event.is_set()

    def set(self) -> None:
        with self._lock:
            self._event.set()
            live = list(self._live)
        for deadline in live:
            deadline.expire()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True when cancelled meanwhile."""
        return self._event.wait(seconds)

    def track(self, deadline: Deadline) -> None:
        with self._lock:
            self._live.add(deadline)
            cancelled = self._event.is_set()
        if cancelled:
            deadline.expire()

    def untrack(self, deadline: Deadline) -> None:
        with self._lock:
            self._live.discard(deadline)


class _Watchdog:
    """One thread for every deadline of the process (a thread per request would cost more than
    the request): it sleeps until the earliest deadline, expires it, and waits for the next."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._thread: Optional[threading.Thread] = None

    def add(self, deadline: Deadline) -> None:
        with self._cond:
            earliest = not self._heap or deadline.at < self._heap[0][0]
            heapq.heappush(self._heap, (deadline.at, next(self._order), deadline))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="leadterra-deadlines", daemon=True)
                self._thread.start()
            if earliest:  # only a new earliest deadline changes how long the watchdog sleeps
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                at, _, deadline = self._heap[0]
                wait = at - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
            deadline.expire()


_WATCHDOG = _Watchdog()


def _shut(connection: HTTPConnection) -> None:
    sock = getattr(connection, "sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed: nothing left to stop


class _Watched:
    """Mixed into urllib3's connections: registers each request with the current deadline."""

    def request(self, *args: Any, **kwargs: Any) -> None:
        deadline: Optional[Deadline] = getattr(_current, "deadline", None)
        if deadline is not None:
            deadline.watch(self)  # type: ignore[arg-type]
        super().request(*args, **kwargs)  # type: ignore[misc]


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


def proxies_for(url: str, environ: Optional[dict[str, str]] = None) -> dict[str, str]:
    """The proxies one request may use: none for loopback or plain http; for https, what
    ``HTTPS_PROXY`` (or ``ALL_PROXY``) says, unless ``NO_PROXY`` exempts the host."""
    if urlsplit(url).scheme != "https" or is_loopback_url(url):
        return {}
    env = os.environ if environ is None else environ
    found = {}
    for name in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        if env.get(name):
            found = {"https": env[name]}
            break
    if not found:
        return {}
    no_proxy = env.get("no_proxy") or env.get("NO_PROXY") or ""
    host = (urlsplit(url).hostname or "").lower()
    for entry in (e.strip().lower().lstrip(".") for e in no_proxy.split(",")):
        if entry == "*" or (entry and (host == entry or host.endswith("." + entry))):
            return {}
    return found


def verify_for(url: str, environ: Optional[dict[str, str]] = None) -> Union[bool, str]:
    """TLS verification: always on; a CA bundle from the environment for https, as requests does."""
    env = os.environ if environ is None else environ
    if urlsplit(url).scheme == "https":
        return env.get("REQUESTS_CA_BUNDLE") or env.get("CURL_CA_BUNDLE") or True
    return True


class Transport:
    """Sends one request under the transport policy above. Thread-safe: urllib3's pools are, and
    the engine calls the plugin from many threads at once."""

    def __init__(self, pool_size: int = 32) -> None:
        self._pool_size = pool_size
        self._lock = threading.Lock()
        self._managers: dict[str, PoolManager] = {}

    def _manager(self, url: str) -> PoolManager:
        """The pool manager for ``url``'s origin, built on first use: the environment is read
        then, once per origin, not on every request."""
        origin = "/".join(url.split("/", 3)[:3])
        manager = self._managers.get(origin)
        if manager is None:
            with self._lock:
                manager = self._managers.get(origin)
                if manager is None:
                    manager = self._new_manager(url)
                    self._managers[origin] = manager
        return manager

    def _new_manager(self, url: str) -> PoolManager:
        proxy = proxies_for(url).get("https")
        verify = verify_for(url)
        options: dict[str, Any] = {"maxsize": self._pool_size, "block": False}
        if isinstance(verify, str):
            options["ca_certs"] = verify
        elif urlsplit(url).scheme == "https":
            options["ca_certs"] = certifi.where()
        manager = ProxyManager(proxy, **options) if proxy else PoolManager(**options)
        manager.pool_classes_by_scheme = _POOLS
        return manager

    def send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        deadline: Deadline,
        connect_timeout: float,
        read_timeout: float,
    ) -> BaseHTTPResponse:
        """One attempt, finished (body included) before ``deadline`` or failed at it."""
        remaining = deadline.remaining()
        if remaining <= 0:
            raise TimeoutError("the call's time budget is spent")
        timeout = Timeout(connect=min(connect_timeout, remaining), read=min(read_timeout, remaining))
        manager = self._manager(url)
        _current.deadline = deadline
        deadline.arm()  # once per call: the watchdog keeps it until it passes
        try:
            return manager.request(
                method, url, headers=headers, timeout=timeout, redirect=False, retries=False
            )
        finally:
            deadline.disarm()
            _current.deadline = None
