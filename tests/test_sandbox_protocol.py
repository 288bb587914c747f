"""The sandbox's HTTP layer over real loopback sockets: bursts, oversized headers, request
smuggling, clients that hang up, header values a fault cannot carry, timestamps that cannot
move on, auth schemes in any case, 405 with Allow, `make sandbox`, and threads that end."""

from __future__ import annotations

import json
import re
import shlex
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from harness.sandbox import Sandbox
from pulumi_leadterra.sandbox import SandboxServer
from pulumi_leadterra.sandbox.store import new_campaign
from tests.conftest import TEST_KEY

ROOT = Path(__file__).resolve().parent.parent
AUTH = {"Authorization": f"Bearer {TEST_KEY}"}


# --- raw sockets ----------------------------------------------------------------------------------
def _address(url: str) -> tuple[str, int]:
    host, port = url.rsplit("//", 1)[1].rsplit(":", 1)
    return host.strip("[]"), int(port)


def exchange(url: str, data: bytes, timeout: float = 5.0) -> bytes:
    """Send ``data`` on a fresh connection; everything the server sends until it closes the
    connection (or goes quiet for ``timeout`` seconds)."""
    with socket.create_connection(_address(url), timeout=timeout) as conn:
        conn.sendall(data)
        received = b""
        try:
            while chunk := conn.recv(65536):
                received += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return received


def responses(data: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """The HTTP responses in ``data``, in order: (status, headers by lower-case name, body)."""
    found = []
    while data:
        head, sep, data = data.partition(b"\r\n\r\n")
        assert sep, f"an incomplete response head: {head!r}"
        status_line, *lines = head.decode("latin-1").split("\r\n")
        assert status_line.startswith("HTTP/1."), f"not a status line: {status_line!r}"
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        found.append((int(status_line.split(" ", 2)[1]), headers, data[:length]))
        data = data[length:]
    return found


def request(method: str, path: str, headers: str = "", body: bytes = b"") -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TEST_KEY}\r\n{headers}\r\n".encode()
        + body
    )


def healthy(url: str) -> bool:
    answer = requests.get(f"{url}/v1/campaigns/camp_1/stats", headers=AUTH, timeout=10)
    return answer.status_code == 200 and answer.json()["campaignId"] == "camp_1"


# --- a sandbox process, its stderr in a file ------------------------------------------------------
@pytest.fixture
def cli(tmp_path: Path) -> Iterator[tuple[Sandbox, Path]]:
    """The sandbox as `leadterra-sandbox` runs it (no --verbose), stderr kept in a file."""
    stderr = tmp_path / "stderr.txt"
    with stderr.open("w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pulumi_leadterra.sandbox", "--port", "0"]
            + ["--state", str(tmp_path / "s.db"), "--campaign", "camp_1", "--campaign", "camp_2"],
            stdout=subprocess.PIPE,
            stderr=sink,
            text=True,
        )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "listening on" in line, line + stderr.read_text()
    try:
        yield Sandbox(line.rsplit(" ", 1)[1].strip()), stderr
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# --- 10: a burst of connections -------------------------------------------------------------------
def test_a_burst_of_64_connections_is_answered_quickly(
    sandbox: Sandbox, record_property: Any
) -> None:
    count, bound = 64, 3.0
    barrier = threading.Barrier(count)
    took: list[float] = []
    failures: list[str] = []

    def one() -> None:
        barrier.wait()
        began = time.monotonic()
        try:
            data = exchange(sandbox.url, request("GET", "/v1/sender-pools", "Connection: close\r\n"), 6.0)
            if [r[0] for r in responses(data)] != [200]:
                failures.append(repr(data[:80]))
        except (OSError, AssertionError) as exc:
            failures.append(f"{type(exc).__name__}: {exc}")
        took.append(time.monotonic() - began)

    workers = [threading.Thread(target=one) for _ in range(count)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    record_property("burst_max_seconds", round(max(took), 3))
    assert not failures, f"{len(failures)} of {count} got no 200: {failures[:3]}"
    assert len(took) == count and max(took) < bound, f"slowest answer {max(took):.2f} s (bound {bound} s)"


# --- 11: oversized headers ------------------------------------------------------------------------
OVERSIZED = {
    "101 headers": "".join(f"X-Filler-{i}: {i}\r\n" for i in range(101)),
    "a 70 KiB header line": "X-Long: " + "a" * 70_000 + "\r\n",
}


@pytest.mark.parametrize("path", ["/v1/campaigns/camp_1/stats", "/_sandbox/campaigns/camp_1"])
@pytest.mark.parametrize("oversize", list(OVERSIZED))
def test_oversized_headers_get_a_json_431_and_no_traceback(
    cli: tuple[Sandbox, Path], path: str, oversize: str
) -> None:
    sandbox, stderr = cli
    data = exchange(sandbox.url, request("GET", path, OVERSIZED[oversize]))
    assert data, "no answer at all"
    [(status, headers, body)] = responses(data)
    assert status == 431 and headers["content-type"] == "application/json"
    assert json.loads(body)["error"]["code"] == "invalid_request"
    assert headers["connection"] == "close"
    assert healthy(sandbox.url)
    if path.startswith("/v1/"):
        assert {"method": "GET", "path": path, "status": 431} in [
            {k: r[k] for k in ("method", "path", "status")} for r in sandbox.requests()
        ]
    assert stderr.read_text() == ""


# --- 12: request smuggling ------------------------------------------------------------------------
SMUGGLED = (
    f"POST /v1/campaigns/camp_2/start HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TEST_KEY}\r\n"
    "Content-Length: 0\r\n\r\n"
).encode()
N = len(SMUGGLED)
FRAMINGS = {
    "two lengths, 0 first": f"Content-Length: 0\r\nContent-Length: {N}\r\n",
    "two lengths, 0 last": f"Content-Length: {N}\r\nContent-Length: 0\r\n",
    "a space before the colon": f"Content-Length : {N}\r\n",
    "a tab before the colon": f"Content-Length\t: {N}\r\n",
    "folded into another header": f"X-Note: a\r\n Content-Length: {N}\r\n",
    "a line with no colon": f"Garbage\r\nContent-Length: {N}\r\n",
}


@pytest.mark.parametrize("framing", list(FRAMINGS))
def test_ambiguous_framing_is_a_400_and_the_body_never_runs_as_a_request(
    sandbox: Sandbox, framing: str
) -> None:
    data = exchange(sandbox.url, request("POST", "/v1/campaigns/camp_1/pause", FRAMINGS[framing]) + SMUGGLED)
    [(status, headers, body)] = responses(data)  # one answer, then the connection closed
    assert status == 400 and headers["connection"] == "close"
    error = json.loads(body)["error"]
    assert error["code"] == "invalid_request" and "header" in error["message"].lower()
    assert sandbox.status("camp_2") == "draft"  # the smuggled start never ran
    assert not [r for r in sandbox.requests() if "camp_2" in r["path"]]
    assert healthy(sandbox.url)


def test_identical_repeated_lengths_and_ordinary_bodies_still_work(sandbox: Sandbox) -> None:
    body = b'{"name": "x"}'
    doubled = f"Content-Length: {len(body)}\r\nContent-Length: {len(body)}\r\n"
    [(status, _, answer)] = responses(
        exchange(sandbox.url, request("POST", "/v1/campaigns", doubled + "Connection: close\r\n", body))
    )
    assert status == 200 and json.loads(answer)["name"] == "x"
    two = request("GET", "/v1/sender-pools") + request("GET", "/v1/sender-pools", "Connection: close\r\n")
    assert [r[0] for r in responses(exchange(sandbox.url, two))] == [200, 200]  # keep-alive intact


# --- 13: clients that hang up, header values a fault cannot carry ---------------------------------
def test_a_client_that_hangs_up_is_logged_once_without_a_traceback(cli: tuple[Sandbox, Path]) -> None:
    sandbox, stderr = cli
    sandbox.admin("POST", "/settings", {"latencyMs": 300})
    with socket.create_connection(_address(sandbox.url), timeout=5) as conn:
        conn.sendall(request("POST", "/v1/campaigns/camp_1/start"))
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
    deadline = time.monotonic() + 5
    while not sandbox.requests() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # time for a second entry, or a traceback, to show up
    assert [(r["path"], r["status"]) for r in sandbox.requests()] == [("/v1/campaigns/camp_1/start", 200)]
    assert sandbox.status("camp_1") == "running"  # committed before the answer was tried
    assert stderr.read_text() == ""
    sandbox.admin("POST", "/settings", {"latencyMs": 0})
    assert healthy(sandbox.url)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("retryAfter", "\u2603"),
        ("retryAfter", "1\x00"),
        ("retryAfter", "\x85"),
        ("retryAfter", "1\x7f"),
        ("contentType", "text/\u2603"),
        ("contentType", "text/html\x0b"),
    ],
)
def test_faults_whose_headers_cannot_be_sent_are_refused(sandbox: Sandbox, field: str, value: str) -> None:
    fault: dict[str, Any] = {"status": 503, field: value}
    if field == "contentType":
        fault["body"] = "<h1>down</h1>"
    answer = requests.post(f"{sandbox.url}/_sandbox/faults", json={"faults": [fault]}, timeout=10)
    assert answer.status_code == 400 and field in answer.json()["error"]["message"]
    assert sandbox.admin("POST", "/faults", {"faults": []})["faults"] == []
    assert healthy(sandbox.url)


def test_a_header_fault_that_slipped_through_still_gets_one_status_line(tmp_path: Path) -> None:
    with SandboxServer(state_path=tmp_path / "s.db", campaigns=[new_campaign("camp_1")]) as server:
        server.ctx.runtime.faults.append({"status": 429, "retryAfter": "\u2603"})  # past validation
        data = exchange(server.url, request("GET", "/v1/sender-pools"), 2.0)
        assert data.count(b"HTTP/1.1 ") == 1, data
        [(status, _, body)] = responses(data)
        assert status == 500 and json.loads(body)["error"]["code"] == "server_error"
        assert healthy(server.url)


def test_valid_header_faults_are_sent_as_given(sandbox: Sandbox) -> None:
    sandbox.faults(
        {"status": 429, "retryAfter": 7},
        {"status": 503, "body": "<h1>busy</h1>", "contentType": "text/html; charset=iso-8859-1"},
    )
    first = responses(exchange(sandbox.url, request("GET", "/v1/sender-pools", "Connection: close\r\n")))
    second = responses(exchange(sandbox.url, request("GET", "/v1/sender-pools", "Connection: close\r\n")))
    assert [(s, h.get("retry-after")) for s, h, _ in first] == [(429, "7")]
    assert [(s, h["content-type"], b) for s, h, b in second] == [
        (503, "text/html; charset=iso-8859-1", b"<h1>busy</h1>")
    ]


# --- 14: timestamps -------------------------------------------------------------------------------
@pytest.mark.parametrize("field", ["startedAt", "pausedAt"])
@pytest.mark.parametrize(
    "value",
    ["9999-12-31T23:59:59.999Z", "0001-01-01T00:00:00Z", "2025-02-30T00:00:00Z", "yesterday", "", 5],
)
def test_admin_timestamps_must_be_sane_iso_times(sandbox: Sandbox, field: str, value: Any) -> None:
    answer = requests.put(f"{sandbox.url}/_sandbox/campaigns/camp_1", json={field: value}, timeout=10)
    assert answer.status_code == 400 and field in answer.json()["error"]["message"]
    for action, status in (("start", "running"), ("pause", "paused"), ("start", "running")):
        moved = requests.post(f"{sandbox.url}/v1/campaigns/camp_1/{action}", headers=AUTH, timeout=10)
        assert (moved.status_code, moved.json()["status"]) == (200, status)


@pytest.mark.parametrize("value", ["2025-01-15T11:00:00.123Z", "2025-01-15T11:00:00+02:00", None])
def test_sane_admin_timestamps_are_kept_as_given(sandbox: Sandbox, value: Any) -> None:
    sandbox.put("camp_1", status="running", startedAt=value)
    assert sandbox.admin("GET", "/campaigns/camp_1")["startedAt"] == value
    paused = requests.post(f"{sandbox.url}/v1/campaigns/camp_1/pause", headers=AUTH, timeout=10).json()
    started = requests.post(f"{sandbox.url}/v1/campaigns/camp_1/start", headers=AUTH, timeout=10).json()
    assert paused["status"] == "paused" and started["status"] == "running"
    assert value is None or started["startedAt"] > "2025-01-15T11:00:00.123Z"


def test_transitions_survive_a_stored_timestamp_at_the_end_of_time(tmp_path: Path) -> None:
    """A state file (or seed) holding the last representable instant: start and pause still work."""
    stuck = new_campaign("camp_1", status="paused")
    stuck.update(startedAt="9999-12-31T23:59:59.999Z", pausedAt="9999-12-31T23:59:59.999Z")
    with SandboxServer(state_path=tmp_path / "s.db", campaigns=[stuck]) as server:
        for action, status in (("start", "running"), ("pause", "paused"), ("start", "running")):
            moved = requests.post(f"{server.url}/v1/campaigns/camp_1/{action}", headers=AUTH, timeout=10)
            assert (moved.status_code, moved.json()["status"]) == (200, status), moved.text


# --- 15: auth schemes, 405, make sandbox ----------------------------------------------------------
@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "bEaReR", "Bearer"])
def test_the_auth_scheme_is_case_insensitive(sandbox: Sandbox, scheme: str) -> None:
    headers = {"Authorization": f"{scheme} {TEST_KEY}"}
    answer = requests.post(f"{sandbox.url}/v1/campaigns/camp_1/start", headers=headers, timeout=10)
    assert (answer.status_code, answer.json()["status"]) == (200, "running")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/v1/campaigns/camp_1/start", {"POST"}),
        ("DELETE", "/v1/campaigns", {"POST"}),
        ("POST", "/v1/sender-pools", {"GET"}),
        ("PATCH", "/v1/campaigns/camp_1/pause", {"POST"}),
        ("POST", "/_sandbox/campaigns/camp_1", {"GET", "PUT", "DELETE"}),
        ("PUT", "/_sandbox/faults", {"POST", "DELETE"}),
    ],
)
def test_a_wrong_method_on_a_known_path_is_a_405_with_allow(
    sandbox: Sandbox, method: str, path: str, allow: set[str]
) -> None:
    answer = requests.request(method, sandbox.url + path, headers=AUTH, timeout=10)
    assert answer.status_code == 405 and answer.json()["error"]["code"] == "method_not_allowed"
    assert set(answer.headers["Allow"].split(", ")) == allow
    assert sandbox.status("camp_1") == "draft"
    assert healthy(sandbox.url)


def _campaign_flags(command: str) -> list[str]:
    words = shlex.split(command)
    return [words[i + 1] for i, word in enumerate(words) if word == "--campaign"]


def test_make_sandbox_seeds_what_the_quickstart_uses(tmp_path: Path) -> None:
    """`make sandbox` seeds the campaigns the README's quickstart starts its sandbox with."""
    recipe = re.search(r"^sandbox:.*\n\t(.+)$", (ROOT / "Makefile").read_text(), re.M)
    assert recipe, "no sandbox target in the Makefile"
    quickstart = re.search(r"^\.venv/bin/leadterra-sandbox .*$", (ROOT / "README.md").read_text(), re.M)
    assert quickstart, "no sandbox command in the README's quickstart"
    assert _campaign_flags(recipe.group(1)) == _campaign_flags(quickstart.group(0))
    command = shlex.split(recipe.group(1).replace("$(PY)", shlex.quote(sys.executable)))
    proc = subprocess.Popen(
        [*command, "--port", "0", "--state", str(tmp_path / "s.db")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on" in line, line
        sandbox = Sandbox(line.rsplit(" ", 1)[1].strip())
        assert (sandbox.status("camp_demo"), sandbox.status("camp_legacy")) == ("draft", "running")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# --- threads --------------------------------------------------------------------------------------
def _server_threads(other_than: set[threading.Thread]) -> list[threading.Thread]:
    return [
        t
        for t in threading.enumerate()
        if t not in other_than and ("process_request_thread" in t.name or "serve_forever" in t.name)
    ]


def test_stop_ends_every_thread_even_with_clients_still_connected(tmp_path: Path) -> None:
    before = set(threading.enumerate())
    server = SandboxServer(state_path=tmp_path / "s.db", campaigns=[new_campaign("camp_1")]).start()
    keep_alive = Sandbox(server.url)
    keep_alive.status("camp_1")  # a pooled keep-alive connection, left open
    idle = socket.create_connection(_address(server.url), timeout=5)  # a connection that says nothing
    server.ctx.runtime.latency_ms = 30_000  # a handler asleep in injected latency
    sleeper = threading.Thread(target=exchange, args=(server.url, request("GET", "/v1/sender-pools"), 10))
    sleeper.start()
    time.sleep(0.3)
    began = time.monotonic()
    server.stop()
    stopped_in = time.monotonic() - began
    try:
        assert stopped_in < 3, f"stop() took {stopped_in:.1f} s"
        assert _server_threads(before) == []
    finally:
        idle.close()
        sleeper.join(timeout=15)
        keep_alive._http.close()
