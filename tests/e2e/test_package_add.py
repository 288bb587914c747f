"""`pulumi package add` of the provider by path, as docs/native-plugin.md tells a user with a
clone: the real CLI runs the plugin from ``provider/`` for its schema, has the project's language
host generate the SDK into ``sdks/leadterra`` and link it (our hosts' Link: package.json for
TypeScript, requirements.txt for Python, go.mod for Go), installs it, and records the package in
Pulumi.yaml. The schema's example for that language then runs on the SDK through the engine, with
the plugin found where package add recorded it (nothing on PATH).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from harness.cli import Project
from harness.programs import ROOT
from harness.sandbox import Sandbox
from harness.sdks import node_path, run_example
from pulumi_leadterra.schema import EXAMPLES, PYTHON_PACKAGE
from tests.conftest import TEST_KEY


def _typescript(project: Project) -> None:
    project.env["PATH"] = node_path(project.env["PATH"])
    project.write_yaml("Pulumi.yaml", {"name": "add-nodejs", "runtime": "nodejs"})
    project.write("index.ts", EXAMPLES["typescript"])
    manifest = {
        "name": "add-nodejs",
        "main": "index.ts",
        "dependencies": {"@pulumi/pulumi": "^3.270.0"},
        "devDependencies": {"typescript": "^5", "@types/node": "^22"},
    }
    project.write("package.json", json.dumps(manifest))


def _python(project: Project) -> None:
    # A virtualenv of the project's own, which `pulumi package add` fills from requirements.txt
    # (from PyPI: the project's Pulumi SDK; from sdks/leadterra: the SDK it generated).
    project.env.pop("PIP_NO_INDEX")
    runtime = {"name": "python", "options": {"virtualenv": "venv", "toolchain": "pip"}}
    project.write_yaml("Pulumi.yaml", {"name": "add-python", "runtime": runtime})
    project.write("__main__.py", EXAMPLES["python"])
    project.write("requirements.txt", "pulumi>=3.268,<4\n")


def _go(project: Project) -> None:
    project.write_yaml("Pulumi.yaml", {"name": "add-go", "runtime": "go"})
    project.write("main.go", EXAMPLES["go"])
    project.write("go.mod", "module addgo\n\ngo 1.25\n")


LANGUAGES = {"typescript": _typescript, "python": _python, "go": _go}


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_package_add_by_path(tmp_path: Path, sandbox: Sandbox, language: str) -> None:
    for campaign in ("camp_demo", "camp_legacy"):
        sandbox.put(campaign, status="draft", leads=3)
    sandbox.clear_requests()
    project = Project(tmp_path, secrets=[TEST_KEY])
    LANGUAGES[language](project)
    assert shutil.which("pulumi-resource-leadterra", path=project.env["PATH"]) is None

    added = project("package", "add", str(ROOT / "provider"), timeout=900)
    assert "Added package Leadterra" in added.stdout + added.stderr
    assert yaml.safe_load((project.dir / "Pulumi.yaml").read_text())["packages"] == {
        "leadterra": str(ROOT / "provider")
    }
    sdk = project.dir / "sdks" / "leadterra"
    linked = {
        "typescript": lambda: json.loads((project.dir / "package.json").read_text())["dependencies"],
        "python": lambda: (project.dir / "requirements.txt").read_text(),
        "go": lambda: (project.dir / "go.mod").read_text(),
    }[language]()
    assert "sdks/leadterra" in str(linked), linked
    assert sdk.is_dir()
    if language == "go":
        project("install", timeout=900)  # go mod tidy: now that go.mod points there, require it
    if language == "python":
        assert (sdk / PYTHON_PACKAGE).is_dir()

    run_example(project, sandbox, TEST_KEY)
