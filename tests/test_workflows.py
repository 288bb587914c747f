"""Every GitHub Actions workflow in the repository, checked by real linters (actionlint, zizmor
offline) with zero findings, and the GitOps workflow's own rules checked by reading it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from harness.programs import ROOT
from harness.sandbox import Sandbox

BIN = Path(sys.executable).parent
WORKFLOWS = sorted(
    [*(ROOT / ".github" / "workflows").glob("*.yml"), *(ROOT / "examples").glob("**/.github/workflows/*.yml")]
)
GITOPS = ROOT / "examples" / "gitops" / ".github" / "workflows" / "leadterra.yml"
PROMOTION = ROOT / "examples" / "promotion"


def test_there_are_workflows_to_check() -> None:
    names = {w.name for w in WORKFLOWS}
    assert {"release.yml", "leadterra.yml"} <= names


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: str(p.relative_to(ROOT)))
def test_actionlint_finds_nothing(workflow: Path) -> None:
    result = subprocess.run(
        [str(BIN / "actionlint"), "-no-color", str(workflow)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: str(p.relative_to(ROOT)))
def test_zizmor_finds_nothing(workflow: Path) -> None:
    result = subprocess.run(
        [str(BIN / "zizmor"), "--offline", "--no-progress", str(workflow)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and "No findings to report" in result.stdout, result.stdout + result.stderr


def _steps(job: dict) -> list[dict]:  # type: ignore[type-arg]
    return list(job["steps"])


def test_gitops_workflow_rules() -> None:
    workflow = yaml.safe_load(GITOPS.read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as a boolean
    assert set(triggers) == {"pull_request", "push", "schedule", "workflow_dispatch"}
    assert triggers["push"]["branches"] == ["main"] and workflow["permissions"] == {}
    env = workflow["env"]
    assert (ROOT / env["WORK_DIR"] / "Pulumi.yaml").exists()
    assert (ROOT / env["POLICY_PACK"] / "PulumiPolicy.yaml").exists()
    assert "LEADTERRA_PAUSE_ALL" in env  # the brake reaches every job
    jobs = workflow["jobs"]
    assert jobs["up-staging"]["needs"] == "up-dev" and jobs["up-prod"]["needs"] == "up-staging"
    for name, job in jobs.items():
        runs = " ".join(str(s.get("run", "")) for s in _steps(job))
        starts_sandbox = "start-sandbox.sh" in runs
        pulumi = [
            s
            for s in _steps(job)
            if "pulumi " in str(s.get("run", "")) and "get.pulumi.com" not in str(s.get("run", ""))
        ]
        # No job starts a sandbox it does not use: only jobs of sandbox stacks start one, and
        # only before Pulumi runs (the script waits until the sandbox answers).
        if name in ("up-dev", "up-staging"):
            assert starts_sandbox and runs.index("start-sandbox.sh") < runs.index("pulumi up")
        elif name in ("up-prod", "heal", "affected"):
            assert not starts_sandbox
        for step in pulumi:
            heal = step["env"]["LEADTERRA_HEAL"]
            assert heal == ("true" if name == "heal" else "false"), name  # previews and merges never heal
            assert "--policy-pack" in step["run"] and "LEADTERRA_API_KEY" not in step["env"]
        for step in _steps(job):
            assert "login" not in str(step.get("run", "")), "no step may change a Pulumi login"
    (preview_sandbox,) = [s for s in _steps(jobs["preview"]) if "start-sandbox.sh" in str(s.get("run", ""))]
    assert preview_sandbox["if"] == "matrix.stack != 'prod'"
    heal = [s for s in _steps(jobs["heal"]) if "pulumi up" in str(s.get("run", ""))][0]
    assert "--refresh" in heal["run"] and '"$ORG/prod"' in heal["run"]
    assert jobs["heal"]["concurrency"] == jobs["up-prod"]["concurrency"]
    for stack in ("dev", "staging", "prod"):
        assert (PROMOTION / f"Pulumi.{stack}.yaml").exists()


def test_start_sandbox_seeds_from_the_stack_file_and_waits(tmp_path: Path) -> None:
    env = {**os.environ, "RUNNER_TEMP": str(tmp_path), "SANDBOX_PORT": "18787", "PYTHON": sys.executable}
    result = subprocess.run(
        [str(ROOT / "examples" / "gitops" / "start-sandbox.sh"), "staging"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    pid = int((tmp_path / "sandbox-staging.pid").read_text())
    try:
        assert result.returncode == 0, result.stderr
        # It returned only once the sandbox answered: the first request after it succeeds.
        sandbox = Sandbox("http://127.0.0.1:18787")
        declared = yaml.safe_load((PROMOTION / "Pulumi.staging.yaml").read_text())["config"]
        for entry in declared["leadterra-promotion:campaigns"].values():
            assert sandbox.admin("GET", f"/campaigns/{entry['id']}")["id"] == entry["id"]
    finally:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.05)
    with pytest.raises(requests.ConnectionError):  # nothing left running
        requests.get("http://127.0.0.1:18787/_sandbox/requests", timeout=2)
