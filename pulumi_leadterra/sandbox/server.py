"""A Leadterra-compatible HTTP server on loopback, for demos, CI and tests.

It implements the documented endpoints this project touches, with the documented codes and
no-op rules, plus a ``/_sandbox`` admin API that real Leadterra does not have: inspect or change a
campaign behind Pulumi's back, inject faults, add latency, and count requests. Only loopback
addresses are allowed to bind, so nothing here is ever reachable from a network.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import re
import secrets
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Optional

from .store import Store, demo_campaign, transition_time

__all__ = ["SandboxServer", "serve", "main"]

_ID = r"(?P<id>[A-Za-z0-9_-]{1,128})"
_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("POST", re.compile(r"/v1/campaigns"), "create"),
    ("POST", re.compile(rf"/v1/campaigns/{_ID}/start"), "start"),
    ("POST", re.compile(rf"/v1/campaigns/{_ID}/pause"), "pause"),
    ("GET", re.compile(rf"/v1/campaigns/{_ID}/stats"), "stats"),
    ("POST", re.compile(rf"/v1/campaigns/{_ID}/leads/bulk"), "leads"),
    ("GET", re.compile(r"/v1/sender-pools"), "pools"),
    ("GET", re.compile(rf"/_sandbox/campaigns/{_ID}"), "admin_get"),
    ("PUT", re.compile(rf"/_sandbox/campaigns/{_ID}"), "admin_put"),
    ("DELETE", re.compile(rf"/_sandbox/campaigns/{_ID}"), "admin_delete"),
    ("POST", re.compile(r"/_sandbox/faults"), "admin_faults"),
    ("DELETE", re.compile(r"/_sandbox/faults"), "admin_clear_faults"),
    ("POST", re.compile(r"/_sandbox/settings"), "admin_settings"),
    ("GET", re.compile(r"/_sandbox/requests"), "admin_requests"),
    ("DELETE", re.compile(r"/_sandbox/requests"), "admin_clear_requests"),
]


def _route(method: str, path: str) -> tuple[str, re.Match[str]]:
    for verb, pattern, name in _ROUTES:
        match = pattern.fullmatch(path)
        if match and verb == method:
            return name, match
    raise _ApiError(404, "not_found", f"no route for {method} {path}")


class _ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class _State:
    """Everything the handler threads share besides the campaigns."""

    def __init__(self, store: Store, api_key: Optional[str]) -> None:
        self.store = store
        self.api_key = api_key
        self.lock = threading.Lock()
        self.faults: list[dict[str, Any]] = []
        self.latency_ms = 0.0
        self.error_shape = "nested"
        self.api_keys: Optional[list[str]] = None
        self.requests: list[dict[str, Any]] = []

    def take_fault(self, path: str) -> Optional[dict[str, Any]]:
        with self.lock:
            for fault in self.faults:
                if fault.get("match", "") in path:
                    fault["times"] = fault.get("times", 1) - 1
                    if fault["times"] <= 0:
                        self.faults.remove(fault)
                    return dict(fault)
        return None


def _stats(c: dict[str, Any]) -> dict[str, Any]:
    enrolled = len(c.get("leads", []))
    sent = int(c.get("sent", 0))
    held = enrolled if c["status"] == "paused" and sent else 0
    return {
        "campaignId": c["id"],
        "totalEnrolled": enrolled,
        "sent": sent,
        "delivered": sent,
        "bounced": 0,
        "replied": 0,
        "queued": held,
        "openRate": 0.0,
        "replyRate": 0.0,
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "leadterra-sandbox"
    # Headers and body leave in two writes; with Nagle on, the second waits for the client's
    # delayed ACK, adding 40 ms to every response on loopback.
    disable_nagle_algorithm = True
    state: _State  # set on the per-server subclass
    verbose = False

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        if self.verbose:  # the request line only: headers (and so the key) are never logged
            sys.stderr.write("sandbox: " + (format % args) + "\n")

    # -- plumbing ---------------------------------------------------------------------------
    def _dispatch(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        body = self._read_body()
        try:
            name, match = _route(method, path)
            if path.startswith("/v1/"):
                if self.state.latency_ms:
                    time.sleep(self.state.latency_ms / 1000)
                fault = self.state.take_fault(path)
                if fault is not None:
                    self._apply_fault(fault)
                    return
                self._authenticate()
            status, payload = getattr(self, "_" + name)(match.groupdict().get("id"), body)
            self._send_json(status, payload)
        except _ApiError as exc:
            self._send_error(exc)

    def _log_request(self, status: int) -> None:
        """Record a /v1 request, before its answer leaves: whoever reads the log after getting
        the answer finds the request there, in the order the answers went out."""
        path = self.path.split("?", 1)[0]
        if not path.startswith("/v1/"):
            return
        with self.state.lock:
            self.state.requests.append(
                {
                    "method": self.command,
                    "path": path,
                    "status": status,
                    "userAgent": self.headers.get("User-Agent"),
                }
            )

    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return _ApiError(400, "invalid_request", "request body is not valid JSON")

    def _send(self, status: int, data: bytes, content_type: str, extra: dict[str, str]) -> None:
        self._log_request(status)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Request-Id", "req_" + secrets.token_hex(6))
        for key, value in extra.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_json(self, status: int, payload: Any, extra: Optional[dict[str, str]] = None) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json", extra or {})

    def _send_error(self, exc: _ApiError, extra: Optional[dict[str, str]] = None) -> None:
        inner = {"code": exc.code, "message": exc.message}
        payload = inner if self.state.error_shape == "flat" else {"error": inner}
        self._send_json(exc.status, payload, extra)

    def _apply_fault(self, fault: dict[str, Any]) -> int:
        if fault.get("drop"):
            # Close the socket without a byte of response: the client sees a dropped connection.
            self._log_request(0)
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return 0
        if fault.get("delay_ms"):
            time.sleep(fault["delay_ms"] / 1000)
        if fault.get("trickleMs"):
            return self._trickle(fault)
        status = int(fault.get("status", 500))
        extra = {"Retry-After": str(fault["retryAfter"])} if "retryAfter" in fault else {}
        if "body" in fault:
            data = str(fault["body"]).encode()
            self._send(status, data, fault.get("contentType", "text/html"), extra)
        else:
            code = fault.get("code") or ("rate_limited" if status == 429 else "server_error")
            message = fault.get("message") or f"sandbox fault {status}"
            self._send_error(_ApiError(status, code, message), extra)
        return status

    def _trickle(self, fault: dict[str, Any]) -> int:
        """A slow-loris answer: a whole 200 response, one byte every ``trickleMs`` ms. A socket
        read timeout never fires on it; only a bound on the whole call stops it."""
        body = json.dumps({"id": "trickle", "status": "running", "padding": "x" * 64}).encode()
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        self._log_request(200)
        self.close_connection = True
        try:
            for byte in head.encode() + body:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(float(fault["trickleMs"]) / 1000)
        except OSError:
            pass  # the client gave up, as it should
        return 200

    def _authenticate(self) -> None:
        header = self.headers.get("Authorization") or ""
        key = header[len("Bearer ") :] if header.startswith("Bearer ") else ""
        if self.state.api_keys is not None:
            ok = key in self.state.api_keys  # set through the admin API: a rotation, a revocation
        else:
            ok = key == self.state.api_key if self.state.api_key else key.startswith("sk_test_")
        if not ok:
            raise _ApiError(401, "authentication_failed", "missing or invalid API key")

    def _campaign(self, campaigns: dict[str, Any], campaign_id: str) -> dict[str, Any]:
        campaign: Optional[dict[str, Any]] = campaigns.get(campaign_id)
        if campaign is None:
            raise _ApiError(404, "campaign_not_found", f"no campaign {campaign_id} in this workspace")
        return campaign

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    # -- documented endpoints -------------------------------------------------------------------
    def _create(self, _id: Any, body: Any) -> tuple[int, Any]:
        if isinstance(body, _ApiError):
            raise body
        if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"]:
            raise _ApiError(400, "invalid_request", "name is required")
        steps = body.get("sequenceSteps", [])
        if not isinstance(steps, list) or not all(
            isinstance(s, dict) and isinstance(s.get("subject"), str) for s in steps
        ):
            raise _ApiError(400, "invalid_request", "sequenceSteps must be a list of steps with a subject")
        campaign = demo_campaign("camp_" + secrets.token_hex(6), leads=0)
        campaign.update(name=body["name"], sequenceSteps=steps)
        with self.state.store.change() as campaigns:
            campaigns[campaign["id"]] = campaign
        return 200, _public(campaign)

    def _leads(self, campaign_id: str, body: Any) -> tuple[int, Any]:
        if isinstance(body, _ApiError):
            raise body
        leads = body.get("leads") if isinstance(body, dict) else None
        if not isinstance(leads, list):
            raise _ApiError(400, "invalid_request", "leads must be a list")
        errors = [
            {"index": i, "message": "email is required"}
            for i, lead in enumerate(leads)
            if not isinstance(lead, dict) or "@" not in str(lead.get("email", ""))
        ]
        with self.state.store.change() as campaigns:
            campaign = self._campaign(campaigns, campaign_id)
            if errors:
                payload = {"error": {"code": "invalid_request", "message": "some leads are invalid"}}
                return 422, {**payload, "errors": errors}
            by_email = {lead["email"]: lead for lead in campaign["leads"]}
            for lead in leads:
                by_email[lead["email"]] = {**by_email.get(lead["email"], {}), **lead}
            campaign["leads"] = list(by_email.values())
            return 200, {"campaignId": campaign_id, "totalEnrolled": len(campaign["leads"])}

    def _start(self, campaign_id: str, _body: Any) -> tuple[int, Any]:
        with self.state.store.change() as campaigns:
            c = self._campaign(campaigns, campaign_id)
            if c["status"] == "draft":
                if not c.get("leads"):
                    raise _ApiError(400, "no_leads_enrolled", "the campaign has no enrolled leads")
                if not c.get("sequenceSteps"):
                    raise _ApiError(400, "no_sequence_steps", "the campaign has no sequence steps")
            if c["status"] != "running":
                _resume(c)
            return 200, {"id": c["id"], "status": c["status"], "startedAt": c.get("startedAt")}

    def _pause(self, campaign_id: str, _body: Any) -> tuple[int, Any]:
        with self.state.store.change() as campaigns:
            c = self._campaign(campaigns, campaign_id)
            if c["status"] == "running":
                c.update(status="paused", pausedAt=transition_time(c.get("pausedAt")))
            return 200, {"id": c["id"], "status": c["status"], "pausedAt": c.get("pausedAt")}

    def _stats(self, campaign_id: str, _body: Any) -> tuple[int, Any]:
        with self.state.store.view() as campaigns:
            return 200, _stats(self._campaign(campaigns, campaign_id))

    def _pools(self, _id: Any, _body: Any) -> tuple[int, Any]:
        pool = {"id": "pool_default", "name": "Default", "remainingToday": 500}
        return 200, {"senderPools": [pool]}

    # -- sandbox-only admin API -------------------------------------------------------------------
    def _admin_get(self, campaign_id: str, _body: Any) -> tuple[int, Any]:
        with self.state.store.view() as campaigns:
            return 200, _public(self._campaign(campaigns, campaign_id))

    def _admin_put(self, campaign_id: str, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or body.get("status", "draft") not in ("draft", "running", "paused"):
            raise _ApiError(400, "invalid_request", "status must be draft, running or paused")
        with self.state.store.change() as campaigns:
            campaign = campaigns.get(campaign_id) or demo_campaign(campaign_id, leads=0)
            fields = {k: v for k, v in body.items() if k != "leads"}
            if "leads" in body:
                count = body["leads"]
                fields["leads"] = demo_campaign(campaign_id, leads=int(count))["leads"]
            # A status change here is what a person does in the dashboard: the same transition,
            # timestamps and sends as through the API. Fields given explicitly win.
            before, after = campaign["status"], fields.get("status", campaign["status"])
            if "leads" in fields:
                campaign["leads"] = fields["leads"]
            if after == "running" and before != "running":
                _resume(campaign)
            elif after == "paused" and before != "paused":
                campaign.update(status="paused", pausedAt=transition_time(campaign.get("pausedAt")))
            campaign.update(fields)
            campaigns[campaign_id] = campaign
            return 200, _public(campaign)

    def _admin_delete(self, campaign_id: str, _body: Any) -> tuple[int, Any]:
        with self.state.store.change() as campaigns:
            self._campaign(campaigns, campaign_id)
            del campaigns[campaign_id]
        return 200, {"deleted": campaign_id}

    def _admin_faults(self, _id: Any, body: Any) -> tuple[int, Any]:
        faults = body.get("faults") if isinstance(body, dict) else None
        if not isinstance(faults, list) or not all(isinstance(f, dict) for f in faults):
            raise _ApiError(400, "invalid_request", 'expected {"faults": [{...}, ...]}')
        with self.state.lock:
            self.state.faults.extend(faults)
            return 200, {"faults": list(self.state.faults)}

    def _admin_clear_faults(self, _id: Any, _body: Any) -> tuple[int, Any]:
        with self.state.lock:
            self.state.faults.clear()
        return 200, {"faults": []}

    def _admin_settings(self, _id: Any, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict):
            raise _ApiError(400, "invalid_request", "expected a JSON object")
        if "latencyMs" in body:
            self.state.latency_ms = float(body["latencyMs"])
        if body.get("errorShape") in ("nested", "flat"):
            self.state.error_shape = body["errorShape"]
        if "apiKeys" in body:
            keys = body["apiKeys"]
            if keys is not None and (not isinstance(keys, list) or not all(isinstance(k, str) for k in keys)):
                raise _ApiError(400, "invalid_request", "apiKeys must be a list of keys, or null")
            self.state.api_keys = keys
        # The accepted keys are never echoed back: only how many there are.
        keys_shown = None if self.state.api_keys is None else len(self.state.api_keys)
        return 200, {
            "latencyMs": self.state.latency_ms,
            "errorShape": self.state.error_shape,
            "apiKeys": keys_shown,
        }

    def _admin_requests(self, _id: Any, _body: Any) -> tuple[int, Any]:
        with self.state.lock:
            return 200, {"requests": list(self.state.requests)}

    def _admin_clear_requests(self, _id: Any, _body: Any) -> tuple[int, Any]:
        with self.state.lock:
            self.state.requests.clear()
        return 200, {"requests": []}


def _resume(campaign: dict[str, Any]) -> None:
    """Draft or paused to running: a new ``startedAt``, and the next step goes out to every lead."""
    campaign.update(
        status="running",
        pausedAt=None,
        startedAt=transition_time(campaign.get("startedAt")),
        sent=int(campaign.get("sent", 0)) + len(campaign.get("leads", [])),
    )


def _public(campaign: dict[str, Any]) -> dict[str, Any]:
    shown = {k: v for k, v in campaign.items() if k not in ("leads", "sent")}
    shown["totalEnrolled"] = len(campaign.get("leads", []))
    return shown


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
        if not ipaddress.ip_address(socket.gethostbyname(host)).is_loopback:
            raise ValueError(f"the sandbox binds to loopback only, not {host}")
        store = Store(state_path)
        if campaigns:
            with store.change() as existing:
                for campaign in campaigns:
                    existing.setdefault(campaign["id"], campaign)
        self.state = _State(store, api_key)
        handler = type("Handler", (_Handler,), {"state": self.state, "verbose": verbose})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self._thread: Optional[threading.Thread] = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.state.store.close()

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
        server.state.store.close()


def _seed(args: argparse.Namespace) -> list[dict[str, Any]]:
    campaigns: list[dict[str, Any]] = []
    if args.seed:
        data = json.loads(Path(args.seed).read_text())
        for entry in data.get("campaigns", []):
            campaign = demo_campaign(entry["id"], entry.get("status", "draft"), entry.get("leads", 3))
            campaign.update({k: v for k, v in entry.items() if k not in ("leads", "status")})
            campaigns.append(campaign)
    for spec in args.campaign:
        campaign_id, _, status = spec.partition("=")
        campaigns.append(demo_campaign(campaign_id, status or "draft"))
    return campaigns


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="leadterra-sandbox",
        description="A local Leadterra-compatible API server on loopback, for demos and tests.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8787, help="port; 0 picks a free one (default 8787)")
    parser.add_argument(
        "--state",
        type=Path,
        default=Path(".leadterra-sandbox/state.json"),
        help="JSON file holding the campaigns (default .leadterra-sandbox/state.json)",
    )
    parser.add_argument(
        "--api-key", default=None, help="accept only this key (default: any key starting with sk_test_)"
    )
    parser.add_argument(
        "--campaign",
        action="append",
        default=[],
        metavar="ID[=STATUS]",
        help="seed a ready-to-start campaign (3 leads, 1 step); repeatable",
    )
    parser.add_argument("--seed", metavar="FILE", help='seed from JSON: {"campaigns": [{"id": ...}]}')
    parser.add_argument("--port-file", type=Path, help="write the chosen port to this file")
    parser.add_argument("--verbose", action="store_true", help="log each request line to stderr")
    args = parser.parse_args(argv)
    try:
        server = SandboxServer(args.host, args.port, args.state, args.api_key, _seed(args), args.verbose)
    except (OSError, ValueError, KeyError) as exc:
        print(f"leadterra-sandbox: cannot start: {exc}", file=sys.stderr)
        return 2
    if args.port_file:
        args.port_file.write_text(str(server.httpd.server_address[1]))
    print(f"leadterra-sandbox listening on {server.url}", flush=True)
    serve(server)
    return 0
