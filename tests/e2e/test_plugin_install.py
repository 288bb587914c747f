"""The plugin as a user of another language gets it: `make plugin`'s archive, installed with
`pulumi plugin install resource leadterra <version> --file`, then found and run by the engine
for a Pulumi YAML program that names no path and has no clone on PATH.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from harness.cli import Project
from harness.programs import ROOT
from harness.sandbox import Sandbox
from pulumi_leadterra import __version__
from pulumi_leadterra.schema import TYPE_TOKEN
from tests.conftest import TEST_KEY


def test_the_installed_archive_serves_a_yaml_program(tmp_path: Path, sandbox: Sandbox) -> None:
    dist = tmp_path / "dist"  # not the clone's dist/: the release rehearsal may be building there
    subprocess.run(["make", "plugin", f"DIST={dist}"], cwd=ROOT, check=True, capture_output=True, timeout=600)
    archive = dist / f"pulumi-resource-leadterra-v{__version__}-linux-amd64.tar.gz"
    project = Project(tmp_path, secrets=[TEST_KEY])  # .venv/bin is not on PATH: no ambient plugin
    # Installing fills the plugin's own virtualenv from PyPI (the one place this suite lets pip go).
    project(
        "plugin",
        "install",
        "resource",
        "leadterra",
        __version__,
        "--file",
        str(archive),
        env={"PIP_NO_INDEX": "false"},
        timeout=900,
    )
    installed = Path(project.env["PULUMI_HOME"]) / "plugins" / f"resource-leadterra-v{__version__}"
    assert (installed / "venv" / "bin" / "python").exists()

    program = yaml.safe_load((ROOT / "examples" / "yaml" / "Pulumi.yaml").read_text())
    program.pop("plugins")
    project.write_yaml("Pulumi.yaml", program)
    project.init(sandbox.url, TEST_KEY)
    for campaign in ("camp_demo", "camp_legacy"):
        sandbox.put(campaign, status="draft", leads=3)
    sandbox.clear_requests()

    result = project.up()
    assert "using pulumi-resource-leadterra from $PATH" not in result.stdout + result.stderr
    assert sandbox.drain_counts() == {"POST start": 1, "POST pause": 1}
    assert set(project.resources(TYPE_TOKEN)) == {"launch", "legacy"}
    project("preview", "--expect-no-changes")
    assert sandbox.drain_counts() == {}
    project("destroy", "--yes")
    assert sandbox.drain_counts() == {"POST pause": 1}  # legacy declares pauseOnDelete
