"""The sandbox under hostile input and hard stops: every request gets a JSON answer, the server
stays healthy, acknowledged changes survive kill -9, and bad state or seed files are refused."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from harness.sandbox import Sandbox
from tests.conftest import TEST_KEY

AUTH = {"Authorization": f"Bearer {TEST_KEY}", "Content-Type": "application/json"}


def raw(sandbox: Sandbox, data: bytes) -> tuple[int, dict[str, Any], bytes]:
    """Send raw bytes on a fresh connection; return (status, JSON body, whatever followed it
    before the server closed the connection or went quiet for half a second)."""
    host, port = sandbox.url.rsplit("//", 1)[1].rsplit(":", 1)
    with socket.create_connection((host.strip("[]"), int(port)), timeout=10) as conn:
        conn.sendall(data)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = conn.recv(65536)
            assert chunk, f"the connection closed without a complete answer: {received!r}"
            received += chunk
        head, _, rest = received.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        while len(rest) < length:
            rest += conn.recv(65536)
        conn.settimeout(0.5)
        try:
            while chunk := conn.recv(65536):
                rest += chunk
        except TimeoutError:
            pass
    return int(head.split(b" ", 2)[1]), json.loads(rest[:length]), rest[length:]


def healthy(sandbox: Sandbox) -> bool:
    response = requests.get(f"{sandbox.url}/v1/campaigns/camp_1/stats", headers=AUTH, timeout=10)
    return response.status_code == 200 and response.json()["campaignId"] == "camp_1"


def _request(path: str, headers: str, body: bytes = b"") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TEST_KEY}\r\n{headers}\r\n".encode()
        + body
    )


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ("Content-Length: abc\r\n", b"{}", 400),
        ("Content-Length: -1\r\n", b"{}", 400),
        (f"Content-Length: {10**12}\r\n", b"{}", 413),
        ("Content-Length: 1e3\r\n", b"{}", 400),
    ],
)
def test_bad_content_length_gets_a_json_answer(
    sandbox: Sandbox, headers: str, body: bytes, status: int
) -> None:
    got, payload, _ = raw(sandbox, _request("/v1/campaigns", headers, body))
    assert got == status and payload["error"]["code"] == "invalid_request"
    assert healthy(sandbox)


def test_chunked_bodies_are_refused_and_never_parsed_as_a_request(sandbox: Sandbox) -> None:
    smuggled = b"GET /v1/campaigns/camp_1/stats HTTP/1.1\r\nHost: x\r\n\r\n"
    body = b"%x\r\n" % len(smuggled) + smuggled + b"\r\n0\r\n\r\n"
    got, payload, rest = raw(sandbox, _request("/v1/campaigns", "Transfer-Encoding: chunked\r\n", body))
    assert got == 411 and "Content-Length" in payload["error"]["message"]
    assert rest == b""  # the chunk's contents were not answered as a second request
    assert [r["path"] for r in sandbox.requests()] == ["/v1/campaigns"]
    assert healthy(sandbox)


def test_deeply_nested_json_is_a_400(sandbox: Sandbox) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    got, payload, _ = raw(sandbox, _request("/v1/campaigns", f"Content-Length: {len(deep)}\r\n", deep))
    assert got == 400 and "JSON" in payload["error"]["message"]
    assert healthy(sandbox)


def test_malformed_request_lines_get_json(sandbox: Sandbox) -> None:
    got, payload, _ = raw(sandbox, b"BREW /pot HTTP/9.9\r\n\r\n")
    assert 400 <= got < 600 and "error" in payload
    assert healthy(sandbox)


@pytest.mark.parametrize(
    "fault",
    [
        {"times": "2"},
        {"match": 5},
        {"status": 99},
        {"status": "500"},
        {"drop": "yes"},
        {"delay_ms": -5},
        {"retryAfter": "1\r\nX-Evil: 1"},
        {"explode": True},
        "not an object",
    ],
)
def test_invalid_faults_are_refused_and_break_nothing(sandbox: Sandbox, fault: Any) -> None:
    response = requests.post(f"{sandbox.url}/_sandbox/faults", json={"faults": [fault]}, timeout=10)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_request"
    assert sandbox.admin("POST", "/faults", {"faults": []})["faults"] == []  # nothing half-stored
    assert healthy(sandbox)


@pytest.mark.parametrize("value", [-1, "abc", None, 10**9, True])
def test_invalid_latency_is_refused(sandbox: Sandbox, value: Any) -> None:
    response = requests.post(f"{sandbox.url}/_sandbox/settings", json={"latencyMs": value}, timeout=10)
    assert response.status_code == 400 and "latencyMs" in response.json()["error"]["message"]
    assert healthy(sandbox)


def test_nan_latency_is_refused(sandbox: Sandbox) -> None:
    response = requests.post(
        f"{sandbox.url}/_sandbox/settings",
        data='{"latencyMs": NaN}',
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 400
    assert healthy(sandbox)


@pytest.mark.parametrize("leads", ["3", 1.5, 10**9, -1, True])
def test_invalid_admin_lead_counts_are_refused(sandbox: Sandbox, leads: Any) -> None:
    response = requests.put(f"{sandbox.url}/_sandbox/campaigns/camp_x", json={"leads": leads}, timeout=10)
    assert response.status_code == 400 and "leads" in response.json()["error"]["message"]
    assert healthy(sandbox)


@pytest.mark.parametrize("email", [["a@x.io"], {"a": "@"}, 5, None])
def test_bulk_leads_with_a_non_string_email_are_a_422(sandbox: Sandbox, email: Any) -> None:
    response = requests.post(
        f"{sandbox.url}/v1/campaigns/camp_1/leads/bulk",
        json={"leads": [{"email": email}]},
        headers=AUTH,
        timeout=10,
    )
    assert response.status_code == 422 and response.json()["errors"][0]["index"] == 0
    assert healthy(sandbox)


# --- the state file -------------------------------------------------------------------------------


def _start(state: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pulumi_leadterra.sandbox", "--port", "0", "--state", str(state), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "listening on" in line, line + (proc.stderr.read() if proc.stderr else "")
    return proc, line.rsplit(" ", 1)[1].strip()


def _refused(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "pulumi_leadterra.sandbox", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1
    return result.stderr


def test_acknowledged_changes_survive_kill_9(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    proc, url = _start(state)
    admin = Sandbox(url)
    try:
        for i in range(30):
            admin.put(f"camp_k{i}", status="running" if i % 2 else "paused", leads=1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    proc, url = _start(state)
    try:
        admin = Sandbox(url)
        assert [admin.status(f"camp_k{i}") for i in range(30)] == ["paused", "running"] * 15
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_two_sandboxes_share_one_state_file_safely(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    first, url_a = _start(state, "--campaign", "camp_a")
    second, url_b = _start(state, "--campaign", "camp_b")
    try:
        a, b = Sandbox(url_a), Sandbox(url_b)
        for i in range(10):  # interleaved writes: neither erases the other's
            a.put(f"camp_a{i}", status="running")
            b.put(f"camp_b{i}", status="paused")
        requests.post(f"{url_a}/v1/campaigns/camp_b/start", headers=AUTH, timeout=10)
        assert b.status("camp_b") == "running" and a.status("camp_b9") == "paused"
        assert all(b.status(f"camp_a{i}") == "running" for i in range(10))
    finally:
        for proc in (first, second):
            proc.terminate()
            proc.wait(timeout=10)


@pytest.mark.parametrize(
    "content",
    [
        b"[]",
        b"null",
        b'{"campaigns": {"camp_1": 5}}',
        b'{"campaigns": {"camp_1": {"id": "camp_1"}}}',
        b"\x00garbage",
    ],
)
def test_a_state_file_that_is_not_ours_is_refused_and_left_alone(tmp_path: Path, content: bytes) -> None:
    state = tmp_path / "state.json"
    state.write_bytes(content)
    message = _refused("--state", str(state))
    assert str(state) in message and "not a sandbox database" in message
    assert state.read_bytes() == content


def test_a_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "app.db"
    with sqlite3.connect(state) as db:
        db.execute("CREATE TABLE users (name TEXT)")
    message = _refused("--state", str(state))
    assert str(state) in message and "not a sandbox's" in message


@pytest.mark.parametrize(
    ("seed", "fragment"),
    [
        ([], 'must be an object like {"campaigns"'),
        (None, 'must be an object like {"campaigns"'),
        ({"campaigns": [5]}, "campaigns[0] must be an object"),
        ({"campaigns": [{"id": "camp_1", "status": "stopped"}]}, "campaigns[0].status is 'stopped'"),
        ({"campaigns": [{"id": "../x"}]}, "campaigns[0].id must be"),
        ({"campaigns": [{"id": "camp_1", "leads": 10**9}]}, "campaigns[0].leads must be"),
    ],
)
def test_bad_seeds_are_refused_naming_the_file(tmp_path: Path, seed: Any, fragment: str) -> None:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(seed))
    message = _refused("--state", str(tmp_path / "s.db"), "--seed", str(path))
    assert str(path) in message and fragment in message


@pytest.mark.parametrize("spec", ["../x", "camp_1=stopped"])
def test_bad_campaign_flags_are_refused(tmp_path: Path, spec: str) -> None:
    assert "--campaign" in _refused("--state", str(tmp_path / "s.db"), "--campaign", spec)


def test_an_older_sandboxs_json_state_loads_as_a_seed(tmp_path: Path) -> None:
    old = tmp_path / "old-state.json"
    old.write_text(
        json.dumps(
            {"campaigns": {"camp_o": {"id": "camp_o", "status": "running", "leads": [{"email": "a@b.c"}]}}}
        )
    )
    proc, url = _start(tmp_path / "new.db", "--seed", str(old))
    try:
        shown = Sandbox(url).admin("GET", "/campaigns/camp_o")
        assert (shown["status"], shown["totalEnrolled"]) == ("running", 1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_ipv6_loopback_and_the_port_file(tmp_path: Path) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        socket.socket(socket.AF_INET6).bind(("::1", 0))
    except OSError:
        pytest.skip("::1 cannot be bound here")
    port_file = tmp_path / "port"
    proc, url = _start(
        tmp_path / "s.db", "--host", "::1", "--port-file", str(port_file), "--campaign", "camp_1"
    )
    try:
        assert url.startswith("http://[::1]:") and url.endswith(":" + port_file.read_text())
        assert Sandbox(url).status("camp_1") == "draft"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_request_log_never_holds_the_key(sandbox: Sandbox) -> None:
    requests.post(f"{sandbox.url}/v1/campaigns/camp_1/start", headers=AUTH, timeout=10)
    assert TEST_KEY not in json.dumps(sandbox.requests())
