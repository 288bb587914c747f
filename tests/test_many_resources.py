"""Issue 22 point 5: a program of thousands of CampaignState resources (pulumi/pulumi#17803).

The SDK's serialize_provider nests one more sorting wrapper around
``pickle._Pickler._batch_setitems`` for every dynamic resource and never removes it: without
CampaignState's workaround, the ~966th resource dies of RecursionError.
"""

from __future__ import annotations

import pickle
import time
from typing import Any

import pulumi
from pulumi.runtime import rpc

from harness.programs import Recorder
from pulumi_leadterra import CampaignState
from tests.test_resource_program import event_loop_for_pulumi, mocks  # noqa: F401 (fixtures)
from tests.test_serialization import _blob_from_new_process

#: Twice what the nested wrappers survived at Python's default recursion limit.
COUNT = 2_000
PATCHED = ("_batch_setitems", "save_dict")


def test_two_thousand_resources_each_pickle_through_one_wrapper(mocks: Recorder) -> None:  # noqa: F811
    before = {name: vars(pickle._Pickler)[name] for name in PATCHED}

    @pulumi.runtime.test
    def program() -> None:
        for i in range(COUNT):
            CampaignState(f"campaign-{i}", campaign_id=f"camp_{i}")

    started = time.perf_counter()
    program()
    print(f"{COUNT} CampaignState resources under mocks: {time.perf_counter() - started:.2f} s")

    # The pickler is left exactly as the program had it (the same function objects: functions
    # compare by identity), so no wrapper accumulates.
    assert {name: vars(pickle._Pickler)[name] for name in PATCHED} == before

    assert len(mocks.resources) == COUNT
    blobs: set[Any] = set()
    for args in mocks.resources:
        sent = args.inputs["__provider"]
        # Stored plain: a class reference, no key, URL or port (tests/e2e/test_state_size.py).
        assert not rpc.is_rpc_secret(sent)
        blobs.add(sent)
    # One and the same blob for every resource, byte for byte what a fresh process serializes
    # (what existing stacks hold), so no resource diffs.
    assert blobs == {_blob_from_new_process()}
