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
watchdog shuts the socket of the request in flight when the call's deadline passes, from the
connection's set-up (a proxy trickling its CONNECT reply) to the last byte of the body.

And it bounds what a reply can cost: at most `MAX_REPLY_BYTES` of a body are read, never
decompressed (we ask for ``identity``; an unsolicited gzip body is not ours to inflate).
"""

from __future__ import annotations

import heapq
import itertools
import math
import os
import re
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional, Union
from urllib.parse import unquote

import certifi
from urllib3 import BaseHTTPResponse, PoolManager, ProxyManager, Timeout
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import LocationParseError
from urllib3.util import make_headers, parse_url

from .errors import ConfigurationError
from .settings import is_loopback_url

__all__ = ["MAX_CONCURRENCY", "MAX_REPLY_BYTES", "Cancellation", "Deadline", "Reply", "Transport"]

#: How many calls one provider process runs at once: the native plugin's worker threads, and so
#: the connections each origin's pool keeps (fewer would open and discard one per extra call).
MAX_CONCURRENCY = 64
#: The most of a reply's body that is read. A campaign's answer is a few hundred bytes.
MAX_REPLY_BYTES = 1 << 20
_CHUNK = 64 * 1024
_DIGITS = re.compile(r"[0-9]+")  # ASCII digits only: "²".isdigit() is True

_current = threading.local()


def _deadline() -> Optional[Deadline]:
    return getattr(_current, "deadline", None)


class Deadline:
    """The wall-clock end of one call (all its attempts). Once armed, the shared watchdog shuts
    down the socket of the request in flight at that moment, so no byte pattern outlasts it."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self.expired = False
        self._lock = threading.Lock()
        self._connection: Optional[HTTPConnection] = None
        # The socket of a connection being set up: urllib3 hands it to the connection only once
        # it is connected, and a deadline passing in between must still shut it.
        self._socket: Optional[socket.socket] = None
        self._armed = False
        self._closed = False

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def watch(self, connection: HTTPConnection) -> None:
        """Called by the connection that is about to carry this call's request."""
        with self._lock:
            self._connection = connection
            if self.expired:
                _shut(connection)

    def watch_socket(self, sock: Optional[socket.socket]) -> None:
        """Called with the new socket of a connection being set up for this call (None once it
        is up: the connection itself is watched from then on)."""
        with self._lock:
            self._socket = sock
            if sock is not None and self.expired:
                _shut_socket(sock)

    def arm(self) -> None:
        if not self._armed and not self._closed:
            self._armed = True
            _WATCHDOG.add(self)

    def disarm(self) -> None:
        """The attempt is over: nothing of it is left to shut."""
        with self._lock:
            self._connection = None
            self._socket = None

    def close(self) -> None:
        """The call is over: the watchdog forgets it now, not when its budget would have run out
        (a busy process would otherwise hold every call of the last ``retryBudget`` seconds)."""
        self._closed = True
        self.disarm()
        if self._armed:
            _WATCHDOG.remove(self)

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            if self._connection is not None:
                _shut(self._connection)
            if self._socket is not None:
                _shut_socket(self._socket)


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
    the request): it sleeps until the earliest deadline, expires it, and waits for the next.

    It holds the calls in flight only: a call that ends removes its deadline (`Deadline.close`),
    so the heap's size is the number of calls running, not the call rate times the budget. It is
    woken only by a deadline earlier than the moment it already means to look: every call adds a
    deadline, and waking a thread for each (to learn that it may sleep on) cost about a sixth of a
    read's CPU.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._thread: Optional[threading.Thread] = None
        #: When the watchdog next looks at the heap (monotonic; infinite while the heap is empty).
        self._looks_at = math.inf

    def add(self, deadline: Deadline) -> None:
        with self._cond:
            heapq.heappush(self._heap, (deadline.at, next(self._order), deadline))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="leadterra-deadlines", daemon=True)
                self._thread.start()
            if deadline.at < self._looks_at:  # it would look too late for this one
                self._cond.notify()

    def remove(self, deadline: Deadline) -> None:
        """Forget ``deadline`` (its call ended). Linear in the calls in flight, which the plugin's
        worker count bounds; the watchdog, if it was waiting for this one, wakes up at its time,
        finds another at the top, and sleeps on."""
        with self._cond:
            heap = self._heap
            for index, entry in enumerate(heap):
                if entry[2] is deadline:
                    last = heap.pop()
                    if index < len(heap):
                        heap[index] = last
                        heapq.heapify(heap)
                    return

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._looks_at = math.inf
                    self._cond.wait()
                at, _, deadline = self._heap[0]
                wait = at - time.monotonic()
                if wait > 0:
                    self._looks_at = at
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
            deadline.expire()


_WATCHDOG = _Watchdog()


def _shut(connection: HTTPConnection) -> None:
    sock = getattr(connection, "sock", None)
    if sock is not None:
        _shut_socket(sock)


def _shut_socket(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed (or handed over to ssl): nothing left to stop


class _Watched:
    """Mixed into urllib3's connections: registers each connection set-up and each request with
    the current deadline, so the watchdog can stop any of them."""

    def _new_conn(self) -> socket.socket:
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]
        deadline = _deadline()
        if deadline is not None:
            deadline.watch_socket(sock)
        return sock

    def connect(self) -> None:
        # An https pool connects before it sends, outside request(): a proxy trickling its
        # CONNECT reply (one header line at a time, each inside the socket timeout) must not
        # outlast the budget either. (The TLS handshake has its own bound: ssl gives the whole
        # handshake one socket timeout, the connect timeout, itself within the budget.)
        deadline = _deadline()
        if deadline is None:
            super().connect()  # type: ignore[misc]
            return
        deadline.watch(self)  # type: ignore[arg-type]
        try:
            super().connect()  # type: ignore[misc]
        finally:
            deadline.watch_socket(None)

    def request(self, *args: Any, **kwargs: Any) -> None:
        deadline = _deadline()
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
_PROXY_VARIABLES = ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


def _scheme(url: str) -> str:
    try:
        return (parse_url(url).scheme or "").lower()
    except LocationParseError:
        return ""


def _proxy_setting(env: Mapping[str, str]) -> Optional[tuple[str, str]]:
    """(variable, proxy URL) from the environment; a value without a scheme is ``http://``, as
    curl and requests read ``HTTPS_PROXY=proxy:3128``."""
    for name in _PROXY_VARIABLES:
        value = (env.get(name) or "").strip()
        if value:
            return name, value if "://" in value else "http://" + value
    return None


def proxies_for(url: str, environ: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """The proxies one request may use: none for loopback or plain http; for https, what
    ``HTTPS_PROXY`` (or ``ALL_PROXY``) says, unless ``NO_PROXY`` exempts the host. The value
    may carry ``user:password@`` (sent as ``Proxy-Authorization``, see `Transport`)."""
    if _scheme(url) != "https" or is_loopback_url(url):
        return {}
    env = os.environ if environ is None else environ
    setting = _proxy_setting(env)
    if setting is None:
        return {}
    no_proxy = env.get("no_proxy") or env.get("NO_PROXY") or ""
    host = (parse_url(url).host or "").lower()
    for entry in (e.strip().lower().lstrip(".") for e in no_proxy.split(",")):
        if entry == "*" or (entry and (host == entry or host.endswith("." + entry))):
            return {}
    return {"https": setting[1]}


def _proxy_manager(proxy: str, options: dict[str, Any]) -> ProxyManager:
    """A manager tunnelling through ``proxy``; its ``user:password@`` (percent-decoded, as
    curl and requests read it) becomes ``Proxy-Authorization: Basic``, which urllib3 does not
    send by itself. No sentence here repeats the proxy URL: it may hold a password."""
    where = next((name for name in _PROXY_VARIABLES if os.environ.get(name)), "HTTPS_PROXY")
    try:
        parts = parse_url(proxy)
    except LocationParseError:
        raise ConfigurationError(
            f"{where} is not a well-formed proxy URL; use http://[user:password@]host:port"
        ) from None
    scheme = (parts.scheme or "").lower()
    if scheme not in ("http", "https") or not parts.host:
        raise ConfigurationError(
            f"{where} names a proxy with the scheme {scheme[:20]!r}, which this provider does not "
            "speak; use http://[user:password@]host:port (or https://)"
        )
    headers: dict[str, str] = {}
    if parts.auth:
        user, _, password = parts.auth.partition(":")
        headers = make_headers(proxy_basic_auth=f"{unquote(user)}:{unquote(password)}")
    bare = parts._replace(auth=None, path=None, query=None, fragment=None).url
    return ProxyManager(bare, proxy_headers=headers, **options)


def verify_for(url: str, environ: Optional[Mapping[str, str]] = None) -> Union[bool, str]:
    """TLS verification: always on; a CA bundle from the environment for https, as requests does."""
    env = os.environ if environ is None else environ
    if _scheme(url) == "https":
        return env.get("REQUESTS_CA_BUNDLE") or env.get("CURL_CA_BUNDLE") or True
    return True


@dataclass(frozen=True)
class Reply:
    """One HTTP answer, read whole (at most `MAX_REPLY_BYTES` of body) and never decompressed.

    ``oversized`` says the body was longer than that: it was not read, and ``body`` is empty.
    """

    status: int
    headers: Mapping[str, str]  # case-insensitive (urllib3's HTTPHeaderDict)
    body: bytes
    oversized: bool = False

    @property
    def encoding(self) -> Optional[str]:
        """The ``Content-Encoding`` the server applied, or None for a plain body."""
        value = (self.headers.get("Content-Encoding") or "").strip().lower()
        return None if value in ("", "identity") else value


def _read_capped(response: BaseHTTPResponse, limit: int) -> tuple[bytes, bool]:
    """(body, complete): up to ``limit`` bytes as they came on the wire; complete is False when
    the body is longer (nothing more is read, and the connection must not be reused)."""
    length = (response.headers.get("Content-Length") or "").strip()
    if _DIGITS.fullmatch(length) and (len(length) > 18 or int(length) > limit):
        return b"", False
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = response.read(min(_CHUNK, limit + 1 - size), decode_content=False)
        if not chunk:
            return b"".join(chunks), True
        chunks.append(chunk)
        size += len(chunk)
    return b"", False


class Transport:
    """Sends one request under the transport policy above. Thread-safe: urllib3's pools are, and
    the engine calls the plugin from many threads at once."""

    def __init__(self, pool_size: int = MAX_CONCURRENCY, max_reply_bytes: int = MAX_REPLY_BYTES) -> None:
        self._pool_size = pool_size
        self._max_reply_bytes = max_reply_bytes
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
        # One connection per call the process may run at once, so that none is opened only to
        # be discarded ("Connection pool is full") when the calls outnumber the pool.
        options: dict[str, Any] = {"maxsize": self._pool_size, "block": False}
        if isinstance(verify, str):
            options["ca_certs"] = verify
        elif _scheme(url) == "https":
            options["ca_certs"] = certifi.where()
        manager = _proxy_manager(proxy, options) if proxy else PoolManager(**options)
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
    ) -> Reply:
        """One attempt, finished (body included) before ``deadline`` or failed at it."""
        remaining = deadline.remaining()
        if remaining <= 0:
            raise TimeoutError("the call's time budget is spent")
        timeout = Timeout(connect=min(connect_timeout, remaining), read=min(read_timeout, remaining))
        manager = self._manager(url)
        _current.deadline = deadline
        deadline.arm()  # once per call; the call's end (Deadline.close) takes it off the watchdog
        try:
            response = manager.request(
                method,
                url,
                headers=headers,
                timeout=timeout,
                redirect=False,
                retries=False,
                preload_content=False,
                decode_content=False,
            )
            complete = False
            try:
                body, complete = _read_capped(response, self._max_reply_bytes)
            finally:
                if not complete:  # unread bytes (or a broken read): the connection is done for
                    response.close()
                response.release_conn()
            return Reply(response.status, response.headers, body, oversized=not complete)
        finally:
            deadline.disarm()
            _current.deadline = None
