"""The sandbox's HTTP layer: reading requests safely, answering in JSON, faults, and the server.

Every request gets a JSON answer, whatever it carries: a malformed or oversized
``Content-Length`` (400/413), a chunked body (411), invalid or deeply nested JSON (400), an
unknown route (404), even a bug in a handler (500). After an answer to a request whose body was
not read, the connection is closed, so leftover bytes are never parsed as the next request. Only
loopback addresses may be bound, so nothing here is reachable from a network.
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Optional

from .admin import Runtime
from .routes import ApiError, route
from .store import Store

__all__ = ["MAX_BODY", "SandboxServer", "serve"]

MAX_BODY = 1 << 20  # 1 MiB: far above any documented request
_LENGTH = re.compile(r"[0-9]{1,16}")


@dataclass
class Context:
    """What every handler gets: the campaigns and the run-time knobs."""

    store: Store
    runtime: Runtime


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
    verbose = False

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
            if path.startswith("/v1/"):
                if runtime.latency_ms:
                    time.sleep(runtime.latency_ms / 1000)
                fault = runtime.take_fault(path)
                if fault is not None:
                    self._apply_fault(fault)
                    return
                self._authenticate()
            status, payload = handler(self.ctx, match.groupdict().get("id"), body)
            self._send_json(status, payload)
        except ApiError as exc:
            self._send_error(exc)
        except Exception as exc:  # noqa: BLE001 - a bug must still get an answer, not a dropped socket
            self.close_connection = True
            self._send_error(ApiError(500, "server_error", f"sandbox error ({type(exc).__name__})"))

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
        return self.rfile.read(size) if size else b""

    def _log_request(self, status: int) -> None:
        """Record a /v1 request, before its answer leaves: whoever reads the log after getting
        the answer finds the request there, in the order the answers went out."""
        path = getattr(self, "path", "").split("?", 1)[0]  # unset when the request line was bad
        if path.startswith("/v1/"):
            self.ctx.runtime.log(
                {
                    "method": self.command,
                    "path": path,
                    "status": status,
                    "userAgent": self.headers.get("User-Agent"),
                }
            )

    def _send(self, status: int, data: bytes, content_type: str, extra: dict[str, str]) -> None:
        self._log_request(status)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Request-Id", "req_" + secrets.token_hex(6))
        if self.close_connection:
            self.send_header("Connection", "close")
        for key, value in extra.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_json(self, status: int, payload: Any, extra: Optional[dict[str, str]] = None) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json", extra or {})

    def _send_error(self, exc: ApiError, extra: Optional[dict[str, str]] = None) -> None:
        inner = {"code": exc.code, "message": exc.message}
        payload = inner if self.ctx.runtime.error_shape == "flat" else {"error": inner}
        self._send_json(exc.status, payload, extra)

    def _apply_fault(self, fault: dict[str, Any]) -> None:
        if fault.get("drop"):
            # Close the socket without a byte of response: the client sees a dropped connection.
            self._log_request(0)
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault.get("delay_ms"):
            time.sleep(fault["delay_ms"] / 1000)
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
                time.sleep(every_ms / 1000)
        except OSError:
            pass  # the client gave up, as it should

    def _authenticate(self) -> None:
        header = self.headers.get("Authorization") or ""
        key = header[len("Bearer ") :] if header.startswith("Bearer ") else ""
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


class _Server(ThreadingHTTPServer):
    daemon_threads = True


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
        self.httpd.server_close()
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
        server.httpd.server_close()
        server.ctx.store.close()
