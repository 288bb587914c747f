"""The plugin as a user of another language gets it: `make plugin`'s archive (the plugin frozen
by PyInstaller), installed with `pulumi plugin install resource leadterra <version> --file`, then
found and run by the engine for a Pulumi YAML program that names no path, with no clone and no
Python on PATH. (tests/e2e/test_release_rehearsal.py has the engine download it by itself.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import yaml

from harness.cli import CLI_BIN, Project
from harness.programs import ROOT
from harness.release import host_platform, plugin_archive_name
from harness.sandbox import Sandbox
from pulumi_leadterra import __version__
from pulumi_leadterra.schema import TYPE_TOKEN
from tests.conftest import TEST_KEY


def test_the_installed_archive_serves_a_yaml_program(tmp_path: Path, sandbox: Sandbox) -> None:
    dist = tmp_path / "dist"  # not the clone's dist/: the release rehearsal may be building there
    subprocess.run(["make", "plugin", f"DIST={dist}"], cwd=ROOT, check=True, capture_output=True, timeout=600)
    archive = dist / plugin_archive_name(__version__, *host_platform())
    project = Project(tmp_path, secrets=[TEST_KEY])  # .venv/bin is not on PATH: no ambient plugin
    # Nothing but the CLI and its language hosts on PATH: no python3 at all. The archive holds an
    # executable (PyInstaller); installing it is unpacking it, with no index and no pip.
    project.env["PATH"] = str(CLI_BIN)
    assert shutil.which("python3", path=project.env["PATH"]) is None
    project("plugin", "install", "resource", "leadterra", __version__, "--file", str(archive), timeout=300)
    installed = Path(project.env["PULUMI_HOME"]) / "plugins" / f"resource-leadterra-v{__version__}"
    assert os.access(installed / "pulumi-resource-leadterra", os.X_OK)
    assert not (installed / "venv").exists()

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
