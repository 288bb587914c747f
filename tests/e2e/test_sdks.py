"""The generated SDKs under ``sdk/``: exactly what `pulumi package gen-sdk` writes from the schema
today (so none drifts from the plugin), and programs written with them run through the real
engine against the plugin: up, a quiet preview, destroy.
"""

from __future__ import annotations

import filecmp
import fnmatch
import json
import subprocess
from pathlib import Path

import pytest

from harness.cli import Project, find_cli
from harness.programs import ROOT
from harness.sandbox import Sandbox
from pulumi_leadterra.schema import SCHEMA, TYPE_TOKEN
from tests.conftest import TEST_KEY

SDK = ROOT / "sdk"
LANGUAGES = sorted(p.name for p in SDK.iterdir() if p.is_dir()) if SDK.exists() else []


# What installing or building an SDK leaves beside it (each SDK's own .gitignore lists these).
_BUILT = ("node_modules", "__pycache__", "build", "dist", "*.egg-info", "bin")


def _differences(left: Path, right: Path) -> list[str]:
    compared = filecmp.dircmp(left, right, ignore=[])
    built = [n for n in compared.left_only if any(fnmatch.fnmatch(n, p) for p in _BUILT)]
    compared.left_only = [n for n in compared.left_only if n not in built]
    compared.subdirs = {n: d for n, d in compared.subdirs.items() if n not in built}
    found = [f"only in {left.name}: {n}" for n in compared.left_only]
    found += [f"only regenerated: {n}" for n in compared.right_only]
    found += [f"differs: {n}" for n in compared.diff_files]
    for name, sub in compared.subdirs.items():
        found += [f"{name}/{d}" for d in _differences(Path(sub.left), Path(sub.right))]
    return found


def test_the_schema_file_is_the_plugins_schema() -> None:
    assert json.loads((ROOT / "provider" / "schema.json").read_text()) == SCHEMA, "run make schema"


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_sdk_is_what_gen_sdk_writes_today(tmp_path: Path, language: str) -> None:
    cli = find_cli()
    assert cli is not None
    subprocess.run(
        [
            str(cli),
            "package",
            "gen-sdk",
            str(ROOT / "provider" / "schema.json"),
            "--language",
            language,
            "--out",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
        timeout=300,
        env={
            "PATH": f"{cli.parent}:/usr/bin:/bin",
            "PULUMI_HOME": str(tmp_path / "home"),
            "PULUMI_SKIP_UPDATE_CHECK": "1",
            "HOME": str(tmp_path),
        },
    )
    assert _differences(SDK / language, tmp_path / language) == [], "run make sdk"


_PYTHON_PROGRAM = """
import pulumi
import pulumi_leadterra_native as leadterra

launch = leadterra.CampaignState("launch", campaign_id="camp_demo", status="running", reconcile=True)
legacy = leadterra.CampaignState("legacy", campaign_id="camp_legacy", status="paused")
pulumi.export("launch_status", launch.status)
pulumi.export("legacy_held", legacy.held_status)
"""


def test_a_python_program_on_the_generated_sdk(tmp_path: Path, sandbox: Sandbox) -> None:
    for campaign in ("camp_demo", "camp_legacy"):
        sandbox.put(campaign, status="draft", leads=3)
    sandbox.clear_requests()
    # The generated SDK as a user installs it: `make venv` pip-installs sdk/python.
    project = Project(tmp_path, secrets=[TEST_KEY], plugin_on_path=True)
    project.write("program.py", _PYTHON_PROGRAM)
    project.python_program("sdk-python", project.dir / "program.py")
    project.init(
        "dev", {"leadterra:apiKey": TEST_KEY, "leadterra:baseUrl": sandbox.url}, secret=["leadterra:apiKey"]
    )

    project.up()
    assert sandbox.drain_counts() == {"POST start": 1, "POST pause": 1}
    outputs = json.loads(project("stack", "output", "--json").stdout)
    assert outputs == {"launch_status": "running", "legacy_held": "paused"}
    assert set(project.resources(TYPE_TOKEN)) == {"launch", "legacy"}
    project("preview", "--expect-no-changes")
    assert sandbox.drain_counts() == {}
    project("destroy", "--yes")
    assert sandbox.drain_counts() == {} and project.resources(TYPE_TOKEN) == {}
