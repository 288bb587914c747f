"""Hostile servers on loopback for the hardening suites: an HTTP server whose answers a test
writes, and raw TCP servers (a proxy, a TLS peer) that trickle, record or refuse.

Everything binds 127.0.0.1 and every loop here is bounded (by a count, a deadline, or the stop
event set when the server closes), so no test can hang on a server, and nothing leaves loopback.
The few tests at the bottom check the helpers themselves.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

import requests

#: (status, headers, body) for one request.
Answer = tuple[int, dict[str, str], bytes]


def json_answer(status: int, payload: Any, **headers: str) -> Answer:
    return status, {"Content-Type": "application/json", **headers}, json.dumps(payload).encode()


def started(campaign_id: str) -> Answer:
    """What Leadterra answers to a start."""
    return json_answer(
        200, {"id": campaign_id, "status": "running", "startedAt": "2025-01-01T00:00:00Z", "pausedAt": None}
    )


class Request:
    def __init__(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        self.method, self.path, self.headers, self.body = method, path, headers, body

    @property
    def campaign_id(self) -> str:
        parts = self.path.split("/")
        return parts[3] if len(parts) > 3 else ""


class FakeHTTP:
    """An HTTP/1.1 server on 127.0.0.1 (keep-alive): ``app(request) -> Answer`` answers each
    request; ``requests`` records them; ``connections`` counts the TCP connections accepted."""

    def __init__(self, app: Callable[[Request], Answer]) -> None:
        outer = self
        self.app = app
        self.requests: list[Request] = []
        self.connections = 0
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(self.command, self.path, dict(self.headers.items()), body)
                with outer._lock:
                    outer.requests.append(request)
                status, headers, data = outer.app(request)
                self.send_response(status)
                if "Content-Length" not in headers and "Transfer-Encoding" not in headers:
                    self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                try:
                    if headers.get("Transfer-Encoding") == "chunked":
                        for start in range(0, len(data), 65536):
                            piece = data[start : start + 65536]
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                        self.wfile.write(b"0\r\n\r\n")
                    else:
                        self.wfile.write(data)
                except OSError:
                    self.close_connection = True  # the client stopped reading, as it may

            do_GET = do_POST = _serve  # noqa: N815

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

            def process_request(self, request: Any, client_address: Any) -> None:
                with outer._lock:
                    outer.connections += 1
                super().process_request(request, client_address)

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeHTTP:
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()


class RawServer:
    """A TCP server on 127.0.0.1 that hands each connection to ``serve(conn, stop)`` in a thread
    of its own. ``stop`` is set on close; ``serve`` must return by then (or at its own bound)."""

    def __init__(self, serve: Callable[[socket.socket, threading.Event], None]) -> None:
        self._serve = serve
        self.stop = threading.Event()
        self.accepted = 0
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept, daemon=True)
        self._accepter.start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            thread = threading.Thread(target=self._run, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _run(self, conn: socket.socket) -> None:
        with conn:
            try:
                self._serve(conn, self.stop)
            except OSError:
                pass  # the client hung up: what a bounded client does

    def close(self) -> None:
        self.stop.set()
        self._accepter.join(timeout=5)
        self._listener.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> RawServer:
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()


def read_head(conn: socket.socket, limit: float = 5.0) -> bytes:
    """A request head (up to the blank line), within ``limit`` seconds."""
    conn.settimeout(limit)
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def trickle(
    conn: socket.socket, stop: threading.Event, pieces: list[bytes], every: float, bound: float
) -> None:
    """Send ``pieces`` one every ``every`` seconds, for at most ``bound`` seconds."""
    ends = time.monotonic() + bound
    for piece in pieces:
        if stop.is_set() or time.monotonic() > ends:
            return
        conn.sendall(piece)
        stop.wait(every)


def trickling_proxy(every: float = 0.3, bound: float = 8.0) -> RawServer:
    """A proxy that accepts CONNECT and then sends its reply's header lines one every ``every``
    seconds, never the blank line that ends it (for ``bound`` seconds at most)."""

    def serve(conn: socket.socket, stop: threading.Event) -> None:
        read_head(conn)
        lines = [b"HTTP/1.1 200 Connection established\r\n"]
        lines += [b"X-Pad-%d: 1\r\n" % i for i in range(1000)]
        trickle(conn, stop, lines, every, bound)

    return RawServer(serve)


def trickling_tls_peer(every: float = 0.2, bound: float = 8.0) -> RawServer:
    """A "TLS server" that announces a 16 KiB handshake record and sends it a byte at a time: the
    client's handshake waits for the rest, one socket timeout at a time, forever."""

    def serve(conn: socket.socket, stop: threading.Event) -> None:
        conn.settimeout(5)
        conn.recv(4096)  # the ClientHello
        trickle(conn, stop, [b"\x16\x03\x03\x40\x00"] + [b"\x02"] * 20000, every, bound)

    return RawServer(serve)


class RecordingProxy(RawServer):
    """A proxy that records each CONNECT head and refuses the tunnel with ``status``: nothing
    goes further than loopback."""

    def __init__(self, status: bytes = b"403 Forbidden") -> None:
        self.heads: list[bytes] = []

        def serve(conn: socket.socket, _stop: threading.Event) -> None:
            self.heads.append(read_head(conn))
            conn.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

        super().__init__(serve)


def proxy_env(url: str) -> dict[str, str]:
    """The environment that points every https request at ``url`` (and exempts nothing)."""
    return {
        "HTTPS_PROXY": url,
        "https_proxy": url,
        "NO_PROXY": "",
        "no_proxy": "",
        "ALL_PROXY": "",
        "all_proxy": "",
    }


def vm_kib(pid: int, field: str) -> int:
    """A ``/proc/PID/status`` field (VmRSS, VmHWM) in KiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise LookupError(field)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


# --- the helpers themselves -------------------------------------------------------------------------


def test_fake_http_answers_records_and_counts() -> None:
    with FakeHTTP(lambda request: started(request.campaign_id)) as server:
        session = requests.Session()
        session.trust_env = False
        for _ in range(3):
            assert (
                session.post(server.url + "/v1/campaigns/c1/start", timeout=5).json()["status"] == "running"
            )
        assert [r.campaign_id for r in server.requests] == ["c1"] * 3
        assert server.connections == 1  # keep-alive


def test_raw_servers_stop_when_closed() -> None:
    began = time.monotonic()
    with trickling_proxy(every=0.05, bound=30) as proxy:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as conn:
            conn.sendall(b"CONNECT x:443 HTTP/1.1\r\n\r\n")
            assert conn.recv(100).startswith(b"HTTP/1.1 200")
    assert time.monotonic() - began < 5


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> Optional[bool]:
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        if predicate():
            return True
        time.sleep(0.02)
    return None
