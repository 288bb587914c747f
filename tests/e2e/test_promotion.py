"""The promotion example (`examples/promotion`) and its GitOps workflow, through the real `pulumi`.

The dev and staging stacks, each against a sandbox of its own, seeded as the workflow seeds it
(``sandbox_seed.py`` on the stack file, then ``python -m pulumi_leadterra.sandbox --seed``): a
plain preview, the workflow's pull-request preview (policy pack, preflight on, heal off), its
``up`` on merge, a second ``up``, a quiet preview, and destroy. After every command: the exact
requests each campaign received (per the stack file: one start per running campaign, one pause
per paused one, on the merge only; preflight's one read per campaign in the first PR preview, and
one GET /v1/sender-pools for the run),
and the state as ``pulumi stack export`` holds it (never the key; `Project` checks that, and
every word the CLI prints).

Then the workflow's own shell, run as CI runs it where that is possible locally:
``start-sandbox.sh`` (what it prints, the seed and pid files, the sandbox it leaves running and
its failure when the sandbox cannot start) and the ``affected`` job's stack picker, in a
throwaway git repository. Not run: the install step (it downloads) and the ``--stack ORG/...``
form (Pulumi Cloud).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.cli import Project, policy_pack, summary
from harness.programs import ROOT
from harness.sandbox import Sandbox
from pulumi_leadterra.resource import CAMPAIGN_STATE_TYPE
from tests.conftest import TEST_KEY

PROMOTION = ROOT / "examples" / "promotion"
GITOPS = ROOT / "examples" / "gitops"
PYTHON = ROOT / ".venv" / "bin" / "python"
CAMPAIGNS_KEY = "leadterra-promotion:campaigns"
STACKS = ("dev", "staging")
ALL = ["dev", "staging", "prod"]
# /proc (to see a sandbox end), and bash as on GitHub's ubuntu runners.
pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="Linux only")
# What the README's table says each stack declares: logical name -> (id, status).
DECLARED = {
    "dev": {
        "q3-vp-sales": ("camp_q3_vp_sales", "running"),
        "q4-cfo-outreach": ("camp_q4_cfo_outreach", "running"),
        "legacy": ("camp_legacy", "paused"),
    },
    "staging": {"q3-vp-sales": ("camp_q3_vp_sales", "running"), "legacy": ("camp_legacy", "paused")},
}


def _declared(stack: str) -> dict[str, tuple[str, str]]:
    """The stack file's campaigns, as logical name -> (id, declared status)."""
    config = yaml.safe_load((PROMOTION / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {name: (e["id"], e.get("status", "running")) for name, e in config[CAMPAIGNS_KEY].items()}


def _drain(sandbox: Sandbox) -> Counter[str]:
    """The `/v1` requests since the last drain, as 'METHOD /v1/...' (so per campaign)."""
    seen = Counter(f"{r['method']} {r['path']}" for r in sandbox.requests())
    sandbox.clear_requests()
    return seen


def _stop(pid: int) -> None:
    """End a sandbox we started, and wait (bounded) until it is gone (or a zombie, when it is
    not our child: the script that started it has exited)."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return
        if state == "Z":
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


# -- the stacks' sandboxes, seeded from their stack files --------------------------------------


@pytest.fixture
def stack_sandbox(tmp_path: Path, stack: str) -> Iterator[Sandbox]:
    """A sandbox process for the test's ``stack``, seeded from that stack's file as CI seeds it;
    on any free port (``--port 0``, read back from ``--port-file``)."""
    work = tmp_path / "sandbox"
    work.mkdir()
    seed = subprocess.run(
        [str(PYTHON), str(PROMOTION / "sandbox_seed.py"), str(PROMOTION / f"Pulumi.{stack}.yaml")],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    (work / "seed.json").write_text(seed)
    port_file = work / "port"
    proc = subprocess.Popen(
        [str(PYTHON), "-m", "pulumi_leadterra.sandbox", "--port", "0", "--port-file", str(port_file)]
        + ["--state", str(work / "sandbox.db"), "--seed", str(work / "seed.json")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        while not (port_file.exists() and port_file.read_text()):
            assert proc.poll() is None, f"the sandbox exited: {proc.stdout.read() if proc.stdout else ''}"
            assert time.monotonic() < deadline, "the sandbox wrote no port file within 15 s"
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port_file.read_text()}"
        assert proc.stdout is not None and proc.stdout.readline() == f"leadterra-sandbox listening on {url}\n"
        yield Sandbox(url)
    finally:
        _stop(proc.pid)
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()



def _promotion_project(tmp_path: Path, stack: str, sandbox: Sandbox) -> Project:
    """The promotion program and this stack's own file, copied, with the key and URL set."""
    project = Project(tmp_path, secrets=[TEST_KEY])
    program = yaml.safe_load((PROMOTION / "Pulumi.yaml").read_text())
    program["runtime"]["options"]["virtualenv"] = str(ROOT / ".venv")  # ../../.venv misses here
    project.write_yaml("Pulumi.yaml", program)
    shutil.copy(PROMOTION / "__main__.py", project.dir / "__main__.py")
    stack_file = yaml.safe_load((PROMOTION / f"Pulumi.{stack}.yaml").read_text())
    # The stack file's `environment: [leadterra/<stack>]` is a Pulumi ESC environment, which
    # only Pulumi Cloud serves; on this file backend it would fail every command. Drop it and set
    # what the environment provides (the key, as a secret) with `pulumi config set --secret`.
    assert stack_file.pop("environment") == [f"leadterra/{stack}"]
    project.write_yaml(f"Pulumi.{stack}.yaml", stack_file)
    # The stack file's baseUrl is the CI port (8787); this stack's sandbox is on a free one.
    project.init(sandbox.url, TEST_KEY, stack)
    return project


def _state(project: Project) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """The CampaignStates' outputs by logical name, and the stack's outputs."""
    resources = project.export()["deployment"].get("resources") or []
    campaigns = {
        r["urn"].rsplit("::", 1)[-1]: r["outputs"] for r in resources if r["type"] == CAMPAIGN_STATE_TYPE
    }
    stacks = [r for r in resources if r["type"] == "pulumi:pulumi:Stack"]
    return campaigns, (stacks[0].get("outputs", {}) if stacks else {})


def _plain(outputs: dict[str, Any]) -> dict[str, Any]:
    """Outputs without the encrypted ones (re-encrypted, so with a new ciphertext, each up)."""
    return {k: v for k, v in outputs.items() if not (isinstance(v, dict) and "ciphertext" in v)}


@pytest.mark.parametrize("stack", STACKS)
def test_a_stack_through_the_workflow(tmp_path: Path, stack: str, stack_sandbox: Sandbox) -> None:
    sandbox = stack_sandbox
    declared = _declared(stack)
    assert declared == DECLARED[stack]  # the stack file says what the README's table says
    running = {cid for cid, status in declared.values() if status == "running"}
    paused = {cid for cid, status in declared.values() if status == "paused"}
    pack = policy_pack(tmp_path)
    project = _promotion_project(tmp_path, stack, sandbox)
    # Seeded as sandbox_seed.py promises: declared-running as drafts, declared-paused as running.
    assert {cid: sandbox.status(cid) for cid, _ in declared.values()} == {
        **{cid: "draft" for cid in running},
        **{cid: "running" for cid in paused},
    }
    assert _drain(sandbox) == Counter()

    # A plain preview: one create per declared campaign, nothing sent.
    assert summary(project.preview()) == {"create": len(declared)}
    assert _drain(sandbox) == Counter()
    assert _state(project) == ({}, {})

    # The workflow's pull-request preview: --diff, the policy pack, heal off, preflight on.
    # Preflight reads each campaign about to be created once (a wrong id, a refused key or no
    # leads would fail the PR); the pack passes (a sandbox URL and an sk_test_ key).
    pr_env = {"LEADTERRA_HEAL": "false", "LEADTERRA_PREFLIGHT": "true"}
    pr = project("preview", "--diff", "--policy-pack", str(pack), env=pr_env).stdout
    assert "leadterra-guardrails" in pr  # --diff lists the packs it ran (its path shortened)
    assert f"+ {len(declared) + 1} to create" in pr  # the campaigns and the stack
    # And, as campaigns are about to start, the run's one look at sender capacity.
    reads = Counter({f"GET /v1/campaigns/{cid}/stats": 1 for cid, _ in declared.values()})
    assert _drain(sandbox) == reads + Counter({"GET /v1/sender-pools": 1 if running else 0})
    assert _state(project) == ({}, {})

    # The merge: `up --yes` with the pack, heal off. One start per running campaign, one pause
    # per paused one, and nothing else.
    merge_env = {"LEADTERRA_HEAL": "false"}
    project.up("--policy-pack", str(pack), env=merge_env)
    assert _drain(sandbox) == Counter(
        {f"POST /v1/campaigns/{cid}/start": 1 for cid in running}
        | {f"POST /v1/campaigns/{cid}/pause": 1 for cid in paused}
    )
    assert len(running) == {"dev": 2, "staging": 1}[stack]
    assert {cid: sandbox.status(cid) for cid, _ in declared.values()} == {
        cid: status for cid, status in declared.values()
    }
    campaigns, outputs = _state(project)
    assert {name: (o["campaign_id"], o["status"]) for name, o in campaigns.items()} == declared
    assert outputs == {f"{name}_status": status for name, (_, status) in declared.items()}
    entries = yaml.safe_load((PROMOTION / f"Pulumi.{stack}.yaml").read_text())["config"][CAMPAIGNS_KEY]
    for name, state in campaigns.items():
        # The stack file's flags reach the resource; the API's own time of the transition.
        assert state["reconcile"] is entries[name].get("reconcile", False)
        assert state["pause_on_delete"] is entries[name].get("pause_on_delete", False)
        assert state["started_at" if state["status"] == "running" else "paused_at"]
        # The key from stack config is the run's: only its fingerprint is in state.
        assert "api_key" not in state and state["api_key_fingerprint"].startswith("sha256:")
        assert state["api_key_source"] == "config"
    after_merge = {name: _plain(o) for name, o in campaigns.items()}

    def unchanged() -> bool:
        campaigns, stack_outputs = _state(project)
        return stack_outputs == outputs and {n: _plain(o) for n, o in campaigns.items()} == after_merge

    # The next merge (a second up) and a quiet preview: nothing to do, nothing sent.
    project.up("--policy-pack", str(pack), env=merge_env)
    assert _drain(sandbox) == Counter() and unchanged()
    project("preview", "--expect-no-changes")
    assert _drain(sandbox) == Counter() and unchanged()
    # The next pull request's preview, preflight on: nothing created or started, nothing read.
    project("preview", "--diff", "--expect-no-changes", "--policy-pack", str(pack), env=pr_env)
    assert _drain(sandbox) == Counter() and unchanged()

    # Destroy: no campaign here declares pause_on_delete, so each is left as it is.
    project("destroy", "--yes")
    assert _drain(sandbox) == Counter()
    assert _state(project) == ({}, {})
    assert {cid: sandbox.status(cid) for cid, _ in declared.values()} == {
        cid: status for cid, status in declared.values()
    }


# -- the workflow's own shell -------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_sandbox_sh(stack: str, port: int, runner_temp: Path) -> subprocess.CompletedProcess[str]:
    """``examples/gitops/start-sandbox.sh STACK`` from the clone's root, as the jobs run it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEADTERRA_", "PULUMI_"))}
    # Its readiness probe is curl, which would send even a loopback probe to a proxy in the env.
    env.update({"SANDBOX_PORT": str(port), "RUNNER_TEMP": str(runner_temp)})
    env.update({"NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"})
    return subprocess.run(
        [str(GITOPS / "start-sandbox.sh"), stack],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,  # the script gives up after 10 s of probing; this bounds a hang of its own
        check=False,
    )


@pytest.mark.parametrize("stack", STACKS)
def test_start_sandbox_sh_returns_once_the_seeded_sandbox_answers(tmp_path: Path, stack: str) -> None:
    port = _free_port()
    result = _start_sandbox_sh(stack, port, tmp_path)
    pid = int((tmp_path / f"sandbox-{stack}.pid").read_text())
    try:
        # Its one line, exit 0, and a sandbox already answering when it returns.
        assert (result.returncode, result.stdout, result.stderr) == (
            0,
            f"sandbox for {stack} ready on http://127.0.0.1:{port}\n",
            "",
        )
        sandbox = Sandbox(f"http://127.0.0.1:{port}")
        # The seed is sandbox_seed.py's for this stack file: every declared campaign, 3 leads.
        seed = json.loads((tmp_path / f"seed-{stack}.json").read_text())
        assert seed == {
            "campaigns": [
                {"id": cid, "status": "running" if status == "paused" else "draft", "leads": 3, "name": name}
                for name, (cid, status) in DECLARED[stack].items()
            ]
        }
        for name, (cid, status) in DECLARED[stack].items():
            campaign = sandbox.admin("GET", f"/campaigns/{cid}")
            assert (campaign["name"], campaign["status"], campaign["totalEnrolled"]) == (
                name,
                "running" if status == "paused" else "draft",
                3,
            )
        # Its readiness probe is on the admin API: the /v1 request log starts empty.
        assert sandbox.requests() == []
        assert (tmp_path / f"sandbox-{stack}.log").read_text() == (
            f"leadterra-sandbox listening on http://127.0.0.1:{port}\n"
        )
    finally:
        _stop(pid)


def test_start_sandbox_sh_fails_when_the_sandbox_cannot_start(tmp_path: Path) -> None:
    # A state file that is not a sandbox database: the sandbox refuses it and exits, and the
    # script notices at once that its own sandbox exited, says so and shows the sandbox's log.
    (tmp_path / "sandbox-dev.db").write_text("not a database\n")
    port = _free_port()
    began = time.monotonic()
    try:
        result = _start_sandbox_sh("dev", port, tmp_path)
    finally:  # it should have exited by itself; make sure
        _stop(int((tmp_path / "sandbox-dev.pid").read_text()))
    took = time.monotonic() - began
    assert result.returncode == 1 and result.stdout == ""
    assert f"the sandbox for dev exited before it answered on 127.0.0.1:{port}:\n" in result.stderr
    assert "leadterra-sandbox: cannot start: state file" in result.stderr
    assert "is not a sandbox database, and is left untouched" in result.stderr
    assert took < 10  # it notices its own sandbox died, instead of probing for 10 s
    assert (tmp_path / "sandbox-dev.db").read_text() == "not a database\n"  # left untouched


def test_start_sandbox_sh_does_not_report_another_stacks_sandbox_as_ready(tmp_path: Path) -> None:
    port = _free_port()
    dev_temp, staging_temp = tmp_path / "dev", tmp_path / "staging"
    dev_temp.mkdir()
    staging_temp.mkdir()
    assert _start_sandbox_sh("dev", port, dev_temp).returncode == 0
    try:
        staging = _start_sandbox_sh("staging", port, staging_temp)
        staging_pid = int((staging_temp / "sandbox-staging.pid").read_text())
        time.sleep(0.5)
        _stop(staging_pid)
        assert staging.returncode != 0, staging.stdout
        assert "exited before it answered" in staging.stderr and "ready" not in staging.stdout
    finally:
        _stop(int((dev_temp / "sandbox-dev.pid").read_text()))


# -- the `affected` job's stack picker, in a throwaway git repository ---------------------------


def _pick_script() -> str:
    workflow = yaml.safe_load((GITOPS / ".github" / "workflows" / "leadterra.yml").read_text())
    (step,) = [s for s in workflow["jobs"]["affected"]["steps"] if s.get("id") == "pick"]
    assert step["env"] == {"BASE_REF": "${{ github.base_ref }}"}
    return str(step["run"])


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=e2e", "-c", "user.email=e2e@localhost", "-c", "commit.gpgsign=false", *args],
        cwd=repo,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(repo), "GIT_CONFIG_NOSYSTEM": "1"},
        capture_output=True,
        check=True,
        timeout=30,
    )


@pytest.mark.parametrize(
    ("changed", "stacks"),
    [
        (["examples/promotion/Pulumi.staging.yaml"], ["staging"]),
        (["examples/promotion/Pulumi.dev.yaml", "examples/promotion/Pulumi.prod.yaml"], ["dev", "prod"]),
        (["examples/promotion/__main__.py"], ALL),
        (["examples/promotion/Pulumi.yaml"], ALL),  # the project file
        (["examples/policy-pack/__main__.py"], ALL),
        (["examples/promotion/Pulumi.staging.yaml", "pulumi_leadterra/policies.py"], ALL),
        (["examples/promotion/Pulumi.qa.yaml"], []),  # a stack the workflow does not run
    ],
    ids=["stack-file", "two-stack-files", "program", "project-file", "pack", "and-package", "other-stack"],
)
def test_the_affected_job_picks_the_stacks_a_change_touches(
    tmp_path: Path, changed: list[str], stacks: list[str]
) -> None:
    repo = tmp_path / "repo"
    files = [
        "examples/promotion/Pulumi.yaml",
        "examples/promotion/__main__.py",
        *(f"examples/promotion/Pulumi.{s}.yaml" for s in ("dev", "staging", "prod", "qa")),
        "examples/policy-pack/__main__.py",
        "pulumi_leadterra/policies.py",
    ]
    for name in files:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text("base\n")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "base")
    _git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")  # what checkout's fetch leaves
    _git(repo, "switch", "-q", "-c", "change")
    for name in changed:
        (repo / name).write_text("changed\n")
    _git(repo, "commit", "-q", "-am", "change")

    output = tmp_path / "github_output"
    output.write_text("")
    # GitHub runs a `run:` with no `shell:` on Linux as `bash -e {script}`.
    script = tmp_path / "pick.sh"
    script.write_text(_pick_script())
    result = subprocess.run(
        ["bash", "-e", str(script)],
        cwd=repo,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(repo),
            "GIT_CONFIG_NOSYSTEM": "1",
            "BASE_REF": "main",
            "GITHUB_OUTPUT": str(output),
        },
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert output.read_text() == f"stacks={json.dumps(stacks, separators=(',', ':'))}\n"
