"""State written by earlier versions stays quiet (issue 21 point 3), through the real `pulumi`
command: stacks made by earlier commits of this repository (tests/fixtures/old_state, with how
each was made) are imported, and today's code previews no change, sends nothing, and an up
leaves them as quiet as before.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from harness.cli import Project
from harness.programs import ROOT
from harness.sandbox import Sandbox
from tests.conftest import TEST_KEY

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "old_state"
#: The sandbox the fixtures were made against; the test's own replaces it everywhere.
FIXTURE_URL = "http://127.0.0.1:43777"
STACKS = ("native-ab25b1e", "dynamic-168e52b")


def _project(tmp_path: Path, sandbox: Sandbox, name: str) -> Project:
    """The fixture's program, stack config and state, pointed at this test's sandbox and at
    today's provider (the clone's ``provider/`` folder, or its virtualenv), imported."""
    fixture = FIXTURES / name
    project = Project(tmp_path, secrets=[TEST_KEY])
    for source in fixture.iterdir():
        if source.name != "stack.json":
            shutil.copy(source, project.dir / source.name)
    program = yaml.safe_load((project.dir / "Pulumi.yaml").read_text())
    if program["runtime"] == "yaml":
        for provider in program["plugins"]["providers"]:
            provider["path"] = str(ROOT / "provider")
    else:
        program["runtime"]["options"]["virtualenv"] = str(ROOT / ".venv")
    project.write_yaml("Pulumi.yaml", program)
    config = project.dir / "Pulumi.dev.yaml"
    config.write_text(config.read_text().replace(FIXTURE_URL, sandbox.url))
    state = tmp_path / "stack.json"
    state.write_text((fixture / "stack.json").read_text().replace(FIXTURE_URL, sandbox.url))
    project("stack", "init", "dev")
    project("stack", "import", "--file", str(state))
    return project


@pytest.mark.parametrize("name", STACKS)
def test_state_from_an_earlier_version_previews_no_change_and_sends_nothing(
    tmp_path: Path, sandbox: Sandbox, name: str
) -> None:
    project = _project(tmp_path, sandbox, name)
    project("preview", "--expect-no-changes", "--diff")
    assert sandbox.drain_counts() == {}
    project.up()
    assert sandbox.drain_counts() == {}
    project("preview", "--expect-no-changes")
    assert sandbox.drain_counts() == {}


def test_what_the_migration_leaves_to_compare() -> None:
    """The migration's edges without the engine: a key given as ``api_key=`` to a resource
    whose old state has no source is still a change; an old input key keeps its reading."""
    from pulumi_leadterra.lifecycle import Lifecycle
    from pulumi_leadterra.settings import Settings, key_fingerprint

    config = {"leadterra:apiKey": TEST_KEY, "leadterra:baseUrl": "http://127.0.0.1:1"}
    core = Lifecycle(Settings.load(config.get, environ={}))
    old = {"campaign_id": "camp_1", "status": "running", "reconcile": False, "pause_on_delete": False}
    news, failures = core.check(old, {"campaign_id": "camp_1", "status": "running"})
    assert not failures
    assert core.diff(old, news).detailed == {}

    other = "sk_test_" + "x" * 24
    with_input, failures = core.check(old, {"campaign_id": "camp_1", "status": "running", "api_key": other})
    assert not failures
    assert set(core.diff(old, with_input).detailed) >= {"api_key", "api_key_source", "api_key_fingerprint"}

    # State that holds an input key without a source: read as its fingerprint, as before.
    held = {**old, "api_key": other}
    assert core.diff(held, with_input).detailed == {"api_key_source": "add"}
    assert key_fingerprint(other) == with_input["api_key_fingerprint"]
