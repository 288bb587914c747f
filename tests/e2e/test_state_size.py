"""What a campaign costs in state, through the real `pulumi` command: the dynamic provider's pickled
provider is stored plain (it is a class reference: no key, no URL, no port in it), so a resource
holds no ciphertext at all when the key comes from stack config; and a stack written while the
blob was stored as a secret previews no change, sends nothing and loses the ciphertext quietly.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.cli import Project
from harness.sandbox import Sandbox
from pulumi_leadterra.resource import CAMPAIGN_STATE_TYPE
from tests.conftest import TEST_KEY


def _campaigns(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in state["deployment"].get("resources", []) if r["type"] == CAMPAIGN_STATE_TYPE]


def _ciphertexts(value: Any) -> int:
    if isinstance(value, dict):
        return ("ciphertext" in value) + sum(_ciphertexts(item) for item in value.values())
    if isinstance(value, list):
        return sum(_ciphertexts(item) for item in value)
    return 0


def test_the_pickled_provider_is_plain_and_holds_nothing_of_the_run(tmp_path: Path, sandbox: Sandbox) -> None:
    for campaign in ("camp_demo", "camp_legacy"):
        sandbox.put(campaign, status="draft", leads=3)
    project = Project(tmp_path, secrets=[TEST_KEY])
    project.front_end("dynamic")
    project.init(sandbox.url, TEST_KEY, retryBaseDelay="0.01")
    project.up()
    assert sandbox.drain_counts() == {"POST start": 1, "POST pause": 1}

    state = project.export()
    campaigns = _campaigns(state)
    assert len(campaigns) == 2
    port = str(urlsplit(sandbox.url).port)
    for resource in campaigns:
        for props in (resource["inputs"], resource["outputs"]):
            blob = props["__provider"]
            assert isinstance(blob, str), f"the pickled provider is stored as a secret: {blob!r}"
            pickled = base64.b64decode(blob)
            for leak in (TEST_KEY, sandbox.url, "127.0.0.1", port):
                assert leak.encode() not in pickled, f"the pickled provider holds {leak!r}"
            assert b"pulumi_leadterra.provider" in pickled and b"CampaignStateProvider" in pickled
        assert _ciphertexts(resource) == 0, resource

    # A stack written while the blob was stored as a secret (every version before this one).
    secret_blob = project.stored_secret(campaigns[0]["inputs"]["__provider"])
    for resource in campaigns:
        resource["inputs"]["__provider"] = secret_blob
        resource["outputs"]["__provider"] = secret_blob
    (tmp_path / "secret-blob.json").write_text(json.dumps(state))
    project("stack", "import", "--file", str(tmp_path / "secret-blob.json"))
    assert all(_ciphertexts(r) == 2 for r in _campaigns(project.export()))

    project("preview", "--expect-no-changes")
    project.up()
    project("preview", "--expect-no-changes")
    assert sandbox.drain_counts() == {}
    # The up rewrites each resource's inputs. Its outputs keep the secret blob until the campaign's
    # next update: the SDK's dynamic server copies the stored blob into what a refresh returns,
    # and the engine keeps a `same` step's outputs; making that an update would be a diff with
    # nothing to change. One ciphertext a resource, then, until then; still quiet.
    project("refresh", "--yes", "--skip-preview")
    assert sandbox.drain_counts() == {"GET stats": 2}
    for resource in _campaigns(project.export()):
        assert isinstance(resource["inputs"]["__provider"], str), "the up kept the secret blob in inputs"
        assert _ciphertexts(resource) == 1, resource
    project("preview", "--expect-no-changes")
    assert sandbox.drain_counts() == {}
