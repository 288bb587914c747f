"""The generated SDKs under ``sdk/``: exactly what `pulumi package gen-sdk` writes from the schema
today (so none drifts from the plugin), and programs written with them run through the real
engine against the plugin: up, a quiet preview, destroy.
"""

from __future__ import annotations

import filecmp
import fnmatch
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.cli import Project, find_cli
from harness.programs import ROOT
from harness.sandbox import Sandbox
from pulumi_leadterra import __version__
from pulumi_leadterra.schema import SCHEMA, TYPE_TOKEN
from tests.conftest import TEST_KEY

SDK = ROOT / "sdk"
LANGUAGES = sorted(p.name for p in SDK.iterdir() if p.is_dir()) if SDK.exists() else []
NODE_VERSION = __version__  # respectSchemaVersion: the generated package.json says it already


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
    project.init(sandbox.url, TEST_KEY)

    project.up()
    assert sandbox.drain_counts() == {"POST start": 1, "POST pause": 1}
    outputs = json.loads(project("stack", "output", "--json").stdout)
    assert outputs == {"launch_status": "running", "legacy_held": "paused"}
    assert set(project.resources(TYPE_TOKEN)) == {"launch", "legacy"}
    project("preview", "--expect-no-changes")
    assert sandbox.drain_counts() == {}
    project("destroy", "--yes")
    assert sandbox.drain_counts() == {} and project.resources(TYPE_TOKEN) == {}


def _story(project: Project, sandbox: Sandbox) -> None:
    """up (one start, one pause), a quiet preview, destroy (nothing sent)."""
    project.init(sandbox.url, TEST_KEY)
    project.up()
    assert sandbox.drain_counts() == {"POST start": 1, "POST pause": 1}
    assert set(project.resources(TYPE_TOKEN)) == {"launch", "legacy"}
    project("preview", "--expect-no-changes")
    assert sandbox.drain_counts() == {}
    project("destroy", "--yes")
    assert sandbox.drain_counts() == {} and project.resources(TYPE_TOKEN) == {}


@pytest.fixture
def seeded(sandbox: Sandbox) -> Sandbox:
    for campaign in ("camp_demo", "camp_legacy"):
        sandbox.put(campaign, status="draft", leads=3)
    sandbox.clear_requests()
    return sandbox


_TYPESCRIPT_PROGRAM = """
import * as pulumi from "@pulumi/pulumi";
import * as leadterra from "@leadterra/pulumi";

const launch = new leadterra.CampaignState("launch", {
    campaignId: "camp_demo", status: "running", reconcile: true,
});
const legacy = new leadterra.CampaignState("legacy", { campaignId: "camp_legacy", status: "paused" });
export const launchStatus: pulumi.Output<string | undefined> = launch.status;
export const legacyHeld = legacy.heldStatus;
"""


def test_a_typescript_program_on_the_generated_sdk(tmp_path: Path, seeded: Sandbox) -> None:
    # The SDK as a user gets it: built with the machine's Node.js and packed from bin/ with its
    # version set, as Pulumi's provider boilerplate publishes a generated Node.js SDK.
    build = tmp_path / "sdk-nodejs"
    shutil.copytree(SDK / "nodejs", build)
    for command in (["npm", "install", "--no-audit", "--no-fund"], ["npm", "run", "build"]):
        subprocess.run(command, cwd=build, check=True, capture_output=True, timeout=600)
    manifest = json.loads((build / "package.json").read_text())
    manifest["version"] = NODE_VERSION
    (build / "bin" / "package.json").write_text(json.dumps(manifest, indent=2))
    subprocess.run(["npm", "pack"], cwd=build / "bin", check=True, capture_output=True, timeout=600)
    (tarball,) = (build / "bin").glob("*.tgz")

    project = Project(tmp_path, secrets=[TEST_KEY], plugin_on_path=True)
    project.write_yaml("Pulumi.yaml", {"name": "sdk-nodejs", "runtime": "nodejs"})
    project.write("index.ts", _TYPESCRIPT_PROGRAM)
    project.write(
        "package.json",
        json.dumps(
            {
                "name": "sdk-nodejs-program",
                "main": "index.ts",
                "dependencies": {"@pulumi/pulumi": "^3.270.0", "@leadterra/pulumi": f"file:{tarball}"},
                "devDependencies": {"typescript": "^5", "@types/node": "^20"},
            }
        ),
    )
    project.write(
        "tsconfig.json",
        json.dumps(
            {
                "compilerOptions": {
                    "strict": True,
                    "target": "es2020",
                    "module": "commonjs",
                    "moduleResolution": "node",
                },
                "files": ["index.ts"],
            }
        ),
    )
    project("install", timeout=600)
    _story(project, seeded)


_GO_PROGRAM = """package main

import (
	"github.com/leadterra/pulumi-leadterra/sdk/go/leadterra"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		launch, err := leadterra.NewCampaignState(ctx, "launch", &leadterra.CampaignStateArgs{
			CampaignId: pulumi.String("camp_demo"),
			Status:     pulumi.String("running"),
			Reconcile:  pulumi.Bool(true),
		})
		if err != nil {
			return err
		}
		if _, err := leadterra.NewCampaignState(ctx, "legacy", &leadterra.CampaignStateArgs{
			CampaignId: pulumi.String("camp_legacy"),
			Status:     pulumi.String("paused"),
		}); err != nil {
			return err
		}
		ctx.Export("launchStatus", launch.Status)
		return nil
	})
}
"""


def test_a_go_program_on_the_generated_sdk(tmp_path: Path, seeded: Sandbox) -> None:
    project = Project(tmp_path, secrets=[TEST_KEY], plugin_on_path=True)
    project.write_yaml("Pulumi.yaml", {"name": "sdk-go", "runtime": "go"})
    project.write("main.go", _GO_PROGRAM)
    project.write(
        "go.mod",
        "module sdkgo\n\ngo 1.25\n\n"
        "require github.com/leadterra/pulumi-leadterra/sdk v0.0.0\n\n"
        f"replace github.com/leadterra/pulumi-leadterra/sdk => {SDK}\n",
    )
    project("install", timeout=600)  # go mod tidy, through the Go module proxy
    _story(project, seeded)
