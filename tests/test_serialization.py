"""The provider blob in state: small, by reference, identical across processes and runs."""

from __future__ import annotations

import base64
import subprocess
import sys

from pulumi.dynamic.dynamic import serialize_provider

from pulumi_leadterra import CampaignStateProvider

SCRIPT = (
    "from pulumi.dynamic.dynamic import serialize_provider\n"
    "from pulumi_leadterra import CampaignStateProvider\n"
    "print(serialize_provider(CampaignStateProvider()))\n"
)


def _blob_from_new_process() -> str:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_blob_is_small_and_by_reference() -> None:
    blob = serialize_provider(CampaignStateProvider())
    assert len(blob) < 1024
    raw = base64.b64decode(blob)
    assert b"pulumi_leadterra.provider" in raw and b"CampaignStateProvider" in raw
    assert b"def " not in raw and b"requests" not in raw


def test_blob_is_identical_across_processes() -> None:
    here = serialize_provider(CampaignStateProvider())
    assert _blob_from_new_process() == here
    assert _blob_from_new_process() == here
