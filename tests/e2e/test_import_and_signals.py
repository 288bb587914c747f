"""`pulumi import` of a campaign someone paused, then `up` of the program it generated; an import
of a campaign that does not exist; `pulumi up --logflow -v=9`; and Ctrl-C during a slow `up`.
All through the real `pulumi` command, on the native plugin from a Pulumi YAML program.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml

from harness.cli import Project
from harness.programs import ROOT
from harness.sandbox import Sandbox
from pulumi_leadterra.schema import TYPE_TOKEN
from tests.conftest import TEST_KEY


def _yaml_project(tmp_path: Path, sandbox: Sandbox, resources: dict[str, Any]) -> Project:
    project = Project(tmp_path, secrets=[TEST_KEY])
    project.yaml_program(ROOT / "examples" / "yaml" / "Pulumi.yaml", plugin_by_path=True)
    project.declare(resources)
    project.init(sandbox.url, TEST_KEY, retryBaseDelay="0.01")
    return project


def test_import_then_up_of_the_generated_program_changes_nothing(tmp_path: Path, sandbox: Sandbox) -> None:
    sandbox.put("camp_2", status="paused")  # paused by someone during an incident
    sandbox.clear_requests()
    project = _yaml_project(tmp_path, sandbox, {})

    project("import", TYPE_TOKEN, "imported", "camp_2", "--yes", "--out", "generated.yaml")
    assert sandbox.drain_counts() == {"GET stats": 2}  # the import's preview, then the import
    (imported,) = project.resources(TYPE_TOKEN).values()
    outputs = imported["outputs"]
    assert outputs["campaignId"] == "camp_2" and outputs["heldStatus"] == "none"
    assert "status" not in outputs and "apiKey" not in outputs
    assert outputs["apiKeyFingerprint"].startswith("sha256:")

    # The program `pulumi import` wrote, pasted into the project as its docs say.
    generated = yaml.safe_load((project.dir / "generated.yaml").read_text())["resources"]
    assert generated["imported"]["properties"] == {"campaignId": "camp_2"}
    project.declare(generated)
    for _ in range(2):
        project.up()
        project("preview", "--expect-no-changes")
    assert sandbox.drain_counts() == {} and sandbox.status("camp_2") == "paused"

    # Declaring a status holds it from then on: the preview says so, up sends its one call.
    generated["imported"]["properties"]["status"] = "running"
    project.declare(generated)
    assert '+ status: "running"' in project("preview", "--diff").stdout
    project.up()
    assert sandbox.drain_counts() == {"POST start": 1} and sandbox.status("camp_2") == "running"


def test_importing_a_missing_campaign_fails_and_writes_nothing(tmp_path: Path, sandbox: Sandbox) -> None:
    project = _yaml_project(tmp_path, sandbox, {})
    sandbox.clear_requests()
    result = project("import", TYPE_TOKEN, "ghost", "camp_nope", "--yes", check=False)
    assert result.returncode != 0 and "does not exist" in result.stdout + result.stderr
    assert project.resources(TYPE_TOKEN) == {}
    assert set(sandbox.drain_counts()) == {"GET stats"}


def test_up_with_the_engines_debug_flags(tmp_path: Path, sandbox: Sandbox) -> None:
    launch = {"type": TYPE_TOKEN, "properties": {"campaignId": "camp_1"}}
    project = _yaml_project(tmp_path, sandbox, {"launch": launch})
    result = project.up("--logflow", "-v=9", "--logtostderr")
    assert sandbox.drain_counts() == {"POST start": 1}
    # The plugin took the engine's flags and logged its request at -v=9; never the key.
    assert "POST start camp_1: HTTP 200" in result.stderr


def test_ctrl_c_during_a_slow_up_ends_within_seconds_with_consistent_state(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    resources = {f"c{i}": {"type": TYPE_TOKEN, "properties": {"campaignId": f"camp_{i}"}} for i in (1, 2, 3)}
    project = _yaml_project(tmp_path, sandbox, resources)
    sandbox.faults({"delay_ms": 30_000, "match": "/start", "times": 100})  # a hung API
    proc = project.start("up", "--yes", "--skip-preview")
    time.sleep(6)  # the program ran; three starts are waiting on the API
    code, output, seconds = project.interrupt(proc)
    assert code != 0 and seconds < 10, output
    state = project.export()  # the backend is readable, and holds no created campaign
    created = [r for r in state["deployment"].get("resources", []) if r["type"] == TYPE_TOKEN]
    assert created == []

    # The next run, with the API healthy again, converges: each campaign started once.
    sandbox.admin("DELETE", "/faults")
    sandbox.clear_requests()
    project.up()
    assert sandbox.drain_counts() == {"POST start": 3}
    assert {sandbox.status(f"camp_{i}") for i in (1, 2, 3)} == {"running"}
