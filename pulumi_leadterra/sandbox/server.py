"""The sandbox's HTTP layer: reading requests safely, answering in JSON, faults, and the server.

Every request gets a JSON answer, whatever it carries: a malformed or oversized
``Content-Length`` (400/413), a chunked body (411), headers too many or too long (431), framing
that two parsers could read two ways (400: differing ``Content-Length`` values, whitespace
before a colon, folded or nameless header lines), invalid or deeply nested JSON (400), a wrong
method on a known path (405 with ``Allow``), an unknown route (404), even a bug in a handler
(500). After an answer to a request whose body was not read, the connection is closed, so
leftover bytes are never parsed as the next request. A client that hangs up is logged once and
costs nothing on stderr. Only loopback addresses may be bound, so nothing here is reachable from a
network. ``stop()`` ends every connection's thread, including idle keep-alive ones.
"""

from __future__ import annotations

import ipaddress
import json
import re
import secrets
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Optional

from .admin import HEADER_VALUE, Runtime
from .routes import ApiError, route
from .store import Store

__all__ = ["MAX_BODY", "SandboxServer", "serve"]

MAX_BODY = 1 << 20  # 1 MiB: far above any documented request
_LENGTH = re.compile(r"[0-9]{1,16}")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # a header name (RFC 9110 token)
BACKLOG = 128  # connections the kernel queues before accept(): Python's default 5 drops bursts
LINGER_SECONDS = 1.0  # after the last answer, how long unread input is drained before the close
LINGER_BYTES = MAX_BODY
STOP_SECONDS = 5.0  # how long stop() waits for handler threads once their sockets are shut


@dataclass
class Context:
    """What every handler gets: the campaigns and the run-time knobs."""

    store: Store
    runtime: Runtime


class _AbandonedError(Exception):
    """The request ends without an answer: its client hung up mid-request, or the server is stopping."""


def _framing_problem(headers: Message) -> Optional[str]:
    """Why these headers could frame the request two ways, or None.

    ``http.client.parse_headers`` stops at a line it cannot read as a header (a space before the
    colon, no colon at all) and keeps the rest as "payload"; it folds a line that starts with
    whitespace into the header before it. Either way a ``Content-Length`` can vanish, and the body
    would run as the next request: such requests are refused, as RFC 9112 requires.
    """
    if headers.defects or headers.get_payload():
        return "malformed header line (whitespace before a colon, a line without one, or a folded first line)"
    for name, value in headers.items():
        if not _TOKEN.fullmatch(name):
            return f"malformed header name {name[:40]!r}"
        if any(ch in str(value) for ch in "\r\n\x00"):
            return f"header {name[:40]} is folded over several lines, or holds a NUL"
    if len({value.strip() for value in headers.get_all("Content-Length", [])}) > 1:
        return "conflicting Content-Length headers"
    return None


def _parse_json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise ApiError(400, "invalid_request", "request body is not valid JSON (or nests too deep)") from None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "leadterra-sandbox"
    # Headers and body leave in two writes; with Nagle on, the second waits for the client's
    # delayed ACK, adding 40 ms to every response on loopback.
    disable_nagle_algorithm = True
    ctx: Context  # set on the per-server subclass
    server: _Server
    verbose = False
    _headers_read = False  # whether self.headers belongs to the request being answered
    _held = False  # whether this request was logged when carried out, its answer held
    _received = 0.0  # when the request line arrived (set by parse_request)

    def handle_one_request(self) -> None:
        # Nothing of the previous request is reused.
        self.path, self._headers_read, self._held = "", False, False
        super().handle_one_request()

    def parse_request(self) -> bool:
        # The request line has been read: the request has arrived (on a kept-alive connection,
        # handle_one_request began waiting for it long before).
        self._received = time.time()
        if not super().parse_request():
            return False  # already answered (400, 431, ...) through send_error
        self._headers_read = True
        problem = _framing_problem(self.headers)
        if problem:
            self.send_error(400, problem)
            return False
        return True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        if self.verbose:  # the request line only: headers (and so the key) are never logged
            sys.stderr.write("sandbox: " + (format % args) + "\n")

    def send_error(self, code: int, message: Optional[str] = None, explain: Optional[str] = None) -> None:
        # http.server's own refusals (a malformed request line, headers too long) in JSON too,
        # with a status line even when the request line was too broken to name a version.
        if self.request_version == "HTTP/0.9":
            self.request_version = "HTTP/1.0"
        self.close_connection = True
        self._send_error(ApiError(code, "invalid_request", message or "malformed request"))

    # -- plumbing ---------------------------------------------------------------------------
    def _dispatch(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        runtime = self.ctx.runtime
        try:
            body = _parse_json(self._read_body())
            handler, match = route(method, path)
            fault: Optional[dict[str, Any]] = None
            if path.startswith("/v1/"):
                if runtime.latency_ms:
                    self._pause(runtime.latency_ms)
                fault = runtime.take_fault(path)
                if fault is not None and "holdMs" not in fault:
                    self._apply_fault(fault)
                    return
                self._authenticate()
            status, payload = handler(self.ctx, match.groupdict().get("id"), body)
            if fault is not None:
                # Done, but the answer is held: the caller never learns that it happened (a
                # start that reached Leadterra from a run killed before the answer came back).
                # Logged now, when it took effect, not when (or whether) its answer leaves.
                self._log_request(status)
                self._held = True
                self._pause(fault["holdMs"])
            self._send_json(status, payload)
        except _AbandonedError:
            self.close_connection = True
        except ApiError as exc:
            self._send_error(exc)
        except Exception as exc:  # noqa: BLE001 - a bug must still get an answer, not a dropped socket
            self.close_connection = True
            self._send_error(ApiError(500, "server_error", f"sandbox error ({type(exc).__name__})"))

    def _pause(self, ms: float) -> None:
        """Sleep ``ms`` (injected latency or delay), unless the server stops meanwhile: then the
        request is abandoned unanswered and untouched, and its thread ends at once."""
        if self.server.closing.wait(ms / 1000):
            raise _AbandonedError

    def _read_body(self) -> bytes:
        """The request body, within limits; refusals close the connection after the answer."""
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise ApiError(411, "invalid_request", "chunked bodies are not accepted; send Content-Length")
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        if not _LENGTH.fullmatch(length.strip()):
            self.close_connection = True
            raise ApiError(400, "invalid_request", "Content-Length must be a whole number of bytes")
        size = int(length)
        if size > MAX_BODY:
            self.close_connection = True
            raise ApiError(413, "invalid_request", f"request body over {MAX_BODY} bytes")
        if not size:
            return b""
        try:
            body = self.rfile.read(size)
        except OSError:
            raise _AbandonedError from None
        if len(body) < size:  # the client closed before sending all it announced
            raise _AbandonedError
        return body

    def _log_request(self, status: int) -> None:
        """Record a /v1 request, before its answer leaves: whoever reads the log after getting
        the answer finds the request there, in the order the answers went out."""
        path = self.path.split("?", 1)[0]  # "" when the request line was too broken to name one
        if path.startswith("/v1/"):
            # Headers refused as too many or too long (431) were never parsed: no User-Agent then.
            agent = self.headers.get("User-Agent") if self._headers_read else None
            self.ctx.runtime.log(
                {
                    "method": self.command,
                    "path": path,
                    "status": status,
                    "userAgent": agent,
                    # When the request arrived (epoch seconds): it is logged later, when it is
                    # answered (or, for a held answer, carried out).
                    "receivedAt": self._received,
                }
            )

    def _send(self, status: int, data: bytes, content_type: str, extra: dict[str, str]) -> None:
        """Log the answer once, then send it; a client that has hung up ends the connection quietly."""
        headers = {
            "Content-Type": content_type,
            "Content-Length": str(len(data)),
            "X-Request-Id": "req_" + secrets.token_hex(6),
            **({"Connection": "close"} if self.close_connection else {}),
            **extra,
        }
        for key, value in headers.items():  # checked before a byte of the head is buffered
            if not HEADER_VALUE.fullmatch(value):
                raise ValueError(f"the {key} header cannot carry {value[:20]!r}")
        if not self._held:
            self._log_request(status)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        try:
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True  # the client went away: nothing to say, and no one to say it to

    def _send_json(self, status: int, payload: Any, extra: Optional[dict[str, str]] = None) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json", extra or {})

    def _send_error(self, exc: ApiError, extra: Optional[dict[str, str]] = None) -> None:
        inner = {"code": exc.code, "message": exc.message}
        payload = inner if self.ctx.runtime.error_shape == "flat" else {"error": inner}
        self._send_json(exc.status, payload, {**exc.headers, **(extra or {})})

    def _apply_fault(self, fault: dict[str, Any]) -> None:
        if fault.get("drop"):
            # Close the socket without a byte of response: the client sees a dropped connection.
            self._log_request(0)
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already gone
            return
        if fault.get("delay_ms"):
            self._pause(fault["delay_ms"])
        if fault.get("trickleMs"):
            self._trickle(fault["trickleMs"])
            return
        status = int(fault.get("status", 500))
        extra = {"Retry-After": str(fault["retryAfter"])} if "retryAfter" in fault else {}
        if "body" in fault:
            self._send(status, fault["body"].encode(), fault.get("contentType", "text/html"), extra)
        else:
            code = fault.get("code") or ("rate_limited" if status == 429 else "server_error")
            message = fault.get("message") or f"sandbox fault {status}"
            self._send_error(ApiError(status, code, message), extra)

    def _trickle(self, every_ms: float) -> None:
        """A slow-loris answer: a whole 200 response, one byte every ``every_ms`` ms. A socket
        read timeout never fires on it; only a bound on the whole call stops it."""
        body = json.dumps({"id": "trickle", "status": "running", "padding": "x" * 64}).encode()
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        self._log_request(200)
        self.close_connection = True
        try:
            for byte in head.encode() + body:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                if self.server.closing.wait(every_ms / 1000):
                    return  # the server is stopping
        except OSError:
            pass  # the client gave up, as it should

    def _authenticate(self) -> None:
        # "Bearer <key>"; the scheme in any case, as RFC 9110 has auth schemes case-insensitive.
        scheme, _, credentials = (self.headers.get("Authorization") or "").strip().partition(" ")
        key = credentials.strip() if scheme.lower() == "bearer" else ""
        if not self.ctx.runtime.accepts(key):
            raise ApiError(401, "authentication_failed", "missing or invalid API key")

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:  # noqa: N802 - no route takes it: a 405 on a known path, else 404
        self._dispatch("PATCH")


class _Server(ThreadingHTTPServer):
    """One thread per connection, each tracked, so ``close_connections`` can end them all."""

    daemon_threads = True
    block_on_close = False  # close_connections joins the threads, after shutting their sockets
    request_queue_size = BACKLOG
    verbose = False

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self.closing = threading.Event()
        self._live_lock = threading.Lock()
        self._live: dict[threading.Thread, socket.socket] = {}
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(target=self.process_request_thread, args=(request, client_address))
        thread.daemon = True
        with self._live_lock:
            self._live[thread] = request
        thread.start()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._live_lock:
                self._live.pop(threading.current_thread(), None)

    def shutdown_request(self, request: Any) -> None:
        """A lingering close: end our side, then drain what the client is still sending (a body
        never read, the rest of a refused header) for a moment. Closing with unread input would
        send a TCP reset, which can destroy the answer before the client reads it."""
        try:
            request.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + LINGER_SECONDS
            drained = 0
            while drained < LINGER_BYTES and (left := deadline - time.monotonic()) > 0:
                request.settimeout(left)
                chunk = request.recv(65536)
                if not chunk:
                    break
                drained += len(chunk)
        except OSError:
            pass  # reset, timed out, or never connected: nothing more to wait for
        self.close_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (an OSError on its socket) is not an error worth a word. Anything
        else is a bug: one line on stderr, the traceback with --verbose."""
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            return
        if self.verbose:
            super().handle_error(request, client_address)
        else:
            sys.stderr.write(f"sandbox: {type(exc).__name__} on a connection (--verbose for the traceback)\n")

    def close_connections(self, timeout: float = STOP_SECONDS) -> None:
        """End every connection: sleeping handlers wake, blocked reads see end of stream, and
        their threads are joined (within ``timeout``)."""
        self.closing.set()
        with self._live_lock:
            live = dict(self._live)
        for request in live.values():
            try:
                request.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        for thread in live:
            thread.join(max(0.0, deadline - time.monotonic()))


class _Server6(_Server):
    address_family = socket.AF_INET6


def loopback_problem(host: str) -> Optional[str]:
    """Why the sandbox may not bind ``host``, or None when every address it names is loopback."""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return f"cannot resolve {host!r}"
    if not infos or not all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos):
        return f"the sandbox binds to loopback only (127.0.0.1, ::1 or localhost), not {host}"
    return None


class SandboxServer:
    """The sandbox in a background thread of this process (tests and the demo use it)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        state_path: Optional[Path] = None,
        api_key: Optional[str] = None,
        campaigns: Optional[list[dict[str, Any]]] = None,
        verbose: bool = False,
    ) -> None:
        problem = loopback_problem(host)
        if problem:
            raise ValueError(problem)
        store = Store(state_path)
        if campaigns:
            with store.transaction() as existing:
                for campaign in campaigns:
                    existing.add(campaign)
        self.ctx = Context(store, Runtime(api_key))
        handler = type("Handler", (_Handler,), {"ctx": self.ctx, "verbose": verbose})
        server_class = _Server6 if ":" in host else _Server
        try:
            self.httpd = server_class((host, port), handler)
        except OSError:
            store.close()
            raise
        self.httpd.verbose = verbose
        self._thread: Optional[threading.Thread] = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else str(host)
        shown = f"[{name}]" if ":" in name else name
        return f"http://{shown}:{port}"

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        if self._thread is not None:
            self._thread.join()
        self.close()

    def close(self) -> None:
        """After serving: refuse new connections, end the open ones and their threads, then close
        the store (it waits for a transaction in progress, so no acknowledged write is cut)."""
        self.httpd.server_close()
        self.httpd.close_connections()
        self.ctx.store.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(server: SandboxServer) -> None:
    """Serve in the foreground until SIGINT or SIGTERM."""

    def _stop(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
