"""Every example: programs under mocks per stack file, the policy pack over them, the GitOps
workflow's structure, and `make demo` (its clean stop here, and its full path through the plugin)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from harness.analyzer import Analyzer
from harness.engine import PluginStack
from harness.programs import ROOT, run_program, stack_config
from harness.sandbox import Sandbox
from pulumi_leadterra.sandbox import SandboxServer
from pulumi_leadterra.sandbox.cli import parse_seed

PROMOTION = ROOT / "examples" / "promotion"
QUICKSTART = ROOT / "examples" / "quickstart" / "__main__.py"
WORKFLOW = ROOT / "examples" / "gitops" / ".github" / "workflows" / "leadterra.yml"


def _load_example(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _load_demo() -> Any:
    return _load_example("leadterra_demo", ROOT / "examples" / "demo.py")


def test_the_quickstart_is_a_project_of_its_own() -> None:
    folder = QUICKSTART.parent
    project = yaml.safe_load((folder / "Pulumi.yaml").read_text())
    # Relative to the program's own folder: the engine resolves the dynamic provider's
    # virtualenv from where the program runs.
    assert "main" not in project and project["runtime"]["options"]["virtualenv"] == "../../.venv"
    assert (folder / project["runtime"]["options"]["virtualenv"] / "bin").is_dir()


def test_quickstart_declares_two_campaigns() -> None:
    declared = {d.name: d.inputs for d in run_program(QUICKSTART, "leadterra-quickstart", "demo", {})}
    assert set(declared) == {"launch", "legacy"}
    assert declared["launch"]["campaign_id"] == "camp_demo" and declared["launch"]["status"] == "running"
    assert declared["launch"]["reconcile"] is True
    assert declared["legacy"]["campaign_id"] == "camp_legacy" and declared["legacy"]["status"] == "paused"
    assert all("api_key" not in inputs for inputs in declared.values())  # key comes from stack config


EXPECTED_STACKS = {
    "dev": {
        "q3-vp-sales": ("camp_q3_vp_sales", "running"),
        "q4-cfo-outreach": ("camp_q4_cfo_outreach", "running"),
        "legacy": ("camp_legacy", "paused"),
    },
    "staging": {"q3-vp-sales": ("camp_q3_vp_sales", "running"), "legacy": ("camp_legacy", "paused")},
    "prod": {"legacy": ("camp_7f3k2m9q", "paused")},
}


@pytest.mark.parametrize("stack", sorted(EXPECTED_STACKS))
def test_promotion_stack_maps_logical_names_to_its_own_ids(stack: str) -> None:
    config = stack_config(PROMOTION, stack)
    declared = run_program(PROMOTION / "__main__.py", "leadterra-promotion", stack, config)
    assert {d.name: (d.inputs["campaign_id"], d.inputs["status"]) for d in declared} == EXPECTED_STACKS[stack]
    by_name = {d.name: d.inputs for d in declared}
    if stack == "prod":
        assert "leadterra:baseUrl" not in config and by_name["legacy"]["pause_on_delete"] is True
    else:
        assert config["leadterra:baseUrl"].startswith("http://127.0.0.1:")
        assert by_name["q3-vp-sales"]["reconcile"] is True
    # The key comes from the stack's own Pulumi ESC environment, never from the stack file.
    raw = yaml.safe_load((PROMOTION / f"Pulumi.{stack}.yaml").read_text())
    assert raw["environment"] == [f"leadterra/{stack}"] and "leadterra:apiKey" not in raw["config"]


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_a_sandbox_seeded_from_the_stack_file_runs_its_declarations(stack: str, tmp_path: Path) -> None:
    """CI seeds each sandbox from the stack file itself: a campaign added there (and nowhere
    else) is created, started or paused by the first up."""
    stack_file = tmp_path / f"Pulumi.{stack}.yaml"
    raw = yaml.safe_load((PROMOTION / f"Pulumi.{stack}.yaml").read_text())
    raw["config"]["leadterra-promotion:campaigns"]["brand-new"] = {
        "id": "camp_brand_new",
        "status": "running",
    }
    stack_file.write_text(yaml.safe_dump(raw))
    seed = tmp_path / "seed.json"
    seed.write_text(
        json.dumps(_load_example("sandbox_seed", PROMOTION / "sandbox_seed.py").seed_for(stack_file))
    )
    config = stack_config(tmp_path, stack, project_file=PROMOTION / "Pulumi.yaml")
    declared = run_program(PROMOTION / "__main__.py", "leadterra-promotion", stack, config)
    with SandboxServer(campaigns=parse_seed(seed)) as server:
        sandbox = Sandbox(server.url)
        program = {d.name: d.inputs for d in declared}
        plugin_stack = PluginStack(
            lambda: program, {"leadterra:baseUrl": server.url, "leadterra:apiKey": "sk_test_ci"}
        )
        assert plugin_stack.up() == {"create": len(program)}
        for name, inputs in program.items():
            assert sandbox.status(inputs["campaign_id"]) == inputs["status"], name
        assert sandbox.status("camp_brand_new") == "running"


@pytest.mark.parametrize("stack", sorted(EXPECTED_STACKS))
def test_promotion_stacks_pass_the_guardrails(stack: str) -> None:
    config = stack_config(PROMOTION, stack)
    declared = run_program(PROMOTION / "__main__.py", "leadterra-promotion", stack, config)
    analyzer = Analyzer(stack, {k: v for k, v in config.items() if k.startswith("leadterra:")})
    try:
        for d in declared:
            assert analyzer.analyze(d.name, d.inputs) == []
        assert analyzer.analyze_stack([(d.name, d.inputs) for d in declared]) == []
    finally:
        analyzer.close()


STACK_FILES = sorted([*ROOT.glob("Pulumi.*.yaml"), *(ROOT / "examples").glob("**/Pulumi.*.yaml")])


@pytest.mark.parametrize("stack_file", STACK_FILES, ids=lambda p: p.name)
def test_no_stack_file_turns_a_run_setting_on_for_every_run(stack_file: Path) -> None:
    """Heal and the brake describe a run; in a stack file they would apply to every run."""
    config = yaml.safe_load(stack_file.read_text()).get("config", {})
    assert not {"leadterra:heal", "leadterra:pauseAll"} & set(config)


def test_dev_without_its_sandbox_url_is_blocked() -> None:
    """The promotion mistake the pack exists for: dev config losing leadterra:baseUrl."""
    config = stack_config(PROMOTION, "dev")
    del config["leadterra:baseUrl"]
    declared = run_program(PROMOTION / "__main__.py", "leadterra-promotion", "dev", config)
    analyzer = Analyzer("dev", {})
    try:
        blocked = [d.name for d in declared if analyzer.analyze(d.name, d.inputs)]
    finally:
        analyzer.close()
    assert sorted(blocked) == ["q3-vp-sales", "q4-cfo-outreach"]


def test_demo_without_a_cli_stops_cleanly_with_one_sentence(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEADTERRA_", "PULUMI_"))}
    env.update(
        PATH=f"{Path(sys.executable).parent}:/usr/bin:/bin",
        LEADTERRA_DEMO_OFFLINE="1",
        LEADTERRA_DEMO_CLI_DIR=str(tmp_path / "no-cli"),  # not the clone's .pulumi-cli
        HOME=str(tmp_path),
    )
    if shutil.which("pulumi", path=env["PATH"]):
        pytest.skip("a Pulumi CLI is on PATH; the full demo test covers this machine")
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 3
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
    assert result.stderr.startswith("make demo needs the Pulumi CLI") and "run make engine" in result.stderr
    # Offline it tried nothing, and says so (not "could not be installed (no network?)").
    assert "download was skipped" in result.stderr and "no network" not in result.stderr
    url = result.stdout.split("sandbox listening on ", 1)[1].split()[0]
    assert "camp_demo: draft" in result.stdout
    with pytest.raises(requests.ConnectionError):  # nothing left running
        requests.get(url + "/v1/sender-pools", timeout=2)


def test_demo_path_through_the_plugin(tmp_path: Path) -> None:
    """`make demo`'s own steps (`run_steps`, the code the real CLI path runs), with the engine's
    plugin protocol standing in for the CLI: the quickstart's declarations, the demo's sandbox."""
    demo = _load_demo()
    server = demo.start_sandbox(tmp_path)
    sandbox = Sandbox(server.url)
    declared = run_program(QUICKSTART, "leadterra-quickstart", "demo", {})
    # Mocks register resources from several threads: fix one order, so the request log has one.
    program = {d.name: d.inputs for d in sorted(declared, key=lambda d: d.name)}
    stack = PluginStack(lambda: program, {})
    try:
        demo.run_steps(stack, sandbox.url)
        # Every request the demo made, in order: start+pause, nothing, nothing, heal, brake x2, release.
        made = [
            f"{r['method']} {r['path'].rsplit('/', 2)[-2]} {r['path'].rsplit('/', 1)[-1]}"
            for r in sandbox.requests()
        ]
        assert made == [
            "POST camp_demo start",
            "POST camp_legacy pause",
            "POST camp_demo start",  # the heal run (leadterra:heal=true)
            "POST camp_demo pause",  # the brake (leadterra:pauseAll=true): every campaign,
            "POST camp_legacy pause",  # the one already paused too (the brake trusts no state)
            "POST camp_demo start",  # the brake released
        ]
    finally:
        server.stop()


def test_demo_window_path_through_the_plugin(tmp_path: Path) -> None:
    """`make demo`'s launch window (`window_steps`), with the plugin protocol standing in for the
    CLI: examples/launch-window declared a few seconds ahead; one pause, nothing, one start."""
    from datetime import UTC, datetime, timedelta

    demo = _load_demo()
    server = demo.start_sandbox(tmp_path)
    sandbox = Sandbox(server.url)
    program = ROOT / "examples" / "launch-window" / "__main__.py"
    opens = (datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=10)).isoformat()
    stack = PluginStack(lambda: {}, {})

    def declare() -> dict[str, dict[str, Any]]:
        declared = run_program(program, "launch-window", "demo", dict(stack.config))
        return {d.name: d.inputs for d in declared}

    stack.declare = declare
    try:
        demo.run_steps(stack, sandbox.url, demo.window_steps(opens))
        made = [
            f"{r['method']} {r['path'].rsplit('/', 2)[-2]} {r['path'].rsplit('/', 1)[-1]}"
            for r in sandbox.requests()
        ]
        assert made == ["POST camp_window pause", "POST camp_window start"]
    finally:
        server.stop()


# --- continuous operation: the Kubernetes Operator and Pulumi Deployments -----------------------
OPERATOR = ROOT / "examples" / "operator"
DEPLOYMENTS = ROOT / "examples" / "deployments"
STACK_CR = "kubernetes:pulumi.com/v1:Stack"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
BINDING = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"
DRIFT = "pulumiservice:index:DriftSchedule"
SCHEDULE = "pulumiservice:index:DeploymentSchedule"
SETTINGS = "pulumiservice:index:DeploymentSettings"


def _operator(extra: dict[str, str] | None = None) -> dict[str, Any]:
    config = {**stack_config(OPERATOR, "prod"), **(extra or {})}
    declared = run_program(OPERATOR / "__main__.py", "leadterra-operator", "prod", config, all_types=True)
    by_type = {d.type: d for d in declared}
    assert len(by_type) == len(declared)  # one of each
    return by_type


def test_operator_stack_heals_on_every_resync() -> None:
    declared = _operator()
    assert set(declared) == {STACK_CR, SERVICE_ACCOUNT, BINDING}
    stack = declared[STACK_CR]
    spec = stack.inputs["spec"]
    assert stack.inputs["apiVersion"] == "pulumi.com/v1" and stack.inputs["kind"] == "Stack"
    assert spec["stack"] == "acme/leadterra-promotion/prod" and spec["repoDir"] == "examples/promotion"
    assert (PROMOTION / "Pulumi.prod.yaml").exists() and (PROMOTION / "requirements.txt").exists()
    assert spec["resyncFrequencySeconds"] == 900 >= 60
    assert spec["continueResyncOnCommitMatch"] is True and spec["refresh"] is True
    assert spec["destroyOnFinalize"] is False
    env = spec["envRefs"]
    assert env["LEADTERRA_HEAL"] == {"type": "Literal", "literal": {"value": "true"}}
    assert env["LEADTERRA_PAUSE_ALL"]["literal"]["value"] == "false"
    assert env["PULUMI_ACCESS_TOKEN"] == {
        "type": "Secret",
        "secret": {"name": "pulumi-api-secret", "key": "accessToken"},
    }


def test_operator_v2_workspace_has_its_service_account_bound_to_auth_delegator() -> None:
    """Operator v2 runs each Stack in a workspace pod whose ServiceAccount the Stack names and
    which must hold system:auth-delegator (pulumi-kubernetes-operator docs/migration.md)."""
    declared = _operator()
    account = declared[SERVICE_ACCOUNT].inputs["metadata"]
    spec = declared[STACK_CR].inputs["spec"]
    assert spec["serviceAccountName"] == account["name"]
    assert account["namespace"] == declared[STACK_CR].inputs["metadata"]["namespace"] == "leadterra"
    binding = declared[BINDING].inputs
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "system:auth-delegator",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["name"], "namespace": account["namespace"]}
    ]


def test_operator_workspace_image_is_pinned_to_the_tested_cli() -> None:
    spec = _operator()[STACK_CR].inputs["spec"]
    image = spec["workspaceTemplate"]["spec"]["image"]
    # Not the operator's default (pulumi/pulumi:latest-nonroot): the CLI this repository tests with.
    assert image == f"pulumi/pulumi:{(ROOT / '.pulumi.version').read_text().strip()}-nonroot"
    custom = _operator({"leadterra-operator:workspaceImage": "pulumi/pulumi:3.300.0-nonroot"})
    assert (
        custom[STACK_CR].inputs["spec"]["workspaceTemplate"]["spec"]["image"]
        == "pulumi/pulumi:3.300.0-nonroot"
    )


def test_operator_keeps_no_leadterra_key_in_the_cluster() -> None:
    """The promotion stack's key comes from its ESC environment (stack config), which wins over
    LEADTERRA_API_KEY: a key in the workspace's environment would never be used."""
    declared = _operator()
    assert "LEADTERRA_API_KEY" not in declared[STACK_CR].inputs["spec"]["envRefs"]
    assert "kubernetes:core/v1:Secret" not in declared
    raw = yaml.safe_load((PROMOTION / "Pulumi.prod.yaml").read_text())
    assert raw["environment"] == ["leadterra/prod"]
    operator_config = yaml.safe_load((OPERATOR / "Pulumi.prod.yaml").read_text())["config"]
    assert not [k for k in operator_config if "apikey" in k.lower()]
    docs = (OPERATOR / "__main__.py").read_text() + (OPERATOR / "Pulumi.prod.yaml").read_text()
    assert "leadterra/prod" in docs and "`open`" in docs  # what the operator's token needs


def test_operator_brake_and_resync_bounds() -> None:
    spec = _operator({"leadterra-operator:pauseAll": "true"})[STACK_CR].inputs["spec"]
    assert spec["envRefs"]["LEADTERRA_PAUSE_ALL"]["literal"]["value"] == "true"
    assert (
        _operator({"leadterra-operator:resyncFrequencySeconds": "60"})[STACK_CR].inputs["spec"][
            "resyncFrequencySeconds"
        ]
        == 60
    )
    # The operator would run 30 as 60; the program refuses it instead of saying one and doing another.
    with pytest.raises(Exception, match="treats anything below 60 as 60.*at least 60 seconds"):
        _operator({"leadterra-operator:resyncFrequencySeconds": "30"})
    assert "treats anything below 60 s as 60" in (OPERATOR / "__main__.py").read_text()


def _deployments(extra: dict[str, str] | None = None) -> list[Any]:
    config = {**stack_config(DEPLOYMENTS, "prod"), **(extra or {})}
    return run_program(DEPLOYMENTS / "__main__.py", "leadterra-deployments", "prod", config, all_types=True)


def _cron_minute(cron: str) -> int:
    minute, hour, *_ = cron.split()
    assert hour == "*" and minute.isdigit(), cron  # hourly at a fixed minute
    return int(minute)


def test_deployments_settings_heal_every_scheduled_run_and_use_vcs() -> None:
    declared = _deployments()
    (settings,) = [d.inputs for d in declared if d.type == SETTINGS]
    assert (settings["organization"], settings["project"], settings["stack"]) == (
        "acme",
        "leadterra-promotion",
        "prod",
    )
    assert settings["sourceContext"]["git"]["repoDir"] == "examples/promotion"
    # `vcs`, not the deprecated `github` block (pulumi-pulumiservice 1.x schema).
    assert "github" not in settings
    vcs = settings["vcs"]
    assert vcs["provider"] == "github" and vcs["repository"] == "acme/campaigns"
    # Deployments runs only the schedules, so every one of its runs may heal; PRs and merges
    # stay in the GitOps workflow, which never heals.
    assert vcs["deployCommits"] is False and vcs["previewPullRequests"] is False
    assert settings["operationContext"]["environmentVariables"] == {
        "LEADTERRA_HEAL": "true",
        "LEADTERRA_PAUSE_ALL": "false",
    }
    # `pulumi install` runs (it installs examples/promotion/requirements.txt).
    assert "options" not in settings["operationContext"]


def test_deployments_refresh_before_the_heal_by_default() -> None:
    """Drift detection is a preview-only refresh (it saves nothing) and an `update` schedule is a
    plain `pulumi up`: without a saved refresh before it, the heal would never see drift."""
    declared = _deployments()
    (drift,) = [d.inputs for d in declared if d.type == DRIFT]
    assert drift["autoRemediate"] is False and drift["scheduleCron"] == "*/30 * * * *"
    schedules = {d.name: d.inputs for d in declared if d.type == SCHEDULE}
    assert set(schedules) == {"prod-refresh", "prod-heal"}
    refresh, heal = schedules["prod-refresh"], schedules["prod-heal"]
    assert refresh["pulumiOperation"] == "refresh" and heal["pulumiOperation"] == "update"
    # The refresh is queued first each hour (one deployment per stack at a time, in queue order).
    assert _cron_minute(refresh["scheduleCron"]) < _cron_minute(heal["scheduleCron"]) == 17
    for schedule in (refresh, heal):
        assert (schedule["organization"], schedule["project"], schedule["stack"]) == (
            "acme",
            "leadterra-promotion",
            "prod",
        )


def test_deployments_auto_remediation_is_the_heal() -> None:
    """With auto-remediation, drift found is remediated by `pulumi up --refresh` with the stack's
    settings (heal on); no other schedule runs."""
    declared = _deployments({"leadterra-deployments:remediation": "auto"})
    (drift,) = [d.inputs for d in declared if d.type == DRIFT]
    assert drift["autoRemediate"] is True
    assert [d for d in declared if d.type == SCHEDULE] == []
    with pytest.raises(Exception, match="remediation is 'sometimes'"):
        _deployments({"leadterra-deployments:remediation": "sometimes"})


def test_deployments_token_is_a_secret_environment_variable() -> None:
    declared = _deployments({"leadterra-deployments:deploymentToken": "pul-from-config"})
    (settings,) = [d for d in declared if d.type == SETTINGS]
    assert (
        settings.inputs["operationContext"]["environmentVariables"]["PULUMI_ACCESS_TOKEN"]
        == "pul-from-config"
    )
    assert "operationContext" in settings.secret_inputs


# --- where the examples are deployed: what `pulumi install` installs ----------------------------
PINNED = re.compile(
    r"^pulumi-leadterra @ git\+https://github\.com/leadterra/pulumi-leadterra\.git@([0-9a-f]{40})$"
)


def _requirements(folder: Path) -> list[str]:
    lines = (folder / "requirements.txt").read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def test_the_promotion_project_installs_the_package_from_a_pinned_commit() -> None:
    """`pulumi install` (the Operator's workspace, Pulumi Deployments) installs requirements.txt
    and nothing else; pulumi-leadterra is not on PyPI, so the file pins its git URL to a commit
    of this repository's history (tests/e2e/test_promotion_install.py installs it for real)."""
    lines = _requirements(PROMOTION)
    pinned = [m for m in map(PINNED.match, lines) if m]
    assert len(pinned) == 1, lines
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (sdk,) = [d for d in project["dependencies"] if d.startswith("pulumi>=")]
    assert sdk in lines  # the package's own pulumi range, stated for the program's own imports
    sha = pinned[0][1]
    ancestor = subprocess.run(
        ["git", "-C", str(ROOT), "merge-base", "--is-ancestor", sha, "HEAD"], capture_output=True, timeout=30
    )
    assert ancestor.returncode == 0, f"{sha} is not a commit of this clone's history"


@pytest.mark.parametrize("folder", [OPERATOR, DEPLOYMENTS, PROMOTION], ids=lambda p: p.name)
def test_example_requirements_bound_every_sdk_major(folder: Path) -> None:
    for line in _requirements(folder):
        if line.startswith("pulumi-leadterra @ "):
            continue
        name, _, spec = line.partition(">=")
        assert re.fullmatch(r"[\d.]+,<\d+", spec), f"{folder.name}: {line} needs a floor and a major bound"
        assert name and name == name.strip()
