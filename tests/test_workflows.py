"""Every GitHub Actions workflow in the repository, checked by real linters (actionlint, zizmor
offline) with zero findings, and the rules they are written to checked by reading them: the GitOps
workflow's own, actions pinned to full commit SHAs, the Pulumi CLI installed only after its
published checksum matches, the release published only after the tests pass, and Dependabot
watching every workflow folder and requirements file."""

from __future__ import annotations

import hashlib
import io
import os
import re
import signal
import subprocess
import sys
import tarfile
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
RELEASE = ROOT / ".github" / "workflows" / "release.yml"
DEPENDABOT = ROOT / ".github" / "dependabot.yml"
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


@pytest.mark.parametrize("workflow", [*WORKFLOWS, DEPENDABOT], ids=lambda p: str(p.relative_to(ROOT)))
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
        elif name in ("up-prod", "heal", "affected", "clock"):
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
    # The clock: an everyday up on prod every 15 minutes opens and closes launch windows; the
    # hourly schedule is the heal run's. Each job answers to its own cron only.
    crons = [entry["cron"] for entry in triggers["schedule"]]
    assert crons == ["17 * * * *", "*/15 * * * *"]
    assert jobs["clock"]["if"] == "github.event.schedule == '*/15 * * * *'"
    assert jobs["heal"]["if"].startswith("github.event.schedule == '17 * * * *'")
    clock = [s for s in _steps(jobs["clock"]) if "pulumi up" in str(s.get("run", ""))][0]
    assert '"$ORG/prod"' in clock["run"] and "--refresh" not in clock["run"]
    assert jobs["clock"]["concurrency"] == jobs["up-prod"]["concurrency"]
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


# --- supply chain --------------------------------------------------------------------------------
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+?)@(\S+)(?:\s+#\s*(\S+))?\s*$")


def _uses() -> list[tuple[Path, str, str, str | None]]:
    found = []
    for workflow in WORKFLOWS:
        for line in workflow.read_text().splitlines():
            match = USES.match(line)
            if match:
                found.append((workflow, match[1], match[2], match[3]))
    return found


def test_every_action_is_pinned_to_a_full_commit_sha_with_its_release() -> None:
    uses = _uses()
    assert uses
    seen: dict[str, tuple[str, str | None]] = {}
    for workflow, action, ref, comment in uses:
        where = f"{workflow.relative_to(ROOT)}: {action}@{ref}"
        assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{where} is not pinned to a full commit SHA"
        assert comment and re.fullmatch(r"v\d+\.\d+\.\d+", comment), f"{where} needs its release (# vX.Y.Z)"
        # One action, one pin, in every workflow (Dependabot moves them together: one group).
        assert seen.setdefault(action, (ref, comment)) == (ref, comment), where
    assert {"actions/checkout", "actions/setup-python"} <= set(seen)


def _jobs(path: Path) -> dict[str, dict]:  # type: ignore[type-arg]
    return dict(yaml.safe_load(path.read_text())["jobs"])


def test_no_workflow_pipes_a_download_into_a_shell() -> None:
    for workflow in WORKFLOWS:
        text = workflow.read_text()
        assert not re.search(r"curl[^\n|]*\|\s*(ba|z)?sh\b", text), workflow
        assert "https://get.pulumi.com |" not in text and "get.pulumi.com | sh" not in text


def test_every_pulumi_cli_install_is_checked_against_the_published_checksums() -> None:
    """Every job that runs `pulumi` first installs the CLI of the pinned version from its release
    tarball, checks the tarball against Pulumi's pulumi-<version>-checksums.txt with sha256sum,
    and only then unpacks it and puts it on PATH."""
    workflow = yaml.safe_load(GITOPS.read_text())
    assert workflow["env"]["PULUMI_VERSION"] == (ROOT / ".pulumi.version").read_text().strip()
    runs_pulumi = 0
    for name, job in workflow["jobs"].items():
        runs = [str(s.get("run", "")) for s in _steps(job)]
        uses_cli = [i for i, r in enumerate(runs) if re.search(r"(^|\s)pulumi (preview|up)\b", r)]
        installs = [i for i, r in enumerate(runs) if "pulumi-v${PULUMI_VERSION}-linux-x64.tar.gz" in r]
        if not uses_cli:
            assert not installs, name
            continue
        runs_pulumi += 1
        assert len(installs) == 1 and installs[0] < uses_cli[0], name
        script = runs[installs[0]]
        order = [
            script.index("curl"),
            script.index("pulumi-${PULUMI_VERSION}-checksums.txt"),
            script.index("sha256sum --check --strict"),
            script.index("tar -xzf"),
            script.index("GITHUB_PATH"),
        ]
        assert order == sorted(order), name
        assert "--version" not in script and "install.sh" not in script
    assert runs_pulumi == 6  # preview, up-dev, up-staging, up-prod, clock, heal
    # The release workflow installs it with `make engine` (engine/build.sh), which checks the
    # same published checksums before it unpacks anything.
    build = (ROOT / "engine" / "build.sh").read_text()
    assert "checksums.txt" in build and "sha256sum" in build


def test_the_release_is_published_only_after_the_tests_pass() -> None:
    jobs = _jobs(RELEASE)
    # test -> plugin (one runner per platform) -> build (make release) -> github -> npm, pypi, go
    assert jobs["plugin"]["needs"] == "test" and jobs["build"]["needs"] == "plugin"
    assert jobs["github"]["needs"] == "build"
    assert all(jobs[name]["needs"] == "github" for name in ("npm", "pypi", "go"))
    test = _steps(jobs["test"])
    runs = [str(s.get("run", "")).strip() for s in test]
    assert runs.index("make engine") < runs.index("make test") < runs.index("make test-floor")
    (make_test,) = [s for s in test if str(s.get("run", "")).strip() == "make test"]
    assert make_test["env"]["LEADTERRA_E2E_REQUIRED"] == "1"  # as .ci/run: no CLI fails the run
    (checkout,) = [s for s in test if str(s.get("uses", "")).startswith("actions/checkout@")]
    # The whole history: the promotion example's requirement pins a commit of it.
    assert checkout["with"]["fetch-depth"] == 0 and checkout["with"]["persist-credentials"] is False
    tag_check = [i for i, r in enumerate(runs) if "does not match the package version" in r]
    assert tag_check and tag_check[0] < runs.index("make test")
    writes = {"npm": {"id-token": "write"}, "pypi": {"id-token": "write"}, "github": {"contents": "write"}}
    writes["go"] = {"contents": "write"}
    for name, job in jobs.items():
        assert job["permissions"] == writes.get(name, {"contents": "read"}), name
    assert jobs["pypi"]["environment"] == "pypi" and jobs["npm"]["environment"] == "npm"


def test_the_release_builds_what_the_rehearsal_installs() -> None:
    """The workflow's build job runs the same `make release` as the release rehearsal, with the
    archives of all six platforms, and every publishing job ships what that build left."""
    jobs = _jobs(RELEASE)
    platforms = {entry["platform"] for entry in jobs["plugin"]["strategy"]["matrix"]["include"]}
    assert platforms == {f"{s}-{a}" for s in ("linux", "darwin", "windows") for a in ("amd64", "arm64")}
    runs = " ".join(str(s.get("run", "")) for s in _steps(jobs["build"]))
    assert "make release PLUGINS=plugins" in runs
    rehearsal = (ROOT / "tests" / "e2e" / "test_release_rehearsal.py").read_text()
    assert '["make", "release",' in rehearsal
    assert "--provenance" in str(_steps(jobs["npm"])[-1]["run"])
    assert "refs/tags/sdk/${TAG}" in str(_steps(jobs["go"])[-1]["run"])  # the Go SDK's tag sdk/vX.Y.Z
    assert "--verify-tag" in str(_steps(jobs["github"])[-1]["run"])


def test_dependabot_watches_every_workflow_folder_and_requirements_file() -> None:
    config = yaml.safe_load(DEPENDABOT.read_text())
    assert config["version"] == 2
    by_ecosystem = {u["package-ecosystem"]: u for u in config["updates"]}
    assert set(by_ecosystem) == {"github-actions", "pip"}
    # Dependabot reads /.github/workflows for "/", and any other directory as it is named.
    action_dirs = set(by_ecosystem["github-actions"]["directories"])
    for workflow in WORKFLOWS:
        folder = "/" + str(workflow.parent.relative_to(ROOT))
        assert (folder == "/.github/workflows" and "/" in action_dirs) or folder in action_dirs, folder
    pip_dirs = set(by_ecosystem["pip"]["directories"])
    requirements = {
        "/" + str(p.parent.relative_to(ROOT)) for p in (ROOT / "examples").glob("*/requirements.txt")
    }
    assert requirements and requirements | {"/"} == pip_dirs
    for update in config["updates"]:
        assert (
            update["schedule"]["interval"] in ("daily", "weekly") and update["cooldown"]["default-days"] >= 1
        )
    assert {"dependency-name": "pulumi-leadterra"} in by_ecosystem["pip"]["ignore"]


FAKE_CURL = """#!/usr/bin/env bash
# curl for the test: serves files from $FAKE_DOWNLOADS by the URL's last path segment, no network.
out= url=
while [ $# -gt 0 ]; do
  case "$1" in
    -o) out=$2; shift ;;
    https://*) url=$1 ;;
  esac
  shift
done
echo "$url" >> "$FAKE_DOWNLOADS/requested"
src="$FAKE_DOWNLOADS/${url##*/}"
[ -f "$src" ] || exit 22
cp "$src" "$out"
"""


def _cli_install_scripts() -> set[str]:
    jobs = _jobs(GITOPS)
    return {
        str(s["run"])
        for job in jobs.values()
        for s in _steps(job)
        if "pulumi-${PULUMI_VERSION}-checksums.txt" in str(s.get("run", ""))
    }


def _run_install(
    script: str, tmp_path: Path, checksum_of: bytes | None, listed: bool = True
) -> tuple[int, Path, Path]:
    """The workflow's install step, as GitHub runs a `run:` (bash -e), against a fake curl
    serving a locally made release: (exit code, RUNNER_TEMP, GITHUB_PATH)."""
    version = (ROOT / ".pulumi.version").read_text().strip()
    archive = f"pulumi-v{version}-linux-x64.tar.gz"
    downloads, runner, fakebin = tmp_path / "downloads", tmp_path / "runner", tmp_path / "bin"
    for folder in (downloads, runner, fakebin):
        folder.mkdir(parents=True)
    binary = f"#!/bin/sh\necho v{version}\n".encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("pulumi/pulumi")
        info.size, info.mode = len(binary), 0o755
        tar.addfile(info, io.BytesIO(binary))
    (downloads / archive).write_bytes(buffer.getvalue())
    digest = hashlib.sha256(buffer.getvalue() if checksum_of is None else checksum_of).hexdigest()
    (downloads / f"pulumi-{version}-checksums.txt").write_text(
        f"{'0' * 64}  pulumi-v{version}-windows-x64.zip\n" + (f"{digest}  {archive}\n" if listed else "")
    )
    curl = fakebin / "curl"
    curl.write_text(FAKE_CURL)
    curl.chmod(0o755)
    github_path = tmp_path / "github_path"
    script_file = tmp_path / "step.sh"
    script_file.write_text(script)
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-e", str(script_file)],
        env={
            "PATH": f"{fakebin}:/usr/bin:/bin",
            "PULUMI_VERSION": version,
            "RUNNER_TEMP": str(runner),
            "GITHUB_PATH": str(github_path),
            "FAKE_DOWNLOADS": str(downloads),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    requested = (downloads / "requested").read_text().split()
    assert requested == [
        f"https://get.pulumi.com/releases/sdk/{archive}",
        f"https://github.com/pulumi/pulumi/releases/download/v{version}/pulumi-{version}-checksums.txt",
    ]
    return result.returncode, runner, github_path


def test_the_cli_install_step_puts_the_cli_on_path_only_when_the_checksum_matches(tmp_path: Path) -> None:
    (script,) = _cli_install_scripts()  # one step, the same in every job
    code, runner, github_path = _run_install(script, tmp_path / "good", checksum_of=None)
    assert code == 0
    cli = runner / "pulumi-cli" / "pulumi"
    assert github_path.read_text() == f"{cli}\n" and (cli / "pulumi").exists()

    # A tarball that is not the one Pulumi published, or one the list does not name: refused,
    # nothing unpacked, nothing on PATH.
    for case, checksum_of, listed in (("tampered", b"another file", True), ("unlisted", None, False)):
        code, runner, github_path = _run_install(script, tmp_path / case, checksum_of, listed)
        assert code != 0, case
        assert not github_path.exists() and not (runner / "pulumi-cli" / "pulumi").exists(), case
