"""`make demo` itself, through the real CLI that `make engine` left: it must exit 0."""

from __future__ import annotations

import os
import subprocess
import sys

from harness.programs import ROOT


def test_make_demo_runs_to_its_end() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEADTERRA_", "PULUMI_"))}
    env["LEADTERRA_DEMO_OFFLINE"] = "1"  # the CLI is there already: nothing to download
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert "==> done" in result.stdout and "camp_demo: running" in result.stdout
    assert not (ROOT / "examples" / "quickstart" / "Pulumi.demo.yaml").exists()  # nothing left behind
