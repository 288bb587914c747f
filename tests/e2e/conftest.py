"""The real-engine suite: the `pulumi` command itself, built by `make engine` (or on PATH).

Without a CLI these tests are skipped, except where a CLI is required (``.ci/run`` sets
``LEADTERRA_E2E_REQUIRED=1`` after ``make engine``): there a missing CLI fails the run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.cli import find_cli

_CLI = find_cli()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _CLI is not None:
        return
    if os.environ.get("LEADTERRA_E2E_REQUIRED") == "1":
        raise pytest.UsageError(
            "the real-engine suite is required, but there is no Pulumi CLI: run make engine"
        )
    here = Path(__file__).parent
    skip = pytest.mark.skip(reason="no Pulumi CLI in .pulumi-cli/bin or on PATH: run make engine")
    skipped = 0
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(skip)
            skipped += 1
    # For make test's last line: how many real-engine tests did not run.
    cache = config.rootpath / ".pytest_cache"
    cache.mkdir(exist_ok=True)
    (cache / "leadterra-e2e-skipped").write_text(str(skipped))
