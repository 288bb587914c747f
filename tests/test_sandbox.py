"""The sandbox itself: documented behaviour, persistence across restarts, seeding, bad requests."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from harness.sandbox import Sandbox
from tests.conftest import TEST_KEY

AUTH = {"Authorization": f"Bearer {TEST_KEY}"}


def _post(sandbox: Sandbox, path: str, body: object = None, **kw: object) -> requests.Response:
    return requests.post(sandbox.url + path, json=body, headers=AUTH, timeout=10, **kw)  # type: ignore[arg-type]


def test_create_enroll_start_pause_stats(sandbox: Sandbox) -> None:
    created = _post(
        sandbox, "/v1/campaigns", {"name": "Q3", "sequenceSteps": [{"subject": "Hi", "bodyHtml": "x"}]}
    )
    assert created.status_code == 200 and created.json()["status"] == "draft"
    cid = created.json()["id"]
    assert _post(sandbox, f"/v1/campaigns/{cid}/start").json()["error"]["code"] == "no_leads_enrolled"
    enrolled = _post(
        sandbox, f"/v1/campaigns/{cid}/leads/bulk", {"leads": [{"email": "a@x.io"}, {"email": "a@x.io"}]}
    )
    assert enrolled.json()["totalEnrolled"] == 1  # upsert by email
    bad = _post(sandbox, f"/v1/campaigns/{cid}/leads/bulk", {"leads": [{"email": "nope"}]})
    assert bad.status_code == 422 and bad.json()["errors"][0]["index"] == 0
    assert _post(sandbox, f"/v1/campaigns/{cid}/pause").json()["status"] == "draft"
    started = _post(sandbox, f"/v1/campaigns/{cid}/start").json()
    assert started["status"] == "running" and started["startedAt"]
    paused = _post(sandbox, f"/v1/campaigns/{cid}/pause").json()
    assert paused["status"] == "paused" and paused["pausedAt"]
    stats = requests.get(f"{sandbox.url}/v1/campaigns/{cid}/stats", headers=AUTH, timeout=10).json()
    assert "status" not in stats and stats["totalEnrolled"] == 1 and stats["queued"] == 1
    resumed = _post(sandbox, f"/v1/campaigns/{cid}/start").json()
    # A resume is a transition to running: a new startedAt, strictly later, so clients can tell.
    assert resumed["status"] == "running" and resumed["startedAt"] > started["startedAt"]
    again = _post(sandbox, f"/v1/campaigns/{cid}/start").json()
    assert again["startedAt"] == resumed["startedAt"]  # a no-op keeps it


def test_sender_pools(sandbox: Sandbox) -> None:
    pools = requests.get(sandbox.url + "/v1/sender-pools", headers=AUTH, timeout=10).json()
    assert pools["senderPools"][0]["remainingToday"] > 0


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", "/v1/campaigns", "not json", 400, "invalid_request"),
        ("POST", "/v1/campaigns", {"sequenceSteps": []}, 400, "invalid_request"),
        ("POST", "/v1/campaigns", {"name": "x", "sequenceSteps": "x"}, 400, "invalid_request"),
        ("POST", "/v1/campaigns/camp_1/leads/bulk", {"leads": 3}, 400, "invalid_request"),
        ("POST", "/v1/campaigns/nope/start", None, 404, "campaign_not_found"),
        ("GET", "/v1/campaigns/camp_1/start", None, 405, "method_not_allowed"),  # known path
        ("GET", "/v1/campaigns/a%2Fb/stats", None, 404, "not_found"),
        ("DELETE", "/v1/campaigns/camp_1", None, 404, "not_found"),
    ],
)
def test_bad_requests_get_error_codes_not_crashes(
    sandbox: Sandbox, method: str, path: str, body: object, status: int, code: str
) -> None:
    kw: dict[str, object] = {"data": body} if isinstance(body, str) else {"json": body}
    response = requests.request(method, sandbox.url + path, headers=AUTH, timeout=10, **kw)  # type: ignore[arg-type]
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert requests.get(sandbox.url + "/v1/sender-pools", headers=AUTH, timeout=10).ok  # still alive


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer sk_live_x", "Basic sk_test_x", "Bearer sk_test_", "bearer sk_test_", TEST_KEY],
)
def test_auth_is_required(sandbox: Sandbox, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = requests.post(sandbox.url + "/v1/campaigns/camp_1/start", headers=headers, timeout=10)
    assert (response.status_code, response.json()["error"]["code"]) == (401, "authentication_failed")
    assert sandbox.status("camp_1") == "draft"


def _run(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pulumi_leadterra.sandbox",
            "--port",
            "0",
            "--state",
            str(tmp_path / "s.json"),
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("leadterra-sandbox listening on http://127.0.0.1:"), line + (
        proc.stderr.read() if proc.stderr else ""
    )
    return proc, line.rsplit(" ", 1)[1].strip()


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0


def test_restart_loses_nothing_and_cli_key_is_enforced(tmp_path: Path) -> None:
    proc, url = _run(tmp_path, "--campaign", "camp_a", "--api-key", "sk_custom_key")
    try:
        assert requests.post(url + "/v1/campaigns/camp_a/start", headers=AUTH, timeout=10).status_code == 401
        ok = requests.post(
            url + "/v1/campaigns/camp_a/start", headers={"Authorization": "Bearer sk_custom_key"}, timeout=10
        )
        assert ok.json()["status"] == "running"
    finally:
        _stop(proc)
    assert stored_status(tmp_path / "s.json", "camp_a") == "running"
    proc, url = _run(tmp_path)
    try:
        assert requests.get(url + "/_sandbox/campaigns/camp_a", timeout=10).json()["status"] == "running"
    finally:
        _stop(proc)


def test_seed_file(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"campaigns": [{"id": "camp_s", "status": "paused", "leads": 5}]}))
    proc, url = _run(tmp_path, "--seed", str(seed))
    try:
        shown = requests.get(url + "/_sandbox/campaigns/camp_s", timeout=10).json()
        assert (shown["status"], shown["totalEnrolled"]) == ("paused", 5)
    finally:
        _stop(proc)


def test_refuses_to_bind_beyond_loopback(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pulumi_leadterra.sandbox",
            "--host",
            "0.0.0.0",
            "--state",
            str(tmp_path / "s.json"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "loopback only" in result.stderr


def test_changes_reach_the_state_file_before_the_answer(sandbox: Sandbox, tmp_path: Path) -> None:
    """Committed before the answer leaves: another reader of the file sees it at once."""
    _post(sandbox, "/v1/campaigns/camp_1/start")
    assert stored_status(tmp_path / "state.json", "camp_1") == "running"


def stored_status(path: Path, campaign_id: str) -> str:
    """A campaign's status as the state file holds it, read by another SQLite connection."""
    with sqlite3.connect(path) as db:
        (body,) = db.execute("SELECT body FROM campaigns WHERE id = ?", (campaign_id,)).fetchone()
    return str(json.loads(body)["status"])
