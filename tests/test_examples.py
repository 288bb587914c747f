"""Every example: programs under mocks per stack file, the policy pack over them, the GitOps
workflow's structure, and `make demo` (its clean stop here, and its full path through the plugin)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
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
        # Every request the demo made, in order: start+pause, nothing, nothing, heal, brake, release.
        made = [
            f"{r['method']} {r['path'].rsplit('/', 2)[-2]} {r['path'].rsplit('/', 1)[-1]}"
            for r in sandbox.requests()
        ]
        assert made == [
            "POST camp_demo start",
            "POST camp_legacy pause",
            "POST camp_demo start",  # the heal run (leadterra:heal=true)
            "POST camp_demo pause",  # the brake (leadterra:pauseAll=true)
            "POST camp_demo start",  # the brake released
        ]
    finally:
        server.stop()


# --- continuous operation: the Kubernetes Operator and Pulumi Deployments -----------------------
OPERATOR = ROOT / "examples" / "operator"
DEPLOYMENTS = ROOT / "examples" / "deployments"


def _operator(extra: dict[str, str] | None = None) -> dict[str, Any]:
    config = {**stack_config(OPERATOR, "prod"), "leadterra-operator:leadterraApiKey": "sk_live_from_config"}
    config.update(extra or {})
    declared = run_program(OPERATOR / "__main__.py", "leadterra-operator", "prod", config, all_types=True)
    return {d.type: d for d in declared}


def test_operator_stack_heals_on_every_resync_with_the_key_from_a_secret() -> None:
    declared = _operator()
    stack = declared["kubernetes:pulumi.com/v1:Stack"]
    spec = stack.inputs["spec"]
    assert stack.inputs["apiVersion"] == "pulumi.com/v1" and stack.inputs["kind"] == "Stack"
    assert spec["stack"] == "acme/leadterra-promotion/prod" and spec["repoDir"] == "examples/promotion"
    assert (PROMOTION / "Pulumi.prod.yaml").exists()
    assert spec["resyncFrequencySeconds"] == 900 >= 60
    assert spec["continueResyncOnCommitMatch"] is True and spec["refresh"] is True
    assert spec["destroyOnFinalize"] is False
    env = spec["envRefs"]
    assert env["LEADTERRA_HEAL"] == {"type": "Literal", "literal": {"value": "true"}}
    assert env["LEADTERRA_PAUSE_ALL"]["literal"]["value"] == "false"
    assert (
        env["LEADTERRA_API_KEY"]["type"] == "Secret" and env["LEADTERRA_API_KEY"]["secret"]["key"] == "apiKey"
    )
    secret = declared["kubernetes:core/v1:Secret"]
    assert secret.inputs["stringData"] == {"apiKey": "sk_live_from_config"}
    assert "stringData" in secret.secret_inputs  # the key stays a secret on its way to the cluster


def test_operator_brake_and_resync_bounds() -> None:
    spec = _operator({"leadterra-operator:pauseAll": "true"})["kubernetes:pulumi.com/v1:Stack"].inputs["spec"]
    assert spec["envRefs"]["LEADTERRA_PAUSE_ALL"]["literal"]["value"] == "true"
    with pytest.raises(Exception, match="at least 60 seconds"):
        _operator({"leadterra-operator:resyncFrequencySeconds": "30"})


def test_deployments_detect_drift_and_heal_on_schedule_only() -> None:
    config = stack_config(DEPLOYMENTS, "prod")
    declared = {
        d.type: d.inputs
        for d in run_program(
            DEPLOYMENTS / "__main__.py", "leadterra-deployments", "prod", config, all_types=True
        )
    }
    settings = declared["pulumiservice:index:DeploymentSettings"]
    assert (settings["organization"], settings["project"], settings["stack"]) == (
        "acme",
        "leadterra-promotion",
        "prod",
    )
    assert settings["sourceContext"]["git"]["repoDir"] == "examples/promotion"
    # Deployments runs only the schedules, so every one of its runs may heal; PRs and merges
    # stay in the GitOps workflow, which never heals.
    assert settings["github"]["deployCommits"] is False and settings["github"]["previewPullRequests"] is False
    assert settings["operationContext"]["environmentVariables"] == {
        "LEADTERRA_HEAL": "true",
        "LEADTERRA_PAUSE_ALL": "false",
    }
    drift = declared["pulumiservice:index:DriftSchedule"]
    assert drift["autoRemediate"] is False and drift["scheduleCron"] == "*/30 * * * *"
    heal = declared["pulumiservice:index:DeploymentSchedule"]
    assert heal["pulumiOperation"] == "update" and heal["scheduleCron"] == "17 * * * *"
