"""What a reviewer reads in `pulumi preview --diff` of the native plugin, through the real engine:
each changed property, and nothing else; and a plugin started by hand that the engine attaches
to (`PULUMI_DEBUG_PROVIDERS`), as when debugging the provider.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from harness.cli import Project
from harness.programs import ROOT
from harness.sandbox import Sandbox
from pulumi_leadterra.schema import TYPE_TOKEN
from pulumi_leadterra.settings import key_fingerprint
from tests.conftest import TEST_KEY

ROTATED = "sk_test_rotated_000000000009"


def _project(tmp_path: Path, sandbox: Sandbox, properties: dict[str, Any]) -> Project:
    project = Project(tmp_path, secrets=[TEST_KEY, ROTATED])
    project.yaml_program(ROOT / "examples" / "yaml" / "Pulumi.yaml", plugin_by_path=True)
    _declare(project, properties)
    project.init(sandbox.url, TEST_KEY)
    return project


def _declare(project: Project, properties: dict[str, Any]) -> None:
    project.declare({"launch": {"type": TYPE_TOKEN, "properties": properties}})


def _changes(project: Project) -> list[str]:
    """The property lines of `pulumi preview --diff`: `~ name: old => new`."""
    text = project("preview", "--diff").stdout
    return sorted(
        line.strip() for line in text.splitlines() if line.strip().startswith(("~ ", "+ ", "- ", "+-"))
    )


def test_a_preview_says_what_changes(tmp_path: Path, sandbox: Sandbox) -> None:
    project = _project(tmp_path, sandbox, {"campaignId": "camp_1", "status": "running"})
    project.up()
    sandbox.clear_requests()

    _declare(project, {"campaignId": "camp_1", "status": "paused"})
    flip = _changes(project)
    assert '~ status: "running" => "paused"' in flip
    assert not any("campaignId" in line or "apiKey" in line for line in flip)

    _declare(project, {"campaignId": "camp_1", "status": "running"})
    project("config", "set", "--secret", "leadterra:apiKey", ROTATED)
    rotation = _changes(project)
    # The config key is never in state: its fingerprint is what changes.
    old, new = key_fingerprint(TEST_KEY), key_fingerprint(ROTATED)
    assert f'~ apiKeyFingerprint: "{old}" => "{new}"' in rotation
    assert not any("status" in line or "apiKey:" in line for line in rotation)

    project("config", "set", "--secret", "leadterra:apiKey", TEST_KEY)
    _declare(project, {"campaignId": "camp_2", "status": "running"})
    moved = _changes(project)
    assert '~ campaignId: "camp_1" => "camp_2"' in moved
    assert any(line.startswith("+-") and TYPE_TOKEN in line for line in moved)  # a replace
    assert sandbox.drain_counts() == {}  # previews send nothing


def test_the_engine_attaches_to_a_plugin_started_by_hand(tmp_path: Path, sandbox: Sandbox) -> None:
    project = _project(tmp_path, sandbox, {"campaignId": "camp_1"})
    plugin = subprocess.Popen(
        [sys.executable, "-m", "pulumi_leadterra.plugin", "-v=9"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert plugin.stdout is not None
        port = plugin.stdout.readline().strip()
        project.up(env={"PULUMI_DEBUG_PROVIDERS": f"leadterra:{port}"})
        assert sandbox.drain_counts() == {"POST start": 1}
    finally:
        plugin.terminate()
        _, logged = plugin.communicate(timeout=10)
    # The start went out through the plugin started by hand: the engine attached to it.
    assert "POST start camp_1: HTTP 200" in logged and TEST_KEY not in logged


def test_a_base_url_that_is_not_the_apis_root_fails_the_preview(tmp_path: Path, sandbox: Sandbox) -> None:
    """Through the real CLI, before anything is sent: a path (`/v1` would double), and a URL two
    parsers read as different hosts (the check would see ::1, the request go to leak.example)."""
    project = _project(tmp_path, sandbox, {"campaignId": "camp_1"})
    refused = ((sandbox.url + "/v1", "has a path"), ("http://leak.example\\[::1]", "URL parsers disagree"))
    for url, reason in refused:
        project("config", "set", "leadterra:baseUrl", url)
        result = project("preview", check=False)
        assert result.returncode != 0 and reason in result.stdout + result.stderr
    assert sandbox.drain_counts() == {}
