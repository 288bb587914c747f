"""What `pulumi up` prints when a step fails, through the real `pulumi` command on both front
ends: the error's one sentence, no traceback, and nothing written to state for a failed create.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import Project
from harness.sandbox import Sandbox
from pulumi_leadterra.schema import TYPE_TOKEN
from tests.conftest import TEST_KEY

_DYNAMIC = """
from pulumi_leadterra import CampaignState

CampaignState("ghost", campaign_id="camp_nope")
"""


def _diagnostics(printed: str) -> list[str]:
    """The lines of the CLI's Diagnostics section, up to its Resources summary."""
    section = printed.split("Diagnostics:", 1)[1].split("\nResources:", 1)[0]
    return [line.strip() for line in section.splitlines() if line.strip()]


@pytest.mark.parametrize("variant", ["dynamic", "native"])
def test_a_failed_create_prints_one_sentence_and_records_nothing(
    tmp_path: Path, sandbox: Sandbox, variant: str
) -> None:
    project = Project(tmp_path, secrets=[TEST_KEY])
    type_token = project.front_end(variant, _DYNAMIC, name="ghost")
    if variant == "native":
        project.declare({"ghost": {"type": TYPE_TOKEN, "properties": {"campaignId": "camp_nope"}}})
    project.init(sandbox.url, TEST_KEY, retryBaseDelay="0.01")

    result = project.up(check=False)
    printed = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in printed and 'File "' not in printed, printed
    # Under Diagnostics, the resource's block is that one sentence (the progress rows above
    # repeat it); before, the dynamic provider's block was a ~24-line traceback.
    (line,) = [text for text in _diagnostics(printed) if "CampaignNotFoundError" in text]
    assert "campaign camp_nope: no campaign camp_nope" in line, line
    assert project.resources(type_token) == {}, "a failed create must leave nothing in state"
    assert sandbox.drain_counts() == {"POST start": 1}

    # A refresh with a refused key: one sentence too, and state unchanged.
    sandbox.put("camp_nope", status="draft", leads=3)
    project.up()
    sandbox.accept_keys("sk_test_revoked_everywhere_000")
    sandbox.clear_requests()
    refreshed = project("refresh", "--yes", "--skip-preview", check=False)
    printed = refreshed.stdout + refreshed.stderr
    assert refreshed.returncode != 0 and "Traceback" not in printed, printed
    assert len([text for text in _diagnostics(printed) if "AuthenticationError" in text]) == 1, printed
    assert list(project.resources(type_token)) == ["ghost"]


@pytest.mark.parametrize("variant", ["dynamic", "native"])
def test_a_stopped_sandbox_is_named_with_its_url_and_a_bad_base_url_with_its_config_key(
    tmp_path: Path, sandbox: Sandbox, variant: str
) -> None:
    """The quickstart by hand with no sandbox running: the error names the URL it tried and
    suggests starting the sandbox; a base URL refused by check names leadterra:baseUrl."""
    project = Project(tmp_path, secrets=[TEST_KEY])
    project.front_end(variant)
    project.init("http://127.0.0.1:9", TEST_KEY, retryBaseDelay="0.01", maxAttempts="1")
    result = project.up(check=False)
    # One sentence per campaign of the quickstart (camp_demo, camp_legacy), each naming the URL.
    lines = [text for text in _diagnostics(result.stdout + result.stderr) if "APIConnectionError" in text]
    assert len(lines) == 2, lines
    for line in lines:
        assert "http://127.0.0.1:9 refused the connection; is the sandbox running?" in line, line

    project("config", "set", "leadterra:baseUrl", "http://example.com")
    result = project("preview", check=False)
    printed = result.stdout + result.stderr
    assert result.returncode != 0 and "stack config leadterra:baseUrl: base URL http://example.com" in printed
    assert sandbox.drain_counts() == {}
