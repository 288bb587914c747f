"""The generated SDKs under ``sdk/``: exactly what `pulumi package gen-sdk` writes from the schema
today (so none drifts from the plugin), and the schema's example in each language (what the
registry and each SDK's docs show) run through the real engine against the plugin: up, a quiet
preview, destroy.
"""

from __future__ import annotations

import filecmp
import fnmatch
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from harness.cli import Project, find_cli
from harness.programs import ROOT
from harness.sandbox import Sandbox
from harness.sdks import (
    SDK,
    go_project,
    pack_nodejs_sdk,
    python_project,
    run_example,
    typescript_project,
    yaml_project,
)
from pulumi_leadterra.schema import EXAMPLES, SCHEMA, TYPE_TOKEN
from tests.conftest import TEST_KEY

LANGUAGES = sorted(p.name for p in SDK.iterdir() if p.is_dir()) if SDK.exists() else []


# What installing or building an SDK leaves beside it (each SDK's own .gitignore lists these, and
# the repository's .gitignore npm's lock file).
_BUILT = ("node_modules", "package-lock.json", "__pycache__", "build", "dist", "*.egg-info", "bin")


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


@pytest.fixture
def seeded(sandbox: Sandbox) -> Sandbox:
    for campaign in ("camp_demo", "camp_legacy"):
        sandbox.put(campaign, status="draft", leads=3)
    sandbox.clear_requests()
    return sandbox


def test_the_schema_example_is_one_program_per_language() -> None:
    """What the registry shows on the resource's page: an example in each language with an SDK
    (each run below exactly as written), then how to import."""
    description = SCHEMA["resources"][TYPE_TOKEN]["description"]
    for language, program in EXAMPLES.items():
        assert f"```{language}\n{program}```" in description
    assert set(EXAMPLES) == {"typescript", "python", "go", "yaml"}
    assert description.index("{{% /examples %}}") < description.index("## Import")
    assert f"pulumi import {TYPE_TOKEN} " in description


def test_a_python_program_on_the_generated_sdk(tmp_path: Path, seeded: Sandbox) -> None:
    # The generated SDK as a user installs it: `make venv` pip-installs sdk/python.
    project = Project(tmp_path, secrets=[TEST_KEY], plugin_on_path=True)
    python_project(project, "sdk-python", EXAMPLES["python"])
    run_example(project, seeded, TEST_KEY)


def test_a_typescript_program_on_the_generated_sdk(tmp_path: Path, seeded: Sandbox) -> None:
    tarball = pack_nodejs_sdk(tmp_path)
    project = Project(tmp_path, secrets=[TEST_KEY], plugin_on_path=True)
    typescript_project(project, "sdk-nodejs", EXAMPLES["typescript"], tarball)
    run_example(project, seeded, TEST_KEY)


def test_a_go_program_on_the_generated_sdk(tmp_path: Path, seeded: Sandbox) -> None:
    project = Project(tmp_path, secrets=[TEST_KEY], plugin_on_path=True)
    go_project(project, "sdk-go", EXAMPLES["go"])  # go mod tidy, through the Go module proxy
    run_example(project, seeded, TEST_KEY)


def test_a_yaml_program_from_the_schema_example(tmp_path: Path, seeded: Sandbox) -> None:
    project = Project(tmp_path, secrets=[TEST_KEY], plugin_on_path=True)
    yaml_project(project, "sdk-yaml", yaml.safe_load(EXAMPLES["yaml"]))
    run_example(project, seeded, TEST_KEY)
